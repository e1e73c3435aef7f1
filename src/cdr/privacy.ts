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

/** A key the schema does not know, as listed (`extra:` and its match key: `extra:customerphone`). */
export type ExtraKey = `extra:${string}`;
const EXTRA_PREFIX = 'extra:';
const isExtraKey = (name: string): name is ExtraKey => name.startsWith(EXTRA_PREFIX);

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

const fieldByName = (name: string): Field | undefined => FIELDS_BY_MATCH_KEY.get(toMatchKey(name));

type ListMode = 'drop' | 'hash' | 'allow';

const isTextField = (f: Field): f is TextField => f.kind === 'string';

/**
 * A comma list of schema field names and `extra:<key>` entries. Drop and hash
 * refuse the keys; only text can be hashed; the allow list may name the keys
 * (they always leave anyway).
 */
const fieldList = <F extends Field>(
  variable: string,
  mode: ListMode,
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
      const listed: (F['name'] | ExtraKey)[] = [];
      const add = (entry: F['name'] | ExtraKey) => {
        if (!listed.includes(entry)) listed.push(entry);
      };
      const unknown = names.filter((n) => !isExtraKey(n) && fieldByName(n) === undefined);
      if (unknown.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown field(s) ${unknown.map((n) => `"${n}"`).join(', ')}; valid names: ${FIELDS.map((f) => f.name).join(', ')}, or extra:<Webex key> for a key the schema does not know`,
        });
      }
      for (const n of names) {
        if (isExtraKey(n)) {
          const key = toMatchKey(n.slice(EXTRA_PREFIX.length));
          const known = FIELDS_BY_MATCH_KEY.get(key);
          if (key === '') {
            ctx.addIssue({ code: 'custom', message: `"${n}" names no key` });
          } else if (known !== undefined) {
            ctx.addIssue({
              code: 'custom',
              message: `"${n}" is the schema field ${known.name}: list it as ${known.name} (its extra_fields text is covered too)`,
            });
          } else add(`${EXTRA_PREFIX}${key}`);
          continue;
        }
        const f = fieldByName(n);
        if (f === undefined) continue;
        if (PROTECTED.has(f.name)) {
          // the keys always leave; listed alone, they still switch allow-list mode on
          if (mode === 'allow') add(f.name);
          else {
            ctx.addIssue({
              code: 'custom',
              message: `${f.name} is the record's key and cannot be ${mode === 'hash' ? 'hashed' : 'dropped'}`,
            });
          }
        } else if (!usable(f)) {
          ctx.addIssue({
            code: 'custom',
            message: `${f.name} is a ${f.kind} field: only text fields can be hashed (drop it instead)`,
          });
        } else add(f.name);
      }
      return listed;
    })
    .describe(variable);

const anyField = (_f: Field): _f is Field => true;

/** Splits a parsed list into schema fields and extra keys (match keys). */
const splitList = <F extends FieldName>(list: readonly (F | ExtraKey)[]): FieldSet<F> => ({
  fields: list.filter((n): n is F => !isExtraKey(n)),
  extra: list.filter(isExtraKey).map((n) => n.slice(EXTRA_PREFIX.length)),
});

/** The privacy variables; merged into the configuration schema (config/process.ts). */
export const privacyEnv = z.object({
  PRIVACY_DROP_FIELDS: fieldList('PRIVACY_DROP_FIELDS', 'drop', anyField),
  PRIVACY_HASH_FIELDS: fieldList('PRIVACY_HASH_FIELDS', 'hash', isTextField),
  /** Allow-list mode: only these fields (and the keys) leave the ingress. */
  PRIVACY_ALLOW_FIELDS: fieldList('PRIVACY_ALLOW_FIELDS', 'allow', anyField),
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
  const allow = e.PRIVACY_ALLOW_FIELDS;
  const hashed: ReadonlySet<string> = new Set(hash);
  const both = drop.filter((f) => hashed.has(f));
  const problems =
    both.length > 0
      ? [`PRIVACY_DROP_FIELDS/PRIVACY_HASH_FIELDS: ${both.join(', ')} listed in both`]
      : [];
  if (allow.length > 0 && drop.length > 0) {
    problems.push(
      'PRIVACY_DROP_FIELDS/PRIVACY_ALLOW_FIELDS: set one, not both (in allow-list mode every field not listed is dropped)',
    );
  }
  const allowed: ReadonlySet<string> = new Set(allow);
  const hiddenHashed = allow.length === 0 ? [] : hash.filter((f) => !allowed.has(f));
  if (hiddenHashed.length > 0) {
    problems.push(
      `PRIVACY_HASH_FIELDS/PRIVACY_ALLOW_FIELDS: ${hiddenHashed.join(', ')} hashed but not allowed (add to PRIVACY_ALLOW_FIELDS to publish the hash)`,
    );
  }
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
  const drop = splitList(e.PRIVACY_DROP_FIELDS);
  const hash = splitList(e.PRIVACY_HASH_FIELDS);
  const allow = e.PRIVACY_ALLOW_FIELDS;
  if (
    e.PRIVACY_DROP_FIELDS.length === 0 &&
    e.PRIVACY_HASH_FIELDS.length === 0 &&
    allow.length === 0
  ) {
    return null;
  }
  const read = e.PRIVACY_HASH_FIELDS.length > 0 ? readKey(e.PRIVACY_HASH_KEY) : { key: '' };
  if ('problem' in read) throw new Error(read.problem);
  return createPrivacy({
    drop: drop.fields,
    hash: hash.fields,
    dropExtra: drop.extra,
    hashExtra: hash.extra,
    allow: allow.length === 0 ? null : splitList(allow),
    key: read.key,
  });
};

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
