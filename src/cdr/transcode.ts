/**
 * @module cdr/transcode
 * One CDR's JSON bytes straight to what the publisher needs: its value in the
 * Confluent wire format (contract v2), its content hash, Report ID, Org UUID
 * and times, without building the record as objects (issue 15: parsing into
 * objects, normalising them, writing the hash's text and Avro were most of a
 * record's CPU, and their garbage most of the collector's).
 *
 * It is a second reader of the normaliser's rules (cdr/normalise.ts), not a
 * second set of rules: keys go through the normaliser's own matching, every
 * value that is not text for a text field goes through its own parser
 * (parse-value.ts), the extra fields through the hash's own writer
 * (dedup/content-hash.ts). What it reads on the bytes is the common case only,
 * and anything else gives up (`-1`) so the caller takes the usual path for
 * that record, which then decides (and gives the error, if any):
 *
 *   - a record that is not one flat JSON object of strings, integers (at
 *     most 15 digits, not -0), true, false and null; a string with a
 *     backslash or a control character; anything after the object;
 *   - a field met twice (two spellings, or a key repeated);
 *   - no Report ID or no Org UUID; a value over the record size limit.
 *
 * The bytes must be valid UTF-8 (the callers check the whole body first): a
 * string without escapes is then the same text whether decoded or not, and
 * JSON.stringify writes it back unchanged, so it is copied as it is into the
 * Avro value and the hash's text. A test holds the output to the usual path's,
 * byte for byte, on the stand-in's records and on generated ones.
 */
import { hash } from 'node:crypto';
import { CONTENT_HASH_HEX, extraText, isDirectMatchKey, jsonValue } from '../dedup/content-hash.ts';
import { FIELD_NAMES, FIELDS, toMatchKey } from './fields.ts';
import {
  FEEDS,
  fieldIndexForKey,
  INVALID_KEY,
  type Ingest,
  isoText,
  SOURCES,
} from './normalise.ts';
import { digitBytesAt, parseIsoMillisBytes, parseValue } from './parse-value.ts';

/** Given up: take the usual path for this record. */
export const NOT_TRANSCODED = -1;
/** `out` has less room at `at` than `room(result.end - start)`: grow it and try again. */
export const NEEDS_ROOM = -2;

const FIELD_COUNT = FIELDS.length;
const REPORT_ID = FIELD_NAMES.indexOf('report_id');
const ORG_UUID = FIELD_NAMES.indexOf('org_uuid');
const RELEASE_TIME = FIELD_NAMES.indexOf('release_time');
const REPORT_TIME = FIELD_NAMES.indexOf('report_time');

/** What a field holds while a record is read. */
const OPEN = 0; // null so far: a later spelling may still give it a value
const TEXT = 1; // the bytes vs[i]..ve[i] (a string, or an integer or literal for a text field)
const NUMBER = 2; // num[i]
const TRUE = 3;
const FALSE = 4;

/** Where the hash's text is written (one thread at a time uses a module). */
let scratch = Buffer.allocUnsafe(64 * 1024);

const KINDS = FIELDS.map((f) => f.kind);
const IS_TEXT = FIELDS.map((f) => f.kind === 'string');
const NA_IS_VALUE = FIELDS.map((f) => f.naIsValue === true);

// byte values
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const NULL_TEXT = ascii('null');
const TRUE_TEXT = ascii('true');
const FALSE_TEXT = ascii('false');

/** `[{"report_id":`, `,"org_uuid":`... : what the hash's text has before each field's value. */
const PREFIXES = FIELD_NAMES.map((name, i) => ascii(`${i === 0 ? '[{' : ','}"${name}":`));
const PREFIX_BYTES = PREFIXES.reduce((n, p) => n + p.length, 0);

/** Zigzag varint of a safe integer, as Avro writes a long; returns the end. */
const writeLong = (out: Uint8Array, at: number, n: number): number => {
  let p = at;
  if (n >= -0x40000000 && n < 0x40000000) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 0x7f) {
      out[p++] = (m & 0x7f) | 0x80;
      m >>>= 7;
    }
    out[p++] = m;
    return p;
  }
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z > 0x7f) {
    out[p++] = (z % 0x80) | 0x80;
    z = Math.floor(z / 0x80);
  }
  out[p++] = z;
  return p;
};

/** Decimal digits of a safe integer, as String(n) writes it; returns the end. */
const writeDigits = (out: Uint8Array, at: number, n: number): number => {
  let p = at;
  let v = n;
  if (v < 0) {
    out[p++] = MINUS;
    v = -v;
  }
  let width = 1;
  for (let t = v; t >= 10; t = Math.floor(t / 10)) width++;
  for (let k = p + width - 1; k >= p; k--) {
    out[k] = ZERO + (v % 10);
    v = Math.floor(v / 10);
  }
  return p + width;
};

const copy = (from: Uint8Array, start: number, end: number, out: Uint8Array, at: number) => {
  if (end - start > 256) {
    out.set(from.subarray(start, end), at);
    return at + end - start;
  }
  let p = at;
  for (let k = start; k < end; k++) out[p++] = from[k] as number;
  return p;
};

/** An Avro string (length, then UTF-8) of a JS string; returns the end. */
const writeString = (out: Buffer, at: number, text: string): number => {
  // short ASCII text (keys, "NA") written here: cheaper than two calls into C++
  if (text.length < 64) {
    let k = 0;
    while (k < text.length && text.charCodeAt(k) < 0x80) k++;
    if (k === text.length) {
      out[at] = text.length << 1;
      for (let j = 0; j < k; j++) out[at + 1 + j] = text.charCodeAt(j);
      return at + 1 + k;
    }
  }
  const p = writeLong(out, at, Buffer.byteLength(text));
  return p + out.write(text, p);
};

/** The ingest record's Avro bytes: the same for every record of a delivery. */
const ingestBytes = (ingest: Ingest): Uint8Array => {
  const out = Buffer.alloc(32 + 3 * Buffer.byteLength(ingest.delivery_id));
  let p = writeLong(out, 0, FEEDS.indexOf(ingest.feed));
  p = writeLong(out, p, SOURCES.indexOf(ingest.source));
  p = writeLong(out, p, ingest.received_at);
  p = writeString(out, p, ingest.delivery_id);
  return out.subarray(0, p);
};

/**
 * A key as spelt (its bytes and text) and its field index (the normaliser's
 * matching); as an extra field's key, its forms in the hash's text, worked
 * out the first time the entry holds an extra field.
 */
type KeyEntry = {
  readonly bytes: Uint8Array;
  readonly index: number;
  readonly text: string;
  extra: ExtraKey | null;
};

/**
 * An extra field's key in the hash's text (dedup/content-hash.ts extraText):
 * its match key, and `"matchKey":` as bytes. `plain` when extraText writes
 * the match key directly (`isDirectMatchKey`): then neither it nor the key as
 * spelt is an array index, which an object would put first, in numeric order,
 * and the hash's text and Avro's map follow that. A record with a key that is
 * not plain has its extra fields written by the usual writers, from an object.
 */
type ExtraKey = { readonly matchKey: string; readonly json: Uint8Array; readonly plain: boolean };

const extraKeyOf = (key: KeyEntry): ExtraKey => {
  if (key.extra !== null) return key.extra;
  const matchKey = toMatchKey(key.text);
  key.extra = { matchKey, json: ascii(`"${matchKey}":`), plain: isDirectMatchKey(matchKey) };
  return key.extra;
};

/**
 * A string's JSON text (JSON.stringify) written as UTF-8 at `at`, returns the
 * end: printable ASCII without a quote or backslash copied here, the rest
 * through `jsonValue`.
 */
const writeJsonString = (out: Buffer, at: number, text: string): number => {
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) {
      return at + out.write(jsonValue(text), at);
    }
  }
  out[at] = QUOTE;
  for (let k = 0; k < text.length; k++) out[at + 1 + k] = text.charCodeAt(k);
  out[at + 1 + text.length] = QUOTE;
  return at + text.length + 2;
};

export type Transcoded = {
  /** Where the record's JSON ends (the byte after its closing brace). */
  end: number;
  reportId: string;
  orgId: string;
  /** NaN: no time. */
  reportTime: number;
  callEnd: number;
  reportTimeIso: string | null;
  callEndIso: string | null;
  hash: string;
};

export type Transcoder = {
  /** Bytes `out` must have free from `at` for a record of `jsonBytes` bytes of JSON (its value is smaller). */
  room(jsonBytes: number): number;
  /**
   * Reads the record whose JSON starts at `src[start]` (after any
   * whitespace) and ends before `limit`, writes its wire-format value into
   * `out` at `at` and returns the value's end, its other parts in `result`
   * (`result.end`: where its JSON ends). Or returns NOT_TRANSCODED (nothing
   * written): take the usual path for it; or NEEDS_ROOM.
   */
  transcode(src: Buffer, start: number, limit: number, out: Buffer, at: number): number;
  readonly result: Transcoded;
};

/**
 * A transcoder writing with schema id `schemaId` and `ingest`, for records of
 * at most `maxValueBytes` (larger ones are left to the usual path, which
 * dead-letters them).
 */
export const createTranscoder = (
  schemaId: number,
  ingest: Ingest,
  maxValueBytes: number,
): Transcoder => {
  const header = Uint8Array.of(0, schemaId >>> 24, schemaId >>> 16, schemaId >>> 8, schemaId);
  const tail = ingestBytes(ingest);
  const state = new Uint8Array(FIELD_COUNT);
  const met = new Uint8Array(FIELD_COUNT);
  const vs = new Int32Array(FIELD_COUNT);
  const ve = new Int32Array(FIELD_COUNT);
  const num = new Float64Array(FIELD_COUNT);
  /** The keys of the last record read, by place. */
  const expected: KeyEntry[] = [];
  const result: Transcoded = {
    end: 0,
    reportId: '',
    orgId: '',
    reportTime: Number.NaN,
    callEnd: Number.NaN,
    reportTimeIso: null,
    callEndIso: null,
    hash: '',
  };

  // per record
  let src: Buffer = Buffer.alloc(0);
  /** The extra fields of the record, in the order met (a key met again keeps its place). */
  const extraKeys: KeyEntry[] = [];
  const extraTexts: string[] = [];
  let extras = 0;
  /** Whether an extra field's key is not plain (ExtraKey). */
  let extrasByObject = false;
  /** The places of the extra fields in match-key order (contentHash). */
  let order = new Int32Array(16);
  let releaseText: string | null = null;
  let reportText: string | null = null;

  /**
   * The key whose opening quote is at `p`, found with the key the record
   * before had at the same place when it is the same (Webex writes its keys in
   * one order): its entry, with `keyEnd` set; null when it has an escape.
   */
  let keyEnd = 0;
  const readKey = (p: number, end: number, at: number): KeyEntry | null => {
    const ks = p + 1;
    const guess = expected[at];
    if (guess !== undefined) {
      const b = guess.bytes;
      const ke = ks + b.length;
      if (ke < end && src[ke] === QUOTE) {
        let k = 0;
        while (k < b.length && b[k] === src[ks + k]) k++;
        if (k === b.length) {
          keyEnd = ke;
          return guess;
        }
      }
    }
    const ke = stringEnd(p, end);
    if (ke < 0) return null;
    keyEnd = ke;
    // another key here than in the record before (about one key in ten records)
    const text = src.toString('utf8', ks, ke);
    const entry: KeyEntry = {
      bytes: Uint8Array.prototype.slice.call(src, ks, ke),
      index: fieldIndexForKey(text),
      text,
      extra: null,
    };
    expected[at] = entry;
    return entry;
  };

  const keep = (key: KeyEntry, text: string) => {
    for (let j = 0; j < extras; j++) {
      if ((extraKeys[j] as KeyEntry).text === key.text) {
        extraTexts[j] = text;
        return;
      }
    }
    extraKeys[extras] = key;
    extraTexts[extras] = text;
    extras++;
    if (!extraKeyOf(key).plain) extrasByObject = true;
  };

  /** The extra fields as the normaliser keeps them: an object, by key as spelt. */
  const extraObject = (): Record<string, string> => {
    const extra = Object.create(null) as Record<string, string>;
    for (let j = 0; j < extras; j++)
      extra[(extraKeys[j] as KeyEntry).text] = extraTexts[j] as string;
    return extra;
  };

  /** The match key of the extra field at place `j`. */
  const matchKeyAt = (j: number) => extraKeyOf(extraKeys[j] as KeyEntry).matchKey;

  /**
   * The extra fields in match-key order into `order`; false when two keys
   * match alike (then extraText writes them as sorted pairs).
   */
  const sortExtras = (): boolean => {
    if (order.length < extras) order = new Int32Array(2 * extras);
    for (let j = 0; j < extras; j++) {
      const key = matchKeyAt(j);
      let k = j;
      while (k > 0) {
        const before = matchKeyAt(order[k - 1] as number);
        if (before === key) return false;
        if (before < key) break;
        order[k] = order[k - 1] as number;
        k--;
      }
      order[k] = j;
    }
    return true;
  };

  /** `{"matchKey":value,...}` as extraText writes it, at `at`; returns the end. */
  const writeExtraText = (out: Buffer, at: number): number => {
    if (extras === 0) {
      out[at] = 0x7b; // {
      out[at + 1] = CLOSE_BRACE;
      return at + 2;
    }
    if (extrasByObject || !sortExtras()) return at + out.write(extraText(extraObject()), at);
    let p = at;
    for (let j = 0; j < extras; j++) {
      const k = order[j] as number;
      out[p++] = j === 0 ? 0x7b : COMMA;
      const json = extraKeyOf(extraKeys[k] as KeyEntry).json;
      p = copy(json, 0, json.length, out, p);
      p = writeJsonString(out, p, extraTexts[k] as string);
    }
    out[p++] = CLOSE_BRACE;
    return p;
  };

  /** The most bytes writeExtraText can take: JSON escapes at most 6 bytes a UTF-16 unit. */
  const extraTextRoom = (): number => {
    let n = 2;
    for (let j = 0; j < extras; j++) {
      const key = extraKeys[j] as KeyEntry;
      n += 3 * key.text.length + 4 + 6 * (extraTexts[j] as string).length + 3;
    }
    return n;
  };

  /**
   * A string value of a field that is not text: the common forms read on the
   * bytes (an ISO time, digits, true or false), the rest by the field's own
   * parser (parse-value.ts), from the string.
   */
  const parsedBytes = (i: number, key: KeyEntry, s: number, e: number) => {
    const kind = KINDS[i];
    if (kind === 'time' && e - s === 24 && i !== RELEASE_TIME && i !== REPORT_TIME) {
      const ms = parseIsoMillisBytes(src, s);
      if (typeof ms === 'number') {
        state[i] = NUMBER;
        num[i] = ms;
        return;
      }
    } else if (kind === 'long' && e - s <= 15) {
      const n = digitBytesAt(src, s, e - s);
      if (n >= 0) {
        state[i] = NUMBER;
        num[i] = n;
        return;
      }
    } else if (kind === 'boolean' && (e - s === 4 || e - s === 5)) {
      if (literal(s, e, TRUE_TEXT)) {
        state[i] = TRUE;
        return;
      }
      if (literal(s, e, FALSE_TEXT)) {
        state[i] = FALSE;
        return;
      }
    }
    parsed(i, key, src.toString('utf8', s, e));
  };

  /** A value the field's parser reads (times, integers and booleans given as text). */
  const parsed = (i: number, key: KeyEntry, text: string) => {
    const p = parseValue(KINDS[i] ?? 'string', text, NA_IS_VALUE[i]);
    if (!p.ok) return keep(key, text);
    const v = p.value;
    if (v === null) {
      if (text !== '') keep(key, text);
      return;
    }
    if (typeof v === 'number') {
      state[i] = NUMBER;
      num[i] = v;
    } else if (typeof v === 'boolean') state[i] = v ? TRUE : FALSE;
    if (i === RELEASE_TIME) releaseText = text;
    else if (i === REPORT_TIME) reportText = text;
  };

  /** The end of the string whose opening quote is at `p`, or -1 when it has an escape or a control. */
  const stringEnd = (p: number, end: number): number => {
    for (let q = p + 1; q < end; q++) {
      const c = src[q] as number;
      if (c === QUOTE) return q;
      if (c === BACKSLASH || c < 0x20) return -1;
    }
    return -1;
  };

  const literal = (p: number, end: number, text: Uint8Array): boolean => {
    if (p + text.length > end) return false;
    for (let k = 0; k < text.length; k++) if (src[p + k] !== text[k]) return false;
    return true;
  };

  /** Reads the object; where it ends, or -1 when it is not of the common form (nothing written yet). */
  const read = (start: number, end: number): number => {
    let p = start;
    while (p < end && isSpace(src[p] as number)) p++;
    if (src[p] !== OPEN_BRACE) return -1;
    p++;
    while (p < end && isSpace(src[p] as number)) p++;
    if (src[p] === CLOSE_BRACE) return -1; // no Report ID: the usual path refuses it
    let at = 0;
    for (;;) {
      if (src[p] !== QUOTE) return -1;
      const key = readKey(p, end, at++);
      if (key === null) return -1;
      p = keyEnd + 1;
      while (p < end && isSpace(src[p] as number)) p++;
      if (src[p] !== COLON) return -1;
      p++;
      while (p < end && isSpace(src[p] as number)) p++;
      const i = key.index;
      if (i === INVALID_KEY) return -1;
      if (i >= 0) {
        if (met[i] === 1) return -1;
        met[i] = 1;
      }
      const c = src[p] as number;
      if (c === QUOTE) {
        const s = p + 1;
        const e = stringEnd(p, end);
        if (e < 0) return -1;
        p = e + 1;
        if (i < 0) keep(key, src.toString('utf8', s, e));
        else if (e === s) {
          // "": no value, no trace
        } else if (e - s === 2 && src[s] === 0x4e && src[s + 1] === 0x41 && !NA_IS_VALUE[i]) {
          keep(key, 'NA'); // no value; its text kept
        } else if (IS_TEXT[i]) {
          state[i] = TEXT;
          vs[i] = s;
          ve[i] = e;
        } else parsedBytes(i, key, s, e);
      } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
        const s = p;
        if (c === MINUS) p++;
        const first = p;
        let n = 0;
        while (p < end && (src[p] as number) >= ZERO && (src[p] as number) <= NINE) {
          n = n * 10 + ((src[p] as number) - ZERO);
          p++;
        }
        const digits = p - first;
        // JSON's integers only: no fraction or exponent, no leading zero, no -0, exact
        if (digits === 0 || digits > 15 || (src[first] === ZERO && (digits > 1 || c === MINUS))) {
          return -1;
        }
        const next = src[p] as number;
        if (next !== COMMA && next !== CLOSE_BRACE && !isSpace(next)) return -1;
        if (i < 0) keep(key, src.toString('latin1', s, p));
        else if (IS_TEXT[i]) {
          state[i] = TEXT;
          vs[i] = s;
          ve[i] = p;
        } else if (KINDS[i] === 'long') {
          state[i] = NUMBER;
          num[i] = c === MINUS ? -n : n;
        } else keep(key, src.toString('latin1', s, p));
      } else if (literal(p, end, TRUE_TEXT) || literal(p, end, FALSE_TEXT)) {
        const yes = c === 0x74;
        const s = p;
        p += yes ? 4 : 5;
        if (i < 0) keep(key, yes ? 'true' : 'false');
        else if (IS_TEXT[i]) {
          state[i] = TEXT;
          vs[i] = s;
          ve[i] = p;
        } else if (KINDS[i] === 'boolean') state[i] = yes ? TRUE : FALSE;
        else keep(key, yes ? 'true' : 'false');
      } else if (literal(p, end, NULL_TEXT)) {
        p += 4;
        if (i < 0) keep(key, 'null'); // a known field: no value, no trace
      } else return -1; // an object, an array, or not JSON
      while (p < end && isSpace(src[p] as number)) p++;
      if (src[p] === COMMA) {
        p++;
        while (p < end && isSpace(src[p] as number)) p++;
        continue;
      }
      if (src[p] !== CLOSE_BRACE) return -1;
      p++;
      break;
    }
    return p;
  };

  const idOf = (i: number): string | null => {
    if (state[i] !== TEXT) return null;
    const text = src.toString('utf8', vs[i] as number, ve[i] as number);
    return text.trim() === '' ? null : text;
  };

  /** The field's value as Avro (a union of null and its type). */
  const writeValue = (out: Buffer, at: number, i: number): number => {
    switch (state[i]) {
      case TEXT: {
        out[at] = 2;
        const s = vs[i] as number;
        const e = ve[i] as number;
        return copy(src, s, e, out, writeLong(out, at + 1, e - s));
      }
      case NUMBER:
        out[at] = 2;
        return writeLong(out, at + 1, num[i] as number);
      case TRUE:
        out[at] = 2;
        out[at + 1] = 1;
        return at + 2;
      case FALSE:
        out[at] = 2;
        out[at + 1] = 0;
        return at + 2;
      default:
        out[at] = 0;
        return at + 1;
    }
  };

  /** The field's value as JSON.stringify writes it in the hash's text. */
  const writeText = (out: Buffer, at: number, i: number): number => {
    switch (state[i]) {
      case TEXT: {
        out[at] = QUOTE;
        const p = copy(src, vs[i] as number, ve[i] as number, out, at + 1);
        out[p] = QUOTE;
        return p + 1;
      }
      case NUMBER:
        return writeDigits(out, at, num[i] as number);
      case TRUE:
        out[at] = 0x74; // true
        out[at + 1] = 0x72;
        out[at + 2] = 0x75;
        out[at + 3] = 0x65;
        return at + 4;
      case FALSE:
        out[at] = 0x66; // false
        out[at + 1] = 0x61;
        out[at + 2] = 0x6c;
        out[at + 3] = 0x73;
        out[at + 4] = 0x65;
        return at + 5;
      default:
        out[at] = 0x6e; // null
        out[at + 1] = 0x75;
        out[at + 2] = 0x6c;
        out[at + 3] = 0x6c;
        return at + 4;
    }
  };

  const writeRecord = (out: Buffer, at: number): number => {
    let p = copy(header, 0, header.length, out, at);
    for (let i = 0; i < FIELD_COUNT; i++) p = writeValue(out, p, i);
    if (extras === 0) out[p++] = 0;
    else if (extrasByObject) {
      const extra = extraObject();
      const names = Object.keys(extra);
      p = writeLong(out, p, names.length);
      for (const name of names) {
        p = writeString(out, p, name);
        p = writeString(out, p, extra[name] as string);
      }
      out[p++] = 0;
    } else {
      // the order an object keeps plain keys in: as met
      p = writeLong(out, p, extras);
      for (let j = 0; j < extras; j++) {
        p = writeString(out, p, (extraKeys[j] as KeyEntry).text);
        p = writeString(out, p, extraTexts[j] as string);
      }
      out[p++] = 0;
    }
    return copy(tail, 0, tail.length, out, p);
  };

  const contentHash = (jsonBytes: number): string => {
    const need = PREFIX_BYTES + 2 * jsonBytes + 24 * FIELD_COUNT + extraTextRoom() + 8;
    if (scratch.length < need) scratch = Buffer.allocUnsafe(2 * need);
    let p = 0;
    for (let i = 0; i < FIELD_COUNT; i++) {
      const prefix = PREFIXES[i] as Uint8Array;
      scratch.set(prefix, p);
      p = writeText(scratch, p + prefix.length, i);
    }
    scratch[p++] = CLOSE_BRACE;
    scratch[p++] = COMMA;
    p = writeExtraText(scratch, p);
    scratch[p++] = 0x5d; // ]
    return hash('sha256', scratch.subarray(0, p)).slice(0, CONTENT_HASH_HEX);
  };

  const room = (jsonBytes: number) => jsonBytes + FIELD_COUNT + header.length + tail.length + 64;

  return {
    room,
    result,
    transcode(bytes, start, limit, out, at) {
      src = bytes;
      extras = 0;
      extrasByObject = false;
      releaseText = null;
      reportText = null;
      state.fill(OPEN);
      met.fill(0);
      const end = read(start, limit);
      if (end < 0) return NOT_TRANSCODED;
      const reportId = idOf(REPORT_ID);
      const orgId = idOf(ORG_UUID);
      if (reportId === null || orgId === null) return NOT_TRANSCODED;
      result.end = end;
      if (out.length - at < room(end - start)) return NEEDS_ROOM;
      const valueEnd = writeRecord(out, at);
      if (valueEnd > out.length) throw new Error('transcode: a value larger than its room');
      if (valueEnd - at > maxValueBytes) return NOT_TRANSCODED;
      const report = state[REPORT_TIME] === NUMBER ? (num[REPORT_TIME] as number) : Number.NaN;
      const released = state[RELEASE_TIME] === NUMBER;
      result.reportId = reportId;
      result.orgId = orgId;
      result.reportTime = report;
      result.reportTimeIso = Number.isNaN(report) ? null : isoText(reportText);
      result.callEnd = released ? (num[RELEASE_TIME] as number) : report;
      result.callEndIso = released ? isoText(releaseText) : result.reportTimeIso;
      result.hash = contentHash(end - start);
      return valueEnd;
    },
  };
};
