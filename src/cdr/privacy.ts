/**
 * @module cdr/privacy
 * Personal data leaves the partner's perimeter only as configured. Fields
 * listed in PRIVACY_DROP_FIELDS are set to null (every field of the schema is
 * nullable); fields in PRIVACY_HASH_FIELDS are replaced by the keyed
 * HMAC-SHA256 of their value (lowercase hex), so records of one number still
 * join while the number itself cannot be read back or guessed without the key.
 * With PRIVACY_ALLOW_FIELDS (allow-list mode, for data-minimisation rules)
 * only the listed fields, and the two keys, leave: every other field is null
 * and every other `extra_fields` entry is left out, including keys Webex adds
 * later.
 *
 * The lists name schema fields, or `extra:<Webex key>` for keys the schema
 * does not know (they arrive in `extra_fields`), so a typo of a field name is
 * still refused. Applied once per record right after normalisation, on the
 * webhook and the reconciler paths alike, before encoding. The same rule
 * covers a record's `extra_fields` entries of those fields (raw text that
 * could not be parsed, an "NA") and the raw record of a dead letter, by the
 * same key matching as the normaliser, so the dead-letter topic never shows
 * what the main topic hides. Not configured, nothing runs (the batch builder
 * gets no privacy at all).
 */
import { createHmac } from 'node:crypto';
import {
  FIELDS,
  FIELDS_BY_MATCH_KEY,
  type Field,
  type FieldName,
  type TextFieldName,
  toMatchKey,
} from './fields.ts';
import type { CdrRecord } from './normalise.ts';

/** The dedup and partition keys: never transformed (and not personal data). */
export const PROTECTED: ReadonlySet<FieldName> = new Set<FieldName>(['report_id', 'org_uuid']);

export const PRIVACY_HEADER = 'cdr-privacy';

/** A key the schema does not know, as listed (`extra:` and its match key: `extra:customerphone`). */
export type ExtraKey = `extra:${string}`;
export const EXTRA_PREFIX = 'extra:';
export const isExtraKey = (name: string): name is ExtraKey => name.startsWith(EXTRA_PREFIX);

/** Schema fields and keys outside the schema (match keys), as one list names them. */
export type FieldSet<F extends FieldName = FieldName> = {
  readonly fields: readonly F[];
  readonly extra: readonly string[];
};

export type Privacy = {
  readonly drop: readonly FieldName[];
  readonly hash: readonly TextFieldName[];
  /** Allow-list mode: only these (and report_id, org_uuid) leave; null when off. */
  readonly allow: FieldSet | null;
  /** The `cdr-privacy` header value: `drop;fields=a,b hmac-sha256:v1;fields=c,d`. */
  readonly header: string;
  /** Transforms a normalised record in place. */
  protect(record: CdrRecord): void;
  /** A copy of a raw (unnormalised) record with the same transformation. */
  protectRaw(raw: unknown): unknown;
  /** What it was made from (`createPrivacy(settings)` makes the same one). */
  readonly settings: PrivacySettings;
};

export const fieldByName = (name: string): Field | undefined =>
  FIELDS_BY_MATCH_KEY.get(toMatchKey(name));

export const hmacHex = (key: string, value: string): string =>
  createHmac('sha256', key).update(value).digest('hex');

type Action = 'keep' | 'drop' | 'hash';

const headerPart = (name: string, set: FieldSet): string[] =>
  set.fields.length === 0 && set.extra.length === 0
    ? []
    : [
        [
          name,
          ...(set.fields.length > 0 ? [`fields=${set.fields.join(',')}`] : []),
          ...(set.extra.length > 0 ? [`extra=${set.extra.join(',')}`] : []),
        ].join(';'),
      ];

/** What a Privacy is made of: plain data, so a worker thread can make the same one. */
export type PrivacySettings = {
  drop: readonly FieldName[];
  hash: readonly TextFieldName[];
  /** Keys outside the schema (match keys), dropped from extra_fields. */
  dropExtra?: readonly string[];
  hashExtra?: readonly string[];
  allow?: FieldSet | null;
  key: string;
};

export const createPrivacy = (settings: PrivacySettings): Privacy => {
  const { drop, hash, key } = settings;
  const dropExtra = settings.dropExtra ?? [];
  const hashExtra = settings.hashExtra ?? [];
  const allow = settings.allow ?? null;
  const allowedFields: ReadonlySet<FieldName> = new Set([...PROTECTED, ...(allow?.fields ?? [])]);
  const fieldAction = (name: FieldName): Action =>
    (hash as readonly FieldName[]).includes(name)
      ? 'hash'
      : drop.includes(name) || (allow !== null && !allowedFields.has(name))
        ? 'drop'
        : 'keep';
  const extraAction = (matchKey: string): Action =>
    hashExtra.includes(matchKey)
      ? 'hash'
      : dropExtra.includes(matchKey) || (allow !== null && !allow.extra.includes(matchKey))
        ? 'drop'
        : 'keep';
  // What happens to a Webex key (a field's spelling or an unknown key): the normaliser's matching.
  const actionForKey = (k: string): Action => {
    const matchKey = toMatchKey(k);
    const field = FIELDS_BY_MATCH_KEY.get(matchKey);
    return field === undefined ? extraAction(matchKey) : fieldAction(field.name);
  };
  const nulled = FIELDS.map((f) => f.name).filter((n) => fieldAction(n) === 'drop');
  const hmacOf = (value: unknown): string | null =>
    value === null || value === undefined
      ? null
      : hmacHex(key, typeof value === 'string' ? value : JSON.stringify(value));
  const header = [
    ...(allow === null
      ? []
      : headerPart('allow', { fields: [...allowedFields], extra: allow.extra })),
    ...headerPart('drop', { fields: drop, extra: dropExtra }),
    ...headerPart('hmac-sha256:v1', { fields: hash, extra: hashExtra }),
  ].join(' ');

  return {
    drop,
    hash,
    allow,
    header,
    settings,
    protect(record) {
      for (const name of nulled) record[name] = null;
      for (const name of hash) {
        const v = record[name];
        if (typeof v === 'string') record[name] = hmacHex(key, v);
      }
      const extra = record.extra_fields;
      for (const k of Object.keys(extra)) {
        const action = actionForKey(k);
        if (action === 'drop') delete extra[k];
        else if (action === 'hash') extra[k] = hmacHex(key, extra[k] as string);
      }
    },
    protectRaw(raw) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
      const out: Record<string, unknown> = Object.create(null); // a `__proto__` key stays data
      for (const [k, v] of Object.entries(raw)) {
        const action = actionForKey(k);
        if (action === 'keep') out[k] = v;
        else if (action === 'hash') out[k] = hmacOf(v);
        // dropped keys are left out of the copy
      }
      return out;
    },
  };
};
