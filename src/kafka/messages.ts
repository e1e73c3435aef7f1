/**
 * @module kafka/messages
 * The shape of what lands on the topics: the contract's headers and keys.
 *
 * CDR topic: key = Org UUID; value = Avro (Confluent wire format); headers
 * `cdr-report-id`, `cdr-report-time`, `cdr-call-end` (ISO 8601 UTC, absent when
 * unknown), `cdr-source`, `cdr-feed`, `cdr-delivery-id`, `cdr-content-hash`
 * (dedup/content-hash.ts); a later version of a Report ID already on the topic
 * also carries `cdr-version` (2, 3, ...) and, when the earlier version had
 * one, `cdr-supersedes-report-time` (its Report time).
 *
 * Dead-letter topic: key = Org UUID when the record has one; value = JSON
 * `{ code, reason, deliveryId, feed, source, receivedAt, index, raw }` with
 * `raw` the record re-serialised as JSON (`JSON.stringify` of what was parsed;
 * cut at 512 KiB with `rawTruncated`); headers `cdr-dlq-code`,
 * `cdr-dlq-reason`, `cdr-raw-sha256` (of the whole raw text),
 * `cdr-delivery-id`, `cdr-source`, `cdr-feed`.
 */
import { createHash } from 'node:crypto';
import type { DeadRecord } from '../cdr/batch.ts';
import { FIELDS_BY_MATCH_KEY, toMatchKey } from '../cdr/fields.ts';
import type { CdrRecord, Ingest, NormalisedCdr } from '../cdr/normalise.ts';
import { contentHash } from '../dedup/content-hash.ts';
import type { OutMessage } from './port.ts';

export const HEADER = {
  reportId: 'cdr-report-id',
  reportTime: 'cdr-report-time',
  callEnd: 'cdr-call-end',
  source: 'cdr-source',
  feed: 'cdr-feed',
  deliveryId: 'cdr-delivery-id',
  dlqCode: 'cdr-dlq-code',
  dlqReason: 'cdr-dlq-reason',
  rawSha256: 'cdr-raw-sha256',
  contentHash: 'cdr-content-hash',
  version: 'cdr-version',
  supersedesReportTime: 'cdr-supersedes-report-time',
} as const;

/** Raw text kept in a dead letter, so it stays under the broker's message size limit. */
export const MAX_DLQ_RAW_CHARS = 512 * 1024;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** SHA-256 (hex) of a dead record's raw JSON text (`cdr-raw-sha256`): lets a reader skip letters it already has. */
export const rawHash = (raw: unknown): string => sha256(rawJson(raw));

const iso = (ms: number | null): string | undefined =>
  ms === null ? undefined : new Date(ms).toISOString();

/** A later version of a Report ID on the topic: its number, and the Report time of the one it supersedes. */
export type Supersedes = { version: number; earlierReportTime: number | null };

/** What a CDR's message needs besides its value: a normalised record, or one a worker encoded (kafka/publish-cdrs.ts). */
export type CdrMessageFields = Omit<NormalisedCdr, 'record'> & {
  readonly record: { readonly ingest: Ingest };
};

export const toCdrMessage = (
  cdr: CdrMessageFields,
  value: Buffer,
  hash: string = contentHash(cdr.record as CdrRecord),
  supersedes: Supersedes | null = null,
): OutMessage => {
  const headers: Record<string, string> = {
    [HEADER.reportId]: cdr.reportId,
    [HEADER.source]: cdr.record.ingest.source,
    [HEADER.feed]: cdr.record.ingest.feed,
    [HEADER.deliveryId]: cdr.record.ingest.delivery_id,
    [HEADER.contentHash]: hash,
  };
  // the record's own text when it is already what toISOString gives (cdr/normalise.ts)
  const reportTime = cdr.reportTimeIso ?? iso(cdr.reportTime);
  if (reportTime !== undefined) headers[HEADER.reportTime] = reportTime;
  const callEnd =
    cdr.callEndIso ?? (cdr.callEnd === cdr.reportTime ? reportTime : iso(cdr.callEnd));
  if (callEnd !== undefined) headers[HEADER.callEnd] = callEnd;
  if (supersedes !== null) {
    headers[HEADER.version] = String(supersedes.version);
    const earlier = iso(supersedes.earlierReportTime);
    if (earlier !== undefined) headers[HEADER.supersedesReportTime] = earlier;
  }
  return { key: cdr.orgId, value, headers };
};

/** The raw JSON text a dead letter holds. */
const rawJson = (raw: unknown): string => {
  try {
    return JSON.stringify(raw) ?? 'null';
  } catch {
    return '"[not serialisable: nested too deeply]"';
  }
};

const orgOf = (raw: unknown): string | null => {
  if (typeof raw !== 'object' || raw === null) return null;
  for (const [k, v] of Object.entries(raw)) {
    // the normaliser's matching: `Org UUID`, `org_uuid`, the partner APIs' `orgId`
    if (FIELDS_BY_MATCH_KEY.get(toMatchKey(k))?.name === 'org_uuid' && typeof v === 'string' && v) {
      return v.toWellFormed();
    }
  }
  return null;
};

export const toDeadLetterMessage = (dead: DeadRecord, ingest: Ingest): OutMessage => {
  const raw = rawJson(dead.raw);
  const truncated = raw.length > MAX_DLQ_RAW_CHARS;
  const value = {
    code: dead.error.code,
    reason: dead.error.message,
    deliveryId: ingest.delivery_id,
    feed: ingest.feed,
    source: ingest.source,
    receivedAt: new Date(ingest.received_at).toISOString(),
    index: dead.index,
    raw: truncated ? raw.slice(0, MAX_DLQ_RAW_CHARS) : raw,
    ...(truncated ? { rawTruncated: true, rawLength: raw.length } : {}),
  };
  return {
    key: orgOf(dead.raw),
    value: Buffer.from(JSON.stringify(value)),
    headers: {
      [HEADER.dlqCode]: dead.error.code,
      [HEADER.dlqReason]: dead.error.message,
      [HEADER.rawSha256]: sha256(raw),
      [HEADER.deliveryId]: ingest.delivery_id,
      [HEADER.source]: ingest.source,
      [HEADER.feed]: ingest.feed,
    },
  };
};
