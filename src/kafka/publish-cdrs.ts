/**
 * @module kafka/publish-cdrs
 * The shared tail of both pipelines: encode every prepared record with the
 * registered schema, route the ones that cannot be encoded to the dead-letter
 * topic, and send everything (main and dead-letter) in one acknowledged
 * operation under a deadline. With a dedup index (dedup/topic-index.ts), a
 * record whose Report ID is on the topic with the same content is dropped
 * before encoding (counted in `repeats`), and one with other content is
 * published as the next version (`versions`, the `cdr-version` headers);
 * what Kafka acknowledged is told to the index at once.
 */
import { setImmediate } from 'node:timers/promises';
import { type PreparedBatch, YIELD_EVERY } from '../cdr/batch.ts';
import type { CdrRecord, Ingest, NormalisedCdr } from '../cdr/normalise.ts';
import { contentHash } from '../dedup/content-hash.ts';
import type { Seen } from '../dedup/report-index.ts';
import type { DedupIndex } from '../dedup/topic-index.ts';
import { CdrError, describe } from '../errors.ts';
import {
  type CdrMessageFields,
  type Supersedes,
  toCdrMessage,
  toDeadLetterMessage,
} from './messages.ts';
import type { CdrProducer, OutMessage } from './port.ts';
import type { Encoder } from './wire-encoder.ts';

/** An encoded CDR larger than this is dead-lettered (the broker's default limit is 1 MiB). */
export const MAX_RECORD_BYTES = 900 * 1024;

/**
 * A dead letter of a normalised record leaves out `ingest` (delivery id, receipt
 * time), so the same record always gives the same letter and hash: the
 * reconciler can tell it has dead-lettered it before.
 */
const withoutIngest = (record: CdrRecord): Omit<CdrRecord, 'ingest'> => {
  const { ingest: _ingest, ...rest } = record;
  return rest;
};

export type PublishCounts = {
  accepted: number;
  deadLettered: number;
  duplicatesInBatch: number;
  /** With dedup: records dropped, the same content being on the topic already. */
  repeats?: number;
  /** With dedup: records published as a later version of a Report ID on the topic. */
  versions?: number;
};

/**
 * A record normalised and encoded on a worker thread (ingress/chunk-worker.ts):
 * what its message needs, its content hash and its bytes, or, when Avro
 * encoding failed, why and the record (without `ingest`) for its dead letter.
 */
export type EncodedCdr = CdrMessageFields & {
  readonly hash: string;
  readonly value: Buffer | null;
  readonly failure: { readonly message: string; readonly raw: unknown } | null;
};

export type EncodedBatch = Omit<PreparedBatch, 'records'> & {
  readonly encoded: true;
  readonly records: EncodedCdr[];
};

export type CdrPublisher = {
  /** `dedup`: checked instead of the publisher's own index (the reconciler's ledger). */
  publish(
    batch: PreparedBatch | EncodedBatch,
    ingest: Ingest,
    deadlineMs: number,
    dedup?: DedupIndex,
  ): Promise<PublishCounts>;
};

/**
 * The Avro bytes of a record, or why it is dead-lettered (record_encode_failed)
 * with what its letter holds: the schema refused it, or it is over
 * MAX_RECORD_BYTES (one record over the broker's limit would fail the whole
 * delivery forever). Run where the record was normalised (here or on a worker).
 */
export const encodeRecord = (
  encoder: Pick<Encoder, 'encode'>,
  record: CdrRecord,
): Pick<EncodedCdr, 'value' | 'failure'> => {
  let value: Buffer;
  try {
    value = encoder.encode(record);
  } catch (e) {
    const message = `Avro encoding failed: ${describe(e)}`;
    return { value: null, failure: { message, raw: withoutIngest(record) } };
  }
  if (value.length <= MAX_RECORD_BYTES) return { value, failure: null };
  const message = `the encoded record is ${value.length} bytes, over the ${MAX_RECORD_BYTES}-byte limit`;
  return { value: null, failure: { message, raw: withoutIngest(record) } };
};

export const createCdrPublisher = (deps: {
  producer: CdrProducer;
  encoder: () => Encoder | null;
  /** What a publish is answered before the schema is known (not_ready when absent or null). */
  notReady?: () => CdrError | null;
  topic: string;
  dlqTopic: string;
  /** Added to every message, main and dead-letter (e.g. `cdr-privacy`). */
  headers?: Readonly<Record<string, string>>;
  /** Repeats dropped and versions marked against what the topic holds (none when absent). */
  dedup?: DedupIndex;
  now?: () => number;
}): CdrPublisher => ({
  async publish(batch, ingest, deadlineMs, own) {
    const encoder = deps.encoder();
    if (encoder === null) {
      throw deps.notReady?.() ?? new CdrError('not_ready', 'the CDR schema is not registered yet');
    }
    const dedup = own ?? deps.dedup;
    const warming = dedup?.problem() ?? null;
    if (warming !== null) throw warming;
    const main: OutMessage[] = [];
    const seen: Omit<Seen, 'publishedAt'>[] = [];
    const dead = [...batch.dead];
    let repeats = 0;
    let versions = 0;
    const records: readonly (NormalisedCdr | EncodedCdr)[] = batch.records;
    for (let i = 0; i < records.length; i++) {
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await setImmediate();
      const cdr = records[i] as NormalisedCdr | EncodedCdr;
      const done = 'hash' in cdr ? cdr : null; // encoded on a worker thread
      const hash = done?.hash ?? contentHash((cdr as NormalisedCdr).record);
      let supersedes: Supersedes | null = null;
      if (dedup !== undefined) {
        const verdict = dedup.check(cdr.reportId, hash);
        if (verdict.kind === 'repeat') {
          repeats += 1;
          continue;
        }
        if (verdict.kind === 'version') {
          supersedes = { version: verdict.version, earlierReportTime: verdict.earlier.reportTime };
        }
      }
      const { value, failure } = done ?? encodeRecord(encoder, (cdr as NormalisedCdr).record);
      if (value === null) {
        const why = failure ?? { message: 'not encoded', raw: null };
        dead.push({
          raw: why.raw,
          error: new CdrError('record_encode_failed', why.message),
          index: -1,
        });
        continue;
      }
      main.push(toCdrMessage(cdr, value, hash, supersedes));
      if (supersedes !== null) versions += 1;
      if (dedup === undefined) continue;
      seen.push({
        reportId: cdr.reportId,
        hash,
        version: supersedes?.version ?? 1,
        reportTime: cdr.reportTime,
      });
    }
    const dlq = dead.map((d) => toDeadLetterMessage(d, ingest));
    if (deps.headers !== undefined) {
      for (const m of [...main, ...dlq]) Object.assign(m.headers, deps.headers);
    }
    const batches = [
      ...(main.length > 0 ? [{ topic: deps.topic, messages: main }] : []),
      ...(dlq.length > 0 ? [{ topic: deps.dlqTopic, messages: dlq }] : []),
    ];
    if (batches.length > 0) await deps.producer.send(batches, deadlineMs);
    const counts = {
      accepted: main.length,
      deadLettered: dlq.length,
      duplicatesInBatch: batch.duplicates,
    };
    if (dedup === undefined) return counts;
    const publishedAt = (deps.now ?? Date.now)();
    dedup.published(
      seen.map((s) => ({ ...s, publishedAt })),
      { repeats, versions },
    );
    return { ...counts, repeats, versions };
  },
});
