/**
 * @module simulator/command
 * `webex-cdr-kafka simulate`: stands in for Webex. Generates a world covering
 * the last H hours (ending 10 minutes ago), plays its webhook deliveries
 * against --url (signed with --secret), and, with --api-port, serves the
 * partner reconciliation API on 127.0.0.1 until SIGINT/SIGTERM. Bad
 * arguments: every problem printed at once, exit code 2. Exit code 1 when a
 * delivery was not answered 2xx, else 0.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { type Listening, listen } from '../listen.ts';
import { createPartnerApi } from './partner-api.ts';
import { createWebhookSender } from './webhook-sender.ts';
import { createWebexWorld } from './world.ts';

export const USAGE = `usage: webex-cdr-kafka simulate [--url <webhook url> --secret <s>] [options]

Stands in for Webex: sends Partner Hub CDR webhook deliveries and serves the
partner reconciliation API (cdrcountbyorg, cdrsbyorg) from the same records.

  --url URL             webhook URL to POST the deliveries to
  --secret S            webhook secret token (X-Spark-Signature), required with --url
  --seed N              seed: same seed, same orgs, records and plan (default 1)
  --orgs N              customer orgs (default 25)
  --hours H             hours of calls, ending 10 minutes ago (default 6, at most 48)
  --calls-per-hour N    mean calls per org per hour; orgs vary around it (default 20)
  --drop R              share of deliveries never sent, 0..1 (default 0)
  --repeat R            share of sent deliveries sent again later, 0..1 (default 0)
  --late R              share of records delivered 1-6 deliveries late, 0..1 (default 0)
  --speedup N           replay the 5-minute cadence N times faster
  --fast                send as fast as the receiver answers (the default)
  --retries N           retries of a delivery answered non-2xx (default 2)
  --api-port P          serve the partner API on 127.0.0.1:P (0: any free port)
  --api-token T         bearer token the partner API accepts (default "simulator")
  --api-rate N          partner API requests per minute per token (default: no limit)
  -h, --help            this text
`;

const EXIT_BAD_ARGS = 2;
const HOUR_MS = 3_600_000;

const rate = (name: string) =>
  z.coerce
    .number({ error: `--${name} must be a number` })
    .min(0, `--${name} must be between 0 and 1`)
    .max(1, `--${name} must be between 0 and 1`)
    .default(0);

const int = (name: string, min: number, max: number) =>
  z.coerce
    .number({ error: `--${name} must be a number` })
    .int(`--${name} must be a whole number`)
    .min(min, `--${name} must be at least ${min}`)
    .max(max, `--${name} must be at most ${max}`);

const ArgsSchema = z.object({
  url: z
    .url({ protocol: /^https?$/, error: '--url must be an http:// or https:// URL' })
    .optional(),
  secret: z.string().min(1, '--secret must not be empty').optional(),
  seed: z.string().min(1, '--seed must not be empty').default('1'),
  orgs: int('orgs', 1, 100_000).default(25),
  hours: z.coerce
    .number({ error: '--hours must be a number' })
    .gt(0, '--hours must be more than 0')
    .max(48, '--hours must be at most 48 (the partner API keeps 48 hours)')
    .default(6),
  'calls-per-hour': z.coerce
    .number({ error: '--calls-per-hour must be a number' })
    .min(0, '--calls-per-hour must not be negative')
    .max(100_000, '--calls-per-hour must be at most 100000')
    .default(20),
  drop: rate('drop'),
  repeat: rate('repeat'),
  late: rate('late'),
  speedup: z.coerce
    .number({ error: '--speedup must be a number' })
    .gt(0, '--speedup must be more than 0')
    .optional(),
  fast: z.boolean().default(false),
  retries: int('retries', 0, 20).default(2),
  'api-port': int('api-port', 0, 65_535).optional(),
  'api-token': z.string().min(1, '--api-token must not be empty').default('simulator'),
  'api-rate': int('api-rate', 1, 1_000_000).optional(),
});

/** Rules across options, checked on the raw words so they show beside per-option problems. */
const crossProblems = (v: Record<string, string | boolean | undefined>): string[] => {
  const problems: string[] = [];
  if (v.url !== undefined && v.secret === undefined) {
    problems.push('--secret is required with --url');
  }
  if (v.url === undefined && v['api-port'] === undefined) {
    problems.push('nothing to do: give --url and/or --api-port');
  }
  if (v.fast === true && v.speedup !== undefined) {
    problems.push('--speedup and --fast exclude each other');
  }
  return problems;
};

export type SimulateSettings = z.infer<typeof ArgsSchema>;

export type ParsedArgs =
  | { readonly ok: true; readonly help: true }
  | { readonly ok: true; readonly help: false; readonly settings: SimulateSettings }
  | { readonly ok: false; readonly problems: readonly string[] };

const OPTIONS = {
  url: { type: 'string' },
  secret: { type: 'string' },
  seed: { type: 'string' },
  orgs: { type: 'string' },
  hours: { type: 'string' },
  'calls-per-hour': { type: 'string' },
  drop: { type: 'string' },
  repeat: { type: 'string' },
  late: { type: 'string' },
  speedup: { type: 'string' },
  fast: { type: 'boolean' },
  retries: { type: 'string' },
  'api-port': { type: 'string' },
  'api-token': { type: 'string' },
  'api-rate': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Command-line words to settings, or every problem found. */
export const parseSimulateArgs = (args: readonly string[]): ParsedArgs => {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...args], options: OPTIONS, strict: true }).values;
  } catch (e) {
    return { ok: false, problems: [e instanceof Error ? e.message : String(e)] };
  }
  const { help, ...rest } = values;
  if (help === true) return { ok: true, help: true };
  const parsed = ArgsSchema.safeParse(rest);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => i.message)),
    ...crossProblems(rest),
  ];
  if (!parsed.success || problems.length > 0) return { ok: false, problems };
  return { ok: true, help: false, settings: parsed.data };
};

export type SimulateDeps = {
  readonly out?: (line: string) => void;
  readonly err?: (line: string) => void;
  readonly now?: () => number;
  /** Stops the command like SIGINT does (tests). */
  readonly signal?: AbortSignal;
};

const iso = (ms: number) => new Date(ms).toISOString();

export const runSimulateCommand = async (
  args: string[],
  deps: SimulateDeps = {},
): Promise<number> => {
  const out = deps.out ?? ((line: string) => console.log(line));
  const err = deps.err ?? ((line: string) => console.error(line));
  const parsed = parseSimulateArgs(args);
  if (!parsed.ok) {
    err('simulate: invalid arguments:');
    for (const p of parsed.problems) err(`  - ${p}`);
    err('run "webex-cdr-kafka simulate --help" for the options');
    return EXIT_BAD_ARGS;
  }
  if (parsed.help) {
    out(USAGE);
    return 0;
  }
  const s = parsed.settings;
  const now = deps.now ?? Date.now;

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  deps.signal?.addEventListener('abort', onSignal, { once: true });
  const stopped = new Promise<void>((resolve) => {
    if (stop.signal.aborted) resolve();
    stop.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  let server: Listening | undefined;

  try {
    const t0 = now();
    const endMs = t0 - 10 * 60_000;
    const startMs = endMs - s.hours * HOUR_MS;
    const world = createWebexWorld({
      seed: s.seed,
      orgs: s.orgs,
      callsPerHour: s['calls-per-hour'],
      startMs,
      endMs,
      dropRate: s.drop,
      repeatRate: s.repeat,
      lateRate: s.late,
    });
    out(
      `simulate: seed ${s.seed}, ${s.orgs} orgs, ${world.records.length} records with calls ending ${iso(startMs)} .. ${iso(endMs)}`,
    );

    if (s['api-port'] !== undefined) {
      const api = createPartnerApi({
        world,
        tokens: [s['api-token']],
        ...(s['api-rate'] === undefined
          ? {}
          : { rateLimit: { requests: s['api-rate'], perMs: 60_000 } }),
      });
      const port = s['api-port'];
      const settings = { port: '--api-port' };
      const started = await listen(api.fetch, { port, settings }).catch((e: unknown) => {
        err(`simulate: partner API: ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      });
      if (started === undefined) return 1;
      server = started;
      const bound = server.port;
      const token = s['api-token'] === 'simulator' ? 'simulator' : '<--api-token>';
      out(
        `simulate: partner API at http://127.0.0.1:${bound}/v1/partners (Authorization: Bearer ${token})`,
      );
    }

    let exitCode = 0;
    if (s.url !== undefined) {
      const deliveries = world.deliveries();
      const speedup = s.speedup ?? 'fast';
      out(
        `simulate: sending ${deliveries.length} planned deliveries to ${s.url} (${speedup === 'fast' ? 'fast' : `speedup ${speedup}`})`,
      );
      const sender = createWebhookSender({
        url: s.url,
        ...(s.secret === undefined ? {} : { secret: s.secret }),
        speedup,
        retries: s.retries,
        onDelivery: (r) => {
          if (r.outcome === 'failed') {
            err(
              `simulate: delivery ${r.id} failed after ${r.attempts} attempt(s): ${r.status ?? r.error ?? 'no answer'}`,
            );
          }
        },
      });
      const report = await sender.send(deliveries, stop.signal);
      out(
        `simulate: deliveries sent ${report.sent}, dropped ${report.dropped}, repeated ${report.repeated}, failed ${report.failed}; ${report.recordsSent} records posted${report.aborted ? ' (stopped early)' : ''}`,
      );
      if (report.failed > 0) exitCode = 1;
    }

    if (server !== undefined && !stop.signal.aborted) {
      out('simulate: serving the partner API until SIGINT/SIGTERM');
      await stopped;
    }
    return exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    deps.signal?.removeEventListener('abort', onSignal);
    await server?.close(true);
  }
};
