/**
 * @module cdr/batch
 * A batch of raw CDRs (one webhook delivery, or one cdrsbyorg answer) becomes
 * the records to publish, the records to dead-letter, and the count of
 * duplicates dropped. Within a batch a Report ID is published once: the
 * version with the latest `Report time` wins (the later one on a tie).
 */
import type { CdrError } from '../errors.ts';
import { type Ingest, type NormalisedCdr, normalise } from './normalise.ts';

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

export const prepareBatch = (raws: readonly unknown[], ingest: Ingest): PreparedBatch => {
  const byReportId = new Map<string, NormalisedCdr>();
  const dead: DeadRecord[] = [];
  let duplicates = 0;
  raws.forEach((raw, index) => {
    const result = normalise(raw, ingest);
    if (!result.ok) {
      dead.push({ raw, error: result.error, index });
      return;
    }
    const cdr = result.value;
    const seen = byReportId.get(cdr.reportId);
    if (seen === undefined) {
      byReportId.set(cdr.reportId, cdr);
      return;
    }
    duplicates += 1;
    if ((cdr.reportTime ?? -Infinity) >= (seen.reportTime ?? -Infinity)) {
      byReportId.set(cdr.reportId, cdr);
    }
  });
  return { records: [...byReportId.values()], dead, duplicates };
};
