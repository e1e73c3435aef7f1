/**
 * @module tail
 * `webex-cdr-kafka tail [--topic T] [--since T] [--limit N] [--follow]
 * [--org ID,...] [--report-id ID,...]`: prints the records of a CDR topic as
 * JSON lines (key, headers, the Avro value decoded through the schema
 * registry), so a user can see what the connector wrote without other tools.
 * Dead-letter and audit topics are JSON and printed as is.
 *
 * Records are streamed: each is filtered on its key and headers before it is
 * decoded, written with the pipe's backpressure, and reading stops as soon as
 * `--limit` is reached; a reader that goes away (`| head`) ends it quietly.
 * A topic that does not exist, or a Kafka that does not answer, is an error
 * naming the topic and the brokers (exit 1); bad flags exit 2.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CdrError, describe } from './errors.ts';
import { createKafkaClient } from './kafka/client.ts';
import { HEADER } from './kafka/messages.ts';
import type { KeyAndHeaders, RangeStats } from './kafka/port.ts';
import { createRegistryClient, redact } from './kafka/registry.ts';
import { createLogger } from './log.ts';
import { parseKafkaConfig } from './settings.ts';
import { attachRelativeTimes, parseTimeArg } from './time-arg.ts';

class ConfigError extends Error {}
class DecodeError extends Error {}

/** Printed by `webex-cdr-kafka tail --help` (cli.ts). */
export const USAGE = `usage: webex-cdr-kafka tail [--topic <topic>] [--since <time>] [--limit <n>]
                          [--follow] [--org <orgId>] [--report-id <id>]

Prints the records of a topic as JSON lines: partition, timestamp, key,
headers and the value (Avro decoded through the schema registry; dead-letter
and audit topics are JSON). Uses KAFKA_BROKERS and SCHEMA_REGISTRY_URL, or the
local stack's .stack/env when they are not set. Exit 0 when done, 1 when the
topic does not exist or Kafka or the registry cannot be read, 2 for bad flags.

  --topic <topic>     the topic (default: CDR_TOPIC, else webex.calling.cdr)
  --since <time>      where to start: a duration back (90m, 1h, 2d), -48h, now,
                      2026-12-01 (UTC midnight) or 2026-12-01T10:00:00Z (default 1h)
  --limit <n>         at most n records (after the filters); stops reading there
  -f, --follow        keep printing new records until SIGINT/SIGTERM
  --org <orgId>       only records of these orgs (repeatable, or a comma list)
  --report-id <id>    only these Report IDs (repeatable, or a comma list)
  -h, --help          this text
`;
export type TailedRecord = {
  partition: number;
  timestamp: string;
  key: string | null;
  headers: Readonly<Record<string, string>>;
  value: unknown;
};

export type TailOptions = {
  topic: string;
  sinceMs: number;
  limit?: number | undefined;
  /** Keep reading new records until `signal` aborts. */
  follow?: boolean;
  /** Only records whose key (Org UUID) is one of these. */
  orgs?: ReadonlySet<string> | undefined;
  /** Only records whose `cdr-report-id` header is one of these. */
  reportIds?: ReadonlySet<string> | undefined;
  /** How long to wait to reach Kafka and start reading; default STARTUP_TIMEOUT (60 s). */
  startTimeoutMs?: number;
  signal?: AbortSignal;
};

const matches = (r: KeyAndHeaders, o: TailOptions): boolean =>
  (o.orgs === undefined || (r.key !== null && o.orgs.has(r.key))) &&
  (o.reportIds === undefined || o.reportIds.has(r.headers[HEADER.reportId] ?? ''));

/**
 * Hands each matching record of `topic` from `sinceMs` on to `write`, decoded,
 * one at a time (the next is read once `write` has settled); `write` answers
 * `'stop'` to end early. Resolves with the number of records written.
 */
export const tailTopic = async (
  env: NodeJS.ProcessEnv,
  opts: TailOptions,
  write: (r: TailedRecord) => Promise<'stop' | undefined>,
): Promise<number> => {
  const parsed = parseKafkaConfig(env);
  if (!parsed.ok) throw new ConfigError(`invalid configuration: ${parsed.problems.join('; ')}`);
  const { topic } = opts;
  const brokers = parsed.config.brokers.join(',');
  const kafka = createKafkaClient(parsed.config, createLogger('error'));
  const registry = createRegistryClient(parsed.config.registry);
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  let written = 0;
  let stats: RangeStats;
  try {
    stats = await kafka.readRange({
      topic,
      fromTimestamp: opts.sinceMs,
      follow: opts.follow === true,
      startTimeoutMs: opts.startTimeoutMs ?? parsed.config.startupTimeoutMs,
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      onRecord: async (r) => {
        if (!matches(r, opts)) return;
        let record: TailedRecord;
        try {
          record = await decoded(r, registry);
        } catch (e) {
          throw new DecodeError(
            `decoding a record of ${topic} (partition ${r.partition}) with the schema registry at ${redact(parsed.config.registry.url)}: ${describe(e)}`,
            { cause: e },
          );
        }
        const answer = await write(record);
        written += 1;
        return answer === 'stop' || written >= limit ? 'stop' : undefined;
      },
    });
  } catch (e) {
    if (opts.signal?.aborted && e === opts.signal.reason) return written;
    if (e instanceof DecodeError) throw e;
    throw new CdrError(
      e instanceof CdrError ? e.code : 'kafka_failed',
      `reading topic ${topic} from Kafka at ${brokers}: ${describe(e)} (check KAFKA_BROKERS)`,
      { cause: e },
    );
  }
  if (!stats.exists) {
    throw new CdrError('kafka_failed', `topic ${topic} does not exist on Kafka at ${brokers}`);
  }
  return written;
};

const decoded = async (
  r: KeyAndHeaders,
  registry: ReturnType<typeof createRegistryClient>,
): Promise<TailedRecord> => {
  let value: unknown = null;
  if (r.value !== null) {
    value =
      r.value[0] === 0 && r.value.length > 5
        ? JSON.parse(JSON.stringify(await registry.decode(r.value)))
        : safeJson(r.value.toString('utf8'));
  }
  return {
    partition: r.partition,
    timestamp: new Date(r.timestamp).toISOString(),
    key: r.key,
    headers: r.headers,
    value,
  };
};

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/**
 * Lines to a stream with its backpressure: `write` settles once the stream
 * can take more. A reader that has gone (EPIPE: `| head`) is not an error:
 * `gone` turns true and further lines are dropped.
 */
export const createLineWriter = (out: NodeJS.WritableStream) => {
  let gone = false;
  let failure: Error | undefined;
  out.on('error', (e: NodeJS.ErrnoException) => {
    gone = true;
    if (e.code !== 'EPIPE') failure = e;
  });
  const writable = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        out.off('drain', done);
        out.off('close', done);
        out.off('error', done);
        resolve();
      };
      out.on('drain', done);
      out.on('close', done);
      out.on('error', done);
    });
  return {
    get gone() {
      return gone;
    },
    /** An error other than the reader going away. */
    get failure() {
      return failure;
    },
    async write(line: string): Promise<void> {
      if (gone) return;
      if (!out.write(line)) await writable();
    },
  };
};

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** `--org a,b --org c` as {a, b, c}; undefined when the flag is absent, null when it names nothing. */
const idSet = (values: string[] | undefined): Set<string> | undefined | null => {
  if (values === undefined) return undefined;
  const ids = new Set(
    values
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== ''),
  );
  return ids.size === 0 ? null : ids;
};

export const runTailCommand = async (args: string[]): Promise<number> => {
  let values: {
    topic?: string;
    since?: string;
    limit?: string;
    follow?: boolean;
    org?: string[];
    'report-id'?: string[];
  };
  try {
    ({ values } = parseArgs({
      args: attachRelativeTimes(args, ['since']),
      options: {
        topic: { type: 'string' },
        since: { type: 'string' },
        limit: { type: 'string' },
        follow: { type: 'boolean', short: 'f' },
        org: { type: 'string', multiple: true },
        'report-id': { type: 'string', multiple: true },
      },
    }));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  const topic = values.topic ?? process.env.CDR_TOPIC ?? 'webex.calling.cdr';
  const since = parseTimeArg(values.since ?? '1h', { now: Date.now(), bareDuration: true });
  if (!since.ok) {
    console.error(`--since: ${since.error}`);
    return 2;
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    console.error('--limit: a positive whole number');
    return 2;
  }
  const orgs = idSet(values.org);
  const reportIds = idSet(values['report-id']);
  if (orgs === null || reportIds === null) {
    console.error(`--${orgs === null ? 'org' : 'report-id'}: needs at least one id`);
    return 2;
  }
  const env = withLocalStack(process.env);
  const out = createLineWriter(process.stdout);
  const stop = new AbortController();
  let signalled: keyof typeof SIGNAL_EXIT | undefined;
  const onSignal = (s: keyof typeof SIGNAL_EXIT) => () => {
    signalled = s;
    stop.abort(new Error(`stopped by ${s}`));
  };
  const handlers = { SIGINT: onSignal('SIGINT'), SIGTERM: onSignal('SIGTERM') };
  process.once('SIGINT', handlers.SIGINT);
  process.once('SIGTERM', handlers.SIGTERM);
  try {
    await tailTopic(
      env,
      {
        topic,
        sinceMs: since.value,
        limit,
        follow: values.follow === true,
        orgs,
        reportIds,
        signal: stop.signal,
      },
      async (r) => {
        await out.write(`${JSON.stringify(r)}\n`);
        return out.gone ? 'stop' : undefined;
      },
    );
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return e instanceof ConfigError ? 2 : 1;
  } finally {
    process.off('SIGINT', handlers.SIGINT);
    process.off('SIGTERM', handlers.SIGTERM);
  }
  if (out.failure !== undefined) {
    console.error(`writing the records failed: ${out.failure.message}`);
    return 1;
  }
  // --follow ends by a signal: that is its normal end.
  return signalled === undefined || values.follow === true ? 0 : SIGNAL_EXIT[signalled];
};

/**
 * Without KAFKA_BROKERS / SCHEMA_REGISTRY_URL, the local stack's `.stack/env`
 * (written by `npm run stack -- up`) fills them in: a developer can look at
 * what the demo wrote without exporting anything.
 */
const withLocalStack = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
  // A config file names the cluster itself (and the environment would win over it).
  if ((env.KAFKA_BROKERS && env.SCHEMA_REGISTRY_URL) || env.CONFIG_FILE) return env;
  // The stack's directory as tools/stack/stack.ts places it (STACK_DIR, else .stack/ in the
  // checkout): read here, so the shipped CLI does not import the developer tool.
  const file = join(env.STACK_DIR ?? fileURLToPath(new URL('../.stack', import.meta.url)), 'env');
  if (!existsSync(file)) return env;
  const fromFile = Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => line.split('=', 2))
      .filter((kv): kv is [string, string] => kv.length === 2 && kv[0] !== ''),
  );
  console.error(`using the local stack (${file})`);
  return { ...fromFile, ...env };
};
