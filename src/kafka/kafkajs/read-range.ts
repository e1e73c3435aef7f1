/**
 * @module kafka/kafkajs/read-range
 * Reads a topic from the offsets at a timestamp up to the end offsets of the
 * moment the read starts (a snapshot: records produced meanwhile are not
 * waited for), or, with `follow`, on and on until `signal` aborts. Values are
 * handed over as bytes, never decoded here. Used by the reconciler, for which
 * the topic's keys and headers are the ledger, and by `webex-cdr-kafka tail`.
 *
 * kafkajs only consumes through a consumer group: this one joins a group of
 * its own, seeks, never commits, and leaves when every partition is read,
 * when `onRecord` answers `'stop'`, or at once when `signal` aborts
 * (rejecting with its reason; with `follow`, that is the end and resolves).
 * `onRecord` may return a promise: nothing more is handed over until it
 * settles (backpressure), and the group membership is kept alive meanwhile.
 * If it throws, or the consumer crashes for good, the read rejects with that.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchHandler, Kafka } from 'kafkajs';
import { beginRead, stalled, unlessAborted } from '../abort.ts';
import type { RangeStats, ReadRangeOptions } from '../port.ts';

/** Joins of the read's consumer group tried on a brand-new cluster, and the wait before the next (times the attempt). */
const JOIN_ATTEMPTS = 3;
const JOIN_RETRY_MS = 500;

const headerText = (v: unknown): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return headerText(v[0]);
  return String(v);
};

export const readTopicRange = async (kafka: Kafka, opts: ReadRangeOptions): Promise<RangeStats> => {
  const { signal, topic } = opts;
  const follow = opts.follow === true;
  // Reaching the cluster, finding the offsets and joining the group: under one deadline.
  const { starting, started, stats } = beginRead(opts);
  /**
   * Client calls still under way when the read ends (aborted while connecting or
   * joining): the read returns at once, and disconnects again once they have
   * settled, or a connection they open afterwards would stay open and keep the
   * process alive.
   */
  const underWay = new Set<Promise<unknown>>();
  const step = <T>(p: Promise<T>) => {
    underWay.add(p);
    void p.then(
      () => underWay.delete(p),
      () => underWay.delete(p),
    );
    return unlessAborted(p, starting);
  };
  const disconnectLater = (disconnect: () => Promise<void>) => {
    if (underWay.size === 0) return;
    void Promise.allSettled([...underWay])
      .then(disconnect)
      .catch(() => undefined);
  };
  const remaining = new Map<number, bigint>(); // partition -> end offset (exclusive)
  const starts = new Map<number, string>();
  let consumer: Consumer | undefined;
  let records = 0;
  /** The read has ended: a crashed consumer is not restarted. */
  let over = false;
  try {
    const admin = kafka.admin();
    try {
      await step(admin.connect());
      if (!(await step(admin.listTopics())).includes(topic)) return stats(false);
      const ends = await step(admin.fetchTopicOffsets(topic));
      const from = await step(admin.fetchTopicOffsetsByTimestamp(topic, opts.fromTimestamp));
      for (const e of ends) {
        const start = from.find((f) => f.partition === e.partition)?.offset ?? e.low;
        const first = BigInt(start) > BigInt(e.low) ? BigInt(start) : BigInt(e.low);
        if (first < BigInt(e.high)) remaining.set(e.partition, BigInt(e.high));
        if (follow || first < BigInt(e.high)) starts.set(e.partition, first.toString());
      }
    } finally {
      await admin.disconnect();
      disconnectLater(() => admin.disconnect());
    }
    const partitions = remaining.size;
    if (opts.onStart !== undefined && partitions > 0) {
      let upTo = 0n;
      for (const [p, end] of remaining) upTo += end - BigInt(starts.get(p) ?? end);
      opts.onStart(Number(upTo));
    }
    if (partitions === 0 && !follow) return stats(true);
    signal?.throwIfAborted();

    let lastProgress = Date.now();
    let handling = false;
    let stopped = false;
    // Ends the read: every partition read, 'stop', or a failure (of onRecord, or the consumer's).
    let finish: (error?: unknown) => void = () => undefined;
    const finished = new Promise<unknown>((resolve) => {
      finish = (error?: unknown) => {
        stopped = true;
        resolve(error);
      };
    });
    const eachBatch: EachBatchHandler = async ({ batch, heartbeat }) => {
      const end = follow ? undefined : remaining.get(batch.partition);
      if (stopped || (!follow && end === undefined)) return;
      for (const m of batch.messages) {
        if (end !== undefined && BigInt(m.offset) >= end) break;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.headers ?? {})) {
          const text = headerText(v);
          if (text !== undefined) headers[k] = text;
        }
        let answer: unknown;
        try {
          answer = opts.onRecord({
            partition: batch.partition,
            key: m.key === null ? null : m.key.toString('utf8'),
            headers,
            timestamp: Number(m.timestamp),
            value: m.value,
          });
          if (answer instanceof Promise) {
            // A slow reader (a full pipe) must not cost the group membership.
            handling = true;
            const beat = setInterval(() => heartbeat().catch(() => undefined), 3_000);
            try {
              answer = await answer;
            } finally {
              clearInterval(beat);
              handling = false;
              lastProgress = Date.now();
            }
          }
        } catch (e) {
          // The reader's failure ends the read (kafkajs would retry the batch).
          finish(e);
          return;
        }
        records += 1;
        if (answer === 'stop') {
          finish();
          return;
        }
      }
      lastProgress = Date.now();
      if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) {
        remaining.delete(batch.partition);
        consumer?.pause([{ topic, partitions: [batch.partition] }]);
        if (remaining.size === 0) finish();
      }
    };
    // A brand-new cluster answers metadata before it coordinates groups: the
    // first join can fail (the consumer crashes before it holds its group, and
    // kafkajs then says "Consumer group was not initialized"). A join failure
    // kafkajs would retry is tried again with a new consumer, a few times,
    // under the start deadline.
    for (let attempt = 1; ; attempt++) {
      const c = kafka.consumer({
        groupId: `webex-cdr-kafka-ledger-${randomUUID()}`,
        maxBytesPerPartition: 1024 * 1024,
        maxBytes: 2 * 1024 * 1024,
        maxWaitTimeInMs: 250,
        // kafkajs restarts a crashed consumer after a delay, even when the crash
        // came from our disconnect (a fetch cut short): once the read is over,
        // a restart would connect again and leave that connection open.
        retry: { retries: 5, restartOnFailure: async () => !over },
      });
      consumer = c;
      let joining = true;
      let joinFailure: { error: unknown; retriable: boolean } | undefined;
      c.on(c.events.CRASH, ({ payload }) => {
        if (joining) joinFailure ??= { error: payload.error, retriable: payload.restart };
        else if (!payload.restart) finish(payload.error);
      });
      await step(c.connect());
      await step(c.subscribe({ topic, fromBeginning: true }));
      await step(c.run({ autoCommit: false, eachBatchAutoResolve: true, eachBatch }));
      joining = false;
      if (joinFailure === undefined) break;
      await c.disconnect();
      if (!joinFailure.retriable || attempt >= JOIN_ATTEMPTS) throw joinFailure.error;
      await step(sleep(JOIN_RETRY_MS * attempt));
    }
    const c = consumer;
    for (const [partition, offset] of starts) c.seek({ topic, partition, offset });
    started();
    const stallMs = opts.stallMs ?? 60_000;
    await new Promise<void>((resolve, reject) => {
      const done = (error?: unknown) => {
        clearInterval(watchdog);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = () => done(follow ? undefined : (signal?.reason ?? new Error('aborted')));
      const watchdog = setInterval(() => {
        if (!follow && !handling && Date.now() - lastProgress > stallMs) {
          done(stalled(topic, remaining.size, stallMs));
        }
      }, 500);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
      finished.then((error) => done(error));
    });
    return stats(true, partitions, records);
  } finally {
    over = true;
    started();
    await consumer?.disconnect();
    const late = consumer;
    if (late !== undefined) disconnectLater(() => late.disconnect());
  }
};
