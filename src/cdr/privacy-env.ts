/**
 * @module cdr/privacy-env
 * The privacy variables (PRIVACY_DROP_FIELDS, PRIVACY_HASH_FIELDS,
 * PRIVACY_ALLOW_FIELDS, PRIVACY_HASH_KEY) read and checked into a Privacy
 * (cdr/privacy.ts, which applies it). Apart from it so a worker thread, which
 * only applies one, does not load the configuration's schema library.
 */
import { z } from 'zod';
import {
  FIELDS,
  FIELDS_BY_MATCH_KEY,
  type Field,
  type FieldName,
  type TextField,
  toMatchKey,
} from './fields.ts';
import {
  createPrivacy,
  EXTRA_PREFIX,
  type ExtraKey,
  type FieldSet,
  fieldByName,
  isExtraKey,
  PROTECTED,
  type Privacy,
} from './privacy.ts';

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
