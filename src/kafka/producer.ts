/**
 * @module kafka/producer
 * The one producer of a process: idempotent, acks=-1, one request in flight
 * per broker, compression as configured. `send` resolves only once Kafka has
 * acknowledged every message, and rejects with a retriable `CdrError` when that
 * has not happened by the deadline. kafkajs retries an idempotent send forever,
 * so the deadline is ours: the caller answers 503 and the sender retries; the
 * Report ID makes a late duplicate harmless. Producer-fatal errors (sequence,
 * producer id, epoch) rebuild the producer.
 */
import { CompressionTypes, type Kafka, type Message, Partitioners, type Producer } from 'kafkajs';
import { CdrError, describe } from '../errors.ts';
import type { Logger } from '../log.ts';

export type OutMessage = {
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
};

export type TopicMessages = { topic: string; messages: OutMessage[] };

export type CdrProducer = {
  connect(): Promise<void>;
  /** Resolves when every message is acknowledged; rejects at the deadline. */
  send(batches: TopicMessages[], deadlineMs: number): Promise<void>;
  isConnected(): boolean;
  disconnect(): Promise<void>;
};

/** Stay well under the broker's default message.max.bytes (1 MiB) per partition batch. */
export const CHUNK_BYTES = 768 * 1024;
const CHUNK_MESSAGES = 5000;

const FATAL_TYPES = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
  'UNKNOWN_PRODUCER_ID',
]);

/** Splits messages into sends small enough for one record batch each. */
export const chunkMessages = (batches: TopicMessages[]): TopicMessages[][] => {
  const chunks: TopicMessages[][] = [];
  let current: TopicMessages[] = [];
  let bytes = 0;
  let count = 0;
  for (const { topic, messages } of batches) {
    let slot: TopicMessages | undefined;
    for (const m of messages) {
      let size = m.value.length + (m.key?.length ?? 0) + 64;
      for (const h in m.headers) size += h.length + (m.headers[h]?.length ?? 0) + 8;
      if (count > 0 && (bytes + size > CHUNK_BYTES || count >= CHUNK_MESSAGES)) {
        chunks.push(current);
        current = [];
        bytes = 0;
        count = 0;
        slot = undefined;
      }
      if (slot === undefined) {
        slot = { topic, messages: [] };
        current.push(slot);
      }
      slot.messages.push(m);
      bytes += size;
      count += 1;
    }
  }
  if (count > 0) chunks.push(current);
  return chunks;
};

export const createCdrProducer = (
  kafka: Kafka,
  opts: { compression: 'none' | 'gzip'; logger: Logger },
): CdrProducer => {
  const compression = opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  let producer: Producer;
  let connected = false;
  let connecting: Promise<void> | null = null;

  const build = () => {
    producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2, as the Java client: the same org lands on the same partition for every producer
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    producer.on(producer.events.CONNECT, () => {
      connected = true;
    });
    producer.on(producer.events.DISCONNECT, () => {
      connected = false;
    });
  };
  build();

  const connect = (): Promise<void> => {
    connecting ??= producer
      .connect()
      .catch(async (e: unknown) => {
        // a failed connect can leave sockets open: close them before the next try
        await producer.disconnect().catch(() => undefined);
        throw e;
      })
      .finally(() => {
        connecting = null;
      });
    return connecting;
  };

  const rebuild = async (reason: string) => {
    opts.logger.warn('rebuilding Kafka producer after a producer-fatal error', { reason });
    const old = producer;
    connected = false;
    build();
    await old.disconnect().catch(() => undefined);
  };

  const sendAll = async (batches: TopicMessages[]) => {
    if (!connected) await connect();
    for (const chunk of chunkMessages(batches)) {
      await producer.sendBatch({
        acks: -1,
        compression,
        topicMessages: chunk.map((t) => ({ topic: t.topic, messages: t.messages as Message[] })),
      });
    }
  };

  return {
    connect,
    isConnected: () => connected,
    async send(batches, deadlineMs) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new CdrError('kafka_timeout', `Kafka did not acknowledge within ${deadlineMs} ms`),
            ),
          deadlineMs,
        );
      });
      const sending = sendAll(batches);
      try {
        await Promise.race([sending, deadline]);
      } catch (e) {
        if (e instanceof CdrError) {
          // keep the late outcome from surfacing as an unhandled rejection
          sending.catch((late) =>
            opts.logger.warn('late Kafka send failed', { error: describe(late) }),
          );
          throw e;
        }
        const type = (e as { type?: string }).type;
        if (type !== undefined && FATAL_TYPES.has(type)) await rebuild(type);
        throw new CdrError('kafka_failed', `Kafka send failed: ${describe(e)}`, { cause: e });
      } finally {
        clearTimeout(timer);
      }
    },
    async disconnect() {
      await producer.disconnect();
    },
  };
};
