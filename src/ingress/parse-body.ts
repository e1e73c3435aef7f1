/**
 * @module ingress/parse-body
 * Bytes to the list of raw CDRs. The body must be UTF-8 JSON without a byte
 * order mark. Webex does not document the wrapper, so three shapes are
 * accepted: `{"items": [...]}`, a bare array, and an envelope holding
 * `data.items` or `body.items`. Anything else is refused (422).
 */

import { isUtf8 } from 'node:buffer';
import { isPlainObject } from '../cdr/normalise.ts';
import { CdrError, fail, ok, type Result } from '../errors.ts';

export const decodeJson = (bytes: Buffer): Result<unknown> => {
  const utf8 = checkUtf8(bytes);
  if (!utf8.ok) return utf8;
  try {
    return ok(JSON.parse(bytes.toString('utf8')));
  } catch (e) {
    return fail(invalidJson(e, ''));
  }
};

export const extractRecords = (doc: unknown): Result<unknown[]> => {
  if (Array.isArray(doc)) return ok(doc);
  if (isPlainObject(doc)) {
    if (Array.isArray(doc.items)) return ok(doc.items);
    for (const envelope of ['data', 'body'] as const) {
      const inner = doc[envelope];
      if (isPlainObject(inner) && Array.isArray(inner.items)) return ok(inner.items);
    }
  }
  return fail(
    new CdrError(
      'body_no_records',
      'no records array: expected {"items":[...]}, a bare array, or {"data":{"items":[...]}}',
    ),
  );
};

export const parseRecords = (bytes: Buffer): Result<unknown[]> => {
  const doc = decodeJson(bytes);
  return doc.ok ? extractRecords(doc.value) : doc;
};

/** The records of a body, found by scanning its bytes; each group is parsed on demand. */
export type RecordSlices = {
  readonly count: number;
  /** Records `from` (inclusive) to `to` (exclusive), parsed with JSON.parse. */
  parse(from: number, to: number): Result<unknown[]>;
};

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

const isSpace = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

const skipSpace = (b: Buffer, i: number): number => {
  let j = i;
  while (isSpace(b[j])) j++;
  return j;
};

/**
 * End (exclusive) of the string starting at `i`, or -1 when it is not closed.
 * A plain loop: CDR strings are short, and a call into Buffer.indexOf per
 * string costs more than walking its bytes. A backslash skips the byte after it.
 */
const skipString = (b: Buffer, i: number): number => {
  const n = b.length;
  for (let j = i + 1; j < n; j++) {
    const c = b[j];
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) j++;
  }
  return -1;
};

/**
 * End (exclusive) of the value starting at `i`, or -1. Only strings and
 * bracket depth are followed: JSON.parse checks the value's content later.
 */
const skipValue = (b: Buffer, i: number): number => {
  const first = b[i];
  if (first === QUOTE) return skipString(b, i);
  if (first === OPEN_ARRAY || first === OPEN_OBJECT) {
    let depth = 0;
    for (let j = i; j < b.length; j++) {
      const c = b[j];
      if (c === QUOTE) {
        const end = skipString(b, j);
        if (end < 0) return -1;
        j = end - 1;
      } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) depth++;
      else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  for (; j < b.length; j++) {
    const c = b[j];
    if (c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT || isSpace(c)) break;
  }
  return j > i ? j : -1;
};

type Span = { start: number; end: number };

/** An array and the bounds of its elements: `starts[k]` to `ends[k]` (exclusive). */
type ArraySpan = Span & { starts: number[]; ends: number[] };

/**
 * The array starting at `i` with the bounds of its elements, walked once; null
 * when its structure is broken (or `i` is not an array).
 */
const scanArray = (b: Buffer, i: number): ArraySpan | null => {
  if (b[i] !== OPEN_ARRAY) return null;
  const starts: number[] = [];
  const ends: number[] = [];
  let j = skipSpace(b, i + 1);
  if (b[j] === CLOSE_ARRAY) return { start: i, end: j + 1, starts, ends };
  for (;;) {
    const end = skipValue(b, j);
    if (end < 0) return null;
    starts.push(j);
    ends.push(end);
    j = skipSpace(b, end);
    if (b[j] === CLOSE_ARRAY) return { start: i, end: j + 1, starts, ends };
    if (b[j] !== COMMA) return null;
    j = skipSpace(b, j + 1);
  }
};

/**
 * The last value of each of `keys` among the members of the object at `i`;
 * null when malformed. A wanted array value is scanned for its elements on
 * the way (the records array is walked once, not twice).
 */
const members = (
  b: Buffer,
  i: number,
  keys: readonly string[],
): Map<string, Span | ArraySpan> | null => {
  const found = new Map<string, Span | ArraySpan>();
  let j = skipSpace(b, i + 1);
  if (b[j] === CLOSE_OBJECT) return found;
  for (;;) {
    if (b[j] !== QUOTE) return null;
    const keyEnd = skipString(b, j);
    if (keyEnd < 0) return null;
    let key: unknown;
    try {
      key = JSON.parse(b.toString('utf8', j, keyEnd));
    } catch {
      return null;
    }
    j = skipSpace(b, keyEnd);
    if (b[j] !== COLON) return null;
    const start = skipSpace(b, j + 1);
    const wanted = keys.includes(key as string);
    const array = wanted && b[start] === OPEN_ARRAY ? scanArray(b, start) : null;
    const end = array?.end ?? skipValue(b, start);
    if (end < 0) return null;
    if (wanted) found.set(key as string, array ?? { start, end });
    j = skipSpace(b, end);
    if (b[j] === CLOSE_OBJECT) return found;
    if (b[j] !== COMMA) return null;
    j = skipSpace(b, j + 1);
  }
};

const arrayAt = (span: Span | ArraySpan | undefined): ArraySpan | undefined =>
  span !== undefined && 'starts' in span ? span : undefined;

const objectAt = (b: Buffer, span: Span | undefined): Span | undefined =>
  span !== undefined && b[span.start] === OPEN_OBJECT ? span : undefined;

/**
 * The records array in the precedence of `extractRecords` (bare, items,
 * data.items, body.items) with its elements; undefined when the scan cannot
 * follow the body (it is then parsed whole).
 */
const findRecordsArray = (b: Buffer): ArraySpan | undefined => {
  const start = skipSpace(b, 0);
  if (b[start] === OPEN_ARRAY) {
    const array = scanArray(b, start);
    return array === null || skipSpace(b, array.end) !== b.length ? undefined : array;
  }
  if (b[start] !== OPEN_OBJECT) return undefined;
  const root = members(b, start, ['items', 'data', 'body']);
  if (root === null) return undefined;
  const items = arrayAt(root.get('items'));
  if (items !== undefined) return items;
  for (const envelope of ['data', 'body']) {
    const inner = objectAt(b, root.get(envelope));
    if (inner === undefined) continue;
    const found = arrayAt(members(b, inner.start, ['items'])?.get('items'));
    if (found !== undefined) return found;
  }
  return undefined;
};

const invalidJson = (e: unknown, where: string) => {
  // V8 quotes part of the text in some messages: keep only the ones that do not.
  const detail =
    e instanceof Error && !e.message.includes('"') ? e.message.slice(0, 200) : 'syntax error';
  return new CdrError('body_invalid_json', `the body is not valid JSON${where}: ${detail}`);
};

const checkUtf8 = (bytes: Buffer): Result<void> => {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return fail(new CdrError('body_invalid_encoding', 'the body starts with a byte order mark'));
  }
  if (!isUtf8(bytes)) {
    return fail(new CdrError('body_invalid_encoding', 'the body is not valid UTF-8'));
  }
  return ok(undefined);
};

const parsedSlices = (records: unknown[]): RecordSlices => ({
  count: records.length,
  parse: (from, to) => ok(records.slice(from, to)),
});

/**
 * The records of a body without parsing it whole: a byte scan finds the
 * records array and the bounds of its elements; the rest of the document
 * (the array replaced by `[]`) is parsed and checked as before. Records are
 * parsed group by group when asked for, so a large body is never held as one
 * string or one array of objects. A body the scan cannot follow is parsed
 * whole, for the same answer and error message as JSON.parse gives.
 */
export const scanRecords = (bytes: Buffer): Result<RecordSlices> => {
  const utf8 = checkUtf8(bytes);
  if (!utf8.ok) return utf8;
  const span = findRecordsArray(bytes);
  if (span === undefined) {
    const whole = parseRecords(bytes);
    return whole.ok ? ok(parsedSlices(whole.value)) : whole;
  }
  const rest = `${bytes.toString('utf8', 0, span.start)}[]${bytes.toString('utf8', span.end)}`;
  let doc: unknown;
  try {
    doc = JSON.parse(rest);
  } catch (e) {
    return fail(invalidJson(e, ''));
  }
  const shape = extractRecords(doc);
  if (!shape.ok) return shape;
  const { starts, ends } = span;
  return ok({
    count: starts.length,
    parse(from, to) {
      const first = starts[from];
      const last = ends[to - 1];
      if (first === undefined || last === undefined || to <= from) return ok([]);
      try {
        return ok(JSON.parse(`[${bytes.toString('utf8', first, last)}]`) as unknown[]);
      } catch (e) {
        return fail(invalidJson(e, ` (records ${from + 1} to ${to})`));
      }
    },
  });
};
