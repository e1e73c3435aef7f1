/**
 * @module reconciler/topic-ledger
 * What is on the CDR topic for one pass of windows, built from keys and
 * headers only: per window (by `cdr-call-end`) and org (the key), the distinct
 * Report IDs; and, for every record whose call ended within the pass's span
 * widened by `marginMs` on each side, what the ingress's dedup index holds
 * (dedup/report-index.ts, fed by the same headers: `cdr-content-hash`,
 * `cdr-version`, `cdr-report-time`). `check` gives a backfill the ingress's
 * verdict, so a record on the topic with the same content is never published
 * again, one with other content is published as the next version, even when
 * Webex counts it in a neighbouring window; and a record on the topic without
 * a content hash (published before dedup) counts as there, as before.
 *
 * Memory: one slot of the dedup index per distinct Report ID kept (36 bytes
 * for UUIDs; windows hold counts per org, not sets); nothing is pruned within
 * a pass. `reserve` sizes the index from the read's offsets range before the
 * first record, 1.33 slots per record read (48 bytes), so it never grows
 * during the read; the range is an upper bound of what is kept (records
 * outside the span are read but not kept). A Report ID counts in the window where it is first seen. Only records whose call ended within
 * [first window start - margin, last window end + margin] are kept, so the
 * bound is the records of one pass's span plus the margins, however far the
 * topic is read. Records outside that span, and records without a readable
 * `cdr-call-end`, are counted in the stats and not kept.
 */
import { createReportIndex, type Seen, type Verdict } from '../dedup/report-index.ts';
import { seenFromHeaders } from '../dedup/topic-index.ts';
import type { KeyAndHeaders } from '../kafka/port.ts';
import { HOUR_MS, type Window } from './plan.ts';

const REPORT_ID_HEADER = 'cdr-report-id';
export const CALL_END_HEADER = 'cdr-call-end';
/** Records whose call ended this close to the pass's span are kept too. */
export const LEDGER_MARGIN_MS = HOUR_MS;

export type LedgerStats = {
  /** Records observed on the topic. */
  records: number;
  /** Distinct Report IDs held (observed, or added after a backfill). */
  kept: number;
  withoutId: number;
  /** Observed with a Report ID but no readable `cdr-call-end`: not kept. */
  withoutCallEnd: number;
  /** Call end outside the pass's span and margins: not kept. */
  outsideSpan: number;
  /** Kept (inside the margins) but in none of the pass's windows. */
  outsideWindows: number;
};

export type Ledger = {
  observe(r: Pick<KeyAndHeaders, 'key' | 'headers' | 'timestamp'>): void;
  /** Sizes the index for the records about to be observed (the read's offsets range), so it never grows. */
  reserve(records: number): void;
  /** A record the connector itself just published (always kept). */
  add(callEnd: number | null, orgId: string, seen: Seen): void;
  distinct(windowIndex: number, orgId: string): number;
  orgs(windowIndex: number): string[];
  has(reportId: string): boolean;
  /**
   * What to do with a record fetched from Webex, by the ingress's rules: `new`
   * and `version` are published, `repeat` is on the topic. A Report ID on the
   * topic without a content hash is a `repeat` here (its content is unknown).
   */
  check(reportId: string, hash: string): Verdict;
  windowOf(time: number): number;
  stats(): LedgerStats;
};

/** `windows` oldest first and contiguous or not, but sorted and non-overlapping. */
export const createLedger = (
  windows: readonly Window[],
  marginMs: number = LEDGER_MARGIN_MS,
): Ledger => {
  // per window and org, the number of distinct Report IDs (each counted where first seen)
  const perWindow: Map<string, number>[] = windows.map(() => new Map());
  const all = createReportIndex(Number.POSITIVE_INFINITY); // never pruned within a pass
  const spanStart = (windows[0]?.start ?? 0) - marginMs;
  const spanEnd = (windows.at(-1)?.end ?? 0) + marginMs;
  let records = 0;
  let withoutId = 0;
  let withoutCallEnd = 0;
  let outsideSpan = 0;
  let outsideWindows = 0;

  const windowOf = (time: number): number => {
    let lo = 0;
    let hi = windows.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const w = windows[mid] as Window;
      if (time < w.start) hi = mid - 1;
      else if (time >= w.end) lo = mid + 1;
      else return mid;
    }
    return -1;
  };

  const place = (callEnd: number | null, orgId: string, seen: Seen) => {
    const slot = callEnd === null ? undefined : perWindow[windowOf(callEnd)];
    const first = all.observe(seen); // one lookup: a Report ID is counted where first seen
    if (slot === undefined) outsideWindows += 1;
    else if (first) slot.set(orgId, (slot.get(orgId) ?? 0) + 1);
  };

  return {
    observe(r) {
      records += 1;
      const id = r.headers[REPORT_ID_HEADER];
      if (id === undefined || id === '') {
        withoutId += 1;
        return;
      }
      const end = r.headers[CALL_END_HEADER];
      const time = end === undefined ? Number.NaN : Date.parse(end);
      if (Number.isNaN(time)) {
        withoutCallEnd += 1;
        return;
      }
      if (time < spanStart || time >= spanEnd) {
        outsideSpan += 1;
        return;
      }
      // kept: only now the rest of its headers are read
      place(time, r.key ?? '', seenFromHeaders(r) as Seen);
    },
    reserve: (n) => all.reserve(n),
    add: place,
    distinct: (i, org) => perWindow[i]?.get(org) ?? 0,
    orgs: (i) => [...(perWindow[i]?.keys() ?? [])],
    has: (id) => all.has(id),
    check(reportId, hash) {
      const verdict = all.check(reportId, hash);
      return verdict.kind === 'version' && verdict.earlier.hash === null
        ? { kind: 'repeat', version: verdict.earlier.version }
        : verdict;
    },
    windowOf,
    stats: () => ({
      records,
      kept: all.size,
      withoutId,
      withoutCallEnd,
      outsideSpan,
      outsideWindows,
    }),
  };
};
