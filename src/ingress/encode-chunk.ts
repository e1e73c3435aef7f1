/**
 * @module ingress/encode-chunk
 * The work a worker thread does on one chunk of a delivery (ingress/
 * chunk-worker.ts), and its answer made back into a batch on the main thread.
 *
 *   checkChunk    the records' JSON syntax, on their bytes (the pass that lets a
 *                 syntax error anywhere refuse the whole delivery)
 *   encodeChunk   each record parsed, normalised, its privacy applied, its
 *                 content hash taken and Avro-encoded, exactly as the inline
 *                 path does (cdr/batch.ts, kafka/publish-cdrs.ts); the values
 *                 packed into one buffer, which is transferred, not copied
 *   toEncodedBatch  on the main thread: the chunk's records as the publisher
 *                 takes them, one version per Report ID chosen as `prepareChunk`
 *                 chooses (also against the earlier chunks)
 *
 * Both work functions throw the coded error the inline path would
 * (body_invalid_json naming the record).
 */
import { type DeadRecord, type SeenReports, selectChunk } from '../cdr/batch.ts';
import { type Ingest, normalise } from '../cdr/normalise.ts';
import type { Privacy } from '../cdr/privacy.ts';
import { contentHash } from '../dedup/content-hash.ts';
import { CdrError, type ErrorCode } from '../errors.ts';
import { type EncodedBatch, type EncodedCdr, encodeRecord } from '../kafka/publish-cdrs.ts';
import type { Encoder } from '../kafka/wire-encoder.ts';
import { isJsonText } from './json-syntax.ts';
import { invalidJson, parseWholeRecords, type RecordBytes } from './parse-body.ts';

/** A chunk's answer from a worker: per normalised record, in the order of the delivery. */
export type EncodedChunk = {
  readonly reportIds: string[];
  readonly orgIds: string[];
  /** NaN: no time. */
  readonly reportTimes: Float64Array<ArrayBuffer>;
  readonly callEnds: Float64Array<ArrayBuffer>;
  readonly reportTimeIsos: (string | null)[];
  readonly callEndIsos: (string | null)[];
  readonly hashes: string[];
  /** The encoded values one after another; record k's ends at valueEnds[k] (empty when it failed). */
  readonly values: Uint8Array<ArrayBuffer>;
  readonly valueEnds: Uint32Array<ArrayBuffer>;
  /** Records that could not be encoded, by position among the normalised ones. */
  readonly failures: { at: number; message: string; raw: unknown }[];
  /** Records the normaliser refused. */
  readonly dead: { raw: unknown; code: ErrorCode; message: string; index: number }[];
};

const textOf = (records: RecordBytes) => {
  const buffer = Buffer.from(records.bytes.buffer, records.bytes.byteOffset, records.bytes.length);
  return (k: number) =>
    buffer.toString('utf8', records.bounds[2 * k] as number, records.bounds[2 * k + 1] as number);
};

const parseRecord = (text: (k: number) => string, k: number, firstIndex: number): unknown => {
  try {
    return JSON.parse(text(k));
  } catch (e) {
    throw invalidJson(e, ` (record ${firstIndex + k + 1})`);
  }
};

/** Throws body_invalid_json for the first record that is not JSON text. */
export const checkChunk = (records: RecordBytes): void => {
  const { bytes, bounds } = records;
  const text = textOf(records);
  for (let k = 0; 2 * k < bounds.length; k++) {
    if (isJsonText(bytes, bounds[2 * k], bounds[2 * k + 1])) continue;
    parseRecord(text, k, records.firstIndex); // JSON.parse has the last word, and the message
  }
};

const NO_TIME = Number.NaN;

/** Room made for a chunk's Avro values per byte of its JSON (measured: 1,044 of 2,598). */
const AVRO_PER_JSON_BYTE = 0.5;

export const encodeChunk = (
  records: RecordBytes,
  ingest: Ingest,
  encoder: Pick<Encoder, 'encode'>,
  privacy: Privacy | null,
): EncodedChunk => {
  const text = textOf(records);
  return encodeRaws(
    { count: records.bounds.length / 2, firstIndex: records.firstIndex },
    (k) => parseRecord(text, k, records.firstIndex),
    records.bytes.length,
    { ingest, encoder, privacy },
  );
};

/** A body's records, its JSON parsed whole on a worker, encoded chunk by chunk. */
export type EncodedBody = {
  /** Records in the body (the delivery's `received`). */
  readonly received: number;
  /** One per `chunkRecords` records of the body, as the inline path chunks it. */
  readonly chunks: EncodedChunk[];
};

/**
 * A body handed whole to a worker: parsed as the inline path parses a body in
 * memory (ingress/parse-body.ts: one JSON.parse, the same errors and limit,
 * so a syntax error anywhere refuses it before anything is sent), then
 * encoded in chunks of `chunkRecords` records, numbered as inline.
 */
export const encodeBody = (
  bytes: Uint8Array,
  chunkRecords: number,
  ingest: Ingest,
  encoder: Pick<Encoder, 'encode'>,
  privacy: Privacy | null,
): EncodedBody => {
  const raws = parseWholeRecords(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  const bytesPerRecord = bytes.length / Math.max(1, raws.length);
  const chunks: EncodedChunk[] = [];
  for (let from = 0; from === 0 || from < raws.length; from += chunkRecords) {
    const count = Math.min(chunkRecords, raws.length - from);
    chunks.push(
      encodeRaws({ count, firstIndex: from }, (k) => raws[from + k], count * bytesPerRecord, {
        ingest,
        encoder,
        privacy,
      }),
    );
  }
  return { received: raws.length, chunks };
};

/**
 * Records normalised, their privacy applied, hashed and Avro-encoded exactly as
 * the inline path does (cdr/batch.ts, kafka/publish-cdrs.ts); the values packed
 * into one buffer (`sizeHint` bytes to start with), which is transferred.
 */
const encodeRaws = (
  at: { count: number; firstIndex: number },
  rawAt: (k: number) => unknown,
  sizeHint: number,
  how: { ingest: Ingest; encoder: Pick<Encoder, 'encode'>; privacy: Privacy | null },
): EncodedChunk => {
  const { count, firstIndex } = at;
  const { ingest, encoder, privacy } = how;
  const out: EncodedChunk = {
    reportIds: [],
    orgIds: [],
    reportTimes: new Float64Array(count),
    callEnds: new Float64Array(count),
    reportTimeIsos: [],
    callEndIsos: [],
    hashes: [],
    values: new Uint8Array(0),
    valueEnds: new Uint32Array(count),
    failures: [],
    dead: [],
  };
  // Avro is smaller than the JSON it comes from (about 0.4 of it for Webex's
  // records): half the JSON's bytes are room enough, mostly; it grows if not
  let values = Buffer.allocUnsafeSlow(Math.max(1024, Math.ceil(sizeHint * AVRO_PER_JSON_BYTE)));
  let used = 0;
  let n = 0;
  for (let k = 0; k < count; k++) {
    const raw = rawAt(k);
    const result = normalise(raw, ingest);
    if (!result.ok) {
      out.dead.push({
        raw: privacy === null ? raw : privacy.protectRaw(raw),
        code: result.error.code,
        message: result.error.message,
        index: firstIndex + k,
      });
      continue;
    }
    const cdr = result.value;
    privacy?.protect(cdr.record);
    out.reportIds.push(cdr.reportId);
    out.orgIds.push(cdr.orgId);
    out.reportTimes[n] = cdr.reportTime ?? NO_TIME;
    out.callEnds[n] = cdr.callEnd ?? NO_TIME;
    out.reportTimeIsos.push(cdr.reportTimeIso);
    out.callEndIsos.push(cdr.callEndIso);
    out.hashes.push(contentHash(cdr.record));
    const { value, failure } = encodeRecord(encoder, cdr.record);
    if (value === null) {
      out.failures.push({ at: n, message: failure?.message ?? 'not encoded', raw: failure?.raw });
    } else {
      if (used + value.length > values.length) {
        const larger = Buffer.allocUnsafeSlow(2 * (used + value.length));
        values.copy(larger, 0, 0, used);
        values = larger;
      }
      value.copy(values, used);
      used += value.length;
    }
    out.valueEnds[n] = used;
    n += 1;
  }
  return {
    ...out,
    reportTimes: out.reportTimes.slice(0, n),
    callEnds: out.callEnds.slice(0, n),
    values: new Uint8Array(values.buffer, 0, used),
    valueEnds: out.valueEnds.slice(0, n),
  };
};

const timeOf = (t: number | undefined): number | null =>
  t === undefined || Number.isNaN(t) ? null : t;

/**
 * A chunk's answers from the workers (one, or its parts in order) as the
 * publisher takes them; `seen` as `prepareChunk` keeps it.
 */
export const toEncodedBatch = (
  parts: readonly EncodedChunk[],
  ingest: Ingest,
  seen: SeenReports,
): EncodedBatch => {
  const record = { ingest };
  const normalised: EncodedCdr[] = [];
  const dead: DeadRecord[] = [];
  for (const chunk of parts) {
    const failed = new Map(chunk.failures.map((f) => [f.at, f]));
    const values = Buffer.from(chunk.values.buffer, chunk.values.byteOffset, chunk.values.length);
    let start = 0;
    for (let n = 0; n < chunk.reportIds.length; n++) {
      const end = chunk.valueEnds[n] as number;
      const failure = failed.get(n);
      normalised.push({
        reportId: chunk.reportIds[n] as string,
        orgId: chunk.orgIds[n] as string,
        reportTime: timeOf(chunk.reportTimes[n]),
        callEnd: timeOf(chunk.callEnds[n]),
        reportTimeIso: chunk.reportTimeIsos[n] ?? null,
        callEndIso: chunk.callEndIsos[n] ?? null,
        record,
        hash: chunk.hashes[n] as string,
        value: failure === undefined ? values.subarray(start, end) : null,
        failure: failure === undefined ? null : { message: failure.message, raw: failure.raw },
      });
      start = end;
    }
    for (const d of chunk.dead) {
      dead.push({ raw: d.raw, error: new CdrError(d.code, d.message), index: d.index });
    }
  }
  return { encoded: true, ...selectChunk(normalised, seen), dead };
};
