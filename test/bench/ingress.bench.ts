/**
 * Ingress benchmark on the real local stack (issue 5), or on the Kafka and registry that
 * KAFKA_BROKERS and SCHEMA_REGISTRY_URL name (both set: the test stack's, in
 * test/integration/bench-smoke.test.ts). Deliveries built by the
 * Webex stand-in's generator (realistic records, ~2.5 KB of JSON each), signed,
 * are POSTed to an ingress running as its own process: sizes 100, 2 000,
 * 20 000 and 100 000 records, by one sender and by 4 concurrent senders. Per
 * case: records acknowledged per second end to end (a 200 means every record
 * is acked by Kafka with acks=all), request latency p50/p99, the ingress' peak
 * RSS, its CPU seconds per 10 000 records. As the physical reference, Kafka's
 * own kafka-producer-perf-test produces the same number of records of the
 * same average Avro size with acks=all to the same broker.
 *
 * Writes results.json, RESULTS.md and throughput.png into --out (default
 * bench/), with the machine described. Figures only: no pass/fail on timing;
 * the targets are shown next to the figures.
 *
 *   npm run bench                  the full run (a few minutes)
 *   npm run bench -- --smoke       seconds: tiny cases, for CI (see test/integration/bench-smoke.test.ts)
 *   BENCH_MIN_RECORDS=50000 npm run bench    more records per case
 *   npm run bench -- --sizes 100000 --senders 1 --cpu-prof bench/profile
 *                                  one case, the ingress under --cpu-prof; then
 *   node test/bench/profile-summary.ts bench/profile/*.cpuprofile
 *   npm run bench -- --client kafkajs,platformatic
 *                                  both producer clients side by side: each case runs on
 *                                  each client's ingress in turn, in the same run
 *   npm run bench -- --baseline ../other-checkout
 *                                  this checkout's ingress against another's (e.g. the
 *                                  commit before a change), case by case, same run
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  stackSettings,
  up,
} from '../../tools/stack/stack.ts';
import { topicBytesOnDisk, topicSize, uniqueTopic } from '../integration/helpers/kafka.ts';
import { barChart } from './chart.ts';
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
     * comma-separated list runs an ingress per client, each case on each in turn.
     */
    client: { type: 'string', default: 'platformatic' },
    /** Another checkout whose ingress (its src/cli.ts) runs beside this one's, case by case. */
    baseline: { type: 'string' },
    /** KAFKA_COMPRESSION of the ingress: none (default), gzip or zstd. The reference stays uncompressed. */
    compression: { type: 'string', default: 'none' },
    /** V8 flags for the ingress process, e.g. "--max-old-space-size=256". */
    'ingress-flags': { type: 'string' },
  },
});
const SMOKE = args.smoke === true;
const CLIENTS = (args.client ?? 'platformatic').split(',').map((c) => {
  if (c !== 'kafkajs' && c !== 'platformatic') throw new Error(`--client: unknown client ${c}`);
  return c;
});
/** The ingresses measured side by side: one per client, and each again from --baseline. */
const VARIANTS = CLIENTS.flatMap((client) => [
  { label: client, client, cli: join(ROOT, 'src/cli.ts') },
  ...(args.baseline === undefined
    ? []
    : [{ label: `${client}@baseline`, client, cli: join(args.baseline, 'src/cli.ts') }]),
]);
type Variant = (typeof VARIANTS)[number];
// checked by the ingress' own configuration: a wrong value stops it with the problem named
const COMPRESSION = args.compression ?? 'none';
const SIZES = (args.sizes ?? (SMOKE ? '100,500' : '100,2000,20000,100000')).split(',').map(Number);
const SENDERS = (args.senders ?? '1,4').split(',').map(Number);
/** Each case sends deliveries until at least this many records (and at least one delivery per sender). */
const MIN_RECORDS = Number(process.env.BENCH_MIN_RECORDS ?? (SMOKE ? 1000 : 20_000));
/** Cases of up to 2,000 records a delivery send at least this many deliveries: p99 is then the 99th of 100, not the slowest. */
const MIN_DELIVERIES = Number(process.env.BENCH_MIN_DELIVERIES ?? (SMOKE ? 1 : 100));
/**
 * Untimed deliveries of 2,000 records before the first case: the ingress is a
 * long-running service, so the figures are those of a warm process (JIT done,
 * connections open), not of its first requests.
 */
const WARMUP_DELIVERIES = Number(process.env.BENCH_WARMUP_DELIVERIES ?? (SMOKE ? 1 : 5));

// --- the ingress process ------------------------------------------------------

const procStatus = (pid: number, key: string): number =>
  Number(
    new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0,
  ) * 1024;

/** user + system CPU seconds of a process (clock ticks of 1/100 s). */
const cpuSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

/** Resets the peak RSS (VmHWM) of our own child, so each case has its own peak. */
const resetPeakRss = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, '5');

const startIngress = async (
  env: Record<string, string>,
  topic: string,
  port: number,
  variant: Variant,
) => {
  const cli = variant.cli;
  const cpuProf = args['cpu-prof'];
  const profile = cpuProf === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`];
  // the V8 flags the ingress ships with (the shebang of src/bin.ts), unless --ingress-flags says otherwise
  const flags = (args['ingress-flags'] ?? shippedNodeFlags().join(' '))
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
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const until = Date.now() + 60_000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return child;
    if (Date.now() > until || child.exitCode !== null) throw new Error('ingress not ready');
    await new Promise((r) => setTimeout(r, 200));
  }
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

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

type CaseResult = {
  /** Which ingress (client, and @baseline for the other checkout's) when several ran. */
  ingress?: string;
  recordsPerDelivery: number;
  senders: number;
  deliveries: number;
  records: number;
  bodyBytes: number;
  seconds: number;
  recordsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  peakRssMiB: number;
  cpuSecondsPer10k: number;
  retried503: number;
  reference?: { recordsPerSecond: number; mbPerSecond: number };
  ratio?: number;
};

const runCase = async (
  url: string,
  pid: number,
  body: Buffer,
  recordsPerDelivery: number,
  senders: number,
  /** Exactly this many deliveries (the warm-up); by default from MIN_RECORDS / MIN_DELIVERIES. */
  count?: number,
): Promise<CaseResult> => {
  const deliveries =
    count ??
    Math.max(
      senders,
      Math.ceil(MIN_RECORDS / recordsPerDelivery),
      recordsPerDelivery <= 2000 ? MIN_DELIVERIES : 1,
    );
  const signature = sign(body, SECRET);
  const latencies: number[] = [];
  let retried503 = 0;
  let next = 0;
  const sender = async () => {
    while (next < deliveries) {
      next += 1;
      for (;;) {
        const t0 = performance.now();
        const res = await fetch(url, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', 'x-spark-signature': signature },
        });
        const text = await res.text();
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
  const t0 = performance.now();
  await Promise.all(Array.from({ length: senders }, sender));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const records = deliveries * recordsPerDelivery;
  latencies.sort((a, b) => a - b);
  return {
    recordsPerDelivery,
    senders,
    deliveries,
    records,
    bodyBytes: body.length,
    seconds: round(seconds, 2),
    recordsPerSecond: Math.round(records / seconds),
    p50Ms: Math.round(percentile(latencies, 50)),
    p99Ms: Math.round(percentile(latencies, 99)),
    peakRssMiB: Math.round(procStatus(pid, 'VmHWM') / 2 ** 20),
    cpuSecondsPer10k: round((cpu / records) * 10_000, 2),
    retried503,
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

const producerPerfTest = async (
  classpath: string,
  brokers: string,
  topic: string,
  records: number,
  recordSize: number,
) => {
  const { stdout } = await run(
    java(),
    [
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
  return { recordsPerSecond: Math.round(Number(m[2])), mbPerSecond: Number(m[3]) };
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
    note: 'broker, registry, ingress and this benchmark share the machine',
  };
};

/** Per case, each ingress' figures against the first one's (records/s, p50, p99, CPU). */
const sideBySide = (cases: CaseResult[]): string[] => {
  const first = VARIANTS[0]?.label;
  const lines = [
    `Side by side, as ratios to \`${first}\` in the same case (records/s: higher is better; the rest: lower is better):`,
    '',
    '| records/delivery | senders | ingress | records/s | p50 | p99 | CPU s / 10k | peak RSS |',
    '|---:|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const c of cases) {
    const base = cases.find(
      (b) =>
        b.ingress === first &&
        b.recordsPerDelivery === c.recordsPerDelivery &&
        b.senders === c.senders,
    );
    if (base === undefined || c.ingress === first) continue;
    const r = (a: number, b: number) => (b === 0 ? '-' : round(a / b, 2));
    lines.push(
      `| ${c.recordsPerDelivery} | ${c.senders} | ${c.ingress} | ${r(c.recordsPerSecond, base.recordsPerSecond)} | ${r(c.p50Ms, base.p50Ms)} | ${r(c.p99Ms, base.p99Ms)} | ${r(c.cpuSecondsPer10k, base.cpuSecondsPer10k)} | ${r(c.peakRssMiB, base.peakRssMiB)} |`,
    );
  }
  return lines;
};

const markdown = (report: Report): string => {
  const m = report.machine;
  const several = VARIANTS.length > 1;
  const lines = [
    '# Ingress benchmark results',
    '',
    `Run ${m.date} by \`npm run bench\`${report.smoke ? ' --smoke' : ''}: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, Kafka ${m.kafka}; load average at start ${m.loadAverageAtStart.join(' / ')}. ${m.note}.`,
    '',
    `Records from the Webex stand-in's generator: ${report.avgJsonBytes} B of JSON and ${report.avgAvroBytes} B of Avro per record on average. Producer client: ${report.client
      .split(',')
      .map(
        (c) =>
          `${c === 'platformatic' ? '@platformatic/kafka' : 'kafkajs'} (\`KAFKA_CLIENT=${c}\`)`,
      )
      .join(
        ' and ',
      )}${report.baseline === undefined ? '' : `; each also from the checkout ${report.baseline} (\`@baseline\`)`}. Topic of ${PARTITIONS} partitions, acks=all, compression ${report.compression} (\`KAFKA_COMPRESSION\`): ${report.bytesOnDiskPerRecord} B per record in the broker's log, headers and batch overhead included. Reference: kafka-producer-perf-test with the same number of records of ${report.avgAvroBytes} B, acks=all, no compression, same broker.`,
    '',
    `| records/delivery | senders | deliveries | records | records/s end to end | perf-test records/s | ratio | p50 ms | p99 ms | peak RSS MiB | CPU s / 10k records | 503 retried |${several ? ' ingress |' : ''}`,
    `|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|${several ? '---|' : ''}`,
    ...report.cases.map(
      (c) =>
        `| ${c.recordsPerDelivery} | ${c.senders} | ${c.deliveries} | ${c.records} | ${c.recordsPerSecond} | ${c.reference?.recordsPerSecond ?? '-'} | ${c.ratio ?? '-'} | ${c.p50Ms} | ${c.p99Ms} | ${c.peakRssMiB} | ${c.cpuSecondsPer10k} | ${c.retried503} |${several ? ` ${c.ingress} |` : ''}`,
    ),
    ...(several ? ['', ...sideBySide(report.cases)] : []),
    '',
    `The ingress was warmed up first with ${report.warmupDeliveries} untimed deliveries; cases of up to 2 000 records a delivery send at least ${MIN_DELIVERIES} deliveries.`,
    '',
    'Targets (issue 5): throughput at least 0.5x perf-test; a 100 000-record delivery answered within 15 s with peak RSS under 512 MB; a 2 000-record delivery p99 under 300 ms.',
    '',
    '![throughput](throughput.png)',
    '',
  ];
  return lines.join('\n');
};

type Report = {
  smoke: boolean;
  /** The ingress' producer client (KAFKA_CLIENT); comma-separated when several ran. */
  client: string;
  /** The other checkout measured beside this one (--baseline). */
  baseline?: string;
  /** The ingress' KAFKA_COMPRESSION. */
  compression: string;
  /** The CDR topic's bytes in the broker's log directories per record, after all cases. */
  bytesOnDiskPerRecord: number;
  warmupDeliveries: number;
  machine: Awaited<ReturnType<typeof machine>>;
  avgJsonBytes: number;
  avgAvroBytes: number;
  cases: CaseResult[];
};

// --- main ---------------------------------------------------------------------

const main = async () => {
  // KAFKA_BROKERS and SCHEMA_REGISTRY_URL (both) name a stack to use; else the local stack.
  const env = givenStack() ?? (await up(stackSettings()));
  const about = await machine();
  const pool = createRecordPool();
  const topic = uniqueTopic('bench');

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
  const kafka = new Kafka({ brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: refTopic, numPartitions: PARTITIONS }] });
  await admin.disconnect();

  const ingresses: { variant: Variant; child: ChildProcess; url: string }[] = [];
  const cases: CaseResult[] = [];
  let warmupRecords = 0;
  try {
    for (const [i, variant] of VARIANTS.entries()) {
      const port = 34100 + 10 * i + Math.floor(Math.random() * 10);
      const child = await startIngress(env, topic, port, variant);
      ingresses.push({ variant, child, url: `http://127.0.0.1:${port}/webhooks/cdr` });
    }
    const warmupSize = SMOKE ? 100 : 2000;
    for (const { variant, child, url } of ingresses) {
      const warmup = await runCase(
        url,
        child.pid ?? 0,
        pool.body(warmupSize),
        warmupSize,
        1,
        WARMUP_DELIVERIES,
      );
      warmupRecords += warmup.records;
      console.log(
        `warm-up ${variant.label}: ${warmup.deliveries} deliveries of ${warmupSize} records (not reported)`,
      );
    }
    for (const size of SIZES) {
      const body = pool.body(size);
      for (const senders of SENDERS) {
        // each ingress in turn on the same body, then the reference once
        const measured: CaseResult[] = [];
        for (const { variant, child, url } of ingresses) {
          const c = await runCase(url, child.pid ?? 0, body, size, senders);
          measured.push(VARIANTS.length > 1 ? { ingress: variant.label, ...c } : c);
        }
        const reference = await producerPerfTest(
          classpath,
          env.KAFKA_BROKERS,
          refTopic,
          Math.max(...measured.map((c) => c.records)),
          avgAvroBytes,
        );
        for (const c of measured) {
          const result = {
            ...c,
            reference,
            ratio: round(c.recordsPerSecond / reference.recordsPerSecond, 2),
          };
          cases.push(result);
          console.log(JSON.stringify(result));
        }
      }
    }
  } finally {
    for (const { child } of ingresses) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
  const expected = cases.reduce((n, c) => n + c.records, warmupRecords);
  const onTopic = await topicSize(env.KAFKA_BROKERS.split(','), topic);
  if (onTopic < expected)
    throw new Error(`${onTopic} records on the topic, ${expected} acknowledged`);
  const onDisk = await topicBytesOnDisk(env.KAFKA_BROKERS.split(','), topic);

  const report: Report = {
    smoke: SMOKE,
    client: CLIENTS.join(','),
    ...(args.baseline === undefined ? {} : { baseline: args.baseline }),
    compression: COMPRESSION,
    bytesOnDiskPerRecord: Math.round(onDisk / onTopic),
    warmupDeliveries: WARMUP_DELIVERIES,
    machine: about,
    avgJsonBytes,
    avgAvroBytes,
    cases,
  };
  const out = args.out ?? join(ROOT, 'bench');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, 'RESULTS.md'), markdown(report));
  writeFileSync(
    join(out, 'throughput.png'),
    barChart({
      title: `Records/s acked (acks=all), ${about.nproc} CPUs, Kafka ${about.kafka}`,
      series: ['ingress end to end', 'kafka-producer-perf-test'],
      unit: 'records/s',
      groups: cases.map((c) => ({
        label: `${c.recordsPerDelivery}\nx${c.senders}${c.ingress === undefined ? '' : ` ${c.ingress}`}`,
        values: [c.recordsPerSecond, c.reference?.recordsPerSecond ?? 0],
      })),
    }),
  );
  console.log(markdown(report));
  console.log(`written: ${join(out, 'results.json')}, RESULTS.md, throughput.png`);
};

await main();
