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
import { isUtf8 } from 'node:buffer';
import { buildCdrSchema } from '../cdr/avro-schema.ts';
import { type DeadRecord, type SeenReports, selectChunk } from '../cdr/batch.ts';
import { type Ingest, normalise } from '../cdr/normalise.ts';
import type { Privacy } from '../cdr/privacy.ts';
import {
  createTranscoder,
  NEEDS_ROOM,
  type Transcoded,
  type Transcoder,
} from '../cdr/transcode.ts';
import { contentHash } from '../dedup/content-hash.ts';
import { CdrError, type ErrorCode } from '../errors.ts';
import {
  type EncodedBatch,
  type EncodedCdr,
  encodeRecord,
  MAX_RECORD_BYTES,
} from '../kafka/publish-cdrs.ts';
import { type Encoder, parseAvro } from '../kafka/wire-encoder.ts';
import { MAX_RECORDS } from './json-records-scanner.ts';
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
  /** Records written straight from their bytes (cdr/transcode.ts), not parsed into objects. */
  readonly transcoded: number;
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

/**
 * A chunk's answer, written record by record: the values packed into one
 * buffer (`sizeHint` bytes of JSON to start with), which is transferred.
 */
class ChunkWriter {
  readonly reportIds: string[] = [];
  readonly orgIds: string[] = [];
  readonly reportTimes: Float64Array<ArrayBuffer>;
  readonly callEnds: Float64Array<ArrayBuffer>;
  readonly reportTimeIsos: (string | null)[] = [];
  readonly callEndIsos: (string | null)[] = [];
  readonly hashes: string[] = [];
  readonly valueEnds: Uint32Array<ArrayBuffer>;
  readonly failures: EncodedChunk['failures'] = [];
  readonly dead: EncodedChunk['dead'] = [];
  /** The values so far; `used` bytes of it. */
  values: Buffer<ArrayBuffer>;
  used = 0;
  transcoded = 0;
  private n = 0;

  constructor(records: number, sizeHint: number) {
    this.reportTimes = new Float64Array(records);
    this.callEnds = new Float64Array(records);
    this.valueEnds = new Uint32Array(records);
    // Avro is smaller than the JSON it comes from (about 0.4 of it for Webex's
    // records): half the JSON's bytes are room enough, mostly; it grows if not
    this.values = Buffer.allocUnsafeSlow(Math.max(1024, Math.ceil(sizeHint * AVRO_PER_JSON_BYTE)));
  }

  /** Makes room for `bytes` more bytes of values. */
  room(bytes: number): void {
    if (this.used + bytes <= this.values.length) return;
    const larger = Buffer.allocUnsafeSlow(2 * (this.used + bytes));
    this.values.copy(larger, 0, 0, this.used);
    this.values = larger;
  }

  /** A record the transcoder wrote into `values`, up to `valueEnd`. */
  addTranscoded(t: Transcoded, valueEnd: number): void {
    this.reportIds.push(t.reportId);
    this.orgIds.push(t.orgId);
    this.reportTimes[this.n] = t.reportTime;
    this.callEnds[this.n] = t.callEnd;
    this.reportTimeIsos.push(t.reportTimeIso);
    this.callEndIsos.push(t.callEndIso);
    this.hashes.push(t.hash);
    this.used = valueEnd;
    this.valueEnds[this.n++] = valueEnd;
    this.transcoded += 1;
  }

  /** A raw record the usual way: normalised, its privacy applied, hashed, encoded. */
  addRaw(
    raw: unknown,
    index: number,
    how: { ingest: Ingest; encoder: Pick<Encoder, 'encode'>; privacy: Privacy | null },
  ): void {
    const { privacy } = how;
    const result = normalise(raw, how.ingest);
    if (!result.ok) {
      this.dead.push({
        raw: privacy === null ? raw : privacy.protectRaw(raw),
        code: result.error.code,
        message: result.error.message,
        index,
      });
      return;
    }
    const cdr = result.value;
    privacy?.protect(cdr.record);
    this.reportIds.push(cdr.reportId);
    this.orgIds.push(cdr.orgId);
    this.reportTimes[this.n] = cdr.reportTime ?? NO_TIME;
    this.callEnds[this.n] = cdr.callEnd ?? NO_TIME;
    this.reportTimeIsos.push(cdr.reportTimeIso);
    this.callEndIsos.push(cdr.callEndIso);
    this.hashes.push(contentHash(cdr.record));
    const { value, failure } = encodeRecord(how.encoder, cdr.record);
    if (value === null) {
      this.failures.push({
        at: this.n,
        message: failure?.message ?? 'not encoded',
        raw: failure?.raw,
      });
    } else {
      this.room(value.length);
      value.copy(this.values, this.used);
      this.used += value.length;
    }
    this.valueEnds[this.n++] = this.used;
  }

  finish(): EncodedChunk {
    const n = this.n;
    return {
      reportIds: this.reportIds,
      orgIds: this.orgIds,
      reportTimes: this.reportTimes.slice(0, n),
      callEnds: this.callEnds.slice(0, n),
      reportTimeIsos: this.reportTimeIsos,
      callEndIsos: this.callEndIsos,
      hashes: this.hashes,
      values: new Uint8Array(this.values.buffer, this.values.byteOffset, this.used),
      valueEnds: this.valueEnds.slice(0, n),
      failures: this.failures,
      dead: this.dead,
      transcoded: this.transcoded,
    };
  }
}

/** The schemas whose records the transcoder writes (the contract's, by Avro's canonical form). */
let contract: Buffer | null = null;
const contractPrint = (): Buffer => {
  contract ??= parseAvro(JSON.stringify(buildCdrSchema())).fingerprint('sha256');
  return contract;
};
const writesContractByText = new Map<string, boolean>();

/**
 * Whether records for `encoder` may be transcoded (cdr/transcode.ts): it
 * writes the contract's schema (not another one a governed registry gave),
 * and no privacy setting changes the fields.
 */
export const canTranscode = (
  encoder: Pick<Encoder, 'schemaText'>,
  privacy: Privacy | null,
): boolean => {
  const text = encoder.schemaText;
  if (privacy !== null || text === undefined) return false;
  let yes = writesContractByText.get(text);
  if (yes === undefined) {
    yes = parseAvro(text).fingerprint('sha256').equals(contractPrint());
    if (writesContractByText.size < 16) writesContractByText.set(text, yes);
  }
  return yes;
};

/** The transcoder for a delivery, or null when its records take the usual path. */
const transcoderFor = (
  encoder: Pick<Encoder, 'encode' | 'schemaId' | 'schemaText'>,
  ingest: Ingest,
  privacy: Privacy | null,
) =>
  canTranscode(encoder, privacy)
    ? createTranscoder(encoder.schemaId, ingest, MAX_RECORD_BYTES)
    : null;

/**
 * The transcoder's value of the record at `src[start..]` (up to `limit`)
 * written into `out`, grown when it must be: the value's end, or
 * NOT_TRANSCODED.
 */
const transcodeInto = (
  t: Transcoder,
  src: Buffer,
  start: number,
  limit: number,
  out: ChunkWriter,
): number => {
  for (;;) {
    const end = t.transcode(src, start, limit, out.values, out.used);
    if (end !== NEEDS_ROOM) return end;
    out.room(t.room(t.result.end - start));
  }
};

export const encodeChunk = (
  records: RecordBytes,
  ingest: Ingest,
  encoder: Pick<Encoder, 'encode' | 'schemaId' | 'schemaText'>,
  privacy: Privacy | null,
): EncodedChunk => {
  const text = textOf(records);
  const { bytes, bounds, firstIndex } = records;
  const count = bounds.length / 2;
  const how = { ingest, encoder, privacy };
  const out = new ChunkWriter(count, bytes.length);
  const t = transcoderFor(encoder, ingest, privacy);
  const src = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let k = 0; k < count; k++) {
    const start = bounds[2 * k] as number;
    const end = bounds[2 * k + 1] as number;
    if (t !== null) {
      const valueEnd = transcodeInto(t, src, start, end, out);
      // the record's bytes must be the object and nothing else, or JSON.parse decides
      if (valueEnd >= 0 && t.result.end === end) {
        out.addTranscoded(t.result, valueEnd);
        continue;
      }
    }
    out.addRaw(parseRecord(text, k, firstIndex), firstIndex + k, how);
  }
  return out.finish();
};

/** A body's records, its JSON parsed whole on a worker, encoded chunk by chunk. */
export type EncodedBody = {
  /** Records in the body (the delivery's `received`). */
  readonly received: number;
  /** One per `chunkRecords` records of the body, as the inline path chunks it. */
  readonly chunks: EncodedChunk[];
};

/**
 * A body in memory, encoded whole (on a worker, or inline for a lone
 * delivery): read as the inline path reads a body in memory (ingress/
 * parse-body.ts: the same errors and limit, so a syntax error anywhere refuses
 * it before anything is sent), then encoded in chunks of `chunkRecords`
 * records, numbered as inline. Its records are transcoded straight from the
 * bytes when they can be (transcodeBody), else parsed with one JSON.parse.
 */
export const encodeBody = (
  bytes: Uint8Array,
  chunkRecords: number,
  ingest: Ingest,
  encoder: Pick<Encoder, 'encode' | 'schemaId' | 'schemaText'>,
  privacy: Privacy | null,
): EncodedBody => {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const t = transcoderFor(encoder, ingest, privacy);
  const fast =
    t === null ? null : transcodeBody(buffer, chunkRecords, t, { ingest, encoder, privacy });
  if (fast !== null) return fast;
  const raws = parseWholeRecords(buffer);
  const bytesPerRecord = bytes.length / Math.max(1, raws.length);
  const chunks: EncodedChunk[] = [];
  for (let from = 0; from === 0 || from < raws.length; from += chunkRecords) {
    const count = Math.min(chunkRecords, raws.length - from);
    const out = new ChunkWriter(count, count * bytesPerRecord);
    for (let k = 0; k < count; k++)
      out.addRaw(raws[from + k], from + k, { ingest, encoder, privacy });
    chunks.push(out.finish());
  }
  return { received: raws.length, chunks };
};

const skipSpace = (b: Buffer, at: number): number => {
  let p = at;
  while (p < b.length) {
    const c = b[p] as number;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    p++;
  }
  return p;
};

const ITEMS_KEY = Buffer.from('"items"');

/**
 * Where the JSON value at `at` ends, found loosely (strings and brackets, as
 * the records scanner does): for JSON.parse to read it; -1 when the body ends
 * first.
 */
const jsonValueEnd = (b: Buffer, at: number): number => {
  let depth = 0;
  for (let p = at; p < b.length; p++) {
    const c = b[p] as number;
    if (c === 0x22) {
      p++;
      while (p < b.length && b[p] !== 0x22) p += b[p] === 0x5c ? 2 : 1;
      if (p >= b.length) return -1;
      if (depth === 0) return p + 1;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) return p; // a scalar ended by its container
      depth--;
      if (depth === 0) return p + 1;
    } else if (
      depth === 0 &&
      (c === 0x2c || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)
    ) {
      return p;
    }
  }
  return depth === 0 ? b.length : -1;
};

/**
 * The records of a body of the usual shape (`{"items":[...]}` or a bare
 * array, nothing else in it) transcoded one after the other, straight from the
 * bytes: no JSON.parse of the body, no scan before it (the transcoder finds
 * where each record ends). A record the transcoder leaves is parsed alone and
 * goes the usual way. Null when the body is of another shape, is not JSON, or
 * is not read to its end here: then the usual path reads it, and answers (or
 * refuses it) as it always did.
 */
const transcodeBody = (
  body: Buffer,
  chunkRecords: number,
  t: Transcoder,
  how: { ingest: Ingest; encoder: Pick<Encoder, 'encode'>; privacy: Privacy | null },
): EncodedBody | null => {
  if (body[0] === 0xef || !isUtf8(body)) return null; // a byte order mark, or not UTF-8
  let p = skipSpace(body, 0);
  const wrapped = body[p] === 0x7b;
  if (wrapped) {
    p = skipSpace(body, p + 1);
    if (!body.subarray(p, p + ITEMS_KEY.length).equals(ITEMS_KEY)) return null;
    p = skipSpace(body, p + ITEMS_KEY.length);
    if (body[p] !== 0x3a) return null;
    p = skipSpace(body, p + 1);
  }
  if (body[p] !== 0x5b) return null;
  p = skipSpace(body, p + 1);
  const chunks: EncodedChunk[] = [];
  // a chunk's room to start with: the body, or 4 KiB of JSON a record if less
  const sizeHint = Math.min(body.length, chunkRecords * 4096);
  let out = new ChunkWriter(chunkRecords, sizeHint);
  let count = 0;
  if (body[p] === 0x5d) p++;
  else {
    for (;;) {
      if (count >= MAX_RECORDS) return null;
      if (count > 0 && count % chunkRecords === 0) {
        chunks.push(out.finish());
        out = new ChunkWriter(chunkRecords, sizeHint);
      }
      const end = transcodeInto(t, body, p, body.length, out);
      if (end >= 0) {
        out.addTranscoded(t.result, end);
        p = t.result.end;
      } else {
        const last = jsonValueEnd(body, p);
        if (last < 0) return null;
        let raw: unknown;
        try {
          raw = JSON.parse(body.toString('utf8', p, last));
        } catch {
          return null; // the usual path refuses the body, with the words it always had
        }
        out.addRaw(raw, count, how);
        p = last;
      }
      count += 1;
      p = skipSpace(body, p);
      if (body[p] === 0x2c) {
        p = skipSpace(body, p + 1);
        continue;
      }
      if (body[p] !== 0x5d) return null;
      p++;
      break;
    }
  }
  if (wrapped) {
    p = skipSpace(body, p);
    if (body[p] !== 0x7d) return null;
    p++;
  }
  if (skipSpace(body, p) !== body.length) return null;
  chunks.push(out.finish());
  return { received: count, chunks };
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
