/**
 * @module kafka/send-guard
 * The send discipline both producers share, whatever the client library:
 * messages cut into chunks small enough for one record batch each, a deadline
 * per chunk (the client retries an idempotent send forever, so the deadline is
 * ours: the caller answers 503 and the sender retries; the Report ID makes a
 * late duplicate harmless), and a cap on the bytes of given-up sends the
 * client may still hold (memory during an outage). A producer not connected
 * yet is connected first, under the same deadline. `connectOnce` is the
 * memoised connect both adapters use.
 */
import { CdrError, describe } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { CdrProducer, OutMessage, ProducerOptions, TopicMessages } from './port.ts';

/** Stay well under the broker's default message.max.bytes (1 MiB) per partition batch. */
export const CHUNK_BYTES = 768 * 1024;
/**
 * A send's bytes in all when the adapter can tell each message's partition
 * (`partitionOf`): each partition's batch in it still within CHUNK_BYTES. One
 * request per 2,000-record chunk of a delivery instead of three or four: fewer
 * round trips, and about a fifth less of the broker's CPU per record in the
 * benchmark (docs/performance.md).
 */
export const REQUEST_BYTES = 4 * 1024 * 1024;
const CHUNK_MESSAGES = 5000;
/** The default cap on bytes of given-up sends. */
export const MAX_ABANDONED_BYTES = 512 * 1024 * 1024;

/**
 * The partition a keyed message will be written to, as the client will
 * choose it, or undefined when that is not known (no metadata yet).
 */
export type PartitionOf = (topic: string, key: string) => number | undefined;

const estimatedBytes = (m: OutMessage): number => {
  let size = m.value.length + (m.key?.length ?? 0) + 64;
  for (const h in m.headers) size += h.length + (m.headers[h]?.length ?? 0) + 8;
  return size;
};

/**
 * Splits messages into sends small enough for one record batch per partition,
 * in their order (a send is only ever cut, never reordered). Without
 * `partitionOf` a send holds at most CHUNK_BYTES in all, as if every message
 * went to one partition. With it, each partition's share of a send stays
 * within CHUNK_BYTES and the send within REQUEST_BYTES; a message whose
 * partition is not known (no key, no metadata) is counted against every
 * partition.
 */
export const chunkMessages = (
  batches: TopicMessages[],
  partitionOf?: PartitionOf,
): TopicMessages[][] => {
  const chunks: TopicMessages[][] = [];
  let current: TopicMessages[] = [];
  let bytes = 0;
  let count = 0;
  /** Bytes per topic, by partition, in the current send, and the largest of them. */
  let shares = new Map<string, number[]>();
  let largest = 0;
  /** Bytes of the current send's messages of unknown partition. */
  let anywhere = 0;
  const limit = partitionOf === undefined ? CHUNK_BYTES : REQUEST_BYTES;
  for (const { topic, messages } of batches) {
    let slot: TopicMessages | undefined;
    for (const m of messages) {
      const size = estimatedBytes(m);
      const partition =
        partitionOf === undefined || m.key === null ? undefined : partitionOf(topic, m.key);
      const before = partition === undefined ? largest : (shares.get(topic)?.[partition] ?? 0);
      const over =
        bytes + size > limit || anywhere + before + size > CHUNK_BYTES || count >= CHUNK_MESSAGES;
      if (count > 0 && over) {
        chunks.push(current);
        current = [];
        bytes = 0;
        count = 0;
        shares = new Map();
        largest = 0;
        anywhere = 0;
        slot = undefined;
      }
      if (slot === undefined) {
        slot = { topic, messages: [] };
        current.push(slot);
      }
      slot.messages.push(m);
      bytes += size;
      count += 1;
      if (partition === undefined) anywhere += size;
      else {
        let ofTopic = shares.get(topic);
        if (ofTopic === undefined) {
          ofTopic = [];
          shares.set(topic, ofTopic);
        }
        const now = (ofTopic[partition] ?? 0) + size;
        ofTopic[partition] = now;
        if (now > largest) largest = now;
      }
    }
  }
  if (count > 0) chunks.push(current);
  return chunks;
};

const messageBytes = (chunk: TopicMessages[]): number =>
  chunk.reduce((n, t) => n + t.messages.reduce((m, x) => m + x.value.length, 0), 0);

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

/**
 * The bytes of sends we gave up on (deadline passed) that the client may
 * still be retrying: counted until they settle; above `max`, sends are
 * refused at once (memory during an outage).
 */
export const createAbandonedSends = (logger: Logger, max: number) => {
  let bytes = 0;
  return {
    /** Bytes of given-up sends still pending. */
    pending: () => bytes,
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

/** What an adapter gives the guard: its connection state and one chunk's send. */
export type GuardedClient = {
  isConnected(): boolean;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /**
   * Starts sending one chunk: the client's promise, and what its failure (not
   * a missed deadline) becomes; null: kafka_failed.
   */
  sendChunk(chunk: TopicMessages[]): {
    sending: Promise<unknown>;
    failed(e: unknown): Promise<CdrError | null> | CdrError | null;
  };
  /** Where the client will write a keyed message; sends are then cut per partition (chunkMessages). */
  partitionOf?: PartitionOf;
};

/** A `CdrProducer` from an adapter's client, its sends under the guard. */
export const createGuardedProducer = (
  client: GuardedClient,
  opts: ProducerOptions,
): CdrProducer & { abandonedBytes(): number } => {
  const abandoned = createAbandonedSends(
    opts.logger,
    opts.maxAbandonedBytes ?? MAX_ABANDONED_BYTES,
  );
  return {
    connect: () => client.connect(),
    isConnected: () => client.isConnected(),
    disconnect: () => client.disconnect(),
    abandonedBytes: abandoned.pending,
    async send(batches, stallMs) {
      abandoned.check();
      if (!client.isConnected())
        await withDeadline(client.connect(), stallMs, 'accept a connection');
      // The deadline is per chunk: a large delivery may take longer in all, as long
      // as Kafka keeps acknowledging. After a missed deadline nothing more is sent.
      for (const chunk of chunkMessages(batches, client.partitionOf)) {
        const { sending, failed } = client.sendChunk(chunk);
        try {
          await abandoned.within(sending, chunk, stallMs);
        } catch (e) {
          if (e instanceof CdrError) throw e;
          throw (
            (await failed(e)) ??
            new CdrError('kafka_failed', `Kafka send failed: ${describe(e)}`, { cause: e })
          );
        }
      }
    },
  };
};

/**
 * One connect at a time: callers while one is on its way share it; once it
 * settles, the next call starts another. `reset()` forgets the one on its way.
 */
export const connectOnce = (connect: () => Promise<void>) => {
  let connecting: Promise<void> | null = null;
  return {
    connect(): Promise<void> {
      connecting ??= connect().finally(() => {
        connecting = null;
      });
      return connecting;
    },
    reset() {
      connecting = null;
    },
  };
};
