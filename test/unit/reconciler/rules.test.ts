import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addCounts,
  addOrg,
  type BackfillCounts,
  backfillFailed,
  causesOf,
  compareOrg,
  compareWindow,
  emptyWindowSummary,
  failOrg,
  failWindow,
  type OrgResult,
  openOrgResult,
  orgFailure,
  runOutcome,
  settleBackfill,
  stopsTheRun,
  summariseRun,
  wholeWindowResult,
} from '../../../src/reconciler/rules.ts';
import { counts } from '../../helpers/fixtures.ts';

const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);
const WINDOW = { start: T0, end: T0 + 3_600_000 };
const EMPTY = emptyWindowSummary(WINDOW);

const result = (webexCount: number, topicCount: number, orgId = 'o1'): OrgResult =>
  openOrgResult('run-1', EMPTY, compareOrg({ orgId, webexCount }, topicCount));

describe('reconcile rules: comparing a window', () => {
  it('lists every org either side knows, sorted, with Webex counts summed', () => {
    assert.deepEqual(
      compareWindow(
        [
          { orgId: 'b', count: 2 },
          { orgId: 'a', count: 1 },
          { orgId: 'b', count: 3 },
        ],
        ['c', 'a'],
      ),
      [
        { orgId: 'a', webexCount: 1 },
        { orgId: 'b', webexCount: 5 },
        { orgId: 'c', webexCount: 0 },
      ],
    );
    assert.deepEqual(compareWindow([], []), []);
  });

  const cases = [
    // webex, topic, balanced, needsBackfill, surplus
    [3, 3, true, false, 0],
    [0, 0, true, false, 0],
    [5, 2, false, true, 0],
    [2, 5, false, false, 3],
    [0, 4, false, false, 4],
  ] as const;
  for (const [webexCount, topicCount, balanced, needsBackfill, surplus] of cases) {
    it(`Webex ${webexCount} against topic ${topicCount}`, () => {
      assert.deepEqual(compareOrg({ orgId: 'o', webexCount }, topicCount), {
        orgId: 'o',
        webexCount,
        topicCount,
        balanced,
        needsBackfill,
        surplus,
      });
    });
  }
});

describe('reconcile rules: settling an org', () => {
  it('opens a result with the counts and the surplus, nothing done yet', () => {
    assert.deepEqual(result(2, 5), {
      runId: 'run-1',
      windowStart: EMPTY.start,
      windowEnd: EMPTY.end,
      orgId: 'o1',
      webexCount: 2,
      topicCount: 5,
      ...counts({ surplus: 3 }),
      errors: [],
      failed: false,
      errorCode: null,
    });
  });

  const found = (
    records: number,
    onTopic: number,
    dead: number,
    deadSent: number,
    accepted: number,
    deadLettered: number,
    versions = 0,
  ): BackfillCounts => ({ records, onTopic, versions, dead, deadSent, accepted, deadLettered });
  // name, Webex, topic, found, want [backfilled, deadLettered, unpublishable, stillMissing]
  const backfills: [string, number, number, BackfillCounts, number[]][] = [
    ['all missing fetched and published', 5, 2, found(5, 2, 0, 0, 3, 0), [3, 0, 0, 0]],
    ['Webex counts more than it returns', 5, 1, found(3, 1, 0, 0, 2, 0), [2, 0, 0, 2]],
    ['unnormalisable: unpublishable, missing', 4, 1, found(2, 1, 2, 2, 1, 2), [1, 2, 2, 2]],
    ['dead-lettered before: not sent again', 3, 1, found(1, 1, 2, 0, 0, 0), [0, 0, 2, 2]],
    ['Avro encoding failed: dead-lettered', 3, 1, found(2, 0, 0, 0, 1, 1), [1, 1, 1, 1]],
    ['on the topic in a neighbouring window', 4, 0, found(4, 3, 0, 0, 1, 0), [1, 0, 0, 0]],
    // 2 on the topic with other content, published as versions: not backfilled, not missing
    ['versions are not backfills', 5, 3, found(5, 3, 0, 0, 4, 0, 2), [2, 0, 0, 0]],
    ['versions do not hide what is missing', 6, 3, found(4, 3, 0, 0, 3, 0, 2), [1, 0, 0, 2]],
  ];
  for (const [name, webex, topic, counts, want] of backfills) {
    it(name, () => {
      const settled = settleBackfill(result(webex, topic), counts);
      assert.deepEqual(
        [settled.backfilled, settled.deadLettered, settled.unpublishable, settled.stillMissing],
        want,
      );
      assert.equal(settled.failed, false);
    });
  }

  it('a failed org keeps its first error code; a failed backfill leaves the difference missing', () => {
    const once = failOrg(result(5, 2), 'kafka_failed', 'dead-letter topic read: down');
    const twice = backfillFailed(once, 'webex_http', 'HTTP 500');
    assert.equal(twice.errorCode, 'kafka_failed');
    assert.deepEqual(twice.errors, ['dead-letter topic read: down', 'HTTP 500']);
    assert.equal(twice.failed, true);
    assert.equal(twice.stillMissing, 3);
    assert.deepEqual(orgFailure(twice), {
      orgId: 'o1',
      code: 'kafka_failed',
      error: 'dead-letter topic read: down; HTTP 500',
    });
    assert.equal(orgFailure(result(5, 2)), null);
    assert.equal(once.stillMissing, 0, 'the inputs are not changed');
  });

  it('only refused credentials and an unusable configuration stop the run', () => {
    assert.equal(stopsTheRun('webex_auth_failed'), true);
    assert.equal(stopsTheRun('config_invalid'), true);
    for (const code of ['webex_http', 'kafka_failed', 'window_aged_out'] as const) {
      assert.equal(stopsTheRun(code), false, code);
    }
  });
});

describe('reconcile rules: folding into summaries', () => {
  it('adds orgs to their window, prefixing errors with the org', () => {
    const a = settleBackfill(result(5, 2, 'a'), {
      records: 4,
      onTopic: 2,
      versions: 0,
      dead: 1,
      deadSent: 1,
      accepted: 2,
      deadLettered: 1,
    });
    const b = backfillFailed(result(3, 0, 'b'), 'webex_http', 'HTTP 500');
    const c = result(1, 4, 'c');
    let s = EMPTY;
    for (const r of [a, b, c]) s = addOrg(addCounts(s, r), r);
    assert.deepEqual(s, {
      ...EMPTY,
      webexTotal: 9,
      topicTotal: 6,
      backfilled: 2,
      versions: 0,
      deadLettered: 1,
      unpublishable: 1,
      stillMissing: 1 + 3,
      surplus: 3,
      errors: ['b: HTTP 500'],
      failures: [{ orgId: 'b', code: 'webex_http', error: 'HTTP 500' }],
    });
    assert.deepEqual(EMPTY.errors, [], 'the empty summary is not changed');
  });

  it('a window that could not be compared is one failure of org *', () => {
    const s = failWindow({ ...EMPTY, topicTotal: 7 }, 'webex_http', 'cdrcountbyorg: HTTP 500');
    assert.deepEqual(s.failures, [
      { orgId: '*', code: 'webex_http', error: 'cdrcountbyorg: HTTP 500' },
    ]);
    assert.deepEqual(wholeWindowResult('run-1', s), {
      runId: 'run-1',
      windowStart: EMPTY.start,
      windowEnd: EMPTY.end,
      orgId: '*',
      webexCount: 0,
      topicCount: 7,
      ...counts(),
      errors: ['cdrcountbyorg: HTTP 500'],
      failed: true,
      errorCode: 'webex_http',
    });
  });

  it('names each cause of a window once, with how many failed with it', () => {
    assert.deepEqual(
      causesOf([
        { orgId: 'a', code: 'webex_http', error: 'first' },
        { orgId: 'b', code: 'kafka_failed', error: 'k' },
        { orgId: 'c', code: 'webex_http', error: 'second' },
      ]),
      [
        { code: 'webex_http', failures: 2, error: 'first' },
        { code: 'kafka_failed', failures: 1, error: 'k' },
      ],
    );
  });

  it('totals the windows, counting failed windows by their first code and failed orgs by theirs', () => {
    const ok = { ...EMPTY, webexTotal: 3, topicTotal: 3 };
    const missing = { ...EMPTY, webexTotal: 4, topicTotal: 1, backfilled: 2, stillMissing: 1 };
    const failed = {
      ...failWindow(EMPTY, 'kafka_failed', 'audit: down'),
      failures: [
        { orgId: 'x', code: 'webex_http' as const, error: 'HTTP 500' },
        { orgId: '*', code: 'kafka_failed' as const, error: 'audit: down' },
      ],
    };
    const run = summariseRun('run-1', [ok, missing, failed], 4, false);
    assert.deepEqual(run.totals, {
      windows: 4,
      webex: 7,
      topicBefore: 4,
      ...counts({ backfilled: 2, stillMissing: 1 }),
      errors: 1,
      failedWindows: 1,
      failedOrgs: 1,
    });
    assert.deepEqual(run.failedByCode, { windows: { webex_http: 1 }, orgs: { webex_http: 1 } });
    assert.equal(runOutcome(run), 'failed');
    assert.equal(runOutcome(summariseRun('r', [ok, missing], 2, false)), 'missing');
    assert.equal(runOutcome(summariseRun('r', [ok], 1, false)), 'complete');
    assert.equal(runOutcome(summariseRun('r', [ok], 1, true)), 'failed', 'stopped early');
    const stopped = summariseRun('r', [ok], 3, false, { code: 'webex_auth_failed', error: 'no' });
    assert.equal(stopped.aborted, true);
    assert.equal(runOutcome(stopped), 'failed');
  });
});
