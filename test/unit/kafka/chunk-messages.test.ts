import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CHUNK_BYTES,
  chunkMessages,
  type OutMessage,
  type TopicMessages,
} from '../../../src/kafka/producer.ts';

// One shared buffer: every message gets its own view (its own identity) without copying.
const BACKING = Buffer.alloc(2 * CHUNK_BYTES, 0x61);

const message = (size: number, key: string | null = 'org-1'): OutMessage => ({
  key,
  value: BACKING.subarray(0, size),
  headers: { 'cdr-report-id': 'r' },
});

/** The size estimate chunkMessages budgets with: value, key and a fixed overhead. */
const estimate = (m: OutMessage) => m.value.length + (m.key?.length ?? 0) + 64;

const checkChunks = (input: TopicMessages[], chunks: TopicMessages[][]) => {
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
      assert.ok(bytes <= CHUNK_BYTES, `chunk of ${messages.length} messages is ${bytes} bytes`);
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
