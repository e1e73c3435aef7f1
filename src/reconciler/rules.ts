/**
 * @module reconciler/rules
 * The reconcile rules, as pure functions over counts and results (the I/O
 * that feeds them stays in reconcile.ts):
 *
 * - `compareWindow`: the orgs of a window to compare (every org Webex counts
 *   or the topic holds, sorted) with Webex's count of each; `compareOrg`:
 *   against the topic's distinct Report IDs, an org is balanced, needs a
 *   backfill (Webex has more), or has a surplus (reported, never deleted).
 * - `settleBackfill`: what a backfill did for an org: backfilled,
 *   dead-lettered, unpublishable and still missing; `failOrg` when it failed
 *   (everything Webex has more stays missing).
 * - Folding: `addOrg` adds an org's result to its window's summary,
 *   `failWindow` records a window that could not be compared, and
 *   `summariseRun` totals the windows, from which `runOutcome` is read.
 *   `stopsTheRun`: after which error codes no further Webex request can succeed.
 */
import type { ErrorCode } from '../errors.ts';
import type { Window } from './plan.ts';
import type { OrgCount } from './webex/schemas.ts';

/** What reconciling an org came to, in numbers; a window's and a run's summary hold their sums. */
type Counts = {
  /** Records published whose Report ID was not on the topic. */
  backfilled: number;
  /** Records published as a later version of a Report ID on the topic (other content). */
  versions: number;
  /** Sent to the dead-letter topic by this run. */
  deadLettered: number;
  /** Webex records that cannot be published (dead-lettered now or by an earlier run). */
  unpublishable: number;
  stillMissing: number;
  surplus: number;
};

/** An org's counts before anything is published, missing or surplus. */
const NO_COUNTS: Counts = {
  backfilled: 0,
  versions: 0,
  deadLettered: 0,
  unpublishable: 0,
  stillMissing: 0,
  surplus: 0,
};

/** Two sets of counts added up. */
const addUp = (a: Counts, b: Counts): Counts => ({
  backfilled: a.backfilled + b.backfilled,
  versions: a.versions + b.versions,
  deadLettered: a.deadLettered + b.deadLettered,
  unpublishable: a.unpublishable + b.unpublishable,
  stillMissing: a.stillMissing + b.stillMissing,
  surplus: a.surplus + b.surplus,
});

type Figures = Counts & { errors: string[] };

export type OrgResult = Figures & {
  runId: string;
  windowStart: string;
  windowEnd: string;
  /** The customer org, or `*` when the window as a whole could not be compared. */
  orgId: string;
  webexCount: number;
  topicCount: number;
  /** The org (or, for `*`, the window) could not be reconciled: see errorCode and errors. */
  failed: boolean;
  /** The code of the first error, or null. */
  errorCode: ErrorCode | null;
};

/** One org of a window (or the window itself, org `*`) that could not be reconciled. */
export type Failure = { orgId: string; code: ErrorCode; error: string };

export type WindowSummary = Figures & {
  start: string;
  end: string;
  orgs: number;
  webexTotal: number;
  topicTotal: number;
  /** What could not be reconciled: one entry per failed org, `*` for the window as a whole. */
  failures: Failure[];
};

export type RunSummary = {
  runId: string;
  windows: WindowSummary[];
  totals: Counts & {
    windows: number;
    webex: number;
    topicBefore: number;
    errors: number;
    /** Windows with any failure (the window as a whole, or one of its orgs). */
    failedWindows: number;
    /** Orgs of windows that could not be reconciled, over all windows. */
    failedOrgs: number;
  };
  /** Failed windows by the code of their first failure, failed orgs by theirs. */
  failedByCode: {
    windows: Partial<Record<ErrorCode, number>>;
    orgs: Partial<Record<ErrorCode, number>>;
  };
  /** Stopped before its end (a stop request, or `stoppedBy`). */
  aborted: boolean;
  /** The failure that ended the run early (refused credentials, no Kafka), or null. */
  stoppedBy: { code: ErrorCode; error: string } | null;
};

/**
 * complete: every window compared, nothing missing; missing: every window
 * compared, records still missing (unpublishable); failed: a window or org
 * failed, or the run was stopped early.
 */
export type RunOutcome = 'complete' | 'missing' | 'failed';

export const runOutcome = (s: RunSummary): RunOutcome =>
  s.aborted || s.totals.failedWindows > 0 || s.totals.errors > 0
    ? 'failed'
    : s.totals.stillMissing > 0
      ? 'missing'
      : 'complete';

/** Codes after which no further Webex request can succeed: the run stops. */
const STOPS_THE_RUN: ReadonlySet<ErrorCode> = new Set(['webex_auth_failed', 'config_invalid']);

export const stopsTheRun = (code: ErrorCode): boolean => STOPS_THE_RUN.has(code);

const iso = (ms: number) => new Date(ms).toISOString();

// ---------------------------------------------------------------------------
// Comparing

/** An org of a window and Webex's count of its records. */
export type OrgToCompare = { orgId: string; webexCount: number };

/**
 * The orgs of a window to compare: every org Webex counts (its counts summed,
 * should an org come twice) or the topic holds, sorted by org id.
 */
export const compareWindow = (
  counts: readonly OrgCount[],
  topicOrgs: readonly string[],
): OrgToCompare[] => {
  const webex = new Map<string, number>();
  for (const c of counts) webex.set(c.orgId, (webex.get(c.orgId) ?? 0) + c.count);
  return [...new Set([...webex.keys(), ...topicOrgs])]
    .sort()
    .map((orgId) => ({ orgId, webexCount: webex.get(orgId) ?? 0 }));
};

export type OrgComparison = OrgToCompare & {
  /** Distinct Report IDs of the org and window on the topic. */
  topicCount: number;
  /** Both sides agree: nothing to report. */
  balanced: boolean;
  /** Webex counts more than the topic holds: fetch the org's records. */
  needsBackfill: boolean;
  /** More on the topic than Webex counts: reported, never deleted. */
  surplus: number;
};

/** One org against the topic (counted when its turn comes: a backfill adds to the topic). */
export const compareOrg = (org: OrgToCompare, topicCount: number): OrgComparison => ({
  ...org,
  topicCount,
  balanced: org.webexCount === topicCount,
  needsBackfill: org.webexCount > topicCount,
  surplus: Math.max(0, topicCount - org.webexCount),
});

// ---------------------------------------------------------------------------
// An org's result

/** The result of an org that needs attention, before any backfill. */
export const openOrgResult = (
  runId: string,
  s: Pick<WindowSummary, 'start' | 'end'>,
  c: OrgComparison,
): OrgResult => ({
  runId,
  windowStart: s.start,
  windowEnd: s.end,
  orgId: c.orgId,
  webexCount: c.webexCount,
  topicCount: c.topicCount,
  ...NO_COUNTS,
  surplus: c.surplus,
  errors: [],
  failed: false,
  errorCode: null,
});

/** An error of one org's reconciliation: the org is failed, with the first error's code. */
export const failOrg = (r: OrgResult, code: ErrorCode, error: string): OrgResult => ({
  ...r,
  errors: [...r.errors, error],
  failed: true,
  errorCode: r.errorCode ?? code,
});

/** A backfill that failed: what Webex has more stays missing. */
export const backfillFailed = (r: OrgResult, code: ErrorCode, error: string): OrgResult => ({
  ...failOrg(r, code, error),
  stillMissing: r.webexCount - r.topicCount,
});

/** What one backfill of an org found and published. */
export type BackfillCounts = {
  /** Records fetched from Webex that could be normalised. */
  records: number;
  /** Of them, with a Report ID on the topic already (the same content, or another: `versions`). */
  onTopic: number;
  /** Of those, published as a later version (what the publisher reports). */
  versions: number;
  /** Records fetched that could not be normalised. */
  dead: number;
  /** Of those, sent to the dead-letter topic (not there from an earlier run). */
  deadSent: number;
  /** What the publisher reports: records on the topic, and records dead-lettered. */
  accepted: number;
  deadLettered: number;
};

/**
 * An org's figures after a backfill. Records that failed Avro encoding are
 * dead-lettered by the publisher itself, so they count as unpublishable too.
 * Still missing: what Webex counted but did not return, or what cannot be
 * published; Webex's records now on the topic count wherever their
 * `cdr-call-end` placed them.
 */
export const settleBackfill = (r: OrgResult, b: BackfillCounts): OrgResult => {
  const backfilled = b.accepted - b.versions;
  const present = b.onTopic + backfilled;
  return {
    ...r,
    backfilled,
    versions: b.versions,
    deadLettered: b.deadLettered,
    unpublishable: b.dead + Math.max(0, b.deadLettered - b.deadSent),
    stillMissing: Math.max(0, r.webexCount - Math.max(present, r.topicCount + backfilled)),
  };
};

// ---------------------------------------------------------------------------
// Folding into the window's and the run's summary

export const emptyWindowSummary = (window: Window): WindowSummary => ({
  start: iso(window.start),
  end: iso(window.end),
  orgs: 0,
  webexTotal: 0,
  topicTotal: 0,
  ...NO_COUNTS,
  errors: [],
  failures: [],
});

/** The counts of a compared org, in its window's totals. */
export const addCounts = (
  s: WindowSummary,
  c: Pick<OrgComparison, 'webexCount' | 'topicCount'>,
): WindowSummary => ({
  ...s,
  webexTotal: s.webexTotal + c.webexCount,
  topicTotal: s.topicTotal + c.topicCount,
});

/** The failure an org's result stands for, or null. */
export const orgFailure = (r: OrgResult): Failure | null =>
  r.errorCode === null ? null : { orgId: r.orgId, code: r.errorCode, error: r.errors.join('; ') };

/** An org's result in its window's summary (its counts are in already: `addCounts`). */
export const addOrg = (s: WindowSummary, r: OrgResult): WindowSummary => {
  const failure = orgFailure(r);
  return {
    ...s,
    ...addUp(s, r),
    errors: [...s.errors, ...r.errors.map((e) => `${r.orgId}: ${e}`)],
    failures: failure === null ? s.failures : [...s.failures, failure],
  };
};

/** The window as a whole could not be compared (or its audit not written): org `*`. */
export const failWindow = (s: WindowSummary, code: ErrorCode, error: string): WindowSummary => ({
  ...s,
  errors: [...s.errors, error],
  failures: [...s.failures, { orgId: '*', code, error }],
});

/** The audit result for a window that could not be compared org by org. */
export const wholeWindowResult = (runId: string, s: WindowSummary): OrgResult => ({
  runId,
  windowStart: s.start,
  windowEnd: s.end,
  orgId: '*',
  webexCount: s.webexTotal,
  topicCount: s.topicTotal,
  ...NO_COUNTS,
  errors: [...s.errors],
  failed: s.failures.length > 0,
  errorCode: s.failures[0]?.code ?? null,
});

/** Each cause of a window's failures once: its code, how many failed with it, the first error. */
export const causesOf = (failures: readonly Failure[]) => {
  const byCode = new Map<ErrorCode, { code: ErrorCode; failures: number; error: string }>();
  for (const f of failures) {
    const c = byCode.get(f.code);
    if (c === undefined) byCode.set(f.code, { code: f.code, failures: 1, error: f.error });
    else c.failures += 1;
  }
  return [...byCode.values()];
};

const increment = (m: Partial<Record<ErrorCode, number>>, code: ErrorCode) => {
  m[code] = (m[code] ?? 0) + 1;
};

/** Totals over the windows reported; `planned` is the number of windows asked for. */
export const summariseRun = (
  runId: string,
  windows: WindowSummary[],
  planned: number,
  aborted: boolean,
  stoppedBy: RunSummary['stoppedBy'] = null,
): RunSummary => {
  let counts = NO_COUNTS;
  const totals = { webex: 0, topicBefore: 0, errors: 0, failedWindows: 0, failedOrgs: 0 };
  const failedByCode: RunSummary['failedByCode'] = { windows: {}, orgs: {} };
  for (const w of windows) {
    counts = addUp(counts, w);
    totals.webex += w.webexTotal;
    totals.topicBefore += w.topicTotal;
    totals.errors += w.errors.length;
    const [first] = w.failures;
    if (first !== undefined) {
      totals.failedWindows += 1;
      increment(failedByCode.windows, first.code);
    }
    for (const f of w.failures) {
      if (f.orgId === '*') continue;
      totals.failedOrgs += 1;
      increment(failedByCode.orgs, f.code);
    }
  }
  return {
    runId,
    windows,
    totals: {
      windows: planned,
      webex: totals.webex,
      topicBefore: totals.topicBefore,
      ...counts,
      errors: totals.errors,
      failedWindows: totals.failedWindows,
      failedOrgs: totals.failedOrgs,
    },
    failedByCode,
    aborted: aborted || stoppedBy !== null,
    stoppedBy,
  };
};
