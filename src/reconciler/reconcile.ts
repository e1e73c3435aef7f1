/**
 * @module reconciler/reconcile
 * One reconciliation run. The windows go in passes of at most
 * `windowsPerPass`, oldest first; per pass:
 *
 *   read the topic once (ledger) -> for each window, oldest first:
 *     count (cdrcountbyorg, every page) -> diff -> fetch (cdrsbyorg, only
 *     where Webex has more) -> normalise -> encode -> produce -> audit
 *
 * A window is counted and backfilled before the next one is touched, so no
 * window waits behind the others' Webex requests; before every Webex request
 * the window is checked to be still inside [now - lookback, now - 5 min], and
 * a window that aged out is skipped and reported as an error.
 *
 * What is on the topic is decided by the ingress's dedup rules over the
 * pass's ledger (the same index, topic-ledger.ts): a fetched record whose
 * Report ID is not on the topic is published (backfilled), one on the topic
 * with the same content is not, one with other content is published as the
 * next version (`cdr-version`, as the ingress does; counted in `versions`).
 * They go with `ingest.source = reconciler`, through the same normaliser,
 * schema, content hash and producer as the ingress. Records that cannot be
 * published go to the dead-letter topic once: those whose raw hash is there
 * already are not sent again (they stay counted as missing). More on the topic than Webex reports
 * is reported, never deleted.
 *
 * Failures stay where they happen: a failed topic read fails its pass's
 * windows, a failed count its window, a failed fetch or publish its org; each
 * is counted as failed with its error code (never as "nothing missing"), is in
 * the summary and the audit (org `*` for a whole window), and the run goes
 * on. A failure no retry can cure (Webex refusing the credentials after a
 * renewal, `webex_auth_failed`; an unusable token file, `config_invalid`)
 * stops the run after its window: every other request would fail the same
 * way. An abort ends the run between any two steps. Every window and org that
 * needed attention gets one audit result; every window one log line (`warn`
 * when it failed, with each cause once); the run ends with totals.
 *
 * The rules (which orgs to compare, what counts as missing, surplus or
 * unpublishable, how results fold into summaries) are pure functions in
 * rules.ts; this module does the I/O around them.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { prepareBatch } from '../cdr/batch.ts';
import type { Feed, Ingest } from '../cdr/normalise.ts';
import type { Privacy } from '../cdr/privacy.ts';
import type { DedupIndex } from '../dedup/topic-index.ts';
import { describe, type ErrorCode, isCdrError } from '../errors.ts';
import { rawHash } from '../kafka/messages.ts';
import type { CdrPublisher } from '../kafka/publish-cdrs.ts';
import type { Logger } from '../log.ts';
import { isWindowAlive, type Window } from './plan.ts';
import {
  addCounts,
  addOrg,
  type BackfillCounts,
  backfillFailed,
  causesOf,
  compareOrg,
  compareWindow,
  emptyWindowSummary,
  type Failure,
  failOrg,
  failWindow,
  type OrgResult,
  openOrgResult,
  orgFailure,
  type RunSummary,
  settleBackfill,
  stopsTheRun,
  summariseRun,
  type WindowSummary,
  wholeWindowResult,
} from './rules.ts';
import { createLedger, type Ledger } from './topic-ledger.ts';
import type { OrgCount, RequestOptions, WebexClient } from './webex/client.ts';

export type Progress = { window: number; windows: number; org: number; orgs: number };

export type ReconcileDeps = {
  /** Attempts of a pass's topic read before its windows fail (default 1). */
  topicReadAttempts?: number;
  webex: Pick<WebexClient, 'countByOrg' | 'recordsByOrg'>;
  /** Feeds every record on the CDR topic from `fromTimestamp` to its end into the ledger. */
  readTopic(fromTimestamp: number, ledger: Ledger, signal?: AbortSignal): Promise<unknown>;
  /** The `cdr-raw-sha256` headers on the dead-letter topic from `fromTimestamp` to its end. */
  readDeadLetterHashes(fromTimestamp: number, signal?: AbortSignal): Promise<Set<string>>;
  publisher: CdrPublisher;
  writeAudit(results: OrgResult[]): Promise<void>;
  feed: Feed;
  /** Fields to drop or hash, as on the webhook path. */
  privacy?: Privacy | null;
  logger: Logger;
  publishTimeoutMs: number;
  /** Windows per pass: each pass reads the topic once and holds one ledger (the memory bound). */
  windowsPerPass: number;
  /** Produce timestamps may trail call ends by clock skew: read this much earlier. */
  clockSkewMs: number;
  /** Webex's retention as configured: a window starting before now - lookback is skipped. */
  lookbackMs: number;
  now?: () => number;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
};

/** The wait before the next attempt of a pass's topic read (times the attempt). */
const TOPIC_READ_RETRY_MS = 1_000;

export const WINDOW_AGED_OUT = 'window aged out before it could be reconciled';

/** Thrown before a Webex request for a window Webex no longer serves. */
export class WindowAgedOutError extends Error {
  constructor() {
    super(WINDOW_AGED_OUT);
    this.name = 'WindowAgedOutError';
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The error's code; `fallback` names the step for errors without one. */
export const codeOf = (e: unknown, fallback: ErrorCode): ErrorCode =>
  isCdrError(e) ? e.code : e instanceof WindowAgedOutError ? 'window_aged_out' : fallback;

/** Consecutive groups of at most `size` windows (at least one each), oldest first. */
export const splitPasses = (windows: readonly Window[], size: number): Window[][] => {
  const n = Math.max(1, Math.floor(size));
  const passes: Window[][] = [];
  for (let i = 0; i < windows.length; i += n) passes.push(windows.slice(i, i + n));
  return passes;
};

/** Settles with `work`, or rejects with the abort reason as soon as `signal` aborts. */
const raceAbort = <T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> => {
  if (signal === undefined) return work;
  work.catch(() => undefined); // the loser of the race must not go unhandled
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
};

/** A run that could not start (Kafka or the registry not reached) or ended with an exception. */
export const failedRun = (windows: readonly Window[], code: ErrorCode, error: string): RunSummary =>
  summariseRun(randomUUID(), [], windows.length, true, { code, error });

type Run = {
  deps: ReconcileDeps;
  runId: string;
  log: Logger;
  now: () => number;
  windowCount: number;
  /** A stop was requested. */
  aborted(): boolean;
  /** The failure that stops the run, once one happened. */
  fatal: Failure | null;
  /** Stopped, or a failure stops the run: no further step. */
  halted(): boolean;
};

export const reconcile = async (deps: ReconcileDeps, windows: Window[]): Promise<RunSummary> => {
  const runId = randomUUID();
  const run: Run = {
    deps,
    runId,
    log: deps.logger.child({ runId }),
    now: deps.now ?? Date.now,
    windowCount: windows.length,
    aborted: () => deps.signal?.aborted === true,
    fatal: null,
    halted: () => run.aborted() || run.fatal !== null,
  };
  const summaries: WindowSummary[] = [];
  let index = 0;
  for (const pass of splitPasses(windows, deps.windowsPerPass)) {
    if (run.halted()) break;
    summaries.push(...(await reconcilePass(run, pass, index)));
    index += pass.length;
  }
  const stoppedBy = run.fatal === null ? null : { code: run.fatal.code, error: run.fatal.error };
  const result = summariseRun(runId, summaries, windows.length, run.aborted(), stoppedBy);
  if (stoppedBy !== null) {
    run.log.error('reconciliation stopped: no further request can succeed', {
      ...stoppedBy,
      windowsNotReached: windows.length - summaries.length,
    });
  }
  const failed = result.totals.failedWindows > 0 || stoppedBy !== null;
  run.log[failed ? 'warn' : 'info']('reconciliation run finished', {
    ...result.totals,
    aborted: result.aborted,
  });
  return result;
};

/** Notes a failure of the window (org `*`) or of one org; one that stops the run stops it. */
const noteFailure = (run: Run, failure: Failure | null | undefined): void => {
  if (failure && run.fatal === null && stopsTheRun(failure.code)) run.fatal = failure;
};

/** The window as a whole failed: in its summary, and the run stopped if the code says so. */
const windowFailed = (
  run: Run,
  s: WindowSummary,
  code: ErrorCode,
  error: string,
): WindowSummary => {
  const failed = failWindow(s, code, error);
  noteFailure(run, failed.failures.at(-1));
  return failed;
};

/**
 * Writes the results of one or more windows in one send; a failure is an
 * error of each. Resolves with the summaries, failed where the audit was not written.
 */
const audit = async (
  run: Run,
  summaries: WindowSummary[],
  results: OrgResult[],
): Promise<WindowSummary[]> => {
  if (results.length === 0) return summaries;
  if (run.aborted()) {
    run.log.info('run stopped: audit not written', { windows: summaries.map((s) => s.start) });
    return summaries;
  }
  try {
    await raceAbort(run.deps.writeAudit(results), run.deps.signal);
    return summaries;
  } catch (e) {
    if (run.aborted()) return summaries;
    return summaries.map((s) =>
      windowFailed(run, s, codeOf(e, 'kafka_failed'), `audit: ${describe(e)}`),
    );
  }
};

const logWindow = (run: Run, s: WindowSummary): void => {
  const failed = s.failures.length > 0;
  run.log[failed ? 'warn' : 'info'](failed ? 'window failed' : 'window reconciled', {
    window: `${s.start}/${s.end}`,
    orgs: s.orgs,
    expected: s.webexTotal,
    found: s.topicTotal,
    missing: s.backfilled + s.stillMissing,
    backfilled: s.backfilled,
    versions: s.versions,
    deadLettered: s.deadLettered,
    unpublishable: s.unpublishable,
    unresolved: s.stillMissing,
    surplus: s.surplus,
    errors: s.errors.length,
    ...(failed
      ? {
          failedOrgs: s.failures.filter((f) => f.orgId !== '*').length,
          causes: causesOf(s.failures),
        }
      : {}),
    ...(run.aborted() ? { aborted: true } : {}),
  });
};

type Pass = {
  ledger: Ledger;
  /** The dead-letter hashes from the pass's start on, read once, when first needed. */
  deadLetterHashes(): Promise<Set<string>>;
};

const reconcilePass = async (
  run: Run,
  windows: Window[],
  firstIndex: number,
): Promise<WindowSummary[]> => {
  const { deps } = run;
  const from = (windows[0] as Window).start - deps.clockSkewMs;
  let ledger = createLedger(windows);
  try {
    // A read can fail for a moment (a fresh cluster's group coordinator still loading):
    // it is tried again before the pass's windows fail, each time into a fresh ledger.
    for (let attempt = 1; ; attempt++) {
      try {
        await raceAbort(deps.readTopic(from, ledger, deps.signal), deps.signal);
        break;
      } catch (e) {
        if (run.aborted() || attempt >= (deps.topicReadAttempts ?? 1)) throw e;
        const waitMs = TOPIC_READ_RETRY_MS * attempt;
        run.log.warn('reading the topic failed, retrying', {
          from: iso(from),
          attempt,
          waitMs,
          error: describe(e),
        });
        await raceAbort(sleep(waitMs), deps.signal);
        ledger = createLedger(windows);
      }
    }
  } catch (e) {
    if (run.aborted()) return [];
    const error = `topic read: ${describe(e)}`;
    run.log.error('reading the topic failed: the windows of this pass are skipped', {
      from: iso(from),
      windows: windows.length,
      error,
    });
    // One send for the pass: if Kafka is down, one deadline passes, not one per window.
    const failed = windows.map((w) =>
      windowFailed(run, emptyWindowSummary(w), codeOf(e, 'kafka_failed'), error),
    );
    const summaries = await audit(
      run,
      failed,
      failed.map((s) => wholeWindowResult(run.runId, s)),
    );
    for (const s of summaries) logWindow(run, s);
    return summaries;
  }
  run.log.debug('topic read for a pass', { from: iso(from), windows: windows.length });

  let dlq: Promise<Set<string>> | undefined;
  const pass: Pass = {
    ledger,
    deadLetterHashes: () => {
      dlq ??= raceAbort(deps.readDeadLetterHashes(from, deps.signal), deps.signal);
      return dlq;
    },
  };
  const summaries: WindowSummary[] = [];
  for (const [slot, window] of windows.entries()) {
    if (run.halted()) break;
    const s = await reconcileWindow(run, pass, window, slot, firstIndex + slot);
    if (s !== undefined) summaries.push(s);
  }
  run.log.debug('ledger pass done', { windows: windows.length, ...ledger.stats() });
  return summaries;
};

/** Undefined when the run was stopped before the window was counted. */
const reconcileWindow = async (
  run: Run,
  pass: Pass,
  window: Window,
  slot: number,
  index: number,
): Promise<WindowSummary | undefined> => {
  const { deps } = run;
  const { ledger } = pass;
  let summary = emptyWindowSummary(window);
  const guard = () => {
    if (!isWindowAlive(window, { now: run.now(), lookbackMs: deps.lookbackMs })) {
      throw new WindowAgedOutError();
    }
  };
  const request: RequestOptions = { signal: deps.signal, beforeRequest: guard };

  let counts: OrgCount[];
  try {
    guard();
    counts = await deps.webex.countByOrg(window, request);
  } catch (e) {
    if (run.aborted()) return undefined;
    const orgs = ledger.orgs(slot);
    summary.orgs = orgs.length;
    for (const org of orgs) summary.topicTotal += ledger.distinct(slot, org);
    summary = windowFailed(
      run,
      summary,
      codeOf(e, 'webex_http'),
      e instanceof WindowAgedOutError ? e.message : `cdrcountbyorg: ${describe(e)}`,
    );
    [summary] = (await audit(run, [summary], [wholeWindowResult(run.runId, summary)])) as [
      WindowSummary,
    ];
    logWindow(run, summary);
    return summary;
  }

  const orgs = compareWindow(counts, ledger.orgs(slot));
  summary.orgs = orgs.length;
  const results: OrgResult[] = [];
  for (const [orgIndex, org] of orgs.entries()) {
    if (run.halted()) break;
    deps.onProgress?.({
      window: index + 1,
      windows: run.windowCount,
      org: orgIndex + 1,
      orgs: orgs.length,
    });
    const comparison = compareOrg(org, ledger.distinct(slot, org.orgId));
    summary = addCounts(summary, comparison);
    if (comparison.balanced) continue;
    let result = openOrgResult(run.runId, summary, comparison);
    if (comparison.needsBackfill) {
      try {
        guard();
        await backfill(run, pass, window, result.orgId, request, (rule) => {
          result = rule(result);
        });
      } catch (e) {
        if (run.aborted()) break;
        result = backfillFailed(result, codeOf(e, 'webex_http'), describe(e));
      }
    }
    summary = addOrg(summary, result);
    noteFailure(run, orgFailure(result));
    results.push(result);
  }
  [summary] = (await audit(run, [summary], results)) as [WindowSummary];
  logWindow(run, summary);
  return summary;
};

/**
 * Fetches one org's records for the window and publishes those not on the
 * topic yet; what it finds goes to the org's result through `apply`.
 */
const backfill = async (
  run: Run,
  pass: Pass,
  window: Window,
  orgId: string,
  request: RequestOptions,
  apply: (rule: (r: OrgResult) => OrgResult) => void,
): Promise<void> => {
  const { deps } = run;
  const { ledger } = pass;
  const raws = await deps.webex.recordsByOrg(orgId, window, request);
  const ingest: Ingest = {
    feed: deps.feed,
    source: 'reconciler',
    received_at: run.now(),
    delivery_id: run.runId,
  };
  const batch = prepareBatch(raws, ingest, deps.privacy ?? null);
  const fetched = new Map(batch.records.map((r) => [r.reportId, r]));
  // The publisher asks the ledger what the ingress would ask its index, and tells it what Kafka took.
  const dedup: DedupIndex = {
    problem: () => null,
    check: (reportId, hash) => ledger.check(reportId, hash),
    published(seen) {
      for (const s of seen) {
        const r = fetched.get(s.reportId);
        ledger.add(r?.callEnd ?? null, r?.orgId ?? orgId, s);
      }
    },
  };

  // Unpublishable records go to the dead-letter topic once, not on every run.
  let dead = batch.dead;
  let known = new Set<string>();
  const hashes = dead.map((d) => rawHash(d.raw));
  if (dead.length > 0) {
    try {
      known = await pass.deadLetterHashes();
    } catch (e) {
      if (run.aborted()) throw e;
      // Not knowing what is there already, send them (a duplicate beats a loss).
      const error = `dead-letter topic read: ${describe(e)}`;
      apply((r) => failOrg(r, codeOf(e, 'kafka_failed'), error));
    }
    const fresh = new Set<string>();
    dead = dead.filter((_, i) => {
      const h = hashes[i] as string;
      if (known.has(h) || fresh.has(h)) return false;
      fresh.add(h);
      return true;
    });
  }

  const counts = await raceAbort(
    deps.publisher.publish(
      { records: batch.records, dead, duplicates: batch.duplicates },
      ingest,
      deps.publishTimeoutMs,
      dedup,
    ),
    deps.signal,
  );
  for (const h of hashes) known.add(h);
  const versions = counts.versions ?? 0;
  const found: BackfillCounts = {
    records: batch.records.length,
    onTopic: (counts.repeats ?? 0) + versions,
    versions,
    dead: batch.dead.length,
    deadSent: dead.length,
    accepted: counts.accepted,
    deadLettered: counts.deadLettered,
  };
  apply((r) => settleBackfill(r, found));
};
