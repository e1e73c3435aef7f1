/**
 * @module cdr/normalise
 * One raw Webex CDR (a JSON object with human-readable keys) becomes one
 * record of the Avro contract. Keys are matched case-, space- and
 * underscore-insensitively (so `Report ID`, `report_id` and `reportId` are one
 * field, and the partner APIs' `orgId` is `Org UUID`); values are parsed to
 * their field's type; nothing is lost: unknown keys, the raw text of values
 * that could not be parsed, and an `"NA"` read as "no value" (a null field) go
 * to `extra_fields` under their original key. Only `""` and JSON `null`
 * become null without a trace: they carry no text. A record without
 * `Report ID` or `Org UUID` cannot be published and comes back as an error.
 */
import { CdrError, fail, ok, type Result } from '../errors.ts';
import {
  FIELD_NAMES,
  FIELDS,
  FIELDS_BY_MATCH_KEY,
  type RecordFields,
  toMatchKey,
} from './fields.ts';
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

/** The value written with the Avro schema: the 87 fields (typed from fields.ts), extra_fields, ingest. */
export type CdrRecord = RecordFields & {
  extra_fields: Record<string, string>;
  ingest: Ingest;
};

export type NormalisedCdr = {
  readonly reportId: string;
  readonly orgId: string;
  /** `Release time`, falling back to `Report time`: the call end the reconciler windows on. */
  readonly callEnd: number | null;
  readonly reportTime: number | null;
  /**
   * `callEnd` and `reportTime` as `Date#toISOString` writes them, when the
   * record held them in exactly that form (Webex's usual one): the text is
   * kept so the headers need not format the time again (kafka/messages.ts).
   * Null: format it (another spelling, or no time).
   */
  readonly callEndIso: string | null;
  readonly reportTimeIso: string | null;
  readonly record: CdrRecord;
};

const FIELD_COUNT = FIELDS.length;
const REPORT_ID = FIELDS.findIndex((f) => f.name === 'report_id');
const ORG_UUID = FIELDS.findIndex((f) => f.name === 'org_uuid');
const RELEASE_TIME = FIELDS.findIndex((f) => f.name === 'release_time');
const REPORT_TIME = FIELDS.findIndex((f) => f.name === 'report_time');

// A valid time (parseTime accepted it: years from 1000) in this form is what toISOString gives back.
const ISO_TEXT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const isoText = (value: unknown): string | null =>
  typeof value === 'string' && ISO_TEXT.test(value) ? value : null;

// Raw key -> field index (-1: unknown, INVALID_KEY: not valid Unicode). Live
// data repeats a small set of spellings, so the regex in toMatchKey and the
// Unicode check run once per spelling, not once per key per record. Only
// well-formed keys are cached.
export const INVALID_KEY = -2;
const KEY_CACHE_LIMIT = 4096;
const keyCache = new Map<string, number>();
export const fieldIndexForKey = (key: string): number => {
  const hit = keyCache.get(key);
  if (hit !== undefined) return hit;
  if (!key.isWellFormed()) return INVALID_KEY;
  const field = FIELDS_BY_MATCH_KEY.get(toMatchKey(key));
  const index = field === undefined ? -1 : FIELDS.indexOf(field);
  if (keyCache.size < KEY_CACHE_LIMIT) keyCache.set(key, index);
  return index;
};

/**
 * Builds the record as one object literal of a fixed shape (fast to create,
 * fast to encode). Generated once from the field list; names are validated
 * identifiers from fields.ts, never input.
 */
const buildRecord = ((): ((
  values: FieldValue[],
  extra: Record<string, string>,
  ingest: Ingest,
) => CdrRecord) => {
  const props = FIELD_NAMES.map((name, i) => {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`bad field name ${name}`);
    return `${name}: v[${i}]`;
  });
  return new Function(
    'v',
    'extra_fields',
    'ingest',
    `return { ${props.join(', ')}, extra_fields, ingest };`,
  ) as never;
})();

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const normalise = (raw: unknown, ingest: Ingest): Result<NormalisedCdr> => {
  if (!isPlainObject(raw)) {
    return fail(new CdrError('record_not_object', 'a CDR must be a JSON object'));
  }
  const values: FieldValue[] = new Array(FIELD_COUNT).fill(null);
  const extra: Record<string, string> = Object.create(null);
  let releaseText: unknown = null;
  let reportText: unknown = null;

  for (const key of Object.keys(raw)) {
    const value = raw[key];
    const index = fieldIndexForKey(key);
    if (index === INVALID_KEY || (typeof value === 'string' && !value.isWellFormed())) {
      return fail(
        new CdrError(
          'record_invalid_text',
          `key or value of "${safeKey(key)}" is not valid Unicode`,
        ),
      );
    }
    // A second spelling of a field that already has a value is kept verbatim.
    const field = index < 0 || values[index] !== null ? undefined : FIELDS[index];
    const parsed =
      field === undefined ? undefined : parseValue(field.kind, value, field.naIsValue === true);
    if (parsed === undefined || !parsed.ok) {
      const text = textOf(value);
      if (text === null) return fail(tooDeep(key));
      extra[key] = text;
      continue;
    }
    // "NA" read as no value: the field is null, its text is kept (it may be a real value).
    if (parsed.value === null && typeof value === 'string' && value !== '') extra[key] = value;
    // An empty spelling ("" / "NA") leaves the field open for a later spelling with a value.
    values[index] = parsed.value;
    if (index === RELEASE_TIME) releaseText = value;
    else if (index === REPORT_TIME) reportText = value;
  }

  const reportId = values[REPORT_ID];
  if (typeof reportId !== 'string' || reportId.trim() === '') {
    return fail(new CdrError('record_missing_report_id', 'the CDR has no "Report ID"'));
  }
  const orgId = values[ORG_UUID];
  if (typeof orgId !== 'string' || orgId.trim() === '') {
    return fail(new CdrError('record_missing_org_uuid', 'the CDR has no "Org UUID"'));
  }
  const release = values[RELEASE_TIME];
  const report = values[REPORT_TIME];
  const reportTime = typeof report === 'number' ? report : null;
  const reportTimeIso = reportTime === null ? null : isoText(reportText);
  const record = buildRecord(values, extra, ingest);
  return ok({
    reportId,
    orgId,
    callEnd: typeof release === 'number' ? release : reportTime,
    reportTime,
    callEndIso: typeof release === 'number' ? isoText(releaseText) : reportTimeIso,
    reportTimeIso,
    record,
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
