import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import fc from 'fast-check';
import { CdrError } from '../../../src/errors.ts';
import type { OutMessage, TopicMessages } from '../../../src/kafka/port.ts';
import {
  CHUNK_BYTES,
  chunkMessages,
  connectOnce,
  createGuardedProducer,
  type GuardedClient,
  type PartitionOf,
  REQUEST_BYTES,
} from '../../../src/kafka/send-guard.ts';
import { createLogger } from '../../../src/log.ts';

// One shared buffer: every message gets its own view (its own identity) without copying.
const BACKING = Buffer.alloc(2 * CHUNK_BYTES, 0x61);

const message = (size: number, key: string | null = 'org-1'): OutMessage => ({
  key,
  value: BACKING.subarray(0, size),
  headers: { 'cdr-report-id': 'r' },
});

/** The size estimate chunkMessages budgets with: value, key and a fixed overhead. */
const estimate = (m: OutMessage) => m.value.length + (m.key?.length ?? 0) + 64;

const checkChunks = (input: TopicMessages[], chunks: TopicMessages[][], limit = CHUNK_BYTES) => {
  // every message exactly once, in order, per topic
  const topics = [...new Set(input.map((b) => b.topic))];
  for (const topic of topics) {
    const sent = input.filter((b) => b.topic === topic).flatMap((b) => b.messages);
    const out = chunks
      .flat()
      .filter((b) => b.topic === topic)
      .flatMap((b) => b.messages);
    assert.equal(out.length, sent.length, topic);
    out.forEach((m, i) => {
      assert.equal(m, sent[i], `${topic}[${i}]`);
    });
  }
  for (const chunk of chunks) {
    const messages = chunk.flatMap((b) => b.messages);
    assert.ok(messages.length > 0, 'no empty chunk');
    for (const slot of chunk) assert.ok(slot.messages.length > 0, 'no empty topic slot');
    assert.equal(new Set(chunk.map((b) => b.topic)).size, chunk.length, 'one slot per topic');
    const bytes = messages.reduce((sum, m) => sum + estimate(m), 0);
    if (messages.length > 1) {
      assert.ok(bytes <= limit, `chunk of ${messages.length} messages is ${bytes} bytes`);
    }
  }
};

describe('chunkMessages', () => {
  it('returns no chunk for no messages', () => {
    assert.deepEqual(chunkMessages([]), []);
    assert.deepEqual(chunkMessages([{ topic: 't', messages: [] }]), []);
  });

  it('keeps a small batch in one chunk, main topic then dead-letter topic', () => {
    const input = [
      { topic: 'cdr', messages: [message(100), message(200)] },
      { topic: 'cdr.dlq', messages: [message(50, null)] },
    ];
    const chunks = chunkMessages(input);
    assert.equal(chunks.length, 1);
    assert.deepEqual(
      chunks[0]?.map((b) => b.topic),
      ['cdr', 'cdr.dlq'],
    );
    checkChunks(input, chunks);
  });

  it('gives a message larger than CHUNK_BYTES a chunk of its own', () => {
    const big = message(CHUNK_BYTES + 10);
    const input = [{ topic: 't', messages: [message(10), big, message(10)] }];
    const chunks = chunkMessages(input);
    assert.equal(chunks.length, 3);
    assert.deepEqual(chunks[1], [{ topic: 't', messages: [big] }]);
    checkChunks(input, chunks);
  });

  it('splits many messages into chunks under the budget', () => {
    const input = [{ topic: 't', messages: Array.from({ length: 1000 }, () => message(2500)) }];
    const chunks = chunkMessages(input);
    assert.ok(chunks.length >= Math.ceil((1000 * (2500 + 5 + 64)) / CHUNK_BYTES));
    checkChunks(input, chunks);
  });

  it('holds for any mix of topics and sizes', () => {
    const sizes = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 4096 }) },
      { weight: 2, arbitrary: fc.integer({ min: 4096, max: CHUNK_BYTES / 2 }) },
      { weight: 1, arbitrary: fc.integer({ min: CHUNK_BYTES - 100, max: CHUNK_BYTES + 100 }) },
    );
    const batch = fc.record({
      topic: fc.constantFrom('cdr', 'cdr.dlq'),
      messages: fc.array(
        fc
          .tuple(sizes, fc.option(fc.string({ maxLength: 40 })))
          .map(([size, key]) => message(size, key)),
        { maxLength: 60 },
      ),
    });
    fc.assert(
      fc.property(fc.uniqueArray(batch, { selector: (b) => b.topic, maxLength: 2 }), (input) => {
        checkChunks(input, chunkMessages(input));
      }),
      { seed: 4711, numRuns: 300 },
    );
  });
});

/** Partitions as a client would pick them: a key's digits modulo `count`; none for `?` keys. */
const byDigits =
  (count: number): PartitionOf =>
  (_topic, key) =>
    key.startsWith('?') ? undefined : Number(/\d+/.exec(key)?.[0] ?? 0) % count;

/**
 * Every send within the bounds: each partition's share, with the messages of unknown
 * partition added to it, within CHUNK_BYTES, unless it is one message alone (as a message
 * over CHUNK_BYTES gets a send of its own without the partitions); the send within
 * REQUEST_BYTES.
 */
const checkShares = (chunks: TopicMessages[][], partitionOf: PartitionOf) => {
  for (const chunk of chunks) {
    const messages = chunk.flatMap((t) => t.messages.map((m) => ({ topic: t.topic, m })));
    if (messages.length === 1) continue;
    const shares = new Map<string, { bytes: number; count: number }>();
    let anywhere = 0;
    let total = 0;
    for (const { topic, m } of messages) {
      const size = estimate(m) + 8 + 'cdr-report-id'.length + 1;
      total += size;
      const p = m.key === null ? undefined : partitionOf(topic, m.key);
      if (p === undefined) anywhere += size;
      else {
        const share = shares.get(`${topic}/${p}`) ?? { bytes: 0, count: 0 };
        shares.set(`${topic}/${p}`, { bytes: share.bytes + size, count: share.count + 1 });
      }
    }
    assert.ok(total <= REQUEST_BYTES, `a send of ${total} bytes`);
    for (const [partition, { bytes, count }] of shares) {
      if (count === 1 && anywhere === 0) continue;
      assert.ok(
        bytes + anywhere <= CHUNK_BYTES,
        `${partition}: ${bytes} bytes in ${count} messages + ${anywhere} of unknown partition`,
      );
    }
    if (shares.size === 0) assert.ok(anywhere <= CHUNK_BYTES, `${anywhere} of unknown partition`);
  }
};

describe('chunkMessages with the partitions known', () => {
  it('sends a delivery spread over partitions in fewer, larger sends, each partition within CHUNK_BYTES', () => {
    // 2,000 records of 1,300 bytes over 6 partitions: about 2.7 MB, 450 KB a partition
    const input = [
      {
        topic: 'cdr',
        messages: Array.from({ length: 2000 }, (_, i) => message(1300, `org-${i % 250}`)),
      },
    ];
    const partitionOf = byDigits(6);
    const blind = chunkMessages(input);
    const chunks = chunkMessages(input, partitionOf);
    assert.equal(chunks.length, 1, 'one send');
    assert.ok(blind.length >= 3, `${blind.length} sends without the partitions`);
    checkChunks(input, chunks, REQUEST_BYTES);
    checkShares(chunks, partitionOf);
  });

  it('cuts a send when one partition would pass CHUNK_BYTES, or the send REQUEST_BYTES', () => {
    // one partition only: as without the partitions
    const one = [{ topic: 't', messages: Array.from({ length: 900 }, () => message(2500)) }];
    const single = chunkMessages(one, () => 0);
    assert.deepEqual(
      single.map((c) => c[0]?.messages.length),
      chunkMessages(one).map((c) => c[0]?.messages.length),
    );
    // many partitions, many bytes: REQUEST_BYTES bounds the send
    const many = [
      {
        topic: 't',
        messages: Array.from({ length: 4000 }, (_, i) => message(4000, `org-${i}`)),
      },
    ];
    const chunks = chunkMessages(many, byDigits(64));
    assert.ok(chunks.length >= Math.ceil((4000 * 4000) / REQUEST_BYTES));
    checkChunks(many, chunks, REQUEST_BYTES);
    checkShares(chunks, byDigits(64));
  });

  it('counts a message of unknown partition (no key, no metadata) against every partition', () => {
    const input = [
      {
        topic: 'cdr',
        messages: [
          ...Array.from({ length: 200 }, (_, i) => message(2500, `org-${i % 4}`)),
          message(CHUNK_BYTES / 2, '?org'),
          message(CHUNK_BYTES / 2, null),
        ],
      },
    ];
    const chunks = chunkMessages(input, byDigits(4));
    checkChunks(input, chunks, REQUEST_BYTES);
    checkShares(chunks, byDigits(4));
    // 130 KB a partition, then half of CHUNK_BYTES that may join any of them: still one send;
    // another half would make some partition's batch pass CHUNK_BYTES, so it starts the next
    assert.equal(chunks.length, 2);
    assert.deepEqual(
      chunks[1]?.flatMap((c) => c.messages.map((m) => m.key)),
      [null],
    );
  });

  it('holds for any mix of topics, keys, partitions and sizes', () => {
    const sizes = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 4096 }) },
      { weight: 2, arbitrary: fc.integer({ min: 4096, max: CHUNK_BYTES / 2 }) },
      { weight: 1, arbitrary: fc.integer({ min: CHUNK_BYTES - 100, max: CHUNK_BYTES + 100 }) },
    );
    const key = fc.option(
      fc.oneof(
        fc.integer({ min: 0, max: 40 }).map((n) => `org-${n}`),
        fc.constant('?unknown'),
      ),
    );
    const batch = fc.record({
      topic: fc.constantFrom('cdr', 'cdr.dlq'),
      messages: fc.array(
        fc.tuple(sizes, key).map(([size, k]) => message(size, k)),
        { maxLength: 80 },
      ),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(batch, { selector: (b) => b.topic, maxLength: 2 }),
        fc.integer({ min: 1, max: 12 }),
        (input, count) => {
          const chunks = chunkMessages(input, byDigits(count));
          checkChunks(input, chunks, REQUEST_BYTES);
          checkShares(chunks, byDigits(count));
        },
      ),
      { seed: 4712, numRuns: 300 },
    );
  });
});

/** A promise settled from outside: a send the fake client holds. */
const deferred = () => {
  let resolve: () => void = () => undefined;
  let reject: (e: unknown) => void = () => undefined;
  const promise = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
};

type Send = ReturnType<typeof deferred> & { chunk: TopicMessages[] };

/** A client whose sends settle when the test says so; `failed` as given. */
const fakeClient = (opts: { connected?: boolean; connect?: () => Promise<void> } = {}) => {
  const sends: Send[] = [];
  let connected = opts.connected ?? true;
  let connects = 0;
  const client: GuardedClient = {
    isConnected: () => connected,
    connect: async () => {
      connects += 1;
      await (opts.connect ?? (async () => undefined))();
      connected = true;
    },
    disconnect: async () => {
      connected = false;
    },
    sendChunk(chunk) {
      const d = { ...deferred(), chunk };
      sends.push(d);
      return { sending: d.promise, failed: () => null };
    },
  };
  return { client, sends, connects: () => connects };
};

const warnings: string[] = [];
const logger = { ...createLogger('silent'), warn: (msg: string) => void warnings.push(msg) };

const batchOf = (bytes: number): TopicMessages[] => [{ topic: 'cdr', messages: [message(bytes)] }];

/** Resolves once `sends` holds `n` sends (each send starts after a turn of the event loop). */
const sendsReach = async (sends: Send[], n: number) => {
  while (sends.length < n) await setImmediate();
};

const isTimeout = (pattern: RegExp) => (e: unknown) =>
  e instanceof CdrError && e.code === 'kafka_timeout' && pattern.test(e.message);

describe('createGuardedProducer', () => {
  it('sends chunk after chunk and resolves once every one is acknowledged', async () => {
    const { client, sends } = fakeClient();
    const producer = createGuardedProducer(client, { logger });
    const sent = producer.send(
      [{ topic: 'cdr', messages: [message(CHUNK_BYTES - 100), message(CHUNK_BYTES - 100)] }],
      1_000,
    );
    await sendsReach(sends, 1);
    assert.equal(sends.length, 1, 'the second chunk waits for the first');
    sends[0]?.resolve();
    await sendsReach(sends, 2);
    sends[1]?.resolve();
    await sent;
    assert.equal(producer.abandonedBytes(), 0);
  });

  it("cuts sends per partition with the client's partitionOf, in order, one after another", async () => {
    const { client, sends } = fakeClient();
    const asked: string[] = [];
    client.partitionOf = (topic, key) => {
      asked.push(`${topic}/${key}`);
      return Number(key.slice(4)) % 2;
    };
    const producer = createGuardedProducer(client, { logger });
    // two partitions, each with two messages of almost CHUNK_BYTES / 2: one send for the first
    // message of each, then the rest (a partition's share would pass CHUNK_BYTES)
    const half = CHUNK_BYTES / 2 - 200;
    const messages = ['org-0', 'org-1', 'org-2', 'org-3', 'org-4'].map((k) => message(half, k));
    const sent = producer.send([{ topic: 'cdr', messages }], 1_000);
    await sendsReach(sends, 1);
    assert.deepEqual(
      sends[0]?.chunk[0]?.messages.map((m) => m.key),
      ['org-0', 'org-1', 'org-2', 'org-3'],
    );
    sends[0]?.resolve();
    await sendsReach(sends, 2);
    assert.deepEqual(
      sends[1]?.chunk[0]?.messages.map((m) => m.key),
      ['org-4'],
    );
    sends[1]?.resolve();
    await sent;
    assert.deepEqual(asked, ['cdr/org-0', 'cdr/org-1', 'cdr/org-2', 'cdr/org-3', 'cdr/org-4']);
  });

  it('rejects with kafka_timeout when a chunk is not acknowledged in time, and sends no more', async () => {
    const { client, sends } = fakeClient();
    const producer = createGuardedProducer(client, { logger });
    await assert.rejects(
      producer.send(
        [{ topic: 'cdr', messages: [message(CHUNK_BYTES - 100), message(CHUNK_BYTES - 100)] }],
        20,
      ),
      isTimeout(/^Kafka did not acknowledge within 20 ms$/),
    );
    assert.equal(sends.length, 1);
    assert.equal(producer.abandonedBytes(), CHUNK_BYTES - 100, 'the given-up chunk is counted');
    sends[0]?.resolve();
    await sends[0]?.promise;
    await setImmediate();
    assert.equal(producer.abandonedBytes(), 0, 'and no longer once it settled');
  });

  it('refuses sends at once while more than the cap of given-up bytes is pending', async () => {
    const { client, sends } = fakeClient();
    const producer = createGuardedProducer(client, { logger, maxAbandonedBytes: 1_000 });
    // under the cap: a given-up send of 1 000 bytes does not refuse the next one
    await assert.rejects(producer.send(batchOf(1_000), 20), isTimeout(/did not acknowledge/));
    const next = producer.send(batchOf(10), 1_000);
    await sendsReach(sends, 2);
    sends[1]?.resolve();
    await next;
    // over the cap: refused before anything is handed to the client
    await assert.rejects(producer.send(batchOf(1), 20), isTimeout(/did not acknowledge/));
    assert.equal(producer.abandonedBytes(), 1_001);
    await assert.rejects(
      producer.send(batchOf(10), 1_000),
      isTimeout(/^Kafka is not keeping up: 0 MiB of earlier sends are still unacknowledged$/),
    );
    assert.equal(sends.length, 3, 'the refused send reached no client');
    // a late failure releases its bytes too (and is logged)
    sends[0]?.reject(new Error('late'));
    await sends[0]?.promise.catch(() => undefined);
    await setImmediate();
    assert.equal(producer.abandonedBytes(), 1);
    assert.ok(warnings.includes('late Kafka send failed'));
    const again = producer.send(batchOf(10), 1_000);
    await sendsReach(sends, 4);
    sends[3]?.resolve();
    await again;
  });

  it('connects first, under the same deadline', async () => {
    const never = fakeClient({ connected: false, connect: () => new Promise(() => undefined) });
    await assert.rejects(
      createGuardedProducer(never.client, { logger }).send(batchOf(10), 20),
      isTimeout(/^Kafka did not accept a connection within 20 ms$/),
    );
    assert.equal(never.sends.length, 0);
    const slow = fakeClient({ connected: false });
    const sent = createGuardedProducer(slow.client, { logger }).send(batchOf(10), 1_000);
    await sendsReach(slow.sends, 1);
    assert.equal(slow.connects(), 1);
    slow.sends[0]?.resolve();
    await sent;
  });

  it("a client's failure becomes kafka_failed, or what the adapter makes of it", async () => {
    const { client, sends } = fakeClient();
    const producer = createGuardedProducer(client, { logger });
    const cause = new Error('broker said no');
    const sent = producer.send(batchOf(10), 1_000);
    await sendsReach(sends, 1);
    sends[0]?.reject(cause);
    await assert.rejects(
      sent,
      (e: unknown) =>
        e instanceof CdrError &&
        e.code === 'kafka_failed' &&
        e.message === 'Kafka send failed: broker said no' &&
        e.cause === cause,
    );
    const refused = new CdrError('auth_failed', 'refused');
    const translated = createGuardedProducer(
      {
        ...client,
        sendChunk: () => ({ sending: Promise.reject(cause), failed: async () => refused }),
      },
      { logger },
    );
    await assert.rejects(translated.send(batchOf(10), 1_000), (e: unknown) => e === refused);
    assert.equal(translated.abandonedBytes(), 0, 'a failure is not a given-up send');
  });
});

describe('connectOnce', () => {
  it('shares the connect on its way; the next call after it settled starts another', async () => {
    const pending: ReturnType<typeof deferred>[] = [];
    const once = connectOnce(() => {
      const d = deferred();
      pending.push(d);
      return d.promise;
    });
    const a = once.connect();
    assert.equal(once.connect(), a);
    assert.equal(pending.length, 1);
    pending[0]?.reject(new Error('refused'));
    await assert.rejects(a, /refused/);
    const b = once.connect();
    assert.notEqual(b, a);
    once.reset();
    const c = once.connect();
    assert.notEqual(c, b, 'reset forgets the one on its way');
    assert.equal(pending.length, 3);
    for (const d of pending.slice(1)) d.resolve();
    await Promise.all([b, c]);
  });
});
