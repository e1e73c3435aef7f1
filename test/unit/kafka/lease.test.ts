import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  chooseHolder,
  createFence,
  fenceMarginMs,
  type MembershipHooks,
  runLease,
} from '../../../src/kafka/lease.ts';
import { createLogger } from '../../../src/log.ts';

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

describe('runLease', () => {
  const base = {
    topic: 'lease',
    groupId: 'g',
    sessionTimeoutMs: 1_000,
    createTopic: true,
    replicationFactor: -1,
    logger: createLogger('silent'),
  };
  const waitFor = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await sleep(10);
    assert.ok(cond());
  };

  it('held once partition 0 is assigned, kept by heartbeats, lost when they stop, released on stop()', async () => {
    const events: string[] = [];
    let hooks: MembershipHooks | undefined;
    const lease = runLease(
      {
        ...base,
        onAcquired: () => events.push('acquired'),
        onLost: (reason) => events.push(`lost: ${reason}`),
      },
      {
        missingTopics: async () => [],
        ensureTopics: async () => ['lease'],
        async member(h) {
          hooks = h;
          h.joined(0, true);
          await h.until(new Promise(() => undefined));
          h.unassigned('left the group');
          return undefined;
        },
        refusal: () => null,
      },
    );
    await waitFor(() => lease.held());
    assert.equal(hooks?.held(), true);
    assert.equal(lease.status().state, 'held');
    assert.deepEqual(events, ['acquired']);
    hooks?.beat();
    // no more heartbeats: given up S - S/5 after the last contact (held() fences by the clock
    // at once; the loss is announced by a timer, later on a loaded machine)
    await waitFor(() => !lease.held() && events.length > 1);
    assert.match(events[1] ?? '', /^lost: no heartbeat acknowledged within 800 ms/);
    assert.equal(lease.status().state, 'standby');
    hooks?.joined(0, true);
    assert.equal(lease.held(), true);
    await lease.stop();
    assert.equal(lease.held(), false);
    assert.deepEqual(
      [lease.status().state, lease.status().acquisitions, lease.status().losses],
      ['stopped', 2, 2],
    );
  });

  it('a refusal fails the lease naming what to grant; a missing topic it may not create too; other errors are retried as starting', async () => {
    const refused = runLease(base, {
      missingTopics: async () => [],
      ensureTopics: async () => [],
      member: async () => new Error('denied'),
      refusal: () => 'GROUP_AUTHORIZATION_FAILED',
    });
    await waitFor(() => refused.status().state === 'failed');
    assert.match(
      refused.status().problem ?? '',
      /GROUP_AUTHORIZATION_FAILED.*grant READ on group g/,
    );
    await refused.stop();

    const missing = runLease(
      { ...base, createTopic: false },
      {
        missingTopics: async () => ['lease'],
        ensureTopics: async () => assert.fail('not allowed to create'),
        member: async () => assert.fail('no membership without the topic'),
        refusal: () => null,
      },
    );
    await waitFor(() => missing.status().state === 'failed');
    assert.match(missing.status().problem ?? '', /the lease topic lease is missing/);
    await missing.stop();

    const unreachable = runLease(base, {
      missingTopics: async () => [],
      ensureTopics: async () => {
        throw new Error('connect ECONNREFUSED');
      },
      member: async () => assert.fail('no membership without the topic'),
      refusal: () => null,
    });
    await waitFor(() => unreachable.status().problem !== null);
    assert.deepEqual(unreachable.status(), {
      state: 'starting',
      problem: 'connect ECONNREFUSED',
      acquisitions: 0,
      losses: 0,
      heldSince: null,
    });
    await unreachable.stop();
  });
});
