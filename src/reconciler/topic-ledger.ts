/**
 * @module reconciler/topic-ledger
 * What is on the CDR topic for a set of windows, built from keys and headers
 * only: per window (by `cdr-call-end`) and org (the key), the distinct Report
 * IDs; and every Report ID seen, whatever its window, so a backfill never
 * republishes a record that is on the topic already.
 *
 * Memory: one entry per distinct Report ID read (about 150 bytes with the
 * sets' overhead); the reconciler bounds it by reading in passes of at most
 * `maxIdsPerPass` Webex-counted records.
 */
import type { KeyAndHeaders } from '../kafka/read-range.ts';
import type { Window } from './plan.ts';

export const REPORT_ID_HEADER = 'cdr-report-id';
export const CALL_END_HEADER = 'cdr-call-end';

export type Ledger = {
  observe(r: Pick<KeyAndHeaders, 'key' | 'headers'>): void;
  /** Records the connector itself just published. */
  add(callEnd: number | null, orgId: string, reportId: string): void;
  distinct(windowIndex: number, orgId: string): number;
  orgs(windowIndex: number): string[];
  has(reportId: string): boolean;
  windowOf(time: number): number;
  stats(): { records: number; distinct: number; withoutId: number; outsideWindows: number };
};

export const createLedger = (windows: readonly Window[]): Ledger => {
  const perWindow: Map<string, Set<string>>[] = windows.map(() => new Map());
  const all = new Set<string>();
  let records = 0;
  let withoutId = 0;
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

  const place = (callEnd: number | null, orgId: string, reportId: string) => {
    all.add(reportId);
    const index = callEnd === null ? -1 : windowOf(callEnd);
    const slot = perWindow[index];
    if (slot === undefined) {
      outsideWindows += 1;
      return;
    }
    let ids = slot.get(orgId);
    if (ids === undefined) {
      ids = new Set();
      slot.set(orgId, ids);
    }
    ids.add(reportId);
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
      place(Number.isNaN(time) ? null : time, r.key ?? '', id);
    },
    add: place,
    distinct: (i, org) => perWindow[i]?.get(org)?.size ?? 0,
    orgs: (i) => [...(perWindow[i]?.keys() ?? [])],
    has: (id) => all.has(id),
    windowOf,
    stats: () => ({ records, distinct: all.size, withoutId, outsideWindows }),
  };
};
