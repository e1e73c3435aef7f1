/**
 * @module cdr/batch
 * A batch of raw CDRs (one webhook delivery, or one cdrsbyorg answer) becomes
 * the records to publish, the records to dead-letter, and the count of
 * duplicates dropped. Within a batch a Report ID is published once: the
 * version with the latest `Report time` wins (the later one on a tie).
 */
import { setImmediate } from 'node:timers/promises';
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

const createBatchBuilder = (ingest: Ingest) => {
  const byReportId = new Map<string, NormalisedCdr>();
  const dead: DeadRecord[] = [];
  let duplicates = 0;
  return {
    add(raw: unknown, index: number) {
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
    },
    result: (): PreparedBatch => ({ records: [...byReportId.values()], dead, duplicates }),
  };
};

export const prepareBatch = (raws: readonly unknown[], ingest: Ingest): PreparedBatch => {
  const builder = createBatchBuilder(ingest);
  for (let i = 0; i < raws.length; i++) builder.add(raws[i], i);
  return builder.result();
};

/** Records between two yields to the event loop in the async forms. */
export const YIELD_EVERY = 2000;

/**
 * The same, yielding to the event loop every few thousand records, so a very
 * large delivery does not stall health checks and other requests.
 */
export const prepareBatchYielding = async (
  raws: readonly unknown[],
  ingest: Ingest,
): Promise<PreparedBatch> => {
  const builder = createBatchBuilder(ingest);
  for (let i = 0; i < raws.length; i++) {
    builder.add(raws[i], i);
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await setImmediate();
  }
  return builder.result();
};

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
): PreparedBatch => {
  const builder = createBatchBuilder(ingest);
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
