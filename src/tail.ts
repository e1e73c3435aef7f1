/**
 * @module tail
 * `webex-cdr-kafka tail [--topic T] [--since 1h] [--limit N]`: prints the
 * records of a CDR topic as JSON lines (key, headers, the Avro value decoded
 * through the schema registry), so a user can see what the connector wrote
 * without other tools. Dead-letter and audit topics are JSON and printed as is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseKafkaConfig } from './config.ts';
import { createKafka } from './kafka/client.ts';
import { type KeyAndHeaders, readTopicRange } from './kafka/read-range.ts';
import { createRegistryClient } from './kafka/registry.ts';
import { createLogger } from './log.ts';
import { parseDuration } from './reconciler/plan.ts';
import { stackSettings } from './stack/stack.ts';

class ConfigError extends Error {}

/** Printed by `webex-cdr-kafka tail --help` (cli.ts). */
export const USAGE = `usage: webex-cdr-kafka tail [--topic <topic>] [--since <duration>] [--limit <n>]

Prints the records of a topic as JSON lines: partition, timestamp, key,
headers and the value (Avro decoded through the schema registry; dead-letter
and audit topics are JSON). Uses KAFKA_BROKERS and SCHEMA_REGISTRY_URL, or the
local stack's .stack/env when they are not set.

  --topic <topic>     the topic (default: CDR_TOPIC, else webex.calling.cdr)
  --since <duration>  how far back, e.g. 90m, 1h, 2d (default 1h)
  --limit <n>         at most n records
  -h, --help          this text
`;

export type TailedRecord = {
  partition: number;
  timestamp: string;
  key: string | null;
  headers: Readonly<Record<string, string>>;
  value: unknown;
};

/** Reads `topic` from `sinceMs` to its current end, decoding Avro values. */
export const tailTopic = async (
  env: NodeJS.ProcessEnv,
  topic: string,
  sinceMs: number,
  limit = Number.POSITIVE_INFINITY,
): Promise<TailedRecord[]> => {
  const parsed = parseKafkaConfig(env);
  if (!parsed.ok) throw new ConfigError(`invalid configuration: ${parsed.problems.join('; ')}`);
  const logger = createLogger('error');
  const kafka = createKafka(parsed.config, logger);
  const registry = createRegistryClient(parsed.config.registry);
  const raw: KeyAndHeaders[] = [];
  await readTopicRange(kafka, { topic, fromTimestamp: sinceMs, onRecord: (r) => raw.push(r) });
  const out: TailedRecord[] = [];
  for (const r of raw.slice(0, limit)) {
    let value: unknown = null;
    if (r.value !== null) {
      value =
        r.value[0] === 0 && r.value.length > 5
          ? JSON.parse(JSON.stringify(await registry.decode(r.value)))
          : safeJson(r.value.toString('utf8'));
    }
    out.push({
      partition: r.partition,
      timestamp: new Date(r.timestamp).toISOString(),
      key: r.key,
      headers: r.headers,
      value,
    });
  }
  return out;
};

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

export const runTailCommand = async (args: string[]): Promise<number> => {
  let values: { topic?: string; since?: string; limit?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: { topic: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' } },
    }));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  const topic = values.topic ?? process.env.CDR_TOPIC ?? 'webex.calling.cdr';
  let sinceMs: number;
  try {
    sinceMs = Date.now() - parseDuration(values.since ?? '1h');
  } catch (e) {
    console.error(`--since: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    console.error('--limit: a positive whole number');
    return 2;
  }
  const env = withLocalStack(process.env);
  let records: TailedRecord[];
  try {
    records = await tailTopic(env, topic, sinceMs, limit);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return e instanceof ConfigError ? 2 : 1;
  }
  for (const r of records) process.stdout.write(`${JSON.stringify(r)}\n`);
  return 0;
};

/**
 * Without KAFKA_BROKERS / SCHEMA_REGISTRY_URL, the local stack's `.stack/env`
 * (written by `npm run stack -- up`) fills them in: a developer can look at
 * what the demo wrote without exporting anything.
 */
const withLocalStack = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
  // A config file names the cluster itself (and the environment would win over it).
  if ((env.KAFKA_BROKERS && env.SCHEMA_REGISTRY_URL) || env.CONFIG_FILE) return env;
  const file = join(stackSettings(env).dir, 'env');
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
