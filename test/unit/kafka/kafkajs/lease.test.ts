import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AssignerProtocol } from 'kafkajs';
import { stickyAssigner } from '../../../../src/kafka/kafkajs/lease.ts';
import { createLogger } from '../../../../src/log.ts';

describe('lease assigner', () => {
  it('the assigner gives partition 0 to the claimant only, from the JoinGroup metadata', async () => {
    const cluster = { findTopicPartitionMetadata: () => [{ partitionId: 0 }] } as never;
    const make = (holds: boolean) =>
      stickyAssigner(
        () => holds,
        createLogger('silent'),
      )({ cluster, groupId: 'g', logger: {} as never });
    const metadata = (holds: boolean) => make(holds).protocol({ topics: ['lease'] }).metadata;
    const assigned = await make(false).assign({
      members: [
        { memberId: 'a', memberMetadata: metadata(false) },
        { memberId: 'b', memberMetadata: metadata(true) },
      ],
      topics: ['lease'],
    });
    const byMember = Object.fromEntries(
      assigned.map((a) => [
        a.memberId,
        AssignerProtocol.MemberAssignment.decode(a.memberAssignment)?.assignment,
      ]),
    );
    assert.deepEqual(byMember, { a: {}, b: { lease: [0] } });
  });
});
