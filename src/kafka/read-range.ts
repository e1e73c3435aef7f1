/**
 * @module kafka/read-range
 * Reads a topic from the offsets at a timestamp up to the end offsets of the
 * moment the read starts (a snapshot: records produced meanwhile are not
 * waited for). Values are handed over as bytes, never decoded here. Used by
 * the reconciler, for which the topic's keys and headers are the ledger, and
 * by `webex-cdr-kafka tail`.
 *
 * kafkajs only consumes through a consumer group: this one joins a group of
 * its own, seeks, never commits, and leaves when every partition is read, or
 * at once when `signal` aborts (rejecting with its reason).
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { CdrError } from '../errors.ts';

export type KeyAndHeaders = {
  readonly partition: number;
  readonly key: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
  /** The raw value (not decoded: callers that only count ignore it). */
  readonly value: Buffer | null;
};

export type RangeStats = { partitions: number; records: number; ms: number };

const headerText = (v: unknown): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return headerText(v[0]);
  return String(v);
};

export const readTopicRange = async (
  kafka: Kafka,
  opts: {
    topic: string;
    fromTimestamp: number;
    onRecord: (r: KeyAndHeaders) => void;
    /** Give up when no record arrives for this long while partitions remain unread. */
    stallMs?: number;
    signal?: AbortSignal;
  },
): Promise<RangeStats> => {
  const { signal } = opts;
  signal?.throwIfAborted();
  const started = Date.now();
  const admin = kafka.admin();
  await admin.connect();
  const remaining = new Map<number, bigint>(); // partition -> end offset (exclusive)
  const starts = new Map<number, string>();
  try {
    if (!(await admin.listTopics()).includes(opts.topic)) {
      return { partitions: 0, records: 0, ms: Date.now() - started };
    }
    const ends = await admin.fetchTopicOffsets(opts.topic);
    const from = await admin.fetchTopicOffsetsByTimestamp(opts.topic, opts.fromTimestamp);
    for (const e of ends) {
      const start = from.find((f) => f.partition === e.partition)?.offset ?? e.low;
      const first = BigInt(start) > BigInt(e.low) ? BigInt(start) : BigInt(e.low);
      if (first < BigInt(e.high)) {
        remaining.set(e.partition, BigInt(e.high));
        starts.set(e.partition, first.toString());
      }
    }
  } finally {
    await admin.disconnect();
  }
  const partitions = remaining.size;
  if (partitions === 0) return { partitions: 0, records: 0, ms: Date.now() - started };
  signal?.throwIfAborted();

  const consumer = kafka.consumer({
    groupId: `webex-cdr-kafka-ledger-${randomUUID()}`,
    maxBytesPerPartition: 1024 * 1024,
    maxBytes: 2 * 1024 * 1024,
    maxWaitTimeInMs: 250,
  });
  let records = 0;
  let lastProgress = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const end = remaining.get(batch.partition);
        if (end === undefined) return;
        for (const m of batch.messages) {
          if (BigInt(m.offset) >= end) break;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) {
            const text = headerText(v);
            if (text !== undefined) headers[k] = text;
          }
          opts.onRecord({
            partition: batch.partition,
            key: m.key === null ? null : m.key.toString('utf8'),
            headers,
            timestamp: Number(m.timestamp),
            value: m.value,
          });
          records += 1;
        }
        lastProgress = Date.now();
        if (BigInt(batch.lastOffset()) + 1n >= end) {
          remaining.delete(batch.partition);
          consumer.pause([{ topic: opts.topic, partitions: [batch.partition] }]);
          if (remaining.size === 0) finish();
        }
      },
    });
    for (const [partition, offset] of starts)
      consumer.seek({ topic: opts.topic, partition, offset });
    const stallMs = opts.stallMs ?? 60_000;
    await new Promise<void>((resolve, reject) => {
      const done = (error?: unknown) => {
        clearInterval(watchdog);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = () => done(signal?.reason ?? new Error('aborted'));
      const watchdog = setInterval(() => {
        if (Date.now() - lastProgress > stallMs) {
          done(
            new CdrError(
              'kafka_timeout',
              `reading ${opts.topic} stalled: ${remaining.size} partition(s) unread after ${stallMs} ms`,
            ),
          );
        }
      }, 500);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
      finished.then(() => done());
    });
  } finally {
    await consumer.disconnect();
  }
  return { partitions, records, ms: Date.now() - started };
};
