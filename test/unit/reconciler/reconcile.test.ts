import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type PreparedBatch, prepareBatch } from '../../../src/cdr/batch.ts';
import { contentHash } from '../../../src/dedup/content-hash.ts';
import { CdrError } from '../../../src/errors.ts';
import { rawHash } from '../../../src/kafka/messages.ts';
import { createCdrPublisher } from '../../../src/kafka/publish-cdrs.ts';
import { silentLogger } from '../../../src/log.ts';
import type { Window } from '../../../src/reconciler/plan.ts';
import {
  type ReconcileDeps,
  reconcile,
  splitPasses,
  WINDOW_AGED_OUT,
} from '../../../src/reconciler/reconcile.ts';
import { formatSummary } from '../../../src/reconciler/report.ts';
import { type OrgResult, runOutcome } from '../../../src/reconciler/rules.ts';
import type { Ledger } from '../../../src/reconciler/topic-ledger.ts';
import type { RequestOptions } from '../../../src/reconciler/webex/client.ts';
import { recordingLogger } from '../../helpers/logger.ts';
import { stubProducer } from '../../helpers/producer.ts';

const H = 3_600_000;
const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);
const W: Window[] = [
  { start: T0, end: T0 + H },
  { start: T0 + H, end: T0 + 2 * H },
];
/** A clock well inside Webex's 48 hours for W. */
const NOW = T0 + 10 * H;

/** `headers`: more headers on the topic (`cdr-content-hash`, `cdr-version`). */
type Rec = {
  id: string;
  org: string;
  end: number;
  bad?: boolean;
  headers?: Record<string, string>;
};
const raw = (r: Rec) =>
  r.bad
    ? { 'Report ID': r.id, 'Release time': new Date(r.end).toISOString() } // no Org UUID
    : { 'Report ID': r.id, 'Org UUID': r.org, 'Release time': new Date(r.end).toISOString() };

type HarnessOptions = {
  failOrg?: string;
  /** What a failing org or count throws (default: a webex_http 500). */
  error?: Error;
  failCount?: (w: Window) => boolean;
  failRead?: (from: number) => boolean;
  dlq?: unknown[];
  /** Advances on every Webex request (the fake clock). */
  msPerRequest?: number;
  /** The fake clock's start. */
  clock?: number;
};

/**
 * A fake Webex that knows `webex`, a topic that holds `topic`, a publisher that
 * appends to it (dead ones to a DLQ), and an event log of every step in order.
 */
const harness = (webex: Rec[], topic: Rec[], opts: HarnessOptions = {}) => {
  const onTopic = [...topic];
  const dlq: unknown[] = [...(opts.dlq ?? [])];
  const published: PreparedBatch[] = [];
  const audits: OrgResult[] = [];
  const events: string[] = [];
  let clock = opts.clock ?? NOW;
  const inWindow = (r: Rec, w: Window) => r.end >= w.start && r.end < w.end;
  const calls = { count: 0, records: [] as string[], reads: [] as number[], dlqReads: 0 };
  const request = (options: RequestOptions | undefined) => {
    options?.beforeRequest?.();
    clock += opts.msPerRequest ?? 0;
  };
  const deps: ReconcileDeps = {
    webex: {
      countByOrg: async (w, options) => {
        request(options);
        calls.count += 1;
        events.push(`count ${(w.start - T0) / H}`);
        if (opts.failCount?.(w)) {
          throw opts.error ?? new CdrError('webex_http', 'cdrcountbyorg answered 500');
        }
        const m = new Map<string, number>();
        for (const r of webex.filter((x) => inWindow(x, w))) m.set(r.org, (m.get(r.org) ?? 0) + 1);
        return [...m].map(([orgId, count]) => ({ orgId, count }));
      },
      recordsByOrg: async (org, w, options) => {
        request(options);
        calls.records.push(`${org}@${w.start}`);
        events.push(`records ${org} ${(w.start - T0) / H}`);
        if (org === opts.failOrg) {
          throw opts.error ?? new CdrError('webex_http', 'cdrsbyorg answered 500');
        }
        return webex.filter((x) => x.org === org && inWindow(x, w)).map(raw);
      },
    },
    readTopic: async (from: number, ledger: Ledger) => {
      calls.reads.push(from);
      events.push('read');
      if (opts.failRead?.(from)) throw new CdrError('kafka_timeout', 'reading stalled');
      for (const r of onTopic) {
        ledger.observe({
          key: r.org,
          timestamp: r.end,
          headers: {
            ...r.headers,
            'cdr-report-id': r.id,
            'cdr-call-end': new Date(r.end).toISOString(),
          },
        });
      }
    },
    readDeadLetterHashes: async () => {
      calls.dlqReads += 1;
      events.push('read dlq');
      return new Set(dlq.map(rawHash));
    },
    publisher: {
      // the real publisher (its dedup checks against the ledger), on a producer that appends to `onTopic`
      publish: async (batch, ingest, deadlineMs, dedup) => {
        if ('encoded' in batch) throw new Error('the reconciler publishes normalised batches only');
        events.push('publish');
        const sent = new Set<string>();
        const real = createCdrPublisher({
          producer: stubProducer((topic, m) => {
            if (topic !== 'cdr') return;
            const id = m.headers['cdr-report-id'] as string;
            sent.add(id);
            const end = Date.parse(m.headers['cdr-call-end'] ?? '');
            onTopic.push({ id, org: m.key ?? '', end, headers: m.headers });
          }),
          encoder: () => ({ schemaId: 1, encode: () => Buffer.alloc(1) }),
          topic: 'cdr',
          dlqTopic: 'dlq',
        });
        const counts = await real.publish(batch, ingest, deadlineMs, dedup);
        published.push({ ...batch, records: batch.records.filter((r) => sent.has(r.reportId)) });
        for (const d of batch.dead) dlq.push(d.raw);
        return counts;
      },
    },
    writeAudit: async (results: OrgResult[]) => {
      events.push('audit');
      audits.push(...results);
    },
    feed: 'analytics' as const,
    logger: silentLogger,
    publishTimeoutMs: 1000,
    windowsPerPass: 48,
    clockSkewMs: 0,
    lookbackMs: 48 * H,
    now: () => clock,
  };
  return { deps, onTopic, dlq, published, audits, calls, events };
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

  test('per pass: the topic is read first, then each window is counted, fetched, published and audited before the next', async () => {
    const h = harness(webex, []);
    await reconcile(h.deps, W);
    assert.deepEqual(h.events, [
      'read',
      'count 0',
      'records A 0',
      'publish',
      'records B 0',
      'publish',
      'audit',
      'count 1',
      'records A 1',
      'publish',
      'records C 1',
      'publish',
      'audit',
    ]);
  });

  test('passes of at most windowsPerPass windows, each reading the topic once from its start minus the clock skew', async () => {
    const h = harness(webex, []);
    const three = [...W, { start: T0 + 2 * H, end: T0 + 3 * H }];
    await reconcile({ ...h.deps, windowsPerPass: 2, clockSkewMs: 5 * MIN }, three);
    assert.deepEqual(h.calls.reads, [T0 - 5 * MIN, T0 + 2 * H - 5 * MIN]);
    assert.deepEqual(
      h.events.filter((e) => e === 'read' || e.startsWith('count')),
      ['read', 'count 0', 'count 1', 'read', 'count 2'],
    );
    assert.deepEqual(
      splitPasses(three, 48).map((p) => p.length),
      [3],
    );
    assert.deepEqual(
      splitPasses(three, 1).map((p) => p.length),
      [1, 1, 1],
    );
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

  test('the ingress rules: same content on the topic is not republished, other content is a version', async () => {
    const hashOf = (r: Rec) => {
      const [cdr] = prepareBatch(
        [raw(r)],
        { feed: 'analytics', source: 'webhook', received_at: 0, delivery_id: 'd' },
        null,
      ).records;
      return contentHash((cdr as NonNullable<typeof cdr>).record);
    };
    const [a1, a2] = webex as [Rec, Rec];
    const reportTime = new Date(T0 + 30 * MIN).toISOString();
    const onTopic: Rec[] = [
      { ...a1, headers: { 'cdr-content-hash': hashOf(a1) } }, // as the ingress published it
      { ...a2, headers: { 'cdr-content-hash': '0123456789abcdef', 'cdr-report-time': reportTime } },
    ];
    const a9 = { id: 'a9', org: 'A', end: T0 + 9 };
    const h = harness([a1, a2, a9], onTopic); // A, first window: 3 in Webex, 2 on the topic
    const run = await reconcile(h.deps, W);
    const sent = h.onTopic.slice(onTopic.length);
    assert.deepEqual(sent.map((r) => r.id).sort(), ['a2', 'a9'], 'a1 is not published again');
    const version = sent.find((r) => r.id === 'a2');
    assert.equal(version?.headers?.['cdr-version'], '2');
    assert.equal(version?.headers?.['cdr-supersedes-report-time'], reportTime);
    assert.equal(version?.headers?.['cdr-source'], 'reconciler');
    assert.equal(sent.find((r) => r.id === 'a9')?.headers?.['cdr-version'], undefined);
    assert.equal(run.totals.backfilled, 1, 'a version fills no gap');
    assert.equal(run.totals.versions, 1);
    assert.equal(run.totals.stillMissing, 0);
    assert.equal(
      h.audits.find((r) => r.orgId === 'A' && r.windowEnd === new Date(T0 + H).toISOString())
        ?.versions,
      1,
    );

    // the next run finds both versions and the backfill on the topic: nothing published
    const again = await reconcile(h.deps, W);
    assert.equal(h.onTopic.length, onTopic.length + 2);
    assert.deepEqual([again.totals.backfilled, again.totals.versions], [0, 0]);
  });

  test('a failed topic read fails its pass (summary, one audit record per window with org *), the next pass goes on', async () => {
    const h = harness(webex, [], { failRead: (from) => from === T0 });
    const run = await reconcile({ ...h.deps, windowsPerPass: 1 }, W);
    assert.equal(run.windows.length, 2);
    assert.match(run.windows[0]?.errors[0] ?? '', /topic read: reading stalled/);
    assert.equal(run.windows[1]?.errors.length, 0);
    assert.equal(run.windows[1]?.backfilled, 2, 'the second pass backfilled its window');
    assert.equal(run.totals.errors, 1);
    const star = h.audits.filter((r) => r.orgId === '*');
    assert.equal(star.length, 1);
    assert.equal(star[0]?.windowStart, new Date(T0).toISOString());
    assert.match(star[0]?.errors[0] ?? '', /topic read/);
    assert.ok(!h.events.includes('count 0'), 'no Webex request for a window not on the ledger');
  });

  test('the audit records of a failed pass go out in one send', async () => {
    const h = harness(webex, [], { failRead: () => true });
    const run = await reconcile(h.deps, W);
    assert.deepEqual(h.events, ['read', 'audit']);
    assert.deepEqual(
      h.audits.map((r) => [r.orgId, r.windowStart]),
      W.map((w) => ['*', new Date(w.start).toISOString()]),
    );
    assert.equal(run.totals.errors, 2);
  });

  test('a failed cdrcountbyorg is audited for its window (org *), the next window goes on', async () => {
    const h = harness(webex, [webex[0] as Rec], { failCount: (w) => w.start === T0 });
    const run = await reconcile(h.deps, W);
    assert.match(run.windows[0]?.errors[0] ?? '', /cdrcountbyorg: cdrcountbyorg answered 500/);
    assert.equal(run.windows[0]?.topicTotal, 1);
    const star = h.audits.filter((r) => r.orgId === '*');
    assert.equal(star.length, 1);
    assert.equal(star[0]?.topicCount, 1);
    assert.match(star[0]?.errors[0] ?? '', /cdrcountbyorg/);
    assert.equal(run.windows[1]?.backfilled, 2);
    assert.equal(run.totals.errors, 1);
  });

  test('a window older than the lookback is skipped before its count, with an error in summary and audit', async () => {
    const h = harness(webex, []);
    // 48 h after T0 + 30 min: the first window starts more than 48 h ago, the second not
    const run = await reconcile({ ...h.deps, now: () => T0 + 48 * H + 30 * MIN }, W);
    assert.deepEqual(run.windows[0]?.errors, [WINDOW_AGED_OUT]);
    assert.ok(!h.events.includes('count 0'));
    assert.ok(h.events.includes('count 1'));
    assert.deepEqual(
      h.audits.filter((r) => r.orgId === '*').map((r) => r.errors),
      [[WINDOW_AGED_OUT]],
    );
    assert.equal(run.totals.errors, 1);
    assert.equal(run.totals.backfilled, 2, 'the second window is still reconciled');
  });

  test('a window that ages out while it is being reconciled stops asking Webex for it', async () => {
    // each Webex request takes 20 minutes; the window leaves the 48 h 30 minutes in
    const h = harness(webex, [], { msPerRequest: 20 * MIN, clock: T0 + 48 * H - 30 * MIN });
    const run = await reconcile(h.deps, [W[0] as Window]);
    // count at -30 min, A fetched at -10 min, B would be at +10 min: aged out
    assert.deepEqual(h.calls.records, [`A@${T0}`]);
    assert.equal(run.totals.backfilled, 2);
    const b = h.audits.find((r) => r.orgId === 'B');
    assert.deepEqual(b?.errors, [WINDOW_AGED_OUT]);
    assert.equal(b?.stillMissing, 1);
    assert.equal(run.totals.stillMissing, 1);
    assert.equal(run.totals.errors, 1);
  });

  test('the check against the lookback runs before every Webex request (beforeRequest)', async () => {
    const h = harness(webex, []);
    let clock = NOW;
    const seen: boolean[] = [];
    await reconcile(
      {
        ...h.deps,
        now: () => clock,
        webex: {
          ...h.deps.webex,
          countByOrg: async (w, o) => {
            clock = w.start + 48 * H + 1; // the window ages out while its pages are fetched
            try {
              o?.beforeRequest?.();
              seen.push(true);
            } catch {
              seen.push(false);
              throw new Error('aged');
            }
            return [];
          },
        },
      },
      [W[0] as Window],
    );
    assert.deepEqual(seen, [false]);
  });

  test('unpublishable records are dead-lettered once: a second run does not send them again', async () => {
    const bad = { id: 'x1', org: 'A', end: T0 + 7, bad: true };
    const h = harness([...webex, bad], webex);
    const first = await reconcile(h.deps, W);
    assert.equal(h.dlq.length, 1);
    assert.equal(first.totals.deadLettered, 1);
    assert.equal(first.totals.unpublishable, 1);
    assert.equal(first.totals.stillMissing, 1, 'not on the topic: still missing');
    assert.equal(h.audits.find((r) => r.orgId === 'A')?.unpublishable, 1);

    h.audits.length = 0;
    const second = await reconcile(h.deps, W);
    assert.equal(h.dlq.length, 1, 'not dead-lettered again');
    assert.equal(second.totals.deadLettered, 0);
    assert.equal(second.totals.unpublishable, 1);
    assert.equal(second.totals.stillMissing, 1);
    assert.equal(h.audits.find((r) => r.orgId === 'A')?.unpublishable, 1);
  });

  test('the dead-letter topic is read only when there are dead records, once per pass', async () => {
    const clean = harness(webex, []);
    await reconcile(clean.deps, W);
    assert.equal(clean.calls.dlqReads, 0);

    const bad = [
      { id: 'x1', org: 'A', end: T0 + 7, bad: true },
      { id: 'x2', org: 'C', end: T0 + H + 7, bad: true },
    ];
    const h = harness([...webex, ...bad], []);
    await reconcile(h.deps, W);
    assert.equal(h.calls.dlqReads, 1);
    assert.equal(h.dlq.length, 2);
    await reconcile({ ...h.deps, windowsPerPass: 1 }, W);
    assert.equal(h.calls.dlqReads, 3);
    assert.equal(h.dlq.length, 2);
  });

  test('an aborted run stops between steps and says so', async () => {
    const ac = new AbortController();
    const h = harness(webex, []);
    ac.abort();
    const run = await reconcile({ ...h.deps, signal: ac.signal }, W);
    assert.equal(run.aborted, true);
    assert.equal(h.published.length, 0);
    assert.deepEqual(h.events, [], 'not even the topic read');

    // stopped while the topic is read: the run ends at once, no Webex request
    const stopping = new AbortController();
    const slow = harness(webex, []);
    const run2 = await reconcile(
      {
        ...slow.deps,
        signal: stopping.signal,
        readTopic: () => {
          setTimeout(() => stopping.abort(), 10);
          return new Promise(() => undefined); // never finishes
        },
      },
      W,
    );
    assert.equal(run2.aborted, true);
    assert.equal(slow.calls.count, 0);

    // stopped after the first org: the window's other orgs are left alone
    const mid = new AbortController();
    const m = harness(webex, []);
    const run3 = await reconcile(
      {
        ...m.deps,
        signal: mid.signal,
        webex: {
          ...m.deps.webex,
          recordsByOrg: async (org, w, o) => {
            mid.abort();
            return m.deps.webex.recordsByOrg(org, w, o);
          },
        },
      },
      W,
    );
    assert.equal(run3.aborted, true);
    assert.deepEqual(m.calls.records, [`A@${T0}`]);
    assert.equal(m.calls.count, 1);
  });

  test('48 windows of 100 orgs: one count per window, cdrsbyorg for exactly the orgs that fall short', async () => {
    const windows: Window[] = Array.from({ length: 48 }, (_, i) => ({
      start: T0 + i * H,
      end: T0 + (i + 1) * H,
    }));
    const webexRecs: Rec[] = [];
    const topic: Rec[] = [];
    const short: string[] = [];
    let missing = 0;
    for (let w = 0; w < 48; w++) {
      for (let o = 0; o < 100; o++) {
        const org = `org-${o}`;
        const [r0, r1, r2] = [0, 1, 2].map((k) => ({
          id: `${w}-${o}-${k}`,
          org,
          end: T0 + w * H + k * MIN + o,
        })) as [Rec, Rec, Rec];
        webexRecs.push(r0, r1, r2);
        const kind = (w * 7 + o) % 10;
        const onTopicByKind: Rec[][] = [
          [r0, r1], // one missing
          [], // all missing
          [r0, r0, r1], // one missing, hidden by a duplicate if counted raw
          [r0, r0, r1, r2], // complete, one duplicate
          [r0, r1, r2, { id: `x-${w}-${o}`, org, end: r0.end }], // surplus
        ];
        topic.push(...(onTopicByKind[kind] ?? [r0, r1, r2]));
        if (kind <= 2) {
          short.push(`${org}@${T0 + w * H}`);
          missing += kind === 1 ? 3 : 1;
        }
      }
    }
    const h = harness(webexRecs, topic, { clock: T0 + 48 * H + 10 * MIN });
    const deps = { ...h.deps, lookbackMs: 49 * H };
    const run = await reconcile(deps, windows);
    assert.equal(h.calls.reads.length, 1, 'one topic read for the pass');
    assert.equal(h.calls.count, 48, 'one cdrcountbyorg pass per window');
    assert.deepEqual(
      h.events.filter((e) => e.startsWith('count')),
      windows.map((_, i) => `count ${i}`),
    );
    assert.deepEqual(h.calls.records.sort(), short.sort(), 'cdrsbyorg only where short');
    assert.equal(run.totals.backfilled, missing);
    assert.equal(run.totals.stillMissing, 0);
    assert.equal(run.totals.surplus, 48 * 10);

    h.calls.records.length = 0;
    h.calls.count = 0;
    const again = await reconcile(deps, windows);
    assert.equal(h.calls.count, 48);
    assert.deepEqual(h.calls.records, [], 'nothing short after the backfill');
    assert.equal(again.totals.backfilled, 0);
  });
  test('failures are counted as failed windows and orgs with their error code, never as nothing missing', async () => {
    const h = harness(webex, [], { failOrg: 'A', failCount: (w) => w.start === T0 + H });
    const run = await reconcile(h.deps, W);
    // window 0: org A failed (500), B backfilled; window 1: the count failed
    assert.equal(run.totals.failedWindows, 2);
    assert.equal(run.totals.failedOrgs, 1);
    assert.deepEqual(run.failedByCode, { windows: { webex_http: 2 }, orgs: { webex_http: 1 } });
    assert.equal(run.stoppedBy, null);
    assert.equal(runOutcome(run), 'failed');
    const a = h.audits.find((r) => r.orgId === 'A');
    assert.equal(a?.failed, true);
    assert.equal(a?.errorCode, 'webex_http');
    assert.equal(h.audits.find((r) => r.orgId === 'B')?.failed, false);
    const star = h.audits.find((r) => r.orgId === '*');
    assert.deepEqual([star?.failed, star?.errorCode], [true, 'webex_http']);
    const text = formatSummary(run);
    assert.match(text, /failed windows 2, failed orgs 1/);
    assert.match(text, /^failed: webex_http \(2 windows\), webex_http \(1 org\)$/m);
    assert.match(text, /^outcome: failed$/m);
  });

  test('a failed window is logged once at warn with each cause once; a clean one at info', async () => {
    const many: Rec[] = ['A', 'B', 'C'].map((org, i) => ({ id: `m${i}`, org, end: T0 + i }));
    const { logger, lines } = recordingLogger();
    const timeout = new CdrError('kafka_timeout', 'Kafka did not acknowledge within 1000 ms');
    const h = harness(many, []);
    const run = await reconcile(
      {
        ...h.deps,
        logger,
        publisher: {
          publish: async () => {
            throw timeout;
          },
        },
      },
      W,
    );
    assert.equal(run.totals.failedOrgs, 3);
    const windowLines = lines.filter((l) => /^window /.test(l.msg));
    assert.deepEqual(
      windowLines.map((l) => [l.level, l.msg]),
      [
        ['warn', 'window failed'],
        ['info', 'window reconciled'],
      ],
    );
    assert.deepEqual(windowLines[0]?.fields?.causes, [
      { code: 'kafka_timeout', failures: 3, error: timeout.message },
    ]);
    assert.equal(windowLines[0]?.fields?.failedOrgs, 3);
    assert.equal(lines.find((l) => l.msg === 'reconciliation run finished')?.level, 'warn');
  });

  test('Webex refusing the credentials stops the run after the first window: one error line, the window audited', async () => {
    const refused = new CdrError(
      'webex_auth_failed',
      'cdrcountbyorg: HTTP 401: Webex refused WEBEX_ACCESS_TOKEN (wrong or expired)',
    );
    const { logger, lines } = recordingLogger();
    const h = harness(webex, [], { failCount: () => true, error: refused });
    const three = [...W, { start: T0 + 2 * H, end: T0 + 3 * H }];
    const run = await reconcile({ ...h.deps, logger }, three);
    assert.equal(h.calls.count, 1, 'one request, not one per window');
    assert.equal(run.windows.length, 1);
    assert.equal(run.totals.windows, 3);
    assert.equal(run.totals.failedWindows, 1);
    assert.equal(run.aborted, true);
    assert.deepEqual(run.stoppedBy, {
      code: 'webex_auth_failed',
      error: `cdrcountbyorg: ${refused.message}`,
    });
    assert.deepEqual(
      h.audits.map((r) => [r.orgId, r.failed, r.errorCode]),
      [['*', true, 'webex_auth_failed']],
    );
    const errors = lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]?.fields?.error), /WEBEX_ACCESS_TOKEN/);
    assert.equal(errors[0]?.fields?.windowsNotReached, 2);
    const text = formatSummary(run);
    assert.match(text, /not reached 2/);
    assert.match(text, /^stopped early: cdrcountbyorg: .*WEBEX_ACCESS_TOKEN/m);
    assert.equal(runOutcome(run), 'failed');

    // the same refusal while fetching one org's records stops the run there too
    const mid = harness(webex, [], { failOrg: 'A', error: refused });
    const run2 = await reconcile(mid.deps, W);
    assert.deepEqual(mid.calls.records, [`A@${T0}`], 'B and the second window not asked');
    assert.equal(run2.stoppedBy?.code, 'webex_auth_failed');
    assert.deepEqual(run2.failedByCode.orgs, { webex_auth_failed: 1 });
  });

  test('outcome: complete, or missing when records are still missing but nothing failed', async () => {
    const h = harness(webex, []);
    assert.equal(runOutcome(await reconcile(h.deps, W)), 'complete');
    const bad = { id: 'x1', org: 'A', end: T0 + 7, bad: true };
    const m = harness([...webex, bad], webex);
    const run = await reconcile(m.deps, W);
    assert.equal(run.totals.stillMissing, 1);
    assert.equal(runOutcome(run), 'missing');
    assert.match(formatSummary(run), /^outcome: missing$/m);
  });
});
