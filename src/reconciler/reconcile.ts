/**
 * @module reconciler/reconcile
 * One reconciliation run:
 *
 *   plan windows -> count (Webex, per org) -> read the topic (ledger) -> diff
 *   -> fetch (cdrsbyorg, only where Webex has more) -> normalise -> encode -> produce
 *
 * Only records whose Report ID is not on the topic are published, with
 * `ingest.source = reconciler`, through the same normaliser, schema and
 * producer as the ingress. More on the topic than Webex reports is reported,
 * never deleted. Every window and org that needed attention gets one audit
 * result; every window one log line; the run ends with totals.
 */
import { randomUUID } from 'node:crypto';
import { prepareBatch } from '../cdr/batch.ts';
import type { Feed, Ingest } from '../cdr/normalise.ts';
import { describe } from '../errors.ts';
import type { CdrPublisher } from '../kafka/publish-cdrs.ts';
import type { Logger } from '../log.ts';
import type { Window } from './plan.ts';
import { createLedger, type Ledger } from './topic-ledger.ts';
import type { WebexClient } from './webex-client.ts';

export type OrgResult = {
  runId: string;
  windowStart: string;
  windowEnd: string;
  orgId: string;
  webexCount: number;
  topicCount: number;
  backfilled: number;
  deadLettered: number;
  stillMissing: number;
  surplus: number;
  errors: string[];
};

export type WindowSummary = {
  start: string;
  end: string;
  orgs: number;
  webexTotal: number;
  topicTotal: number;
  backfilled: number;
  deadLettered: number;
  stillMissing: number;
  surplus: number;
  errors: string[];
};

export type RunSummary = {
  runId: string;
  windows: WindowSummary[];
  totals: {
    windows: number;
    webex: number;
    topicBefore: number;
    backfilled: number;
    deadLettered: number;
    stillMissing: number;
    surplus: number;
    errors: number;
  };
  aborted: boolean;
};

export type Progress = { window: number; windows: number; org: number; orgs: number };

export type ReconcileDeps = {
  webex: Pick<WebexClient, 'countByOrg' | 'recordsByOrg'>;
  /** Feeds every record on the topic from `fromTimestamp` on into the ledger. */
  readTopic(fromTimestamp: number, ledger: Ledger): Promise<unknown>;
  publisher: CdrPublisher;
  writeAudit(results: OrgResult[]): Promise<void>;
  feed: Feed;
  logger: Logger;
  publishTimeoutMs: number;
  /** Upper bound of Webex-counted records held in one ledger pass (memory bound). */
  maxIdsPerPass: number;
  /** Produce timestamps may trail call ends by clock skew: read this much earlier. */
  clockSkewMs: number;
  now?: () => number;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
};

const iso = (ms: number) => new Date(ms).toISOString();

type Counted = { window: Window; index: number; counts: Map<string, number>; error?: string };

/** Groups windows so that each pass holds at most `max` Webex-counted records (at least one window). */
export const groupPasses = (counted: Counted[], max: number): Counted[][] => {
  const passes: Counted[][] = [];
  let current: Counted[] = [];
  let sum = 0;
  for (const c of counted) {
    const n = [...c.counts.values()].reduce((a, b) => a + b, 0);
    if (current.length > 0 && sum + n > max) {
      passes.push(current);
      current = [];
      sum = 0;
    }
    current.push(c);
    sum += n;
  }
  if (current.length > 0) passes.push(current);
  return passes;
};

export const reconcile = async (deps: ReconcileDeps, windows: Window[]): Promise<RunSummary> => {
  const now = deps.now ?? Date.now;
  const runId = randomUUID();
  const log = deps.logger.child({ runId });
  const summaries: WindowSummary[] = [];
  const totals = {
    windows: windows.length,
    webex: 0,
    topicBefore: 0,
    backfilled: 0,
    deadLettered: 0,
    stillMissing: 0,
    surplus: 0,
    errors: 0,
  };
  const aborted = () => deps.signal?.aborted === true;

  // 1. Webex's counts for every window (one cdrcountbyorg pass each, all pages).
  const counted: Counted[] = [];
  for (const [index, window] of windows.entries()) {
    if (aborted()) break;
    try {
      const list = await deps.webex.countByOrg(window);
      const counts = new Map<string, number>();
      for (const c of list) counts.set(c.orgId, (counts.get(c.orgId) ?? 0) + c.count);
      counted.push({ window, index, counts });
    } catch (e) {
      counted.push({ window, index, counts: new Map(), error: `cdrcountbyorg: ${describe(e)}` });
    }
  }

  // 2. Per pass: read the topic once, then diff and backfill window by window.
  for (const pass of groupPasses(counted, deps.maxIdsPerPass)) {
    if (aborted()) break;
    const passWindows = pass.map((c) => c.window);
    const ledger = createLedger(passWindows);
    const first = passWindows[0] as Window;
    await deps.readTopic(first.start - deps.clockSkewMs, ledger);

    for (const [passIndex, c] of pass.entries()) {
      if (aborted()) break;
      const summary = await reconcileWindow(
        deps,
        log,
        ledger,
        passIndex,
        c,
        runId,
        windows.length,
        now,
      );
      summaries.push(summary);
      totals.webex += summary.webexTotal;
      totals.topicBefore += summary.topicTotal;
      totals.backfilled += summary.backfilled;
      totals.deadLettered += summary.deadLettered;
      totals.stillMissing += summary.stillMissing;
      totals.surplus += summary.surplus;
      totals.errors += summary.errors.length;
    }
    const s = ledger.stats();
    log.debug('ledger pass done', { windows: pass.length, ...s });
  }
  const result = { runId, windows: summaries, totals, aborted: aborted() };
  log.info('reconciliation run finished', { ...totals, aborted: result.aborted });
  return result;
};

const reconcileWindow = async (
  deps: ReconcileDeps,
  log: Logger,
  ledger: Ledger,
  passIndex: number,
  c: Counted,
  runId: string,
  windowCount: number,
  now: () => number,
): Promise<WindowSummary> => {
  const { window } = c;
  const summary: WindowSummary = {
    start: iso(window.start),
    end: iso(window.end),
    orgs: 0,
    webexTotal: 0,
    topicTotal: 0,
    backfilled: 0,
    deadLettered: 0,
    stillMissing: 0,
    surplus: 0,
    errors: c.error === undefined ? [] : [c.error],
  };
  const orgs = [...new Set([...c.counts.keys(), ...ledger.orgs(passIndex)])].sort();
  summary.orgs = orgs.length;
  const results: OrgResult[] = [];

  for (const [orgIndex, orgId] of orgs.entries()) {
    if (deps.signal?.aborted) break;
    deps.onProgress?.({
      window: c.index + 1,
      windows: windowCount,
      org: orgIndex + 1,
      orgs: orgs.length,
    });
    const webexCount = c.counts.get(orgId) ?? 0;
    const topicCount = ledger.distinct(passIndex, orgId);
    summary.webexTotal += webexCount;
    summary.topicTotal += topicCount;
    if (c.error !== undefined) continue; // counts unknown: nothing to compare
    if (webexCount === topicCount) continue;
    const result: OrgResult = {
      runId,
      windowStart: summary.start,
      windowEnd: summary.end,
      orgId,
      webexCount,
      topicCount,
      backfilled: 0,
      deadLettered: 0,
      stillMissing: 0,
      surplus: Math.max(0, topicCount - webexCount),
      errors: [],
    };
    if (webexCount > topicCount) {
      try {
        const raws = await deps.webex.recordsByOrg(orgId, window);
        const ingest: Ingest = {
          feed: deps.feed,
          source: 'reconciler',
          received_at: now(),
          delivery_id: runId,
        };
        const batch = prepareBatch(raws, ingest);
        const missing = batch.records.filter((r) => !ledger.has(r.reportId));
        const counts = await deps.publisher.publish(
          { records: missing, dead: batch.dead, duplicates: batch.duplicates },
          ingest,
          deps.publishTimeoutMs,
        );
        for (const r of missing) ledger.add(r.callEnd, r.orgId, r.reportId);
        result.backfilled = counts.accepted;
        result.deadLettered = counts.deadLettered;
        // Webex's records for this org and window that are now on the topic, wherever
        // our cdr-call-end placed them; what Webex counted but did not return stays missing.
        const present = batch.records.filter((r) => ledger.has(r.reportId)).length;
        result.stillMissing = Math.max(
          0,
          webexCount - Math.max(present, topicCount + counts.accepted),
        );
      } catch (e) {
        result.errors.push(describe(e));
        result.stillMissing = webexCount - topicCount;
      }
    }
    summary.backfilled += result.backfilled;
    summary.deadLettered += result.deadLettered;
    summary.stillMissing += result.stillMissing;
    summary.surplus += result.surplus;
    summary.errors.push(...result.errors.map((e) => `${orgId}: ${e}`));
    results.push(result);
  }
  if (results.length > 0) {
    try {
      await deps.writeAudit(results);
    } catch (e) {
      summary.errors.push(`audit: ${describe(e)}`);
    }
  }
  log.info('window reconciled', {
    window: `${summary.start}/${summary.end}`,
    orgs: summary.orgs,
    webex: summary.webexTotal,
    topic: summary.topicTotal,
    backfilled: summary.backfilled,
    stillMissing: summary.stillMissing,
    surplus: summary.surplus,
    errors: summary.errors.length,
  });
  return summary;
};
