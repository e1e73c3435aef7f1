import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compatibilityPartitioner } from '@platformatic/kafka';
import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import {
  partitionFinder,
  rememberingPartitioner,
} from '../../../../src/kafka/platformatic/producer.ts';

describe('rememberingPartitioner', () => {
  const context = { metadata: undefined };
  it("gives the library's compatibilityPartitioner answer, asked once or many times", () => {
    const remembering = rememberingPartitioner(compatibilityPartitioner);
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (key) => {
        const bytes = Buffer.from(key);
        const message = { topic: 't', key };
        const expected = compatibilityPartitioner(message, bytes);
        // the producer has no key serializer: the library passes the key as given
        const given = key as unknown as Buffer;
        assert.equal(remembering(message, given, context), expected);
        assert.equal(remembering(message, given, context), expected, 'remembered');
      }),
      { seed: 4716, numRuns: 3000 },
    );
  });

  it('hashes each key once, and leaves messages without a string key to the library', () => {
    let calls = 0;
    const counting: typeof compatibilityPartitioner = (m, k) => {
      calls += 1;
      return compatibilityPartitioner(m, k);
    };
    const p = rememberingPartitioner(counting);
    for (let i = 0; i < 1000; i++) {
      const key = `org-${i % 10}`;
      p({ topic: i % 2 === 0 ? 'cdr' : 'cdr.dlq', key }, Buffer.from(key), context);
    }
    assert.equal(calls, 10);
    p({ topic: 't' }, undefined, context);
    p({ topic: 't' }, undefined, context);
    assert.equal(calls, 12);
  });
});

describe('partitionFinder', () => {
  it("names the partition the library writes a key to, the Java client's murmur2 (as kafkajs')", () => {
    const javaPartition = Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.integer({ min: 1, max: 64 }), (key, count) => {
        const find = partitionFinder(rememberingPartitioner(compatibilityPartitioner), () => count);
        // the library: its partitioner's answer modulo the topic's partition count
        const library = compatibilityPartitioner({ topic: 't', key }, Buffer.from(key)) % count;
        const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({
          partitionId,
          leader: 1,
          partitionErrorCode: 0,
          replicas: [1],
          isr: [1],
        }));
        const kafkajs = javaPartition({
          topic: 't',
          partitionMetadata,
          message: { key, value: null },
        });
        assert.equal(find('t', key), library);
        assert.equal(find('t', key), kafkajs);
      }),
      { seed: 4717, numRuns: 2000 },
    );
  });

  it("knows nothing before the library has the topic's metadata, and asks the producer's own partitioner (one hash a key for both)", () => {
    let calls = 0;
    const counting: typeof compatibilityPartitioner = (m, k) => {
      calls += 1;
      return compatibilityPartitioner(m, k);
    };
    const partitioner = rememberingPartitioner(counting);
    const counts = new Map<string, number>([['cdr', 6]]);
    const find = partitionFinder(partitioner, (topic) => counts.get(topic));
    assert.equal(find('cdr.dlq', 'org-1'), undefined);
    assert.equal(calls, 0, 'not hashed for a topic of unknown size');
    const first = find('cdr', 'org-1');
    assert.equal(first, compatibilityPartitioner({ topic: 'cdr' }, Buffer.from('org-1')) % 6);
    // the producer, partitioning the same key afterwards, finds its hash remembered
    partitioner({ topic: 'cdr', key: 'org-1' }, undefined, { metadata: undefined });
    assert.equal(calls, 1);
    counts.set('cdr', 3); // partitions added or the topic recreated: the library's count is taken
    assert.equal(
      find('cdr', 'org-1'),
      compatibilityPartitioner({ topic: 'cdr' }, Buffer.from('org-1')) % 3,
    );
  });
});
