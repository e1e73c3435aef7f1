import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CdrError } from '../../../../src/errors.ts';
import {
  planOffsets,
  type ReadClients,
  type ReadStream,
  readTopicRange,
  type StreamMessage,
} from '../../../../src/kafka/platformatic/read-range.ts';
import type { KeyAndHeaders } from '../../../../src/kafka/port.ts';

const message = (partition: number, offset: number, key: string | null = 'org'): StreamMessage => ({
  partition,
  offset: BigInt(offset),
  timestamp: 1_000n + BigInt(offset),
  key: key === null ? undefined : Buffer.from(key),
  value: Buffer.from(`v${offset}`),
  headers: new Map([[Buffer.from('report-id'), Buffer.from(`r${offset}`)]]),
});

/** A stream handing over `queued` and then, unless `ends`, waiting for more until closed. */
const fakeStream = (queued: StreamMessage[], ends = false) => {
  let closed = false;
  let wake: () => void = () => undefined;
  const pending = [...queued];
  const onError: ((error: unknown) => void)[] = [];
  const stream: ReadStream & {
    push(m: StreamMessage): void;
    closed(): boolean;
    /** As an EventEmitter does: an 'error' nobody listens to is thrown. */
    emitError(error: unknown): void;
  } = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const m = pending.shift();
        if (m !== undefined) {
          yield m;
          continue;
        }
        if (closed || ends) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    async close() {
      closed = true;
      wake();
    },
    push(m) {
      pending.push(m);
      wake();
    },
    closed: () => closed,
    on(_event, listener) {
      onError.push(listener);
    },
    emitError(error) {
      if (onError.length === 0) throw error;
      for (const l of onError) l(error);
    },
  };
  return stream;
};

type Offsets = { earliest: bigint[]; latest: bigint[]; atTime: bigint[] };

const fakeClients = (
  opts: {
    topics?: string[];
    offsets?: Offsets;
    stream?: ReturnType<typeof fakeStream>;
    silent?: boolean;
  } = {},
) => {
  const calls = { adminClosed: 0, consumerClosed: 0, consumed: [] as unknown[] };
  const offsets = opts.offsets ?? { earliest: [0n, 0n], latest: [2n, 1n], atTime: [-1n, -1n] };
  const clients: ReadClients = {
    admin: async () => ({
      listTopics: () =>
        opts.silent === true
          ? new Promise<string[]>(() => undefined)
          : Promise.resolve(opts.topics ?? ['t']),
      close: async () => {
        calls.adminClosed += 1;
      },
    }),
    consumer: async () => ({
      async listOffsets({ timestamp }) {
        const list =
          timestamp === -2n
            ? offsets.earliest
            : timestamp === -1n
              ? offsets.latest
              : offsets.atTime;
        return new Map([['t', list]]);
      },
      async consume(o) {
        calls.consumed.push(o);
        return opts.stream ?? fakeStream([]);
      },
      async close() {
        calls.consumerClosed += 1;
      },
    }),
  };
  return { clients, calls };
};

describe('planOffsets', () => {
  it('starts at the first offset at the timestamp, the end when none, never below the earliest', () => {
    assert.deepEqual(planOffsets([0n, 5n, 0n], [10n, 10n, 10n], [3n, 2n, -1n]), [
      { partition: 0, first: 3n, end: 10n },
      { partition: 1, first: 5n, end: 10n },
      { partition: 2, first: 10n, end: 10n },
    ]);
  });
});

describe('platformatic readTopicRange', () => {
  it('a missing topic: exists false, nothing consumed, the admin closed', async () => {
    const { clients, calls } = fakeClients({ topics: ['other'] });
    const stats = await readTopicRange(clients, {
      topic: 't',
      fromTimestamp: 0,
      onRecord: () => undefined,
    });
    assert.equal(stats.exists, false);
    assert.equal(calls.consumed.length, 0);
    assert.equal(calls.adminClosed, 1);
  });

  it('reads each partition up to its end offset, as key, headers, timestamp and bytes, and closes everything', async () => {
    const stream = fakeStream([message(0, 0), message(1, 0, null), message(0, 1), message(0, 2)]);
    const { clients, calls } = fakeClients({
      stream,
      offsets: { earliest: [0n, 0n], latest: [2n, 1n], atTime: [0n, 0n] },
    });
    const seen: KeyAndHeaders[] = [];
    const stats = await readTopicRange(clients, {
      topic: 't',
      fromTimestamp: 0,
      onRecord: (r) => {
        seen.push(r);
      },
    });
    assert.deepEqual(
      { exists: stats.exists, partitions: stats.partitions, records: stats.records },
      { exists: true, partitions: 2, records: 3 },
    );
    assert.deepEqual(seen[0], {
      partition: 0,
      key: 'org',
      headers: { 'report-id': 'r0' },
      timestamp: 1000,
      value: Buffer.from('v0'),
    });
    assert.equal(seen[1]?.key, null);
    assert.equal(stream.closed(), true);
    assert.equal(calls.consumerClosed, 1);
    const consumed = calls.consumed[0] as { mode: string; offsets: unknown[]; autocommit: boolean };
    assert.equal(consumed.mode, 'manual');
    assert.equal(consumed.autocommit, false);
    assert.deepEqual(consumed.offsets, [
      { topic: 't', partition: 0, offset: 0n },
      { topic: 't', partition: 1, offset: 0n },
    ]);
  });

  it('onStart: the records in range before the first one; a stream failing after the read ended is not an uncaught error', async () => {
    const stream = fakeStream([message(0, 1), message(0, 2), message(1, 0)]);
    const { clients } = fakeClients({
      stream,
      offsets: { earliest: [0n, 0n], latest: [3n, 1n], atTime: [1n, 0n] },
    });
    const calls: [number, number][] = [];
    let handed = 0;
    await readTopicRange(clients, {
      topic: 't',
      fromTimestamp: 0,
      onStart: (records) => calls.push([records, handed]),
      onRecord: () => {
        handed += 1;
      },
    });
    assert.deepEqual(calls, [[3, 0]]);
    // what the library's stream does when its setup runs on the closed consumer
    assert.doesNotThrow(() => stream.emitError(new Error('Client is closed')));
  });

  it('nothing in range: returns without consuming', async () => {
    const { clients, calls } = fakeClients({
      offsets: { earliest: [0n], latest: [4n], atTime: [-1n] },
    });
    const stats = await readTopicRange(clients, {
      topic: 't',
      fromTimestamp: 0,
      onRecord: () => undefined,
    });
    assert.deepEqual([stats.exists, stats.records], [true, 0]);
    assert.equal(calls.consumed.length, 0);
    assert.equal(calls.consumerClosed, 1);
  });

  it("'stop' ends the read after that record; a throwing reader rejects it with its error", async () => {
    const many = () => fakeStream([message(0, 0), message(0, 1), message(0, 2)]);
    const offsets = { earliest: [0n], latest: [3n], atTime: [0n] };
    const stopped = await readTopicRange(fakeClients({ stream: many(), offsets }).clients, {
      topic: 't',
      fromTimestamp: 0,
      onRecord: async () => 'stop',
    });
    assert.equal(stopped.records, 1);
    const failure = new Error('reader failed');
    await assert.rejects(
      readTopicRange(fakeClients({ stream: many(), offsets }).clients, {
        topic: 't',
        fromTimestamp: 0,
        onRecord: () => {
          throw failure;
        },
      }),
      (e) => e === failure,
    );
  });

  it('follow: hands over records produced later until the signal aborts, then resolves', async () => {
    const stream = fakeStream([message(0, 0)]);
    const { clients } = fakeClients({
      stream,
      offsets: { earliest: [0n], latest: [1n], atTime: [0n] },
    });
    const stop = new AbortController();
    const seen: number[] = [];
    const read = readTopicRange(clients, {
      topic: 't',
      fromTimestamp: 0,
      follow: true,
      signal: stop.signal,
      onRecord: (r) => {
        seen.push(r.timestamp);
        if (seen.length === 2) stop.abort(new Error('enough'));
      },
    });
    setTimeout(() => stream.push(message(0, 1)), 20);
    const stats = await read;
    assert.deepEqual(seen, [1000, 1001]);
    assert.equal(stats.records, 2);
  });

  it('a bounded read rejects with the reason when the signal aborts, and when the stream fails with its error', async () => {
    const stop = new AbortController();
    const offsets = { earliest: [0n], latest: [5n], atTime: [0n] };
    const read = readTopicRange(fakeClients({ stream: fakeStream([]), offsets }).clients, {
      topic: 't',
      fromTimestamp: 0,
      signal: stop.signal,
      onRecord: () => undefined,
    });
    const reason = new Error('stopped');
    setTimeout(() => stop.abort(reason), 10);
    await assert.rejects(read, (e) => e === reason);

    const broken: ReadStream = {
      // biome-ignore lint/correctness/useYield: a stream that fails before any record
      async *[Symbol.asyncIterator]() {
        throw new Error('fetch failed');
      },
      close: async () => undefined,
      on: () => undefined,
    };
    const failing = fakeClients({ offsets });
    const consumer = await failing.clients.consumer('g');
    failing.clients.consumer = async () => ({ ...consumer, consume: async () => broken });
    await assert.rejects(
      readTopicRange(failing.clients, { topic: 't', fromTimestamp: 0, onRecord: () => undefined }),
      /fetch failed/,
    );
  });

  it('no record for stallMs while partitions remain: kafka_timeout', async () => {
    const offsets = { earliest: [0n], latest: [5n], atTime: [0n] };
    await assert.rejects(
      readTopicRange(fakeClients({ stream: fakeStream([]), offsets }).clients, {
        topic: 't',
        fromTimestamp: 0,
        stallMs: 10,
        onRecord: () => undefined,
      }),
      (e) =>
        e instanceof CdrError &&
        e.code === 'kafka_timeout' &&
        /stalled: 1 partition/.test(e.message),
    );
  });

  it('a cluster that does not answer: kafka_timeout after startTimeoutMs, the admin closed', async () => {
    const { clients, calls } = fakeClients({ silent: true });
    const started = Date.now();
    await assert.rejects(
      readTopicRange(clients, {
        topic: 't',
        fromTimestamp: 0,
        startTimeoutMs: 50,
        onRecord: () => undefined,
      }),
      (e) => e instanceof CdrError && e.code === 'kafka_timeout' && /within 50 ms/.test(e.message),
    );
    assert.ok(Date.now() - started < 1_000);
    assert.equal(calls.adminClosed, 1);
  });

  it('a consume() still under way when the read ends: its stream is closed once handed over, then the consumer', async () => {
    const stream = fakeStream([]);
    let handOver: () => void = () => undefined;
    const { clients, calls } = fakeClients({
      offsets: { earliest: [0n], latest: [5n], atTime: [0n] },
    });
    const consumer = await clients.consumer('g');
    clients.consumer = async () => ({
      ...consumer,
      // as the library: the stream is made when the join ends, and sets itself up on the next
      // tick, failing on a consumer closed by then with an error emitted before consume()'s
      // promise calls back (an uncaught exception, had the consumer been closed first)
      consume: () =>
        new Promise<ReadStream>((resolve) => {
          handOver = () => {
            process.nextTick(() => {
              if (calls.consumerClosed > 0) stream.emitError(new Error('Client is closed.'));
            });
            resolve(stream);
          };
        }),
    });
    const stop = new AbortController();
    const read = readTopicRange(clients, {
      topic: 't',
      fromTimestamp: 0,
      signal: stop.signal,
      onRecord: () => undefined,
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    stop.abort(new Error('stopped'));
    await assert.rejects(read, /stopped/);
    assert.equal(calls.consumerClosed, 0, 'not closed under a consume() still under way');
    handOver();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(stream.closed(), true);
    assert.equal(calls.consumerClosed, 1);
  });
});
