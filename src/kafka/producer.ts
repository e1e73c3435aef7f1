/**
 * @module kafka/producer
 * The one producer of a process: idempotent, acks=-1, one request in flight
 * per broker, compression as configured. `send` resolves only once Kafka has
 * acknowledged every message, and rejects with a retriable `CdrError` when one
 * chunk is not acknowledged within the deadline. kafkajs retries an idempotent
 * send forever, so the deadline is ours: the caller answers 503 and the sender
 * retries; the Report ID makes a late duplicate harmless. What kafkajs still
 * holds of given-up sends is counted and capped (memory during an outage).
 * Producer-fatal errors (sequence, producer id, epoch) rebuild the producer.
 * It is connected only once it holds its producer id (InitProducerId, which a
 * fresh cluster answers "coordinator loading" for a while: kafkajs retries it,
 * and a connect that still fails is retried by the caller); sends made before
 * wait for it.
 */
import {
  CompressionTypes,
  type ICustomPartitioner,
  type Kafka,
  type Message,
  Partitioners,
  type Producer,
} from 'kafkajs';
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
  /**
   * Resolves when every message is acknowledged. Rejects (kafka_timeout) when
   * one chunk is not acknowledged within `stallMs`, or at once while too many
   * bytes of earlier, given-up sends are still pending.
   */
  send(batches: TopicMessages[], stallMs: number): Promise<void>;
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

/**
 * kafkajs' DefaultPartitioner (murmur2 as the Java client), remembering the
 * partition of each key for a partition count: a delivery has thousands of
 * records of a few hundred orgs, and the default hashes every key again (and
 * filters the partition list for every message). Exact: for a keyed message
 * the default's answer depends on the key and the partition count only, so
 * keys are remembered per partition count (the CDR and dead-letter topics
 * differ), with no allocation per message.
 */
export const rememberingPartitioner: ICustomPartitioner = () => {
  const base = Partitioners.DefaultPartitioner();
  const byCount = new Map<number, Map<string, number>>();
  return (args) => {
    const { message, partitionMetadata } = args;
    if (message.partition != null || typeof message.key !== 'string') return base(args);
    let known = byCount.get(partitionMetadata.length);
    if (known === undefined || known.size >= 100_000) {
      known = new Map();
      byCount.set(partitionMetadata.length, known);
    }
    let partition = known.get(message.key);
    if (partition === undefined) {
      partition = base(args);
      known.set(message.key, partition);
    }
    return partition;
  };
};

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

const messageBytes = (chunk: TopicMessages[]): number =>
  chunk.reduce((n, t) => n + t.messages.reduce((m, x) => m + x.value.length, 0), 0);

/**
 * The bytes of sends we gave up on (deadline passed) that the client may
 * still be retrying: counted until they settle; above `max`, sends are
 * refused at once (memory during an outage). Shared by both clients.
 */
export const createAbandonedSends = (logger: Logger, max: number) => {
  let bytes = 0;
  return {
    /** Throws kafka_timeout while too many bytes of given-up sends are pending. */
    check() {
      if (bytes > max) {
        throw new CdrError(
          'kafka_timeout',
          `Kafka is not keeping up: ${Math.round(bytes / 2 ** 20)} MiB of earlier sends are still unacknowledged`,
        );
      }
    },
    /**
     * Waits for `sending` at most `stallMs`; past it, rejects with
     * kafka_timeout and counts `chunk` until `sending` settles. The client's
     * own errors are passed on as they are.
     */
    async within(sending: Promise<unknown>, chunk: TopicMessages[], stallMs: number) {
      try {
        await withDeadline(sending, stallMs, 'acknowledge');
      } catch (e) {
        if (e instanceof CdrError) {
          // the client keeps retrying an idempotent send: count what it still holds
          const size = messageBytes(chunk);
          bytes += size;
          sending
            .catch((late: unknown) =>
              logger.warn('late Kafka send failed', { error: describe(late) }),
            )
            .finally(() => {
              bytes -= size;
            });
        }
        throw e;
      }
    },
  };
};

/** Rejects with kafka_timeout when `work` has not settled within `ms`; `work` goes on. */
export const withDeadline = async <T>(work: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new CdrError('kafka_timeout', `Kafka did not ${what} within ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

export const createCdrProducer = (
  kafka: Kafka,
  opts: {
    compression: 'none' | 'gzip' | 'zstd';
    logger: Logger;
    /** Bytes of given-up sends kafkajs may still be retrying, above which sends are refused at once. */
    maxAbandonedBytes?: number;
  },
): CdrProducer => {
  const compression = {
    none: CompressionTypes.None,
    gzip: CompressionTypes.GZIP,
    zstd: CompressionTypes.ZSTD,
  }[opts.compression];
  const abandoned = createAbandonedSends(opts.logger, opts.maxAbandonedBytes ?? 512 * 1024 * 1024);
  let producer: Producer;
  let connected = false;
  let connecting: Promise<void> | null = null;

  const build = () => {
    const p = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2, as the Java client: the same org lands on the same partition for every producer
      createPartitioner: rememberingPartitioner,
    });
    // Not on CONNECT: kafkajs emits it before InitProducerId, and a send made
    // while the producer id is on its way fails inside kafkajs ("reading
    // 'release'"). Connected means connect() resolved: the producer id is held.
    // Events of a replaced producer must not change the state of the current one.
    p.on(p.events.DISCONNECT, () => {
      if (producer === p) connected = false;
    });
    producer = p;
  };
  build();

  const connect = (): Promise<void> => {
    const p = producer;
    connecting ??= p
      .connect()
      .then(() => {
        if (producer === p) connected = true;
      })
      .catch(async (e: unknown) => {
        // a failed connect can leave sockets open: close them before the next try
        await p.disconnect().catch(() => undefined);
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
    connecting = null;
    build();
    await old.disconnect().catch(() => undefined);
    // reconnect now: readiness must not wait for the next delivery
    connect().catch((e: unknown) =>
      opts.logger.warn('reconnecting the rebuilt producer failed', { error: describe(e) }),
    );
  };

  const sendChunk = async (chunk: TopicMessages[], stallMs: number) => {
    const p = producer;
    const sending = p.sendBatch({
      acks: -1,
      compression,
      topicMessages: chunk.map((t) => ({ topic: t.topic, messages: t.messages as Message[] })),
    });
    try {
      await abandoned.within(sending, chunk, stallMs);
    } catch (e) {
      if (e instanceof CdrError) throw e;
      const type = (e as { type?: string }).type;
      if (type !== undefined && FATAL_TYPES.has(type) && producer === p) await rebuild(type);
      throw new CdrError('kafka_failed', `Kafka send failed: ${describe(e)}`, { cause: e });
    }
  };

  return {
    connect,
    isConnected: () => connected,
    async send(batches, stallMs) {
      abandoned.check();
      if (!connected) await withDeadline(connect(), stallMs, 'accept a connection');
      // The deadline is per chunk: a large delivery may take longer in all, as long
      // as Kafka keeps acknowledging. After a missed deadline nothing more is sent.
      for (const chunk of chunkMessages(batches)) await sendChunk(chunk, stallMs);
    },
    async disconnect() {
      await producer.disconnect();
    },
  };
};
