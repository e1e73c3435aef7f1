/**
 * @module cdr/batch
 * A batch of raw CDRs (one webhook delivery, or one cdrsbyorg answer) becomes
 * the records to publish, the records to dead-letter, and the count of
 * duplicates dropped; with privacy settings, each record is transformed as
 * soon as it is normalised (cdr/privacy.ts). Within a batch a Report ID is published once: the
 * version with the latest `Report time` wins (the later one on a tie).
 */
import type { CdrError } from '../errors.ts';
import { type Ingest, type NormalisedCdr, normalise } from './normalise.ts';
import type { Privacy } from './privacy.ts';

export type DeadRecord = {
  readonly raw: unknown;
  readonly error: CdrError;
  readonly index: number;
};

export type PreparedBatch = {
  readonly records: NormalisedCdr[];
  readonly dead: DeadRecord[];
  readonly duplicates: number;
};

/** What choosing among versions of a Report ID looks at. */
type Versioned = { readonly reportId: string; readonly reportTime: number | null };

/**
 * One version per Report ID, in the order each was first met: the one with the
 * latest Report time (the later one on a tie); `duplicates` counts the others.
 */
const latestPerReport = <T extends Versioned>(items: readonly T[]) => {
  const byReportId = new Map<string, T>();
  let duplicates = 0;
  for (const item of items) {
    const seen = byReportId.get(item.reportId);
    if (seen === undefined) {
      byReportId.set(item.reportId, item);
      continue;
    }
    duplicates += 1;
    if ((item.reportTime ?? -Infinity) >= (seen.reportTime ?? -Infinity)) {
      byReportId.set(item.reportId, item);
    }
  }
  return { records: [...byReportId.values()], duplicates };
};

const createBatchBuilder = (ingest: Ingest, privacy: Privacy | null) => {
  const normalised: NormalisedCdr[] = [];
  const dead: DeadRecord[] = [];
  return {
    add(raw: unknown, index: number) {
      const result = normalise(raw, ingest);
      if (!result.ok) {
        dead.push({
          raw: privacy === null ? raw : privacy.protectRaw(raw),
          error: result.error,
          index,
        });
        return;
      }
      privacy?.protect(result.value.record);
      normalised.push(result.value);
    },
    normalised,
    dead,
  };
};

export const prepareBatch = (
  raws: readonly unknown[],
  ingest: Ingest,
  privacy: Privacy | null = null,
): PreparedBatch => {
  const builder = createBatchBuilder(ingest, privacy);
  for (let i = 0; i < raws.length; i++) builder.add(raws[i], i);
  return { ...latestPerReport(builder.normalised), dead: builder.dead };
};

/** Records between two yields to the event loop when encoding (kafka/publish-cdrs.ts). */
export const YIELD_EVERY = 2000;

/**
 * Report IDs already published by earlier chunks of the same delivery, with
 * their Report time (`-Infinity` when unknown).
 */
export type SeenReports = Map<string, number>;

/**
 * One chunk of a large delivery, prepared as `prepareBatch` does, records
 * numbered from `firstIndex`. Against the earlier chunks (`seen`, updated
 * here): a Report ID met again with an older Report time is dropped; with the
 * same or a later one it is published again (the earlier version is already
 * on its way). Both count as duplicates.
 */
export const prepareChunk = (
  raws: readonly unknown[],
  firstIndex: number,
  ingest: Ingest,
  seen: SeenReports,
  privacy: Privacy | null = null,
): PreparedBatch => {
  const builder = createBatchBuilder(ingest, privacy);
  for (let i = 0; i < raws.length; i++) builder.add(raws[i], firstIndex + i);
  return { ...selectChunk(builder.normalised, seen), dead: builder.dead };
};

/**
 * The choice `prepareChunk` makes, on records normalised elsewhere (a worker
 * thread, ingress/chunk-worker.ts): one version per Report ID within the
 * chunk, then against the earlier chunks (`seen`, updated here).
 */
export const selectChunk = <T extends Versioned>(
  normalised: readonly T[],
  seen: SeenReports,
): { records: T[]; duplicates: number } => {
  const within = latestPerReport(normalised);
  let duplicates = within.duplicates;
  const records: T[] = [];
  for (const cdr of within.records) {
    const time = cdr.reportTime ?? -Infinity;
    const earlier = seen.get(cdr.reportId);
    if (earlier !== undefined) duplicates += 1;
    if (earlier !== undefined && time < earlier) continue;
    seen.set(cdr.reportId, time);
    records.push(cdr);
  }
  return { records, duplicates };
};
