/**
 * @module kafka/platformatic/read-range
 * The port's read (kafka/port.ts `readRange`) on @platformatic/kafka: a topic
 * from the offsets at a timestamp up to the end offsets of the moment the
 * read starts (a snapshot), or, with `follow`, on and on until `signal`
 * aborts. Values are handed over as bytes, never decoded here.
 *
 * An admin client says whether the topic exists, then a consumer lists the
 * offsets (earliest, latest, at the timestamp) and consumes in MANUAL mode
 * from those offsets, in a group of its own that never commits (the library
 * assigns partitions through a group). The consumer's messages are a
 * readable stream iterated one record at a time: when `onRecord` returns a
 * promise nothing more is handed over until it settles (backpressure; the
 * library heartbeats meanwhile on its own timer). The read ends when every
 * partition is read up to its end offset, when `onRecord` answers `'stop'`
 * or throws (the read rejects with that), when the stream fails, when no
 * record arrives for `stallMs` while partitions remain (`kafka_timeout`), or
 * at once when `signal` aborts (rejecting with its reason; with `follow`,
 * resolving). Reaching Kafka, listing offsets and joining are under
 * `startTimeoutMs`. Every client is closed before the read returns, except a
 * consumer whose consume() is still under way: it is closed once that has
 * settled, after the stream it hands over (see the `finally`).
 */
import { randomUUID } from 'node:crypto';
import { CdrError } from '../../errors.ts';
import { beginRead, stalled, unlessAborted } from '../abort.ts';
import type { RangeStats, ReadRangeOptions } from '../port.ts';

/** A record as the library's stream hands it over (default deserializers: bytes). */
export type StreamMessage = {
  partition: number;
  offset: bigint;
  timestamp: bigint;
  key?: Buffer | null | undefined;
  value?: Buffer | null | undefined;
  headers: Map<unknown, unknown>;
};

export type ReadStream = AsyncIterable<StreamMessage> & {
  close(): Promise<void>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
};

/** What the read uses of the library's Admin and Consumer. */
export type ReadClients = {
  admin(): Promise<{ listTopics(): Promise<string[]>; close(): Promise<void> }>;
  consumer(groupId: string): Promise<{
    listOffsets(options: { topics: string[]; timestamp?: bigint }): Promise<Map<string, bigint[]>>;
    consume(options: {
      topics: string[];
      mode: 'manual';
      offsets: { topic: string; partition: number; offset: bigint }[];
      autocommit: false;
      maxWaitTime: number;
      maxBytes: number;
      maxBytesPerPartition: number;
    }): Promise<ReadStream>;
    close(force: boolean): Promise<void>;
  }>;
};

/** ListOffsets' special timestamps: the first offset, the end offset. */
const EARLIEST = -2n;
const LATEST = -1n;

const text = (v: unknown): string | null =>
  v === undefined || v === null ? null : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);

const headersOf = (m: StreamMessage): Record<string, string> => {
  const headers: Record<string, string> = {};
  for (const [k, v] of m.headers) {
    const key = text(k);
    const value = text(v);
    if (key !== null && value !== null) headers[key] = value;
  }
  return headers;
};

/**
 * Where each partition's read starts (the first offset at or after
 * `fromTimestamp`; the end when none is) and ends (exclusive).
 */
export const planOffsets = (
  earliest: readonly bigint[],
  latest: readonly bigint[],
  atTime: readonly bigint[],
): { partition: number; first: bigint; end: bigint }[] =>
  latest.map((end, partition) => {
    const low = earliest[partition] ?? 0n;
    const at = atTime[partition] ?? -1n;
    const start = at < 0n ? end : at;
    return { partition, first: start > low ? start : low, end };
  });

export const readTopicRange = async (
  clients: ReadClients,
  opts: ReadRangeOptions,
): Promise<RangeStats> => {
  const { signal, topic } = opts;
  const follow = opts.follow === true;
  // Reaching the cluster, finding the offsets and joining the group: under one deadline.
  const { starting, started, stats } = beginRead(opts);
  let consumer: Awaited<ReturnType<ReadClients['consumer']>> | undefined;
  let stream: ReadStream | undefined;
  /** consume() of this read: its stream, or its failure, may come after the read ended. */
  let pending: Promise<ReadStream> | undefined;
  try {
    const admin = await unlessAborted(clients.admin(), starting);
    try {
      if (!(await unlessAborted(admin.listTopics(), starting)).includes(topic)) {
        return stats(false);
      }
    } finally {
      await admin.close().catch(() => undefined);
    }
    const c = await unlessAborted(
      clients.consumer(`webex-cdr-kafka-ledger-${randomUUID()}`),
      starting,
    );
    consumer = c;
    const offsetsAt = async (timestamp: bigint) =>
      (await unlessAborted(c.listOffsets({ topics: [topic], timestamp }), starting)).get(topic) ??
      [];
    const plan = planOffsets(
      await offsetsAt(EARLIEST),
      await offsetsAt(LATEST),
      await offsetsAt(BigInt(opts.fromTimestamp)),
    );
    const remaining = new Map<number, bigint>(); // partition -> end offset (exclusive)
    for (const p of plan) if (p.first < p.end) remaining.set(p.partition, p.end);
    const partitions = remaining.size;
    if (opts.onStart !== undefined && partitions > 0) {
      let upTo = 0n;
      for (const p of plan) if (p.first < p.end) upTo += p.end - p.first;
      opts.onStart(Number(upTo));
    }
    if (partitions === 0 && !follow) return stats(true);
    signal?.throwIfAborted();

    const consuming = c.consume({
      topics: [topic],
      mode: 'manual',
      offsets: plan.map((p) => ({ topic, partition: p.partition, offset: p.first })),
      autocommit: false,
      maxWaitTime: 250,
      maxBytes: 2 * 1024 * 1024,
      maxBytesPerPartition: 1024 * 1024,
    });
    pending = consuming;
    // The read's own errors reach the loop below; one the stream meets after the read ended
    // (its setup failing on a consumer closed meanwhile) is nobody's.
    consuming.then(
      (s) => s.on('error', () => undefined),
      () => undefined,
    );
    const s = await unlessAborted(consuming, starting);
    stream = s;
    started();

    let records = 0;
    let lastProgress = Date.now();
    let handling = false;
    let ended = false;
    let failure: { error: unknown } | undefined;
    /** Ends the read: stops handing records over and closes the stream (the loop then drains). */
    const finish = (error?: unknown) => {
      if (ended) return;
      ended = true;
      if (error !== undefined) failure = { error };
      s.close().catch(() => undefined);
    };
    const stallMs = opts.stallMs ?? 60_000;
    const watchdog = setInterval(() => {
      if (!follow && !handling && Date.now() - lastProgress > stallMs) {
        finish(stalled(topic, remaining.size, stallMs));
      }
    }, 500);
    const onAbort = () => finish(follow ? undefined : (signal?.reason ?? new Error('aborted')));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    try {
      for await (const m of s) {
        if (ended) continue;
        const end = remaining.get(m.partition);
        if (!follow && (end === undefined || m.offset >= end)) continue;
        lastProgress = Date.now();
        try {
          let answer = opts.onRecord({
            partition: m.partition,
            key: text(m.key),
            headers: headersOf(m),
            timestamp: Number(m.timestamp),
            value: m.value ?? null,
          });
          if (answer instanceof Promise) {
            handling = true;
            try {
              answer = await answer;
            } finally {
              handling = false;
              lastProgress = Date.now();
            }
          }
          records += 1;
          if (answer === 'stop') finish();
        } catch (e) {
          finish(e);
        }
        if (end !== undefined && m.offset + 1n >= end) {
          remaining.delete(m.partition);
          if (remaining.size === 0 && !follow) finish();
        }
      }
    } catch (e) {
      // the stream failed (the library gave up on a fetch)
      if (!ended) finish(e);
    } finally {
      clearInterval(watchdog);
      signal?.removeEventListener('abort', onAbort);
    }
    if (failure !== undefined) throw failure.error;
    if (!ended) throw new CdrError('kafka_failed', `reading ${topic}: the stream ended early`);
    return stats(true, partitions, records);
  } finally {
    started();
    await stream?.close().catch(() => undefined);
    const c = consumer;
    const closeConsumer = () => c?.close(true).catch(() => undefined);
    if (stream === undefined && pending !== undefined) {
      // consume() still under way (the read ended while it joined): the library makes its
      // stream only then, and on a consumer already closed the stream's setup fails with an
      // error emitted before anyone can listen (process.nextTick runs before a promise's
      // callbacks), an uncaught exception. So the consumer is closed after that stream,
      // once consume() has handed it over (or failed).
      void pending
        .then(
          (s) => s.close().catch(() => undefined),
          () => undefined,
        )
        .then(closeConsumer);
    } else {
      await closeConsumer();
    }
  }
};
