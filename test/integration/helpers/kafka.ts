/** Reading back what the connector wrote, with a real kafkajs consumer. */
import { randomUUID } from 'node:crypto';
import { Admin } from '@platformatic/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { createKafkaClient } from '../../../src/kafka/client.ts';
import { registerCodecs } from '../../../src/kafka/kafkajs/codecs.ts';
import { createLogger } from '../../../src/log.ts';

registerCodecs(); // zstd batches (KAFKA_COMPRESSION=zstd) read back like any other

export type ReadMessage = {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
  timestamp: number;
};

export const uniqueTopic = (prefix: string) => `test.${prefix}.${randomUUID().slice(0, 8)}`;

const client = (brokers: string[]) =>
  new Kafka({ clientId: 'webex-cdr-kafka-test', brokers, logLevel: logLevel.NOTHING });

/** Runs `work` with a connected kafkajs admin, disconnected after. */
export const withAdmin = async <T>(
  brokers: string[],
  work: (admin: ReturnType<Kafka['admin']>) => Promise<T>,
): Promise<T> => {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
};

/**
 * Total records on a topic (0 when it does not exist). A topic just created
 * (by the code under test, while a test polls this) can be listed before its
 * partitions have a leader: the broker's retriable answer (e.g.
 * NOT_LEADER_FOR_PARTITION) is asked again, for up to 5 s.
 */
export const topicSize = async (brokers: string[], topic: string): Promise<number> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withAdmin(brokers, async (admin) => {
        if (!(await admin.listTopics()).includes(topic)) return 0;
        const offsets = await admin.fetchTopicOffsets(topic);
        return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
      });
    } catch (e) {
      if ((e as { retriable?: boolean }).retriable !== true || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
};

/**
 * The bytes a topic takes in the broker's log directories (DescribeLogDirs,
 * which kafkajs does not have): record batches as stored, so compressed when
 * the producer compressed them.
 */
export const topicBytesOnDisk = async (brokers: string[], topic: string): Promise<number> => {
  const kafkaAdmin = client(brokers).admin();
  await kafkaAdmin.connect();
  let partitions: number[];
  try {
    partitions = (await kafkaAdmin.fetchTopicOffsets(topic)).map((o) => o.partition);
  } finally {
    await kafkaAdmin.disconnect();
  }
  const admin = new Admin({ clientId: 'webex-cdr-kafka-test', bootstrapBrokers: brokers });
  try {
    const dirs = await admin.describeLogDirs({ topics: [{ name: topic, partitions }] });
    let bytes = 0n;
    for (const broker of dirs)
      for (const dir of broker.results)
        for (const t of dir.topics)
          for (const p of t.partitions) if (!p.isFutureKey) bytes += p.partitionSize;
    return Number(bytes);
  } finally {
    await admin.close();
  }
};

/**
 * Reads a topic from the beginning to its end: waits (up to the timeout) until
 * it holds at least `atLeast` records, then reads every record up to the end
 * offsets of that moment, duplicates included.
 */
export const readTopic = async (
  brokers: string[],
  topic: string,
  atLeast: number,
  timeoutMs = 30_000,
): Promise<ReadMessage[]> => {
  const until = Date.now() + timeoutMs;
  while ((await topicSize(brokers, topic)) < atLeast && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const kafka = client(brokers);
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  try {
    for (const o of await admin.fetchTopicOffsets(topic)) {
      if (BigInt(o.high) > BigInt(o.low)) ends.set(o.partition, BigInt(o.high));
    }
  } finally {
    await admin.disconnect();
  }
  const got: ReadMessage[] = [];
  if (ends.size === 0) return got;
  const consumer = kafka.consumer({ groupId: `test-${randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run({
      eachMessage: async ({ topic: t, partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) {
          if (v !== undefined) headers[k] = Buffer.isBuffer(v) ? v.toString() : String(v);
        }
        got.push({
          topic: t,
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          value: message.value ?? Buffer.alloc(0),
          headers,
          timestamp: Number(message.timestamp),
        });
        const end = ends.get(partition);
        if (end !== undefined && BigInt(message.offset) + 1n >= end) ends.delete(partition);
        if (ends.size === 0) done();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      reached,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(1000, until - Date.now()));
      }),
    ]);
    clearTimeout(timer);
    return got;
  } finally {
    await consumer.disconnect();
  }
};

/** The Kafka port's adapters (KAFKA_CLIENT), the default first: adapter-level tests run on each. */
export const KAFKA_CLIENTS = ['platformatic', 'kafkajs'] as const;
export type KafkaClientName = (typeof KAFKA_CLIENTS)[number];

/** The connector's Kafka port on `brokers` with the adapter `client`, logging nothing. */
export const portOn = (brokers: string[], client: KafkaClientName) =>
  createKafkaClient(
    {
      brokers,
      clientId: `port-test-${client}`,
      ssl: false,
      sasl: undefined,
      client,
      compression: 'none',
    },
    createLogger('silent'),
  );
