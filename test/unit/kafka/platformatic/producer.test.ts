import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compatibilityPartitioner } from '@platformatic/kafka';
import fc from 'fast-check';
import { rememberingPartitioner } from '../../../../src/kafka/platformatic/producer.ts';

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
