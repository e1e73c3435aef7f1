import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPartitionMemo } from '../../../src/kafka/partition-memo.ts';

describe('createPartitionMemo', () => {
  it('remembers a partition per key and starts empty again past its limit', () => {
    const memo = createPartitionMemo(3);
    assert.equal(memo.get('a'), undefined);
    assert.equal(memo.remember('a', 1), 1);
    memo.remember('b', 2);
    memo.remember('c', 0);
    assert.deepEqual(['a', 'b', 'c'].map(memo.get), [1, 2, 0]);
    memo.remember('d', 4); // the fourth key: the first three are forgotten
    assert.deepEqual(['a', 'b', 'c', 'd'].map(memo.get), [undefined, undefined, undefined, 4]);
  });
});
