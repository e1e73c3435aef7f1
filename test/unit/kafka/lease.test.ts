import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseHolder, createFence, fenceMarginMs } from '../../../src/kafka/lease.ts';

describe('lease fence', () => {
  const S = 30_000;
  it('counts from the earliest moment the last acknowledged contact could have been sent', () => {
    let t = 10_000;
    const fence = createFence(S, () => t);
    assert.equal(fence.deadline(), Number.NEGATIVE_INFINITY, 'not held before a join');
    fence.joined(500); // the join started at 9 500
    assert.equal(fence.deadline(), 9_500 + S - fenceMarginMs(S));
    t = 13_000;
    fence.beat(); // this heartbeat went out after the join was acknowledged (10 000)
    assert.equal(fence.deadline(), 10_000 + S - S / 5);
    t = 16_000;
    fence.beat();
    assert.equal(fence.deadline(), 13_000 + 24_000);
  });
});

describe('lease holder', () => {
  it('stays with the member that holds it, whatever the order', () => {
    assert.deepEqual(
      chooseHolder([
        { memberId: 'a', claims: false },
        { memberId: 'c', claims: true },
        { memberId: 'b', claims: false },
      ]),
      { holder: 'c', claimants: 1 },
    );
  });
  it('goes to the first member by id when nobody holds it; nobody without members', () => {
    assert.deepEqual(
      chooseHolder([
        { memberId: 'm-2', claims: false },
        { memberId: 'm-1', claims: false },
      ]),
      { holder: 'm-1', claimants: 0 },
    );
    assert.deepEqual(chooseHolder([]), { holder: undefined, claimants: 0 });
  });
});
