import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import { rememberingPartitioner } from '../../../../src/kafka/kafkajs/producer.ts';

const metadata = (n: number) =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));

describe('rememberingPartitioner', () => {
  it('gives the partition kafkajs DefaultPartitioner gives, asked once or many times', () => {
    const remembering = rememberingPartitioner();
    const fresh = Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.integer({ min: 1, max: 64 }), (key, n) => {
        const args = { topic: 't', partitionMetadata: metadata(n), message: { key, value: null } };
        const expected = fresh(args);
        assert.equal(remembering(args), expected);
        assert.equal(remembering(args), expected, 'remembered');
      }),
      { seed: 4715, numRuns: 3000 },
    );
  });

  it('follows a change of the partition count, and leaves explicit partitions alone', () => {
    const p = rememberingPartitioner();
    const base = Partitioners.DefaultPartitioner();
    const key = 'org-1';
    for (const n of [3, 6, 3, 12]) {
      const args = { topic: 't', partitionMetadata: metadata(n), message: { key, value: null } };
      assert.equal(p(args), base(args));
    }
    const explicit = {
      topic: 't',
      partitionMetadata: metadata(6),
      message: { key, value: null, partition: 5 },
    };
    assert.equal(p(explicit), 5);
  });
});
