/**
 * @module cdr/normalise
 * One raw Webex CDR (a JSON object with human-readable keys) becomes one
 * record of the Avro contract. Keys are matched case-, space- and
 * underscore-insensitively (so `Report ID`, `report_id` and `reportId` are one
 * field); values are parsed to their field's type; nothing is lost: unknown
 * keys, and the raw text of values that could not be parsed, go to
 * `extra_fields` under their original key. A record without `Report ID` or
 * `Org UUID` cannot be published and comes back as an error.
 */
import { CdrError, fail, ok, type Result } from '../errors.ts';
import { FIELDS, FIELDS_BY_MATCH_KEY, type Field, toMatchKey } from './fields.ts';
import { parseValue, rawText } from './parse-value.ts';

export const FEEDS = ['analytics', 'billing'] as const;
export type Feed = (typeof FEEDS)[number];
export const SOURCES = ['webhook', 'reconciler'] as const;
export type Source = (typeof SOURCES)[number];

export type Ingest = {
  readonly feed: Feed;
  readonly source: Source;
  /** epoch milliseconds */
  readonly received_at: number;
  readonly delivery_id: string;
};

export type FieldValue = string | number | boolean | null;

/** The value written with the Avro schema: the 83 fields, extra_fields, ingest. */
export type CdrRecord = {
  [field: string]: FieldValue | Record<string, string> | Ingest;
  extra_fields: Record<string, string>;
  ingest: Ingest;
};

export type NormalisedCdr = {
  readonly reportId: string;
  readonly orgId: string;
  /** `Release time`, falling back to `Report time`: the call end the reconciler windows on. */
  readonly callEnd: number | null;
  readonly reportTime: number | null;
  readonly record: CdrRecord;
};

const EMPTY_FIELDS: Readonly<Record<string, null>> = Object.fromEntries(
  FIELDS.map((f) => [f.name, null]),
);

// Raw key -> field. Live data repeats a small set of spellings, so the regex in
// toMatchKey runs once per spelling, not once per key per record.
const KEY_CACHE_LIMIT = 4096;
const keyCache = new Map<string, Field | null>();
const fieldForKey = (key: string): Field | null => {
  const hit = keyCache.get(key);
  if (hit !== undefined) return hit;
  const field = FIELDS_BY_MATCH_KEY.get(toMatchKey(key)) ?? null;
  if (keyCache.size < KEY_CACHE_LIMIT) keyCache.set(key, field);
  return field;
};

const hasLoneSurrogate = (key: string, value: unknown): boolean =>
  !key.isWellFormed() || (typeof value === 'string' && !value.isWellFormed());

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const normalise = (raw: unknown, ingest: Ingest): Result<NormalisedCdr> => {
  if (!isPlainObject(raw)) {
    return fail(new CdrError('record_not_object', 'a CDR must be a JSON object'));
  }
  const fields: Record<string, FieldValue> = { ...EMPTY_FIELDS };
  const assigned = new Set<string>();
  const extra: Record<string, string> = Object.create(null);

  for (const key of Object.keys(raw)) {
    const value = raw[key];
    if (hasLoneSurrogate(key, value)) {
      return fail(
        new CdrError(
          'record_invalid_text',
          `key or value of "${safeKey(key)}" is not valid Unicode`,
        ),
      );
    }
    const field = fieldForKey(key);
    if (field === null || assigned.has(field.name)) {
      const text = textOf(value);
      if (text === null) return fail(tooDeep(key));
      extra[key] = text;
      continue;
    }
    const parsed = parseValue(field.kind, value);
    if (!parsed.ok) {
      const text = textOf(value);
      if (text === null) return fail(tooDeep(key));
      extra[key] = text;
      continue;
    }
    // An empty spelling ("" / "NA") must not hide a later spelling with a value.
    if (parsed.value === null) continue;
    fields[field.name] = parsed.value;
    assigned.add(field.name);
  }

  const reportId = fields.report_id;
  if (typeof reportId !== 'string' || reportId.trim() === '') {
    return fail(new CdrError('record_missing_report_id', 'the CDR has no "Report ID"'));
  }
  const orgId = fields.org_uuid;
  if (typeof orgId !== 'string' || orgId.trim() === '') {
    return fail(new CdrError('record_missing_org_uuid', 'the CDR has no "Org UUID"'));
  }
  const release = fields.release_time;
  const report = fields.report_time;
  const reportTime = typeof report === 'number' ? report : null;
  return ok({
    reportId,
    orgId,
    callEnd: typeof release === 'number' ? release : reportTime,
    reportTime,
    record: { ...fields, extra_fields: extra, ingest },
  });
};

/** Raw text of a value, or null when it is nested too deeply to serialise. */
const textOf = (value: unknown): string | null => {
  try {
    return rawText(value);
  } catch {
    return null;
  }
};

const tooDeep = (key: string): CdrError =>
  new CdrError('record_invalid_text', `value of "${safeKey(key)}" is nested too deeply to keep`);

const safeKey = (key: string): string => key.slice(0, 64).toWellFormed();
