import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MultipleErrors, ResponseError } from '@platformatic/kafka';
import { claim, refusal, stickyAssigner } from '../../../../src/kafka/platformatic/lease.ts';
import { createLogger } from '../../../../src/log.ts';

const metadata = (partitionsCount: number) =>
  ({ topics: new Map([['lease', { partitionsCount }]]) }) as never;

const assign = (members: [string, Buffer | undefined][], partitions = 1) => {
  const out = stickyAssigner(createLogger('silent'))(
    'a',
    new Map(
      members.map(([memberId, m]) => [
        memberId,
        { memberId, version: 1, ...(m === undefined ? {} : { metadata: m }) },
      ]),
    ),
    new Set(['lease']),
    metadata(partitions),
  );
  return Object.fromEntries(
    out.map((a) => [
      a.memberId,
      Object.fromEntries([...a.assignments].map(([t, g]) => [t, g.partitions])),
    ]),
  );
};

describe('platformatic lease assigner', () => {
  it('gives the lease topic to the member that claims it, nothing to the others', () => {
    assert.deepEqual(
      assign([
        ['a', claim(false)],
        ['b', claim(true)],
      ]),
      { a: {}, b: { lease: [0] } },
    );
  });

  it('without a claim (or with unreadable metadata) to the first member by id', () => {
    assert.deepEqual(
      assign([
        ['c', claim(false)],
        ['b', Buffer.from('not json')],
        ['d', undefined],
      ]),
      { b: { lease: [0] }, c: {}, d: {} },
    );
  });

  it('hands the holder every partition the topic has', () => {
    assert.deepEqual(
      assign(
        [
          ['a', claim(true)],
          ['b', claim(false)],
        ],
        2,
      ),
      {
        a: { lease: [0, 1] },
        b: {},
      },
    );
  });
});

describe('platformatic lease refusal', () => {
  it('finds an authorization error by its id, also wrapped; other errors are not refusals', () => {
    const denied = new ResponseError(10, 4, { '/': [30, 'denied'] }, {});
    assert.equal(
      refusal(new MultipleErrors('joinGroup failed', [denied])),
      'GROUP_AUTHORIZATION_FAILED',
    );
    const topicDenied = new ResponseError(3, 12, { '/topics/0': [29, 'denied'] }, {});
    assert.equal(refusal(new Error('outer', { cause: topicDenied })), 'TOPIC_AUTHORIZATION_FAILED');
    assert.equal(refusal(new ResponseError(10, 4, { '/': [15, null] }, {})), null);
    assert.equal(refusal(new Error('GROUP_AUTHORIZATION_FAILED')), null);
  });
});
