/**
 * Reconciler at scale (issue 5, item 4): the CDR topic holds `--records`
 * records (default 1 000 000) of `--orgs` orgs (500) whose calls ended over
 * the last 48 h, with the contract's key and headers and values of the
 * average Avro size (917 B). A separate process then reads the topic into the
 * ledger of 48 one-hour windows the way a reconciler pass does
 * (readTopicRange + createLedger: keys and headers only) and reports the
 * time taken and its peak RSS. Targets: under 60 s, under 300 MB.
 *
 *   npm run bench:ledger                       (-- --records 200000 for a quicker look)
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { readTopicRange } from '../../src/kafka/kafkajs/read-range.ts';
import { HOUR_MS, type Window } from '../../src/reconciler/plan.ts';
import { createLedger } from '../../src/reconciler/topic-ledger.ts';
import { stackSettings, up } from '../../tools/stack/stack.ts';
import { uniqueTopic } from '../integration/helpers/kafka.ts';
import { shippedNodeFlags } from './node-flags.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    orgs: { type: 'string', default: '500' },
    read: { type: 'string' },
    /** Read an existing topic of an earlier run (its windows ending at --end) instead of producing. */
    topic: { type: 'string' },
    end: { type: 'string' },
  },
});
const HOURS = 48;
const VALUE_BYTES = 917;

const kafkaOf = (brokers: string) =>
  new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING, clientId: 'ledger-bench' });

const windowsEndingAt = (end: number): Window[] =>
  Array.from({ length: HOURS }, (_, i) => ({
    start: end - (HOURS - i) * HOUR_MS,
    end: end - (HOURS - i - 1) * HOUR_MS,
  }));

/** The read phase, in a process of its own so its RSS is the reader's alone. */
const readPhase = async (brokers: string, topic: string, end: number) => {
  const windows = windowsEndingAt(end);
  const ledger = createLedger(windows);
  const t0 = performance.now();
  const stats = await readTopicRange(kafkaOf(brokers), {
    topic,
    fromTimestamp: (windows[0] as Window).start - 10 * 60_000,
    onStart: (n) => ledger.reserve(n),
    onRecord: (r) => ledger.observe(r),
  });
  const seconds = (performance.now() - t0) / 1000;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  let orgWindows = 0;
  for (let i = 0; i < windows.length; i++) orgWindows += ledger.orgs(i).length;
  console.log(
    JSON.stringify({
      records: stats.records,
      seconds: Math.round(seconds * 10) / 10,
      recordsPerSecond: Math.round(stats.records / seconds),
      peakRssMiB: Math.round((Number(hwm) * 1024) / 2 ** 20),
      kept: ledger.stats().kept,
      orgWindows,
    }),
  );
};

const produce = async (
  brokers: string,
  topic: string,
  end: number,
  records: number,
  orgs: number,
) => {
  const kafka = kafkaOf(brokers);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] });
  await admin.disconnect();
  const span = HOURS * HOUR_MS;
  const value = Buffer.alloc(VALUE_BYTES, 7);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const t0 = performance.now();
  const BATCH = 4000;
  for (let i = 0; i < records; i += BATCH) {
    const messages = [];
    for (let j = i; j < Math.min(records, i + BATCH); j++) {
      const callEnd = end - span + Math.floor(((j * 7919) % records) * (span / records));
      messages.push({
        key: `org-${j % orgs}`,
        value,
        headers: {
          'cdr-report-id': randomUUID(),
          'cdr-content-hash': randomUUID().replaceAll('-', '').slice(0, 16),
          'cdr-call-end': new Date(callEnd).toISOString(),
          'cdr-report-time': new Date(callEnd + 60_000).toISOString(),
          'cdr-source': 'webhook',
          'cdr-feed': 'analytics',
          'cdr-delivery-id': 'ledger-bench',
        },
      });
    }
    await producer.send({ topic, acks: 1, messages });
  }
  await producer.disconnect();
  const produceSeconds = (performance.now() - t0) / 1000;
  console.log(
    `produced ${records} records of ${orgs} orgs over ${HOURS} h in ${produceSeconds.toFixed(0)} s`,
  );
};

const main = async () => {
  const env = await up(stackSettings());
  const records = Number(args.records);
  const orgs = Number(args.orgs);
  const end =
    args.end === undefined
      ? Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS
      : Number(args.end);
  const topic = args.topic ?? uniqueTopic('ledger');
  if (args.topic === undefined) await produce(env.KAFKA_BROKERS, topic, end, records, orgs);
  console.log(`topic ${topic}, windows ending at ${new Date(end).toISOString()} (--end ${end})`);

  const reader = spawn(
    process.execPath,
    [
      '--disable-warning=TimeoutNegativeWarning',
      ...shippedNodeFlags(), // the reconciler's own V8 flags
      fileURLToPath(import.meta.url),
      '--read',
      topic,
      '--end',
      String(end),
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  reader.stdout.on('data', (d) => {
    out += d;
  });
  const code = await new Promise((r) => reader.on('exit', r));
  if (code !== 0) throw new Error(`reader exited ${code}`);
  const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
    records: number;
    seconds: number;
    peakRssMiB: number;
  };
  console.log(JSON.stringify({ topic, ...result }));
  console.log(
    `ledger read: ${result.records} records in ${result.seconds} s (target < 60 s), peak RSS ${result.peakRssMiB} MiB (target < 300 MB)`,
  );
  if (result.records !== records) throw new Error(`read ${result.records} of ${records} records`);
};

if (args.read !== undefined) {
  await readPhase(process.env.KAFKA_BROKERS ?? '', args.read, Number(args.end));
} else {
  await main();
}
