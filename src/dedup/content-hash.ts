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
import { createHash } from 'node:crypto';
import { toMatchKey } from '../cdr/fields.ts';
import type { CdrRecord } from '../cdr/normalise.ts';

/** Hex digits of the hash kept (64 bits). */
export const CONTENT_HASH_HEX = 16;
const HEX = /^[0-9a-f]{16}$/;

/**
 * `extra_fields` by match key, in key order: the same however the keys were
 * spelt. An object as before the keys were matched, so a record whose keys
 * already are match keys (every record without `extra_fields`) keeps the hash
 * it had then and an upgrade republishes nothing of it; two keys that match
 * alike (rare) are kept apart as sorted [key, value] pairs.
 */
const matchedExtra = (
  extra: Record<string, string>,
): Record<string, string> | [string, string][] => {
  const pairs = Object.entries(extra).map(([k, v]): [string, string] => [toMatchKey(k), v]);
  if (pairs.length === 0) return extra;
  pairs.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const out: Record<string, string> = {};
  for (const [k, v] of pairs) {
    if (k in out) return pairs;
    out[k] = v;
  }
  return out;
};

export const contentHash = (record: CdrRecord): string => {
  const { ingest: _ingest, extra_fields, ...fields } = record;
  // the fields are always built in the schema's order (cdr/normalise.ts)
  const text = JSON.stringify([fields, matchedExtra(extra_fields)]);
  return createHash('sha256').update(text).digest('hex').slice(0, CONTENT_HASH_HEX);
};

/** Whether a header value is a content hash as written by `contentHash`. */
export const isContentHash = (text: string | undefined): text is string =>
  text !== undefined && HEX.test(text);
