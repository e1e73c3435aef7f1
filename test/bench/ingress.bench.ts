/**
 * Ingress benchmark on the real local stack (issues 5 and 15), or on the Kafka and registry that
 * KAFKA_BROKERS and SCHEMA_REGISTRY_URL name (both set: the test stack's, in
 * test/integration/bench-smoke.test.ts). Deliveries built by the
 * Webex stand-in's generator (realistic records, ~2.5 KB of JSON each), signed,
 * are POSTed, the same bytes to each receiver in turn: the ingress (once per
 * producer client, and once per --ingress-env setting) and the Go peer
 * (bench/peers/go: the same work in Go, see test/bench/go-peer.ts), each its own
 * process. The cases: 100 sequential 2,000-record deliveries, 4 concurrent
 * senders of 2,000-record deliveries, one 100,000-record delivery. Per case and
 * receiver: records acknowledged per second end to end (a 200 means every record
 * is acked by Kafka with acks=all), request latency p50/p99, peak RSS, CPU
 * seconds per 10 000 records. As the physical reference, Kafka's own
 * kafka-producer-perf-test produces at least 200,000 records (a warm JVM) of the
 * same average Avro size with acks=all to the same broker, its CPU measured too.
 * Before the cases, a sample delivery goes to the first ingress and to the peer,
 * and the records they wrote, decoded with the registry's schema, must be equal.
 *
 * Writes results.json, RESULTS.md and throughput.png into --out (default
 * bench/), with the machine described. Figures only: no pass/fail on timing;
 * the targets are shown next to the figures.
 *
 *   npm run bench                  the full run (several minutes)
 *   npm run bench -- --peer none   without the Go peer
 *   npm run bench -- --ingress-env INGRESS_WORKERS=0 --ingress-env INGRESS_WORKERS=2
 *                                  each client's ingress twice, with each setting (space-separated
 *                                  NAME=value pairs per --ingress-env), side by side in one run
 *   npm run bench -- --smoke       seconds: tiny cases, for CI (see test/integration/bench-smoke.test.ts)
 *   BENCH_MIN_RECORDS=50000 npm run bench    more records per case
 *   npm run bench -- --sizes 100000 --senders 1 --cpu-prof bench/profile
 *                                  one case (--sizes x --senders replace the three cases),
 *                                  the ingress under --cpu-prof; then
 *   node test/bench/profile-summary.ts bench/profile/*.cpuprofile
 *   npm run bench -- --client platformatic
 *                                  one producer client (the default: both side by side, each
 *                                  case on each client's ingress in turn, in the same run)
 *   npm run bench -- --baseline ../other-checkout
 *                                  this checkout's ingress against another's (e.g. the
 *                                  commit before a change), case by case, same run
 */

import { deepStrictEqual } from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { readCdrSchema } from '../../src/cdr/avro-schema.ts';
import { prepareBatch } from '../../src/cdr/batch.ts';
import { sign } from '../../src/ingress/verify-signature.ts';
import { createRegistryClient } from '../../src/kafka/registry.ts';
import { createCdrGenerator } from '../../src/simulator/generate.ts';
import {
  ensureKafkaJars,
  givenStack,
  KAFKA_VERSION,
  readPid,
  stackSettings,
  up,
} from '../../tools/stack/stack.ts';
import {
  type ReadMessage,
  readTopic,
  topicBytesOnDisk,
  topicSize,
  uniqueTopic,
} from '../integration/helpers/kafka.ts';
import { barChart } from './chart.ts';
import { buildGoPeer, freePort, type GoPeerBuild, startGoPeer, waitReady } from './go-peer.ts';
import { shippedNodeFlags } from './node-flags.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SECRET = 'bench-secret';
const PARTITIONS = 6;

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'bench') },
    sizes: { type: 'string' },
    senders: { type: 'string' },
    'cpu-prof': { type: 'string' },
    /**
     * The ingress' producer client (KAFKA_CLIENT): platformatic (the default) or kafkajs; a
     * comma-separated list runs an ingress per client, each case on each in turn. Default: both
     * (kafkajs,platformatic); with --smoke, platformatic alone.
     */
    client: { type: 'string' },
    /** Another checkout whose ingress (its src/cli.ts) runs beside this one's, case by case. */
    baseline: { type: 'string' },
    /** KAFKA_COMPRESSION of the ingress: none (default), gzip or zstd. The reference stays uncompressed. */
    compression: { type: 'string', default: 'none' },
    /** V8 flags for the ingress process, e.g. "--max-old-space-size=256". */
    'ingress-flags': { type: 'string' },
    /**
     * Extra environment of the ingress, as space-separated NAME=value pairs; given several
     * times, each client's ingress runs once per setting (e.g. INGRESS_WORKERS=0 and =2).
     */
    'ingress-env': { type: 'string', multiple: true },
    /** go (the default): the Go peer beside the ingress, when `go` is on the PATH; none: without. */
    peer: { type: 'string', default: 'go' },
  },
});
const SMOKE = args.smoke === true;
const CLIENTS = (args.client ?? (SMOKE ? 'platformatic' : 'kafkajs,platformatic'))
  .split(',')
  .map((c) => {
    if (c !== 'kafkajs' && c !== 'platformatic') throw new Error(`--client: unknown client ${c}`);
    return c;
  });
const parseEnvSetting = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split(' ')
      .filter((w) => w !== '')
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq < 1) throw new Error(`--ingress-env: expected NAME=value, got ${pair}`);
        return [pair.slice(0, eq), pair.slice(eq + 1)];
      }),
  );
const ENV_SETTINGS = (args['ingress-env'] ?? ['']).map((text) => ({
  text: text.trim(),
  env: parseEnvSetting(text),
}));
/**
 * The ingresses measured side by side: one per client and --ingress-env setting, and each
 * again from --baseline.
 */
const VARIANTS = CLIENTS.flatMap((client) =>
  ENV_SETTINGS.flatMap(({ text, env }) => {
    const label = text === '' ? client : `${client} ${text}`;
    return [
      { label, client, env, checkout: ROOT },
      ...(args.baseline === undefined
        ? []
        : [{ label: `${label}@baseline`, client, env, checkout: args.baseline }]),
    ];
  }),
);
if (args.peer !== 'go' && args.peer !== 'none')
  throw new Error(`--peer: go or none, not ${args.peer}`);
/** The Go peer's label in the tables. */
const PEER = 'go-peer';
type Variant = (typeof VARIANTS)[number];

/** Where a checkout's ingress is built for the bench: beside dist/, so its relative paths hold. */
const BUILT = '.bench-dist';

/**
 * The ingress measured is the one that ships: the checkout's sources compiled
 * to JavaScript (as dist/, what `npx webex-cdr-kafka` and the image run), not
 * the TypeScript sources run with Node's type stripping, which loads its
 * compiler into the main thread and every worker thread (about 15 MiB each).
 * Built into .bench-dist/ (gitignored), so a dist/ in use is left alone.
 */
const built = new Map<string, string>();
const buildCli = async (checkout: string): Promise<string> => {
  const tsc = join(ROOT, 'node_modules/.bin/tsc');
  await run(tsc, ['-p', join(checkout, 'tsconfig.build.json'), '--outDir', join(checkout, BUILT)]);
  return join(checkout, BUILT, 'cli.js');
};
// checked by the ingress' own configuration: a wrong value stops it with the problem named
const COMPRESSION = args.compression ?? 'none';
/**
 * [records a delivery, senders]: the three cases of issue 15, or the cross product of
 * --sizes and --senders when either is given.
 */
const CASES: [number, number][] =
  args.sizes === undefined && args.senders === undefined
    ? SMOKE
      ? [
          [100, 1],
          [100, 4],
          [500, 1],
        ]
      : [
          [2000, 1],
          [2000, 4],
          [100_000, 1],
        ]
    : (args.sizes ?? '2000')
        .split(',')
        .map(Number)
        .flatMap((size) =>
          (args.senders ?? '1').split(',').map((n): [number, number] => [size, Number(n)]),
        );
/** Each case sends deliveries until at least this many records (and at least one delivery per sender). */
const MIN_RECORDS = Number(process.env.BENCH_MIN_RECORDS ?? (SMOKE ? 1000 : 80_000));
/** kafka-producer-perf-test's records: at least 200,000 in a full run, so its JVM is warm. */
const PERF_TEST_RECORDS = Number(process.env.BENCH_PERF_TEST_RECORDS ?? (SMOKE ? 5000 : 200_000));
/** Cases of up to 2,000 records a delivery send at least this many deliveries: p99 is then the 99th of 100, not the slowest. */
const MIN_DELIVERIES = Number(process.env.BENCH_MIN_DELIVERIES ?? (SMOKE ? 1 : 100));
/** Rounds a case is sent in, the receivers taking turns (roundsFor). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (SMOKE ? 1 : 4));
/**
 * Untimed deliveries of 2,000 records before the first case: the ingress is a
 * long-running service, so the figures are those of a warm process (JIT done,
 * connections open), not of its first requests.
 */
const WARMUP_DELIVERIES = Number(process.env.BENCH_WARMUP_DELIVERIES ?? (SMOKE ? 1 : 5));
/**
 * Then untimed deliveries from 4 senders at once: only deliveries in hand together reach the
 * ingress' worker threads, whose JIT would otherwise warm up inside the first timed case that
 * has them (the 4-sender one).
 */
const WARMUP_CONCURRENT = Number(process.env.BENCH_WARMUP_CONCURRENT ?? (SMOKE ? 4 : 20));

// --- the ingress process ------------------------------------------------------

const procStatus = (pid: number, key: string): number =>
  Number(
    new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0,
  ) * 1024;

/** The name and user + system CPU seconds in a /proc stat line (clock ticks of 1/100 s). */
const readStat = (path: string): { comm: string; seconds: number } => {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    seconds: (Number(fields[11]) + Number(fields[12])) / 100,
  };
};

/** user + system CPU seconds of a process. */
const cpuSeconds = (pid: number): number => readStat(`/proc/${pid}/stat`).seconds;

/**
 * CPU seconds of a process by kind of thread, from the names Node 24 gives its
 * threads (/proc/PID/task/TID/comm): `main` (MainThread: HTTP, the signature,
 * the Kafka client), `workers` (WorkerThread: the ingress' worker threads),
 * `v8` (V8Worker: garbage collection and compilation helpers) and `other`
 * (libuv's pool, the Go peer's threads, anything unnamed).
 */
export type ThreadCpu = { main: number; workers: number; v8: number; other: number };
const THREAD_KINDS: Record<string, keyof ThreadCpu> = {
  MainThread: 'main',
  WorkerThread: 'workers',
  V8Worker: 'v8',
};
const threadCpu = (pid: number): ThreadCpu => {
  const sum: ThreadCpu = { main: 0, workers: 0, v8: 0, other: 0 };
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return sum;
  }
  for (const tid of tasks) {
    try {
      const { comm, seconds } = readStat(`/proc/${pid}/task/${tid}/stat`);
      sum[THREAD_KINDS[comm] ?? 'other'] += seconds;
    } catch {
      // a thread that ended meanwhile: its time is in no task now (nor in the process' total)
    }
  }
  return sum;
};

/**
 * The whole machine's CPU in clock ticks (1/100 s) from /proc/stat's first line:
 * busy (user, nice, system, irq, softirq, steal) and idle (idle, iowait).
 */
const machineTicks = (): { busy: number; idle: number } => {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return {
    busy: (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0),
    idle: (idle ?? 0) + (iowait ?? 0),
  };
};

/**
 * The processes the bench can name on the machine besides the receiver: the broker and the
 * registry (when the bench started the local stack; their pids from its pid files) and this
 * process, whose fetch calls are the senders.
 */
const SHARERS: { broker: number | null; registry: number | null } = {
  broker: null,
  registry: null,
};

/**
 * Where the machine's cores went during a case, in cores (CPU seconds per second): the
 * receiver, the broker, the registry, the senders (this process), everything else, and idle.
 * On the bench's 2 shared cores this says whether a case was bound by the cores (idle near 0)
 * or by waiting, and what besides the receiver took them.
 */
export type Cores = {
  receiver: number;
  broker: number;
  registry: number;
  senders: number;
  rest: number;
  idle: number;
};

const sharerSeconds = (pid: number | null): number => {
  if (pid === null) return 0;
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
};

/** A reading of everything Cores needs; `coresSince` turns two into cores. */
const coreReading = (receiverPid: number) => {
  const usage = process.cpuUsage();
  return {
    machine: machineTicks(),
    receiver: cpuSeconds(receiverPid),
    broker: sharerSeconds(SHARERS.broker),
    registry: sharerSeconds(SHARERS.registry),
    senders: (usage.user + usage.system) / 1e6,
  };
};

/** CPU seconds of each part of the machine between two readings. */
type CoreSeconds = {
  busy: number;
  idle: number;
  receiver: number;
  broker: number;
  registry: number;
  senders: number;
};

const coreSeconds = (
  before: ReturnType<typeof coreReading>,
  after: ReturnType<typeof coreReading>,
): CoreSeconds => ({
  busy: (after.machine.busy - before.machine.busy) / 100,
  idle: (after.machine.idle - before.machine.idle) / 100,
  receiver: after.receiver - before.receiver,
  broker: after.broker - before.broker,
  registry: after.registry - before.registry,
  senders: after.senders - before.senders,
});

/** Rounds' CPU seconds over their `seconds` in all, as cores. */
const toCores = (parts: readonly CoreSeconds[], seconds: number): Cores => {
  const sum = (k: keyof CoreSeconds) => parts.reduce((n, p) => n + p[k], 0);
  const per = (s: number) => round(s / seconds, 2);
  const named = sum('receiver') + sum('broker') + sum('registry') + sum('senders');
  return {
    receiver: per(sum('receiver')),
    broker: per(sum('broker')),
    registry: per(sum('registry')),
    senders: per(sum('senders')),
    rest: per(Math.max(0, sum('busy') - named)),
    idle: per(sum('idle')),
  };
};

/** Resets the peak RSS (VmHWM) of our own child, so each case has its own peak. */
const resetPeakRss = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, '5');

const startIngress = async (
  env: Record<string, string>,
  topic: string,
  port: number,
  variant: Variant,
) => {
  const cli = built.get(variant.checkout);
  if (cli === undefined) throw new Error(`${variant.checkout} was not built`);
  const cpuProf = args['cpu-prof'];
  const profile = cpuProf === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`];
  // the V8 flags the ingress ships with (the shebang of src/bin.ts), then --ingress-flags (V8 takes
  // the last of a flag given twice, so these add to the shipped ones or override them)
  const flags = `${shippedNodeFlags().join(' ')} ${args['ingress-flags'] ?? ''}`
    .split(' ')
    .filter((f) => f !== '');
  const child = spawn(
    process.execPath,
    ['--disable-warning=TimeoutNegativeWarning', ...flags, ...profile, cli, 'ingress'],
    {
      env: {
        ...process.env,
        ...env,
        CDR_TOPIC: topic,
        KAFKA_CLIENT: variant.client,
        KAFKA_COMPRESSION: COMPRESSION,
        CDR_FEED: 'analytics',
        WEBHOOK_SECRETS: SECRET,
        // The bench sends the same records in every delivery: with dedup on they
        // would be dropped as repeats. It measures the publishing path.
        DEDUP: 'false',
        PORT: String(port),
        ACK_TIMEOUT_MS: '60000',
        CDR_TOPIC_PARTITIONS: String(PARTITIONS),
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
        ...variant.env,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  return waitReady(child, port, 'ingress');
};

// --- the deliveries -----------------------------------------------------------

/** Records from the stand-in's generator, as JSON text, each with a fresh Report ID per use. */
const createRecordPool = () => {
  const generator = createCdrGenerator({ seed: 'bench', orgs: 250 });
  const start = Date.UTC(2026, 10, 23);
  const raws = generator.generate(start, start + 4 * 3_600_000).map((c) => c.raw);
  if (raws.length === 0) throw new Error('the generator made no records');
  return {
    raws,
    body(n: number): Buffer {
      const parts: string[] = [];
      for (let i = 0; i < n; i++) {
        const raw = raws[i % raws.length];
        parts.push(JSON.stringify({ ...raw, 'Report ID': randomUUID() }));
      }
      return Buffer.from(`{"items":[${parts.join(',')}]}`);
    },
  };
};

/**
 * The senders' connections: kept alive, one per concurrent sender, as Webex would reuse them.
 */
const senderAgent = new Agent({ keepAlive: true });

/**
 * POSTs a signed delivery and reads the answer. node:http writes the body's bytes as they are;
 * fetch (undici) copied every 5 MB body twice into web streams, and the collections that cost
 * in this process, with its large heap, took 0.7-0.95 of the machine's 2 cores in the
 * 2,000-record cases: cores the receivers then lacked. A real sender (Webex) is on another
 * machine; the bench's should take as little of these cores as it can.
 */
const postBody = (
  url: string,
  body: Buffer,
  signature: string,
): Promise<{ status: number; text: string }> =>
  new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: senderAgent,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          'x-spark-signature': signature,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

type CaseResult = {
  /** The receiver: the ingress' label (client, --ingress-env, @baseline) or go-peer. */
  receiver: string;
  recordsPerDelivery: number;
  senders: number;
  deliveries: number;
  records: number;
  bodyBytes: number;
  /** The rounds the case was sent in (roundsFor), receivers taking turns. */
  rounds: number;
  seconds: number;
  recordsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  peakRssMiB: number;
  cpuSecondsPer10k: number;
  /** The same by kind of thread (threadCpu), CPU s per 10k records. */
  cpuByThreadPer10k: ThreadCpu;
  /** Where the machine's cores went during the case. */
  cores: Cores;
  retried503: number;
  reference?: { recordsPerSecond: number; mbPerSecond: number };
  ratio?: number;
};

type Measured = Omit<CaseResult, 'receiver' | 'reference' | 'ratio'>;

/** The deliveries a case sends each receiver: from MIN_RECORDS and MIN_DELIVERIES. */
const deliveriesFor = (recordsPerDelivery: number, senders: number): number =>
  Math.max(
    senders,
    Math.ceil(MIN_RECORDS / recordsPerDelivery),
    recordsPerDelivery <= 2000 && senders === 1 ? MIN_DELIVERIES : 1,
  );

/**
 * A case is sent in rounds, the receivers taking turns within each round (and
 * a different one first in each): on a shared machine a few seconds of
 * someone else's load then fall on every receiver alike, not on the one whose
 * whole case they happened to meet. A case of fewer deliveries than that (the
 * 100,000-record one: a delivery) sends one a round, so it is not one draw
 * either.
 */
const roundsFor = (deliveries: number, senders: number): { rounds: number; each: number } => {
  if (ROUNDS <= 1) return { rounds: 1, each: deliveries };
  // a multiple of the senders, so no round ends with fewer senders at work
  return { rounds: ROUNDS, each: Math.max(1, Math.ceil(deliveries / ROUNDS / senders)) * senders };
};

/** One round of a case against one receiver: its raw figures, summed over rounds by `summarise`. */
type Round = {
  deliveries: number;
  seconds: number;
  latencies: number[];
  cpu: number;
  threads: ThreadCpu;
  /** CPU seconds of each part of the machine (coreSeconds). */
  machine: CoreSeconds;
  peakRssBytes: number;
  retried503: number;
};

const runRound = async (
  url: string,
  pid: number,
  body: Buffer,
  recordsPerDelivery: number,
  senders: number,
  deliveries: number,
): Promise<Round> => {
  const signature = sign(body, SECRET);
  const latencies: number[] = [];
  let retried503 = 0;
  let next = 0;
  const sender = async () => {
    while (next < deliveries) {
      next += 1;
      for (;;) {
        const t0 = performance.now();
        const res = await postBody(url, body, signature);
        const text = res.text;
        if (res.status === 503) {
          retried503 += 1;
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
        const answer = JSON.parse(text) as { accepted: number };
        if (answer.accepted !== recordsPerDelivery) {
          throw new Error(`accepted ${answer.accepted} of ${recordsPerDelivery}`);
        }
        latencies.push(performance.now() - t0);
        break;
      }
    }
  };
  resetPeakRss(pid);
  const cpu0 = cpuSeconds(pid);
  const threads0 = threadCpu(pid);
  const reading0 = coreReading(pid);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: senders }, sender));
  const seconds = (performance.now() - t0) / 1000;
  const reading1 = coreReading(pid);
  const threads1 = threadCpu(pid);
  return {
    deliveries,
    seconds,
    latencies,
    cpu: cpuSeconds(pid) - cpu0,
    threads: {
      main: threads1.main - threads0.main,
      workers: threads1.workers - threads0.workers,
      v8: threads1.v8 - threads0.v8,
      other: threads1.other - threads0.other,
    },
    machine: coreSeconds(reading0, reading1),
    peakRssBytes: procStatus(pid, 'VmHWM'),
    retried503,
  };
};

/** A receiver's rounds of one case as one result: sums, the latencies together, the highest peak. */
const summarise = (
  rounds: readonly Round[],
  recordsPerDelivery: number,
  senders: number,
  bodyBytes: number,
): Measured => {
  const sum = (f: (r: Round) => number) => rounds.reduce((n, r) => n + f(r), 0);
  const deliveries = sum((r) => r.deliveries);
  const seconds = sum((r) => r.seconds);
  const records = deliveries * recordsPerDelivery;
  const per10k = (s: number) => round((s / records) * 10_000, 2);
  const latencies = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const thread = (k: keyof ThreadCpu) => per10k(sum((r) => r.threads[k]));
  return {
    recordsPerDelivery,
    senders,
    deliveries,
    records,
    bodyBytes,
    rounds: rounds.length,
    seconds: round(seconds, 2),
    recordsPerSecond: Math.round(records / seconds),
    p50Ms: Math.round(percentile(latencies, 50)),
    p99Ms: Math.round(percentile(latencies, 99)),
    peakRssMiB: Math.round(Math.max(...rounds.map((r) => r.peakRssBytes)) / 2 ** 20),
    cpuSecondsPer10k: per10k(sum((r) => r.cpu)),
    cpuByThreadPer10k: {
      main: thread('main'),
      workers: thread('workers'),
      v8: thread('v8'),
      other: thread('other'),
    },
    cores: toCores(
      rounds.map((r) => r.machine),
      seconds,
    ),
    retried503: sum((r) => r.retried503),
  };
};

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

// --- the reference: kafka-producer-perf-test ----------------------------------

/**
 * kafka-tools (ProducerPerformance) is not part of the broker's classpath, and
 * kafka-tools 4.4.0 did not resolve from Maven Central here: 4.1.0's tool runs
 * on the broker's 4.4.0 client jars (BENCH_KAFKA_TOOLS_VERSION to change it).
 */
const TOOLS_VERSION = process.env.BENCH_KAFKA_TOOLS_VERSION ?? '4.1.0';

const toolsClasspath = async (): Promise<string> => {
  const s = stackSettings();
  const lib = await ensureKafkaJars(s);
  const tools = join(s.dir, 'kafka', `tools-${TOOLS_VERSION}`);
  const jar = join(tools, `kafka-tools-${TOOLS_VERSION}.jar`);
  if (!existsSync(jar)) {
    await run('mvn', [
      '-B',
      '-q',
      'dependency:copy',
      `-Dartifact=org.apache.kafka:kafka-tools:${TOOLS_VERSION}`,
      `-DoutputDirectory=${tools}`,
    ]);
  }
  return `${lib}/*:${jar}`;
};

const java = () =>
  process.env.JAVA_HOME
    ? join(process.env.JAVA_HOME, 'bin', 'java')
    : existsSync('/usr/lib/jvm/java-17-openjdk-amd64/bin/java')
      ? '/usr/lib/jvm/java-17-openjdk-amd64/bin/java'
      : 'java';

/** kafka-producer-perf-test's figures, and its CPU (the JVM's, read by the shell's `times`). */
type PerfTest = {
  records: number;
  recordsPerSecond: number;
  mbPerSecond: number;
  cpuSecondsPer10k: number;
};

const producerPerfTest = async (
  classpath: string,
  brokers: string,
  topic: string,
  records: number,
  recordSize: number,
): Promise<PerfTest> => {
  // `times` prints the shell's, then its children's user and system time: the JVM's CPU
  const { stdout, stderr } = await run(
    'sh',
    [
      '-c',
      '"$@"; rc=$?; times >&2; exit $rc',
      'sh',
      java(),
      '-Xmx512m',
      '-cp',
      classpath,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(records),
      '--record-size',
      String(recordSize),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${brokers}`,
      'acks=all',
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  // "N records sent, X records/sec (Y MB/sec), ..." is the last line; a run longer than 5 s also
  // prints interim lines of that form first (on a busy machine with 0.0 records/sec): the last counts.
  const m = [
    ...stdout.matchAll(/(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/g),
  ].at(-1);
  if (m === undefined) throw new Error(`unexpected kafka-producer-perf-test output:\n${stdout}`);
  const times = stderr.trim().split('\n').at(-1) ?? '';
  const cpu = [...times.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
    (sum, t) => sum + Number(t[1]) * 60 + Number(t[2]),
    0,
  );
  return {
    records,
    recordsPerSecond: Math.round(Number(m[2])),
    mbPerSecond: Number(m[3]),
    cpuSecondsPer10k: round((cpu / records) * 10_000, 2),
  };
};

// --- report -------------------------------------------------------------------

const machine = async () => {
  const cpu = cpus()[0]?.model ?? 'unknown';
  return {
    date: new Date().toISOString(),
    nproc: cpus().length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    cpuModel: cpu,
    node: process.version,
    kafka: KAFKA_VERSION,
    perfTestToolsVersion: TOOLS_VERSION,
    ingressFlags: args['ingress-flags'] ?? '',
    loadAverageAtStart: (await import('node:os')).loadavg().map((l) => round(l, 2)),
    note: 'broker, registry, the receivers, perf-test and this benchmark share the machine',
  };
};

const caseName = (c: { recordsPerDelivery: number; senders: number }) =>
  `${c.recordsPerDelivery} x${c.senders}`;

const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 ? undefined : round(a / b, 2);

const show = (v: number | string | undefined) => (v === undefined ? '-' : String(v));

/** Side by side: per case, each receiver's figures, its ratio to the Go peer's records/s and to perf-test's. */
const sideBySide = (report: Report): string[] => {
  const lines = [
    '| case (records x senders) | receiver | deliveries | rounds | records/s | / go-peer | / perf-test | p50 ms | p99 ms | seconds | peak RSS MiB | CPU s / 10k | 503 retried |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [size, senders] of CASES) {
    const group = report.cases.filter(
      (c) => c.recordsPerDelivery === size && c.senders === senders,
    );
    const peer = group.find((c) => c.receiver === PEER);
    for (const c of group) {
      lines.push(
        `| ${caseName(c)} | ${c.receiver} | ${c.deliveries} | ${c.rounds} | ${c.recordsPerSecond} | ${c.receiver === PEER ? '1' : show(ratio(c.recordsPerSecond, peer?.recordsPerSecond))} | ${show(c.ratio)} | ${c.p50Ms} | ${c.p99Ms} | ${c.seconds} | ${c.peakRssMiB} | ${c.cpuSecondsPer10k} | ${c.retried503} |`,
      );
    }
  }
  const p = report.perfTest;
  lines.push(
    `| ${p.records} records | kafka-producer-perf-test | - | - | ${p.recordsPerSecond} | - | 1 | - | - | - | - | ${p.cpuSecondsPer10k} | - |`,
  );
  return lines;
};

/**
 * Where each receiver's CPU went, by kind of thread (threadCpu): for the
 * ingress the main thread against its workers and V8's helpers, which is what
 * says whether the main thread or the cores limit it.
 */
const byThread = (report: Report): string[] => {
  const rows = report.cases.filter((c) => c.cpuByThreadPer10k !== undefined);
  if (rows.length === 0) return [];
  return [
    "CPU s per 10k records by thread (Linux thread names: the main thread, the worker threads, V8's helper threads for garbage collection and compilation, the rest: libuv's pool, and all of the Go peer's threads):",
    '',
    '| case | receiver | main | workers | V8 helpers | other | all |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows.map((c) => {
      const t = c.cpuByThreadPer10k;
      return `| ${caseName(c)} | ${c.receiver} | ${t.main} | ${t.workers} | ${t.v8} | ${t.other} | ${c.cpuSecondsPer10k} |`;
    }),
    '',
  ];
};

/**
 * Where the machine's cores went in each case: the receiver, the broker, the registry, the
 * senders, the rest of the machine and idle. With a core or more idle a case waited; with none
 * idle the cores bound it, and what the receiver saves per record goes to the broker and senders.
 */
const machineCores = (report: Report): string[] => {
  const rows = report.cases.filter((c) => c.cores !== undefined);
  if (rows.length === 0) return [];
  return [
    `Where the machine's ${report.machine.nproc} cores went during each case, in cores (CPU seconds per second of the case; the broker and the registry when the bench started the local stack; the senders are this benchmark's own process; the rest is everything else on the shared machine):`,
    '',
    '| case | receiver | receiver | broker | registry | senders | rest | idle |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((c) => {
      const k = c.cores;
      return `| ${caseName(c)} | ${c.receiver} | ${k.receiver} | ${k.broker} | ${k.registry} | ${k.senders} | ${k.rest} | ${k.idle} |`;
    }),
    '',
  ];
};

/** The targets of issue 15, per ingress, where the run has the cases they need. */
const targets = (report: Report): string[] => {
  const find = (receiver: string, size: number, senders: number) =>
    report.cases.find(
      (c) => c.receiver === receiver && c.recordsPerDelivery === size && c.senders === senders,
    );
  const ingresses = [...new Set(report.cases.map((c) => c.receiver))].filter((r) => r !== PEER);
  const lines = [
    `| target (issue 15) | ${ingresses.join(' | ')} |`,
    `|---|${ingresses.map(() => '---|').join('')}`,
  ];
  const row = (
    name: string,
    figure: (receiver: string) => number | undefined,
    met: (v: number) => boolean,
    unit = '',
  ) => {
    const cells = ingresses.map((r) => {
      const v = figure(r);
      return v === undefined ? '-' : `${v}${unit} ${met(v) ? 'met' : 'NOT met'}`;
    });
    if (cells.some((c) => c !== '-')) lines.push(`| ${name} | ${cells.join(' | ')} |`);
  };
  for (const [size, senders] of [
    [2000, 1],
    [2000, 4],
    [100_000, 1],
  ] as const) {
    row(
      `records/s at least 1.3x the Go peer's, ${size} x${senders}`,
      (r) =>
        ratio(
          find(r, size, senders)?.recordsPerSecond,
          find(PEER, size, senders)?.recordsPerSecond,
        ),
      (v) => v >= 1.3,
      'x',
    );
  }
  row(
    'records/s at least 0.4x perf-test, 2000 x4',
    (r) => find(r, 2000, 4)?.ratio,
    (v) => v >= 0.4,
    'x',
  );
  row(
    '2,000-record p99 under 250 ms',
    (r) => find(r, 2000, 1)?.p99Ms,
    (v) => v < 250,
    ' ms',
  );
  row(
    '100,000-record delivery under 8 s (the slowest)',
    (r) => {
      const ms = find(r, 100_000, 1)?.p99Ms;
      return ms === undefined ? undefined : round(ms / 1000, 2);
    },
    (v) => v < 8,
    ' s',
  );
  row(
    '... and under 512 MB peak RSS',
    (r) => {
      const mib = find(r, 100_000, 1)?.peakRssMiB;
      return mib === undefined ? undefined : Math.round((mib * 2 ** 20) / 1e6);
    },
    (v) => v < 512,
    ' MB',
  );
  return lines.length > 2 ? lines : [];
};

const markdown = (report: Report): string => {
  const m = report.machine;
  const peer = report.peer;
  const lines = [
    '# Ingress benchmark results',
    '',
    `Run ${m.date} by \`npm run bench\`${report.smoke ? ' --smoke' : ''}: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, Kafka ${m.kafka}; load average at start ${m.loadAverageAtStart.join(' / ')}. ${m.note}.`,
    '',
    `Records from the Webex stand-in's generator: ${report.avgJsonBytes} B of JSON and ${report.avgAvroBytes} B of Avro per record on average; every receiver gets the same delivery bytes. Ingress: ${VARIANTS.map(
      (v) =>
        `\`${v.label}\` (${v.client === 'platformatic' ? '@platformatic/kafka' : 'kafkajs'}${
          Object.keys(v.env).length === 0
            ? ''
            : `, ${Object.entries(v.env)
                .map(([k, val]) => `${k}=${val}`)
                .join(' ')}`
        })`,
    ).join(
      ', ',
    )}${report.baseline === undefined ? '' : `; each also from the checkout ${report.baseline} (\`@baseline\`)`}. ${
      'goVersion' in peer
        ? `Go peer (\`go-peer\`, bench/peers/go: net/http, franz-go, hamba/avro, the same work; ${peer.goVersion}; build ${peer.buildSeconds} s): a sample of ${peer.checkedRecords} records it wrote, decoded with the registry's schema, equals the ingress' for the same delivery (key, partition, headers, value; delivery id and receipt time aside).`
        : `Go peer: not measured (${peer.skipped}).`
    } Topic of ${PARTITIONS} partitions, acks=all, compression ${report.compression} (\`KAFKA_COMPRESSION\`): ${report.bytesOnDiskPerRecord} B per record in the broker's log, headers and batch overhead included. Reference: kafka-producer-perf-test, ${report.perfTest.records} records of ${report.avgAvroBytes} B, acks=all, no compression, same broker, once after the cases.`,
    '',
    ...sideBySide(report),
    '',
    `Each receiver was warmed up first with ${report.warmupDeliveries} untimed deliveries, then ${report.warmupConcurrent} from 4 senders at once (so the ingress' worker threads are warm too); cases of up to 2 000 records a delivery with one sender send at least ${MIN_DELIVERIES} deliveries (p99 is then the 99th of 100), the others at least ${MIN_RECORDS} records${
      report.cases.some((c) => c.rounds > 1)
        ? `, in rounds (the "rounds" column; a case of one delivery sends one a round): in each round every receiver gets its share in turn, another one first each time, so the machine's changing load falls on all alike, and the figures are over all rounds (p50 and p99 of every delivery, the highest peak RSS; "seconds" is the time of all rounds, the 100,000-record target takes the slowest delivery)`
        : ''
    }. "/ go-peer" and "/ perf-test" are records/s ratios in this run (higher is better).`,
    '',
    ...targets(report),
    ...(targets(report).length > 0 ? [''] : []),
    ...byThread(report),
    ...machineCores(report),
    '![throughput](throughput.png)',
    '',
  ];
  return lines.join('\n');
};

type PeerReport =
  | { goVersion: string; buildSeconds: number; checkedRecords: number }
  | { skipped: string };

type Report = {
  smoke: boolean;
  /** The ingress' producer client (KAFKA_CLIENT); comma-separated when several ran. */
  client: string;
  /** The --ingress-env settings, one ingress per client and setting ('' : none). */
  ingressEnv: string[];
  /** The other checkout measured beside this one (--baseline). */
  baseline?: string;
  /** The ingress' KAFKA_COMPRESSION. */
  compression: string;
  /** The CDR topic's bytes in the broker's log directories per record, after all cases. */
  bytesOnDiskPerRecord: number;
  warmupDeliveries: number;
  /** Untimed deliveries from 4 senders after those (WARMUP_CONCURRENT). */
  warmupConcurrent: number;
  machine: Awaited<ReturnType<typeof machine>>;
  avgJsonBytes: number;
  avgAvroBytes: number;
  peer: PeerReport;
  perfTest: PerfTest;
  cases: CaseResult[];
};

// --- the receivers ------------------------------------------------------------

type Receiver = { label: string; child: ChildProcess; url: string; topic: string };

const post = async (url: string, body: Buffer, records: number) => {
  const res = await postBody(url, body, sign(body, SECRET));
  const text = res.text;
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
  const accepted = (JSON.parse(text) as { accepted: number }).accepted;
  if (accepted !== records) throw new Error(`accepted ${accepted} of ${records}`);
};

/**
 * The same delivery to the ingress and to the Go peer, on topics of their own (empty before):
 * what each wrote, decoded with the registry's schema, must be the same, record by record
 * (key, partition, headers and value; the delivery id and the receipt time differ by nature).
 */
const checkPeer = async (
  registryUrl: string,
  brokers: string[],
  ingress: Receiver,
  peer: Receiver,
  body: Buffer,
  records: number,
): Promise<void> => {
  await post(ingress.url, body, records);
  await post(peer.url, body, records);
  const registry = createRegistryClient({ url: registryUrl });
  const view = async (m: ReadMessage) => {
    const value = (await registry.decode(m.value)) as { ingest: Record<string, unknown> };
    const { delivery_id: _d, received_at: _r, ...ingest } = value.ingest;
    const { 'cdr-delivery-id': _h, ...headers } = m.headers;
    return { key: m.key, partition: m.partition, headers, value: { ...value, ingest } };
  };
  const read = async (topic: string) => {
    const views = await Promise.all((await readTopic(brokers, topic, records)).map(view));
    return views.sort((a, b) =>
      (a.headers['cdr-report-id'] ?? '').localeCompare(b.headers['cdr-report-id'] ?? ''),
    );
  };
  const [fromIngress, fromPeer] = [await read(ingress.topic), await read(peer.topic)];
  if (fromIngress.length !== records || fromPeer.length !== records) {
    throw new Error(`peer check: ${fromIngress.length} and ${fromPeer.length} of ${records}`);
  }
  deepStrictEqual(fromPeer, fromIngress, 'the Go peer wrote other records than the ingress');
};

// --- main ---------------------------------------------------------------------

const main = async () => {
  // KAFKA_BROKERS and SCHEMA_REGISTRY_URL (both) name a stack to use; else the local stack.
  const given = givenStack();
  const env = given ?? (await up(stackSettings()));
  if (given === null) {
    SHARERS.broker = readPid(stackSettings(), 'kafka');
    SHARERS.registry = readPid(stackSettings(), 'registry');
  }
  const brokers = env.KAFKA_BROKERS.split(',');
  const about = await machine();
  const pool = createRecordPool();
  const topic = uniqueTopic('bench');
  const peerTopic = `${topic}.go-peer`;

  // average record sizes: JSON as sent, Avro as produced
  const sample = pool.raws.slice(0, 2000);
  const avgJsonBytes = Math.round(Buffer.byteLength(JSON.stringify(sample)) / sample.length);
  const encoder = await createRegistryClient({ url: env.SCHEMA_REGISTRY_URL }).registerEncoder(
    `${topic}-value`,
    readCdrSchema().text,
  );
  const prepared = prepareBatch(sample, {
    feed: 'analytics',
    source: 'webhook',
    received_at: Date.now(),
    delivery_id: randomUUID(),
  });
  const avgAvroBytes = Math.round(
    prepared.records.reduce((n, r) => n + encoder.encode(r.record).length, 0) /
      prepared.records.length,
  );
  console.log(`records: ${avgJsonBytes} B JSON, ${avgAvroBytes} B Avro on average`);

  const classpath = await toolsClasspath();
  const refTopic = `${topic}.reference`;
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [refTopic, peerTopic].map((t) => ({ topic: t, numPartitions: PARTITIONS })),
  });
  await admin.disconnect();

  let build: GoPeerBuild = { ok: false, reason: 'left out by --peer none' };
  if (args.peer === 'go') {
    console.log('building the Go peer (bench/peers/go) ...');
    build = await buildGoPeer();
    console.log(build.ok ? `Go peer built in ${build.buildSeconds} s` : `NOTE: ${build.reason}`);
  }

  for (const checkout of new Set(VARIANTS.map((v) => v.checkout))) {
    console.log(`building the ingress of ${checkout} into ${BUILT}/ ...`);
    built.set(checkout, await buildCli(checkout));
  }
  const receivers: Receiver[] = [];
  const cases: CaseResult[] = [];
  const written = new Map<string, number>();
  const count = (r: Receiver, records: number) =>
    written.set(r.topic, (written.get(r.topic) ?? 0) + records);
  let checkedRecords = 0;
  try {
    for (const variant of VARIANTS) {
      const port = await freePort();
      const child = await startIngress(env, topic, port, variant);
      receivers.push({
        label: variant.label,
        child,
        url: `http://127.0.0.1:${port}/webhooks/cdr`,
        topic,
      });
    }
    if (build.ok) {
      const port = await freePort();
      const child = await startGoPeer(build, {
        brokers: env.KAFKA_BROKERS,
        registryUrl: env.SCHEMA_REGISTRY_URL,
        topic: peerTopic,
        port,
        secret: SECRET,
        feed: 'analytics',
        ackTimeoutMs: 60_000,
      });
      const peer = {
        label: PEER,
        child,
        url: `http://127.0.0.1:${port}/webhooks/cdr`,
        topic: peerTopic,
      };
      receivers.push(peer);
      const first = receivers[0] as Receiver;
      checkedRecords = SMOKE ? 50 : 500;
      await checkPeer(
        env.SCHEMA_REGISTRY_URL,
        brokers,
        first,
        peer,
        pool.body(checkedRecords),
        checkedRecords,
      );
      count(first, checkedRecords);
      count(peer, checkedRecords);
      console.log(`peer check: ${checkedRecords} records equal to ${first.label}'s`);
    }
    const warmupSize = SMOKE ? 100 : 2000;
    for (const r of receivers) {
      // lone deliveries (the main thread), then deliveries together (the worker threads)
      const warmups = [
        [1, WARMUP_DELIVERIES],
        [4, WARMUP_CONCURRENT],
      ] as const;
      let deliveries = 0;
      for (const [senders, n] of warmups) {
        const body = pool.body(warmupSize);
        deliveries += (await runRound(r.url, r.child.pid ?? 0, body, warmupSize, senders, n))
          .deliveries;
      }
      count(r, deliveries * warmupSize);
      console.log(
        `warm-up ${r.label}: ${WARMUP_DELIVERIES} deliveries of ${warmupSize} records, then ${WARMUP_CONCURRENT} from 4 senders (not reported)`,
      );
    }
    for (const [size, senders] of CASES) {
      // each receiver in turn on the same body, round after round
      const body = pool.body(size);
      const { rounds, each } = roundsFor(deliveriesFor(size, senders), senders);
      const done = receivers.map((): Round[] => []);
      for (let k = 0; k < rounds; k++) {
        for (let j = 0; j < receivers.length; j++) {
          const at = (j + k) % receivers.length; // another receiver first in each round
          const r = receivers[at] as Receiver;
          (done[at] as Round[]).push(
            await runRound(r.url, r.child.pid ?? 0, body, size, senders, each),
          );
        }
      }
      receivers.forEach((r, at) => {
        const c = summarise(done[at] as Round[], size, senders, body.length);
        count(r, c.records);
        cases.push({ receiver: r.label, ...c });
        console.log(JSON.stringify(cases.at(-1)));
      });
    }
  } finally {
    senderAgent.destroy();
    for (const { child } of receivers) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
  const perfTest = await producerPerfTest(
    classpath,
    env.KAFKA_BROKERS,
    refTopic,
    PERF_TEST_RECORDS,
    avgAvroBytes,
  );
  console.log(`kafka-producer-perf-test: ${JSON.stringify(perfTest)}`);
  const reference = {
    recordsPerSecond: perfTest.recordsPerSecond,
    mbPerSecond: perfTest.mbPerSecond,
  };
  const results = cases.map((c) => ({
    ...c,
    reference,
    ratio: round(c.recordsPerSecond / perfTest.recordsPerSecond, 2),
  }));
  for (const [t, expected] of written) {
    const onTopic = await topicSize(brokers, t);
    if (onTopic < expected) throw new Error(`${onTopic} records on ${t}, ${expected} acknowledged`);
  }
  const onDisk = await topicBytesOnDisk(brokers, topic);

  const report: Report = {
    smoke: SMOKE,
    client: CLIENTS.join(','),
    ingressEnv: ENV_SETTINGS.map((e) => e.text),
    ...(args.baseline === undefined ? {} : { baseline: args.baseline }),
    compression: COMPRESSION,
    bytesOnDiskPerRecord: Math.round(onDisk / (await topicSize(brokers, topic))),
    warmupDeliveries: WARMUP_DELIVERIES,
    warmupConcurrent: WARMUP_CONCURRENT,
    machine: about,
    avgJsonBytes,
    avgAvroBytes,
    peer: build.ok
      ? { goVersion: build.goVersion, buildSeconds: build.buildSeconds, checkedRecords }
      : { skipped: build.reason },
    perfTest,
    cases: results,
  };
  const out = args.out ?? join(ROOT, 'bench');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, 'RESULTS.md'), markdown(report));
  const labels = receivers.map((r) => r.label);
  writeFileSync(
    join(out, 'throughput.png'),
    barChart({
      title: `Records/s acked (acks=all), ${about.nproc} CPUs, Kafka ${about.kafka}`,
      series: [...labels, 'kafka-producer-perf-test'],
      unit: 'records/s',
      groups: CASES.map(([size, senders]) => ({
        label: `${size}\nx${senders}`,
        values: [
          ...labels.map(
            (l) =>
              results.find(
                (c) => c.receiver === l && c.recordsPerDelivery === size && c.senders === senders,
              )?.recordsPerSecond ?? 0,
          ),
          perfTest.recordsPerSecond,
        ],
      })),
    }),
  );
  console.log(markdown(report));
  console.log(`written: ${join(out, 'results.json')}, RESULTS.md, throughput.png`);
};

await main();
