/**
 * @module dedup/content-hash
 * The content of a CDR as 64 bits (16 hex digits, the `cdr-content-hash`
 * header): SHA-256 of the normalised record as published, without `ingest`
 * (delivery id, receipt time, source differ between two deliveries of the
 * same record). The normalised record, not the raw JSON: a webhook and the
 * partner APIs spell the same record differently (`Report ID` / `reportId`,
 * key order, numbers as text). `extra_fields` keeps its keys as spelt (the
 * raw text of a value turned into null stays under the key it came with), so
 * they are hashed as the normaliser matches keys (lower case, letters and
 * digits only: `Answered elsewhere` and `answeredElsewhere` are one key),
 * sorted. Since contract v2 the normaliser loses nothing (the raw text of a
 * value it turns into null is kept in `extra_fields`), so two records that
 * differ in anything Webex sent differ here too. Privacy settings apply
 * first: the hash is of what is on the topic, and says nothing a reader of
 * the topic could not read anyway. 64 bits: two versions of one Report ID
 * taken for the same content by chance is 1 in 2^64 per pair.
 */
import { hash } from 'node:crypto';
import { FIELD_NAMES, toMatchKey } from '../cdr/fields.ts';
import type { CdrRecord } from '../cdr/normalise.ts';

/** Hex digits of the hash kept (64 bits). */
export const CONTENT_HASH_HEX = 16;
const HEX = /^[0-9a-f]{16}$/;

/** Match keys of extra-field spellings met before (live data repeats a few). */
const MATCH_KEY_CACHE_LIMIT = 4096;
const matchKeys = new Map<string, string>();
const matchKeyOf = (key: string): string => {
  let match = matchKeys.get(key);
  if (match === undefined) {
    match = toMatchKey(key);
    if (matchKeys.size < MATCH_KEY_CACHE_LIMIT) matchKeys.set(key, match);
  }
  return match;
};

const HAS_LETTER = /[a-z]/;

/**
 * Whether extraText writes a match key directly: it holds a letter, so it is
 * never an array index and an object keeps it in insertion order (so is the
 * key as spelt, which holds that letter too). The transcoder keeps the rule.
 */
export const isDirectMatchKey = (matchKey: string): boolean => HAS_LETTER.test(matchKey);

/**
 * `extra_fields` by match key, in key order, as JSON text: the same however
 * the keys were spelt. The text of an object as before the keys were matched,
 * so a record whose keys already are match keys (every record without
 * `extra_fields`) keeps the hash it had then and an upgrade republishes
 * nothing of it; two keys that match alike (rare) are kept apart as sorted
 * [key, value] pairs. Written directly when every key holds a letter (match
 * keys need no escaping); an all-digit key goes through an object, which
 * puts such keys first, as it did.
 */
export const extraText = (extra: Record<string, string>): string => {
  const pairs: [string, string][] = [];
  for (const k in extra) pairs.push([matchKeyOf(k), extra[k] as string]);
  if (pairs.length === 0) return '{}';
  pairs.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  let direct = true;
  for (let i = 0; i < pairs.length; i++) {
    const key = (pairs[i] as [string, string])[0];
    if (i > 0 && key === (pairs[i - 1] as [string, string])[0]) return JSON.stringify(pairs);
    if (!isDirectMatchKey(key)) direct = false;
  }
  if (!direct) return JSON.stringify(Object.fromEntries(pairs));
  let text = '{';
  for (const [k, v] of pairs) text += `${text.length === 1 ? '' : ','}"${k}":${jsonValue(v)}`;
  return `${text}}`;
};

/** A field value the text builder does not write (not a string, number, boolean or null). */
const UNEXPECTED = Symbol('unexpected field value');

/** What JSON.stringify writes other than as it is in a string: quote, backslash, controls, surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** One field value as JSON.stringify writes it. */
export const jsonValue = (v: unknown): string => {
  if (typeof v === 'string') return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  throw UNEXPECTED;
};

/**
 * `JSON.stringify([fields, extra])` for the fields in the schema's order,
 * written by one function generated from the field list: the same text, at a
 * fifth of the cost of stringifying the whole record (issue 15: it was the
 * largest stage of the ingress' own work). Names are identifiers from
 * cdr/fields.ts, checked here, never input.
 */
const fieldsText = ((): ((record: CdrRecord, value: typeof jsonValue) => string) => {
  const parts = FIELD_NAMES.map((name, i) => {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`bad field name ${name}`);
    return `'${i === 0 ? '[{' : ','}"${name}":' + j(r.${name})`;
  });
  return new Function('r', 'j', `return ${parts.join(' + ')} + '},';`) as never;
})();

/** The text hashed: the record's fields in the schema's order, then its extra fields by match key. */
export const contentText = (record: CdrRecord): string => {
  const extra = extraText(record.extra_fields);
  try {
    return `${fieldsText(record, jsonValue)}${extra}]`;
  } catch (e) {
    if (e !== UNEXPECTED) throw e;
    // a value of another type (not built by cdr/normalise.ts): stringified as it is
    const { ingest: _ingest, extra_fields: _extra, ...fields } = record;
    return `[${JSON.stringify(fields)},${extra}]`;
  }
};

export const contentHash = (record: CdrRecord): string =>
  hash('sha256', contentText(record)).slice(0, CONTENT_HASH_HEX);

/** Whether a header value is a content hash as written by `contentHash`. */
export const isContentHash = (text: string | undefined): text is string =>
  text !== undefined && HEX.test(text);
