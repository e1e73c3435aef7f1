/**
 * Producer clients side by side (issue 5): kafkajs 2.2.4, the connector's
 * client, against @platformatic/kafka, on the local stack. Each client, in a
 * process of its own, produces `--records` records (default 200 000) of the
 * ingress' shape to a fresh topic of 6 partitions: a value of 917 random bytes
 * (the average Avro size in bench/issue-5/RESULTS.md), the key one of 500 org UUIDs,
 * the six `cdr-*` headers of the contract. Both producers are idempotent,
 * acks=all, one request in flight per broker, no compression, murmur2
 * partitioning as the Java client; `--batch` records (2 000) per send call,
 * at most `--in-flight` (2) send calls awaiting their acknowledgement.
 *
 * Per client: records/s from the first send to the last acknowledgement, CPU
 * seconds per 10 000 records (process.cpuUsage, building the messages
 * included and also shown alone), RSS after connecting and at its peak
 * (VmHWM). The records are then counted by the topic's end offsets, partition
 * by partition: both clients get the same keys in the same order, so the
 * counts must be equal too. Writes `--out`/CLIENTS.md (default bench/).
 *
 *   npm run bench:client                        both clients, 200 000 records each
 *   npm run bench:client -- --records 2000      a quick look
 *   npm run bench:client -- --runs 2            kafkajs, platformatic, kafkajs, platformatic
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// The clients, the stack and the test helpers are imported where they are used:
// a measured process loads its own client and nothing else.

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '2000' },
    'in-flight': { type: 'string', default: '2' },
    runs: { type: 'string', default: '1' },
    out: { type: 'string', default: 'bench' },
    /** Internal: measure this client, in this process, on --topic. */
    child: { type: 'string' },
    topic: { type: 'string' },
  },
});

const CLIENTS = { kafkajs: 'kafkajs', platformatic: '@platformatic/kafka' } as const;
type ClientName = keyof typeof CLIENTS;
const PARTITIONS = 6;
const VALUE_BYTES = 917;
const ORGS = 500;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// --- the records --------------------------------------------------------------

type BenchMessage = { topic: string; key: string; value: Buffer; headers: Record<string, string> };

/** A stable UUID-shaped org id: both clients see the same keys. */
const orgId = (i: number): string => {
  const h = createHash('sha1').update(`org-${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

const createMessageBuilder = (topic: string) => {
  const orgs = Array.from({ length: ORGS }, (_, i) => orgId(i));
  const SLOTS = 4096;
  const values = randomBytes(VALUE_BYTES * SLOTS);
  const deliveryId = randomUUID();
  const base = Date.now() - 3_600_000;
  return (from: number, to: number): BenchMessage[] => {
    const messages: BenchMessage[] = [];
    for (let j = from; j < to; j++) {
      const callEnd = base + (j % 3600) * 1000;
      const slot = j % SLOTS;
      messages.push({
        topic,
        key: orgs[(j * 7919) % ORGS] as string,
        value: values.subarray(slot * VALUE_BYTES, (slot + 1) * VALUE_BYTES),
        headers: {
          'cdr-report-id': randomUUID(),
          'cdr-report-time': new Date(callEnd + 60_000).toISOString(),
          'cdr-call-end': new Date(callEnd).toISOString(),
          'cdr-source': 'webhook',
          'cdr-feed': 'analytics',
          'cdr-delivery-id': deliveryId,
        },
      });
    }
    return messages;
  };
};

// --- the clients --------------------------------------------------------------

/** What the measured loop needs of a client: `send` resolves once Kafka acked every record. */
type Sender = { send(messages: BenchMessage[]): Promise<void>; close(): Promise<void> };

const connectKafkajs = async (brokers: string[], topic: string): Promise<Sender> => {
  const { CompressionTypes, Kafka, logLevel, Partitioners } = await import('kafkajs');
  const kafka = new Kafka({ clientId: 'client-bench', brokers, logLevel: logLevel.NOTHING });
  // the connector's settings (src/kafka/kafkajs/producer.ts)
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  return {
    send: async (messages) => {
      await producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages });
    },
    close: () => producer.disconnect(),
  };
};

const connectPlatformatic = async (brokers: string[], topic: string): Promise<Sender> => {
  const { compatibilityPartitioner, ProduceAcks, Producer, stringSerializer } = await import(
    '@platformatic/kafka'
  );
  // idempotent implies acks=all and one request in flight per broker
  const producer = new Producer<string, Buffer, string, string>({
    clientId: 'client-bench',
    bootstrapBrokers: brokers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    compression: 'none',
    autocreateTopics: false,
    // toPositive(murmur2) as Java and kafkajs; the library's default partitioner differs for negative hashes
    partitioner: compatibilityPartitioner,
    serializers: {
      key: stringSerializer,
      headerKey: stringSerializer,
      headerValue: stringSerializer,
    },
  });
  await producer.metadata({ topics: [topic] });
  return {
    send: async (messages) => {
      await producer.send({ messages });
    },
    close: () => producer.close(),
  };
};

const connect: Record<ClientName, typeof connectKafkajs> = {
  kafkajs: connectKafkajs,
  platformatic: connectPlatformatic,
};

// --- one client, in its own process -------------------------------------------

const memoryMiB = (field: 'VmRSS' | 'VmHWM'): number => {
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return Math.round(Number(kb?.[1]) / 1024);
};

const cpuSeconds = (since?: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

const measure = async (client: ClientName, topic: string) => {
  const records = Number(args.records);
  const batch = Number(args.batch);
  const inFlight = Number(args['in-flight']);
  const build = createMessageBuilder(topic);
  const sender = await connect[client]((process.env.KAFKA_BROKERS ?? '').split(','), topic);
  const rssAtStartMiB = memoryMiB('VmRSS');

  let buildCpu = 0;
  const pending = new Set<Promise<void>>();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let from = 0; from < records; from += batch) {
    if (pending.size >= inFlight) await Promise.race(pending);
    const b0 = process.cpuUsage();
    const messages = build(from, Math.min(records, from + batch));
    buildCpu += cpuSeconds(b0);
    const sending: Promise<void> = sender.send(messages).then(() => {
      pending.delete(sending);
    });
    pending.add(sending);
  }
  await Promise.all(pending);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(cpu0);
  const peakRssMiB = memoryMiB('VmHWM');
  await sender.close();
  const per10k = (s: number) => Math.round((s / records) * 1e4 * 1000) / 1000;
  console.log(
    JSON.stringify({
      seconds: Math.round(seconds * 100) / 100,
      recordsPerSecond: Math.round(records / seconds),
      cpuSecondsPer10k: per10k(cpu),
      buildCpuSecondsPer10k: per10k(buildCpu),
      rssAtStartMiB,
      peakRssMiB,
    }),
  );
};

type Measured = {
  seconds: number;
  recordsPerSecond: number;
  cpuSecondsPer10k: number;
  buildCpuSecondsPer10k: number;
  rssAtStartMiB: number;
  peakRssMiB: number;
};

const runChild = async (client: ClientName, topic: string, env: NodeJS.ProcessEnv) => {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
      '--child',
      client,
      '--topic',
      topic,
    ],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const code = await new Promise((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`${client} exited ${code}`);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Measured;
};

// --- the comparison -------------------------------------------------------------

const versionOf = (pkg: string): string =>
  (
    JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

type Row = Measured & { run: number; client: ClientName; onTopic: number; perPartition: number[] };

const markdown = (rows: Row[], about: { startedAt: string; load: number[]; kafka: string }) => {
  const records = Number(args.records);
  return [
    '# Producer clients: kafkajs and @platformatic/kafka',
    '',
    `Run ${about.startedAt} by \`npm run bench:client\`: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${Math.round((totalmem() / 2 ** 30) * 10) / 10} GiB, Node ${process.version}, Kafka ${about.kafka}; load average at start ${about.load.map((l) => l.toFixed(2)).join(' / ')}. Broker, registry and the producer share the machine.`,
    '',
    `Each client in its own process: ${records} records of ${VALUE_BYTES} B random values, keys from ${ORGS} org UUIDs, the six \`cdr-*\` headers; a fresh topic of ${PARTITIONS} partitions; idempotent, acks=all, one request in flight per broker, no compression; ${args.batch} records per send call, at most ${args['in-flight']} send calls in flight. kafkajs ${versionOf('kafkajs')}, @platformatic/kafka ${versionOf('@platformatic/kafka')}.`,
    '',
    '| run | client | records/s | seconds | CPU s / 10k records | of which building messages | RSS after connect MiB | peak RSS MiB | on the topic |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.run} | ${CLIENTS[r.client]} | ${r.recordsPerSecond} | ${r.seconds} | ${r.cpuSecondsPer10k} | ${r.buildCpuSecondsPer10k} | ${r.rssAtStartMiB} | ${r.peakRssMiB} | ${r.onTopic} |`,
    ),
    '',
  ].join('\n');
};

const main = async () => {
  const { Kafka, logLevel } = await import('kafkajs');
  const { KAFKA_VERSION, stackSettings, up } = await import('../../tools/stack/stack.ts');
  const { uniqueTopic } = await import('../integration/helpers/kafka.ts');
  const env = await up(stackSettings());
  const brokers = env.KAFKA_BROKERS.split(',');
  const admin = new Kafka({
    clientId: 'client-bench',
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  const about = { startedAt: new Date().toISOString(), load: loadavg(), kafka: KAFKA_VERSION };
  const rows: Row[] = [];
  try {
    for (let run = 1; run <= Number(args.runs); run++) {
      for (const client of Object.keys(CLIENTS) as ClientName[]) {
        const topic = uniqueTopic(`clients-${client}`);
        await admin.createTopics({
          topics: [{ topic, numPartitions: PARTITIONS }],
          waitForLeaders: true,
        });
        const measured = await runChild(client, topic, { ...process.env, ...env });
        const offsets = await admin.fetchTopicOffsets(topic);
        const perPartition = offsets
          .sort((a, b) => a.partition - b.partition)
          .map((o) => Number(o.high) - Number(o.low));
        const onTopic = perPartition.reduce((n, c) => n + c, 0);
        rows.push({ run, client, ...measured, onTopic, perPartition });
        console.error(`${client}: ${JSON.stringify({ ...measured, onTopic, perPartition })}`);
        await admin.deleteTopics({ topics: [topic] });
      }
    }
  } finally {
    await admin.disconnect();
  }
  const table = markdown(rows, about);
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'CLIENTS.md'), table);
  console.log(table);
  const problems = rows.filter((r) => r.onTopic !== Number(args.records));
  const layouts = new Set(rows.map((r) => r.perPartition.join(',')));
  if (problems.length > 0) throw new Error(`records missing or extra: ${JSON.stringify(problems)}`);
  if (layouts.size > 1)
    throw new Error(`the clients partitioned differently: ${[...layouts].join(' / ')}`);
  console.log(
    `verified: ${args.records} records on the topic for each client, same partition counts`,
  );
};

if (args.child !== undefined && args.topic !== undefined) {
  await measure(args.child as ClientName, args.topic);
} else {
  await main();
}
