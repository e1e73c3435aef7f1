/**
 * @module cdr/parse-value
 * Turns one raw Webex value into the typed value of its field kind. A value
 * that cannot be parsed comes back as `{ ok: false }` so the caller keeps its
 * raw text. "" and "NA" mean "no value" for every kind, except that "NA" is
 * a value of the fields whose spec says so (`naIsValue`: `International
 * country` NA is Namibia). The normaliser keeps the text of an "NA" it reads
 * as no value (cdr/normalise.ts).
 */
import type { FieldKind } from './fields.ts';

export type Parsed = { ok: true; value: string | number | boolean | null } | { ok: false };

const NOT_PARSED: Parsed = { ok: false };
const NULL: Parsed = { ok: true, value: null };

const isNoValue = (v: unknown): boolean => v === null || v === '' || v === 'NA';

// 2023-10-12T21:22:32.621Z, 2023-10-12 21:22:32.621 (UTC), optional offset
// (hours 00-23, minutes 00-59: anything else is not a time and keeps its text).
const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?$/;

/**
 * Parses both Webex time formats to epoch milliseconds. Text without a zone is
 * UTC (the specification's examples are UTC). Returns null when the text is
 * not a valid time, or when parsing would drop sub-millisecond digits.
 */
export const parseTime = (text: string): number | null => {
  if (text.length === 24) {
    const fast = parseIsoMillis(text);
    if (fast !== undefined) return fast;
  }
  const m = TIME_RE.exec(text.length > 40 ? '' : text.trim());
  if (m === null) return null;
  const frac = m[7] ?? '';
  if (frac.length > 3 && /[1-9]/.test(frac.slice(3))) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (!validTime(year, month, day, hour, minute, second)) return null;
  const ms = frac === '' ? 0 : Number(frac.length >= 3 ? frac.slice(0, 3) : frac.padEnd(3, '0'));
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  return utc - zoneOffsetMinutes(m[8] ?? 'Z') * 60_000;
};

/** Digits of `text` from `at` to `at + n` as a number, or -1 when one is not a digit. */
const digitsAt = (text: string, at: number, n: number): number => {
  let value = 0;
  for (let i = at; i < at + n; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
};

/**
 * `2023-10-12T21:22:32.621Z`, the form of nearly every Webex time, read
 * without the regex (a CDR holds several times; issue 15): the same value and
 * the same checks as the general path, or undefined when `text` is not exactly
 * that form (then the general path decides).
 */
const parseIsoMillis = (text: string): number | null | undefined => {
  if (
    text.charCodeAt(4) !== 45 || // -
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 || // T
    text.charCodeAt(13) !== 58 || // :
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 || // .
    text.charCodeAt(23) !== 90 // Z
  ) {
    return undefined;
  }
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  const ms = digitsAt(text, 20, 3);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || ms < 0) {
    return undefined;
  }
  return validTime(year, month, day, hour, minute, second)
    ? Date.UTC(year, month - 1, day, hour, minute, second, ms)
    : null;
};

/**
 * `parseIsoMillis` on UTF-8 bytes (`b[at..at+24)`), for a reader that has
 * not made the text a string (cdr/transcode.ts): the same value and checks,
 * or undefined when the bytes are not exactly that form.
 */
export const parseIsoMillisBytes = (b: Uint8Array, at: number): number | null | undefined => {
  if (
    b[at + 4] !== 45 || // -
    b[at + 7] !== 45 ||
    b[at + 10] !== 84 || // T
    b[at + 13] !== 58 || // :
    b[at + 16] !== 58 ||
    b[at + 19] !== 46 || // .
    b[at + 23] !== 90 // Z
  ) {
    return undefined;
  }
  const year = digitBytesAt(b, at, 4);
  const month = digitBytesAt(b, at + 5, 2);
  const day = digitBytesAt(b, at + 8, 2);
  const hour = digitBytesAt(b, at + 11, 2);
  const minute = digitBytesAt(b, at + 14, 2);
  const second = digitBytesAt(b, at + 17, 2);
  const ms = digitBytesAt(b, at + 20, 3);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || ms < 0) {
    return undefined;
  }
  return validTime(year, month, day, hour, minute, second)
    ? Date.UTC(year, month - 1, day, hour, minute, second, ms)
    : null;
};

/** Digits of `b` from `at` to `at + n` as a number, or -1 when one is not a digit. */
export const digitBytesAt = (b: Uint8Array, at: number, n: number): number => {
  let value = 0;
  for (let i = at; i < at + n; i++) {
    const d = (b[i] as number) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
};

const validTime = (
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): boolean =>
  year >= 1000 && // not a Webex time; also spares Date.UTC's 0-99 => 1900-1999 rule
  month >= 1 &&
  month <= 12 &&
  day >= 1 &&
  day <= daysInMonth(year, month) &&
  hour <= 23 &&
  minute <= 59 &&
  second <= 59;

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
      ? 29
      : 28
    : month === 4 || month === 6 || month === 9 || month === 11
      ? 30
      : 31;

const zoneOffsetMinutes = (zone: string): number => {
  if (zone === 'Z' || zone === 'z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
};

const INTEGER_RE = /^[+-]?\d+(?:\.0*)?$/;

const parseLong = (v: unknown): Parsed => {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? { ok: true, value: v } : NOT_PARSED;
  if (typeof v !== 'string') return NOT_PARSED;
  const t = v.trim();
  if (!INTEGER_RE.test(t)) return NOT_PARSED;
  const n = Number(t);
  return Number.isSafeInteger(n) ? { ok: true, value: n } : NOT_PARSED;
};

const parseBoolean = (v: unknown): Parsed => {
  if (typeof v === 'boolean') return { ok: true, value: v };
  if (typeof v !== 'string') return NOT_PARSED;
  const t = v.trim().toLowerCase();
  if (t === 'true') return { ok: true, value: true };
  if (t === 'false') return { ok: true, value: false };
  return NOT_PARSED;
};

const parseTimeValue = (v: unknown): Parsed => {
  if (typeof v !== 'string') return NOT_PARSED;
  const ms = parseTime(v);
  return ms === null ? NOT_PARSED : { ok: true, value: ms };
};

const parseString = (v: unknown): Parsed => {
  if (typeof v === 'string') return { ok: true, value: v };
  if (typeof v === 'number' || typeof v === 'boolean') return { ok: true, value: String(v) };
  return NOT_PARSED;
};

const PARSERS: Record<FieldKind, (v: unknown) => Parsed> = {
  string: parseString,
  long: parseLong,
  boolean: parseBoolean,
  time: parseTimeValue,
};

export const parseValue = (kind: FieldKind, v: unknown, naIsValue = false): Parsed =>
  isNoValue(v) && !(naIsValue && v === 'NA') ? NULL : PARSERS[kind](v);

/** The text kept in `extra_fields` for a value: strings verbatim, anything else as JSON. */
export const rawText = (v: unknown): string =>
  typeof v === 'string' ? v : (JSON.stringify(v) ?? 'null');
