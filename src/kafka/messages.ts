/**
 * @module kafka/messages
 * The shape of what lands on the topics: the contract's headers and keys.
 *
 * CDR topic: key = Org UUID; value = Avro (Confluent wire format); headers
 * `cdr-report-id`, `cdr-report-time`, `cdr-call-end` (ISO 8601 UTC, absent when
 * unknown), `cdr-source`, `cdr-feed`, `cdr-delivery-id`.
 *
 * Dead-letter topic: key = Org UUID when the record has one; value = JSON
 * `{ code, reason, deliveryId, feed, source, receivedAt, raw }` with `raw` the
 * record's JSON text as received; headers `cdr-dlq-code`, `cdr-dlq-reason`,
 * `cdr-delivery-id`, `cdr-source`, `cdr-feed`.
 */
import type { DeadRecord } from '../cdr/batch.ts';
import type { Ingest, NormalisedCdr } from '../cdr/normalise.ts';
import type { OutMessage } from './producer.ts';

export const HEADER = {
  reportId: 'cdr-report-id',
  reportTime: 'cdr-report-time',
  callEnd: 'cdr-call-end',
  source: 'cdr-source',
  feed: 'cdr-feed',
  deliveryId: 'cdr-delivery-id',
  dlqCode: 'cdr-dlq-code',
  dlqReason: 'cdr-dlq-reason',
} as const;

const iso = (ms: number | null): string | undefined =>
  ms === null ? undefined : new Date(ms).toISOString();

export const toCdrMessage = (cdr: NormalisedCdr, value: Buffer): OutMessage => {
  const headers: Record<string, string> = {
    [HEADER.reportId]: cdr.reportId,
    [HEADER.source]: cdr.record.ingest.source,
    [HEADER.feed]: cdr.record.ingest.feed,
    [HEADER.deliveryId]: cdr.record.ingest.delivery_id,
  };
  const reportTime = iso(cdr.reportTime);
  if (reportTime !== undefined) headers[HEADER.reportTime] = reportTime;
  const callEnd = iso(cdr.callEnd);
  if (callEnd !== undefined) headers[HEADER.callEnd] = callEnd;
  return { key: cdr.orgId, value, headers };
};

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
    if (k.toLowerCase().replace(/[^a-z0-9]/g, '') === 'orguuid' && typeof v === 'string' && v) {
      return v.toWellFormed();
    }
  }
  return null;
};

export const toDeadLetterMessage = (dead: DeadRecord, ingest: Ingest): OutMessage => {
  const value = {
    code: dead.error.code,
    reason: dead.error.message,
    deliveryId: ingest.delivery_id,
    feed: ingest.feed,
    source: ingest.source,
    receivedAt: new Date(ingest.received_at).toISOString(),
    index: dead.index,
    raw: rawJson(dead.raw),
  };
  return {
    key: orgOf(dead.raw),
    value: Buffer.from(JSON.stringify(value)),
    headers: {
      [HEADER.dlqCode]: dead.error.code,
      [HEADER.dlqReason]: dead.error.message,
      [HEADER.deliveryId]: ingest.delivery_id,
      [HEADER.source]: ingest.source,
      [HEADER.feed]: ingest.feed,
    },
  };
};
