/**
 * @module ingress/parse-body
 * Bytes to the list of raw CDRs. The body must be UTF-8 JSON without a byte
 * order mark. Webex does not document the wrapper, so three shapes are
 * accepted: `{"items": [...]}`, a bare array, and an envelope holding
 * `data.items` or `body.items`. Anything else is refused (422). Every
 * function here throws its coded error: the route only passes it on.
 */

import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { isPlainObject } from '../cdr/normalise.ts';
import { CdrError } from '../errors.ts';
import { type BodyBytes, memoryBytes } from './body-bytes.ts';
import { createRecordsScanner, MAX_RECORDS } from './json-records-scanner.ts';
import { isJsonText } from './json-syntax.ts';

export const decodeJson = (bytes: Buffer): unknown => {
  checkUtf8(bytes);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw invalidJson(e, '');
  }
};

export const extractRecords = (doc: unknown): unknown[] => {
  if (Array.isArray(doc)) return doc;
  if (isPlainObject(doc)) {
    if (Array.isArray(doc.items)) return doc.items;
    for (const envelope of ['data', 'body'] as const) {
      const inner = doc[envelope];
      if (isPlainObject(inner) && Array.isArray(inner.items)) return inner.items;
    }
  }
  throw new CdrError(
    'body_no_records',
    'no records array: expected {"items":[...]}, a bare array, or {"data":{"items":[...]}}',
  );
};

export const parseRecords = (bytes: Buffer): unknown[] => extractRecords(decodeJson(bytes));

/** The records of a body, found by scanning its bytes; each group is parsed on demand. */
export type RecordSlices = {
  readonly count: number;
  /** True when records are read group by group from the bytes; false when the body was parsed whole. */
  readonly streamed: boolean;
  /** Records `from` (inclusive) to `to` (exclusive), parsed with JSON.parse; throws `body_invalid_json`. */
  parse(from: number, to: number): unknown[];
  /**
   * Throws the error `parse(from, to)` would throw, without building the
   * records: their syntax is checked on the bytes (json-syntax.ts), and a
   * record the check refuses is parsed for JSON.parse's verdict and message.
   */
  check(from: number, to: number): void;
  /**
   * Records `from` to `to` as bytes, for a worker thread to parse (ingress/
   * chunk-worker.ts): copied into a buffer of their own, which can be
   * transferred; absent when the body was parsed whole.
   */
  readonly take?: (from: number, to: number) => RecordBytes;
};

/** The bytes of consecutive records and where each lies in them (start, end, start, end...). */
export type RecordBytes = {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly bounds: Uint32Array<ArrayBuffer>;
  /** The index of the first record in the delivery. */
  readonly firstIndex: number;
};

export const invalidJson = (e: unknown, where: string) => {
  // V8 quotes part of the text in some messages: keep only the ones that do not.
  const detail =
    e instanceof Error && !e.message.includes('"') ? e.message.slice(0, 200) : 'syntax error';
  return new CdrError('body_invalid_json', `the body is not valid JSON${where}: ${detail}`);
};

const refuseBom = (bytes: Buffer): void => {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw new CdrError('body_invalid_encoding', 'the body starts with a byte order mark');
  }
};

/** Throws unless `bytes` are UTF-8 without a byte order mark. */
const checkUtf8 = (bytes: Buffer): void => {
  refuseBom(bytes);
  if (!isUtf8(bytes)) throw new CdrError('body_invalid_encoding', 'the body is not valid UTF-8');
};

const parsedSlices = (records: unknown[]): RecordSlices => ({
  count: records.length,
  streamed: false,
  parse: (from, to) => records.slice(from, to),
  check: () => undefined,
});

/** Lead byte of a UTF-8 sequence at the end of `b` that is cut off, or b.length. */
const completeUpTo = (b: Buffer): number => {
  let k = b.length - 1;
  while (k > b.length - 4 && k > 0 && ((b[k] as number) & 0xc0) === 0x80) k--;
  const lead = b[k] as number;
  const need = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return k >= 0 && k + need > b.length ? k : b.length;
};

/** What a scan of a body found: the records array, or undefined when it must be parsed whole. */
export type BodyScanned = { readonly span: RecordsSpan | undefined };

/** The records array of a body and the bounds of its records (in bytes). */
export type RecordsSpan = {
  readonly start: number;
  readonly end: number;
  readonly starts: ArrayLike<number>;
  readonly ends: ArrayLike<number>;
};

/**
 * Checks UTF-8 block by block (a character cut by a block's end is checked
 * with the next block) and feeds the scanner the same blocks, in order.
 * `feed` throws the body's error (byte order mark, not UTF-8, too many
 * records); `finish` gives what the scan found.
 */
export const createBodyScan = () => {
  const scanner = createRecordsScanner();
  let carry: Buffer | null = null;
  let offset = 0;
  let first = true;
  return {
    feed(raw: Buffer): void {
      const block: Buffer = carry === null ? raw : Buffer.concat([carry, raw]);
      // the first three bytes may end inside a character: only the mark is checked there
      if (first && block.length >= 3) refuseBom(block);
      first = false;
      const cut = completeUpTo(block);
      const whole = block.subarray(0, cut);
      if (!isUtf8(whole)) checkUtf8(whole); // throws
      scanner.feed(whole, offset);
      if (scanner.tooMany) throw tooManyRecords();
      offset += cut;
      carry = cut < block.length ? Buffer.from(block.subarray(cut)) : null;
    },
    finish(): BodyScanned {
      if (carry !== null) {
        checkUtf8(carry); // a character cut off at the end: throws
        return { span: undefined };
      }
      return { span: first ? undefined : scanner.finish() };
    },
  };
};

const checkAndScan = (bytes: BodyBytes): BodyScanned => {
  const scan = createBodyScan();
  for (const raw of bytes) scan.feed(raw);
  return scan.finish();
};

/**
 * Bodies in memory up to this size are parsed whole (one `JSON.parse`): about
 * 3,000 records, so never more than about two chunks of objects, and the scan
 * (some 8 % of the CPU of a 2,000-record delivery) is saved.
 */
export const WHOLE_PARSE_BYTES = 8 * 1024 * 1024;

/**
 * The records of a body without parsing it whole: a byte scan
 * (json-records-scanner.ts) finds the records array and the bounds of its elements;
 * the rest of the document, the array replaced by a one-off marker, is parsed
 * and must give that marker as its records (so the scan and JSON.parse agree
 * on which array holds the records). Records are parsed group by group when
 * asked for, read from the body's bytes (in memory or spooled), so a large
 * body is never held as one string or one array of objects. A body the scan
 * cannot follow is parsed whole, for the same answer and error message as
 * JSON.parse gives. Small bodies in memory are parsed whole (WHOLE_PARSE_BYTES).
 * `scanned`: the scan of these bytes, done already (while the body was read,
 * spool-analysis.ts).
 */
export const readRecords = (
  body: Buffer | BodyBytes,
  wholeParseBytes = WHOLE_PARSE_BYTES,
  scanned?: BodyScanned,
): RecordSlices => {
  const bytes = Buffer.isBuffer(body) ? memoryBytes(body) : body;
  // a small body in memory is parsed whole: one JSON.parse, no scan
  if (scanned === undefined && !bytes.spooled && bytes.length <= wholeParseBytes) {
    return parseWhole(bytes);
  }
  const { span } = scanned ?? checkAndScan(bytes);
  if (span === undefined) return parseWhole(bytes);
  const marker = `\\u0000${randomUUID()}`;
  const rest = `${bytes.read(0, span.start).toString('utf8')}["${marker}"]${bytes.read(span.end, bytes.length).toString('utf8')}`;
  let doc: unknown;
  try {
    doc = JSON.parse(rest);
  } catch (e) {
    throw invalidJson(e, '');
  }
  const shape = extractRecords(doc);
  if (shape.length !== 1 || shape[0] !== JSON.parse(`"${marker}"`)) {
    return parseWhole(bytes); // the scan took another array than JSON.parse would: trust JSON.parse
  }
  const { starts, ends } = span;
  /** The bytes of records `from` to `to`, read at once, and where they start in the body. */
  const group = (from: number, to: number) => {
    const first = starts[from];
    const last = ends[to - 1];
    if (first === undefined || last === undefined || to <= from) return null;
    return { first, bytes: bytes.read(first, last) };
  };
  const parseOne = (g: { first: number; bytes: Buffer }, k: number): unknown => {
    try {
      const text = g.bytes.toString(
        'utf8',
        (starts[k] as number) - g.first,
        (ends[k] as number) - g.first,
      );
      return JSON.parse(text);
    } catch (e) {
      throw invalidJson(e, ` (record ${k + 1})`);
    }
  };
  return {
    count: starts.length,
    streamed: true,
    parse(from, to) {
      const g = group(from, to);
      if (g === null) return [];
      // One JSON.parse per record, from one read of the group: small strings die
      // young, where one string of a whole group (megabytes) would sit in V8's
      // large-object space until a full collection.
      const records: unknown[] = new Array(to - from);
      for (let k = from; k < to; k++) {
        records[k - from] = parseOne(g, k);
      }
      return records;
    },
    check(from, to) {
      const g = group(from, to);
      for (let k = from; g !== null && k < to; k++) {
        const at = (starts[k] as number) - g.first;
        if (isJsonText(g.bytes, at, (ends[k] as number) - g.first)) continue;
        parseOne(g, k); // JSON.parse has the last word, and the message
      }
    },
    take(from, to) {
      const g = group(from, to);
      const bytes = new Uint8Array(g?.bytes.length ?? 0);
      const bounds = new Uint32Array(2 * Math.max(0, to - from));
      if (g === null) return { bytes, bounds, firstIndex: from };
      bytes.set(g.bytes);
      for (let k = from; k < to; k++) {
        bounds[2 * (k - from)] = (starts[k] as number) - g.first;
        bounds[2 * (k - from) + 1] = (ends[k] as number) - g.first;
      }
      return { bytes, bounds, firstIndex: from };
    },
  };
};

const tooManyRecords = () =>
  new CdrError('body_too_large', `the body holds more than ${MAX_RECORDS} records`);

/**
 * The records of a body parsed whole (one JSON.parse), with the same limit on
 * their number as the scan: the answer does not depend on how the body was
 * read. Also what a worker thread does with a body handed to it whole.
 */
export const parseWholeRecords = (bytes: Buffer): unknown[] => {
  const whole = parseRecords(bytes);
  if (whole.length > MAX_RECORDS) throw tooManyRecords();
  return whole;
};

const parseWhole = (bytes: BodyBytes): RecordSlices =>
  parsedSlices(parseWholeRecords(bytes.read(0, bytes.length)));
