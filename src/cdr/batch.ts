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

const createBatchBuilder = (ingest: Ingest, privacy: Privacy | null) => {
  const byReportId = new Map<string, NormalisedCdr>();
  const dead: DeadRecord[] = [];
  let duplicates = 0;
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
      const cdr = result.value;
      privacy?.protect(cdr.record);
      const seen = byReportId.get(cdr.reportId);
      if (seen === undefined) {
        byReportId.set(cdr.reportId, cdr);
        return;
      }
      duplicates += 1;
      if ((cdr.reportTime ?? -Infinity) >= (seen.reportTime ?? -Infinity)) {
        byReportId.set(cdr.reportId, cdr);
      }
    },
    result: (): PreparedBatch => ({ records: [...byReportId.values()], dead, duplicates }),
  };
};

export const prepareBatch = (
  raws: readonly unknown[],
  ingest: Ingest,
  privacy: Privacy | null = null,
): PreparedBatch => {
  const builder = createBatchBuilder(ingest, privacy);
  for (let i = 0; i < raws.length; i++) builder.add(raws[i], i);
  return builder.result();
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
  const chunk = builder.result();
  let duplicates = chunk.duplicates;
  const records: NormalisedCdr[] = [];
  for (const cdr of chunk.records) {
    const time = cdr.reportTime ?? -Infinity;
    const earlier = seen.get(cdr.reportId);
    if (earlier !== undefined) duplicates += 1;
    if (earlier !== undefined && time < earlier) continue;
    seen.set(cdr.reportId, time);
    records.push(cdr);
  }
  return { records, dead: chunk.dead, duplicates };
};
