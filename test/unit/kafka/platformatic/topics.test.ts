import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MultipleErrors, ResponseError } from '@platformatic/kafka';
import {
  ensureTopics,
  missingTopics,
  type TopicsAdmin,
} from '../../../../src/kafka/platformatic/topics.ts';

const spec = (topic: string) => ({ topic, partitions: 3, replicationFactor: -1 });

/** An admin on a cluster holding `existing`; `leaderless` metadata answers before partitions have leaders. */
const fakeAdmin = (
  existing: string[],
  opts: { createError?: unknown; leaderless?: number } = {},
) => {
  const calls = { created: [] as unknown[], closed: 0, metadata: 0 };
  let leaderless = opts.leaderless ?? 0;
  const admin: TopicsAdmin = {
    listTopics: async () => [...existing],
    async createTopics(o) {
      calls.created.push(o);
      if (opts.createError !== undefined) throw opts.createError;
    },
    async metadata({ topics }) {
      calls.metadata += 1;
      const leader = leaderless-- > 0 ? -1 : 1;
      return { topics: new Map(topics.map((t) => [t, { partitions: [{ leader }, { leader }] }])) };
    },
    async close() {
      calls.closed += 1;
    },
  };
  return { open: async () => admin, calls };
};

describe('platformatic topics', () => {
  it('lists the missing topics and closes the admin', async () => {
    const { open, calls } = fakeAdmin(['a']);
    assert.deepEqual(await missingTopics(open, [spec('a'), spec('b')]), ['b']);
    assert.equal(calls.closed, 1);
  });

  it('creates only the missing topics, with partitions and replicas, and waits for leaders', async () => {
    const { open, calls } = fakeAdmin(['a'], { leaderless: 2 });
    assert.deepEqual(await ensureTopics(open, [spec('a'), spec('b')]), ['b']);
    assert.deepEqual(calls.created, [{ topics: [{ topic: 'b', partitions: 3, replicas: -1 }] }]);
    assert.equal(calls.metadata, 3, 'asked again until every partition had a leader');
    assert.equal(calls.closed, 1);
  });

  it('creates nothing when every topic is there', async () => {
    const { open, calls } = fakeAdmin(['a']);
    assert.deepEqual(await ensureTopics(open, [spec('a')]), []);
    assert.deepEqual(calls.created, []);
  });

  it('a topic another replica created meanwhile counts as there; other refusals fail, the admin closed', async () => {
    const exists = new MultipleErrors('Creating topics failed.', [
      new ResponseError(19, 7, { '/topics/0': [36, 'exists'] }, {}),
    ]);
    const raced = fakeAdmin([], { createError: exists });
    assert.deepEqual(await ensureTopics(raced.open, [spec('b')]), ['b']);
    const refused = new MultipleErrors('Creating topics failed.', [
      new ResponseError(19, 7, { '/topics/0': [29, 'denied'] }, {}),
    ]);
    const denied = fakeAdmin([], { createError: refused });
    await assert.rejects(ensureTopics(denied.open, [spec('b')]), (e) => e === refused);
    assert.equal(denied.calls.closed, 1);
  });
});
