import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PreparedBatch } from '../../../src/cdr/batch.ts';
import { CdrError } from '../../../src/errors.ts';
import type { PublishCounts } from '../../../src/kafka/publish-cdrs.ts';
import { silentLogger } from '../../../src/log.ts';
import type { Window } from '../../../src/reconciler/plan.ts';
import { groupPasses, type OrgResult, reconcile } from '../../../src/reconciler/reconcile.ts';
import type { Ledger } from '../../../src/reconciler/topic-ledger.ts';

const H = 3_600_000;
const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);
const W: Window[] = [
  { start: T0, end: T0 + H },
  { start: T0 + H, end: T0 + 2 * H },
];

type Rec = { id: string; org: string; end: number };
const raw = (r: Rec) => ({
  'Report ID': r.id,
  'Org UUID': r.org,
  'Release time': new Date(r.end).toISOString(),
});

/** A fake Webex that knows `webex`, a topic that holds `topic`, a publisher that appends to it. */
const harness = (webex: Rec[], topic: Rec[], opts: { failOrg?: string } = {}) => {
  const onTopic = [...topic];
  const published: PreparedBatch[] = [];
  const audits: OrgResult[] = [];
  const inWindow = (r: Rec, w: Window) => r.end >= w.start && r.end < w.end;
  const calls = { count: 0, records: [] as string[] };
  const deps = {
    webex: {
      countByOrg: async (w: Window) => {
        calls.count += 1;
        const m = new Map<string, number>();
        for (const r of webex.filter((x) => inWindow(x, w))) m.set(r.org, (m.get(r.org) ?? 0) + 1);
        return [...m].map(([orgId, count]) => ({ orgId, count }));
      },
      recordsByOrg: async (org: string, w: Window) => {
        calls.records.push(`${org}@${w.start}`);
        if (org === opts.failOrg) throw new CdrError('webex_http', 'cdrsbyorg answered 500');
        return webex.filter((x) => x.org === org && inWindow(x, w)).map(raw);
      },
    },
    readTopic: async (_from: number, ledger: Ledger) => {
      for (const r of onTopic) {
        ledger.observe({
          key: r.org,
          headers: { 'cdr-report-id': r.id, 'cdr-call-end': new Date(r.end).toISOString() },
        });
      }
    },
    publisher: {
      publish: async (batch: PreparedBatch): Promise<PublishCounts> => {
        published.push(batch);
        for (const c of batch.records) {
          onTopic.push({ id: c.reportId, org: c.orgId, end: c.callEnd ?? 0 });
        }
        return {
          accepted: batch.records.length,
          deadLettered: batch.dead.length,
          duplicatesInBatch: 0,
        };
      },
    },
    writeAudit: async (results: OrgResult[]) => {
      audits.push(...results);
    },
    feed: 'analytics' as const,
    logger: silentLogger,
    publishTimeoutMs: 1000,
    maxIdsPerPass: 1_000_000,
    clockSkewMs: 0,
  };
  return { deps, onTopic, published, audits, calls };
};

describe('reconcile', () => {
  const webex: Rec[] = [
    { id: 'a1', org: 'A', end: T0 + 1 },
    { id: 'a2', org: 'A', end: T0 + 2 },
    { id: 'a3', org: 'A', end: T0 + H + 3 },
    { id: 'b1', org: 'B', end: T0 + 4 },
    { id: 'c1', org: 'C', end: T0 + H + 5 },
  ];

  test('backfills exactly the missing records, then a second run publishes nothing', async () => {
    const h = harness(webex, [webex[0] as Rec, webex[3] as Rec, webex[3] as Rec]);
    const first = await reconcile(h.deps, W);
    assert.equal(first.totals.backfilled, 3);
    assert.equal(first.totals.stillMissing, 0);
    assert.deepEqual(h.published.flatMap((b) => b.records.map((r) => r.reportId)).sort(), [
      'a2',
      'a3',
      'c1',
    ]);
    for (const b of h.published) {
      for (const r of b.records) assert.equal(r.record.ingest.source, 'reconciler');
    }
    // only orgs that fell short were fetched (B is complete despite a duplicate on the topic)
    assert.deepEqual(h.calls.records.sort(), [`A@${T0}`, `A@${T0 + H}`, `C@${T0 + H}`].sort());
    assert.equal(h.audits.length, 3);
    assert.deepEqual(new Set(h.onTopic.map((r) => r.id)), new Set(webex.map((r) => r.id)));

    h.published.length = 0;
    const second = await reconcile(h.deps, W);
    assert.equal(second.totals.backfilled, 0);
    assert.equal(h.published.length, 0);
  });

  test('more on the topic than Webex counts is reported as surplus, never removed', async () => {
    const extra = { id: 'zz', org: 'A', end: T0 + 10 };
    const h = harness(webex, [...webex, extra]);
    const run = await reconcile(h.deps, W);
    assert.equal(run.totals.surplus, 1);
    assert.equal(run.totals.backfilled, 0);
    assert.equal(h.calls.records.length, 0);
    assert.equal(h.audits.length, 1);
    assert.equal(h.audits[0]?.surplus, 1);
    assert.equal(h.onTopic.length, webex.length + 1);
  });

  test('a failing org is reported as still missing with its error; other orgs are still backfilled', async () => {
    const h = harness(webex, [], { failOrg: 'A' });
    const run = await reconcile(h.deps, W);
    const a = h.audits.filter((r) => r.orgId === 'A');
    assert.equal(a.length, 2);
    assert.ok(a.every((r) => r.errors.length === 1 && r.stillMissing > 0));
    assert.equal(run.totals.stillMissing, 3);
    assert.equal(run.totals.backfilled, 2);
    assert.equal(run.totals.errors, 2);
  });

  test('a record already on the topic under another window is not republished', async () => {
    // on the topic its call end says window 2; Webex counts it in window 1
    const moved = { id: 'a1', org: 'A', end: T0 + H + 100 };
    const h = harness([webex[0] as Rec], [moved]);
    const run = await reconcile(h.deps, W);
    assert.equal(run.totals.backfilled, 0);
    assert.equal(run.totals.stillMissing, 0, 'on the topic, so not missing');
    assert.equal(h.published.flatMap((b) => b.records).length, 0);
  });

  test('groupPasses bounds the Webex-counted records per pass, one window at least', () => {
    const c = (n: number, index: number) => ({
      window: { start: index, end: index + 1 },
      index,
      counts: new Map([['o', n]]),
    });
    const passes = groupPasses([c(5, 0), c(5, 1), c(20, 2), c(1, 3)], 10);
    assert.deepEqual(
      passes.map((p) => p.map((x) => x.index)),
      [[0, 1], [2], [3]],
    );
  });

  test('an aborted run stops between orgs and says so', async () => {
    const ac = new AbortController();
    const h = harness(webex, []);
    ac.abort();
    const run = await reconcile({ ...h.deps, signal: ac.signal }, W);
    assert.equal(run.aborted, true);
    assert.equal(h.published.length, 0);
  });
});
