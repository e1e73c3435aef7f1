/**
 * @module cdr/privacy
 * Personal data leaves the partner's perimeter only as configured. Fields
 * listed in PRIVACY_DROP_FIELDS are set to null (every field of the schema is
 * nullable); fields in PRIVACY_HASH_FIELDS are replaced by the keyed
 * HMAC-SHA256 of their value (lowercase hex), so records of one number still
 * join while the number itself cannot be read back or guessed without the key.
 *
 * Applied once per record right after normalisation, on the webhook and the
 * reconciler paths alike, before encoding. The same rule covers a record's
 * `extra_fields` entries of those fields (raw text that could not be parsed)
 * and the raw record of a dead letter, by the same key matching as the
 * normaliser, so the dead-letter topic never shows what the main topic hides.
 * Not configured, nothing runs (the batch builder gets no privacy at all).
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import {
  FIELDS,
  FIELDS_BY_MATCH_KEY,
  type Field,
  type FieldName,
  type TextField,
  type TextFieldName,
  toMatchKey,
} from './fields.ts';
import type { CdrRecord } from './normalise.ts';

/** The dedup and partition keys: never transformed (and not personal data). */
const PROTECTED: ReadonlySet<FieldName> = new Set<FieldName>(['report_id', 'org_uuid']);

export const PRIVACY_HEADER = 'cdr-privacy';

export type Privacy = {
  readonly drop: readonly FieldName[];
  readonly hash: readonly TextFieldName[];
  /** The `cdr-privacy` header value: `drop;fields=a,b hmac-sha256:v1;fields=c,d`. */
  readonly header: string;
  /** Transforms a normalised record in place. */
  protect(record: CdrRecord): void;
  /** A copy of a raw (unnormalised) record with the same transformation. */
  protectRaw(raw: unknown): unknown;
};

const fieldByName = (name: string): Field | undefined => FIELDS_BY_MATCH_KEY.get(toMatchKey(name));

const anyField = (_f: Field): _f is Field => true;
const isTextField = (f: Field): f is TextField => f.kind === 'string';

/** A comma list of field names; `usable` says which fields the list may name (only text can be hashed). */
const fieldList = <F extends Field>(
  variable: string,
  hashing: boolean,
  usable: (f: Field) => f is F,
) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      const names = (text ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const fields: F['name'][] = [];
      const unknown = names.filter((n) => fieldByName(n) === undefined);
      if (unknown.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown field(s) ${unknown.map((n) => `"${n}"`).join(', ')}; valid names: ${FIELDS.map((f) => f.name).join(', ')}`,
        });
      }
      for (const n of names) {
        const f = fieldByName(n);
        if (f === undefined) continue;
        if (PROTECTED.has(f.name)) {
          ctx.addIssue({
            code: 'custom',
            message: `${f.name} is the record's key and cannot be ${hashing ? 'hashed' : 'dropped'}`,
          });
        } else if (!usable(f)) {
          ctx.addIssue({
            code: 'custom',
            message: `${f.name} is a ${f.kind} field: only text fields can be hashed (drop it instead)`,
          });
        } else if (!fields.includes(f.name)) fields.push(f.name);
      }
      return fields;
    })
    .describe(variable);

/** The privacy variables; merged into the configuration schema (config/process.ts). */
export const privacyEnv = z.object({
  PRIVACY_DROP_FIELDS: fieldList('PRIVACY_DROP_FIELDS', false, anyField),
  PRIVACY_HASH_FIELDS: fieldList('PRIVACY_HASH_FIELDS', true, isTextField),
  /** Also as PRIVACY_HASH_KEY_FILE, resolved by config/sources.ts like every secret. */
  PRIVACY_HASH_KEY: z.string().optional(),
});

type PrivacyEnv = z.infer<typeof privacyEnv>;

const MIN_KEY_BYTES = 16;

const readKey = (key: string | undefined): { key: string } | { problem: string } => {
  if (key === undefined || key === '') {
    return {
      problem:
        'PRIVACY_HASH_KEY: required when PRIVACY_HASH_FIELDS is set (or PRIVACY_HASH_KEY_FILE)',
    };
  }
  if (Buffer.byteLength(key) < MIN_KEY_BYTES) {
    return { problem: `PRIVACY_HASH_KEY: at least ${MIN_KEY_BYTES} bytes (a random secret)` };
  }
  return { key };
};

/** Rules across the variables, on their parsed values (a refinement of the configuration schema). */
export const privacyRules = (e: PrivacyEnv): string[] => {
  const { PRIVACY_DROP_FIELDS: drop, PRIVACY_HASH_FIELDS: hash } = e;
  const hashed: ReadonlySet<FieldName> = new Set(hash);
  const both = drop.filter((f) => hashed.has(f));
  const problems =
    both.length > 0
      ? [`PRIVACY_DROP_FIELDS/PRIVACY_HASH_FIELDS: ${both.join(', ')} listed in both`]
      : [];
  if (hash.length > 0) {
    const key = readKey(e.PRIVACY_HASH_KEY);
    if ('problem' in key) problems.push(key.problem);
  }
  return problems;
};

/** The same rules on the raw environment; none while a variable does not parse. */
export const privacyProblems = (raw: Record<string, string | undefined>): string[] => {
  const parsed = privacyEnv.safeParse(raw);
  return parsed.success ? privacyRules(parsed.data) : [];
};

export const hmacHex = (key: string, value: string): string =>
  createHmac('sha256', key).update(value).digest('hex');

/** Null when nothing is configured; throws on settings privacyRules() reports. */
export const toPrivacy = (e: PrivacyEnv): Privacy | null => {
  const drop = e.PRIVACY_DROP_FIELDS;
  const hash = e.PRIVACY_HASH_FIELDS;
  if (drop.length === 0 && hash.length === 0) return null;
  const read = hash.length > 0 ? readKey(e.PRIVACY_HASH_KEY) : { key: '' };
  if ('problem' in read) throw new Error(read.problem);
  return createPrivacy({ drop, hash, key: read.key });
};

export const createPrivacy = (settings: {
  drop: readonly FieldName[];
  hash: readonly TextFieldName[];
  key: string;
}): Privacy => {
  const { drop, hash, key } = settings;
  // match key -> what to do; the same matching as the normaliser's
  const actions = new Map<string, 'drop' | 'hash'>([
    ...drop.map((n) => [toMatchKey(n), 'drop'] as const),
    ...hash.map((n) => [toMatchKey(n), 'hash'] as const),
  ]);
  const transform = (action: 'drop' | 'hash', value: unknown): string | null =>
    action === 'drop' || value === null || value === undefined
      ? null
      : hmacHex(key, typeof value === 'string' ? value : JSON.stringify(value));
  const header = [
    ...(drop.length > 0 ? [`drop;fields=${drop.join(',')}`] : []),
    ...(hash.length > 0 ? [`hmac-sha256:v1;fields=${hash.join(',')}`] : []),
  ].join(' ');

  return {
    drop,
    hash,
    header,
    protect(record) {
      for (const name of drop) record[name] = null;
      for (const name of hash) {
        const v = record[name];
        if (typeof v === 'string') record[name] = hmacHex(key, v);
      }
      const extra = record.extra_fields;
      for (const k of Object.keys(extra)) {
        const action = actions.get(toMatchKey(k));
        if (action === 'drop') delete extra[k];
        else if (action === 'hash') extra[k] = hmacHex(key, extra[k] as string);
      }
    },
    protectRaw(raw) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
      const out: Record<string, unknown> = Object.create(null); // a `__proto__` key stays data
      for (const [k, v] of Object.entries(raw)) {
        const action = actions.get(toMatchKey(k));
        if (action === undefined) out[k] = v;
        else if (action === 'hash') out[k] = transform(action, v);
        // dropped keys are left out of the copy
      }
      return out;
    },
  };
};
