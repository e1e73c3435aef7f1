/**
 * @module reconciler/dead-letters
 * Which unpublishable records are on the dead-letter topic already, so a
 * reconcile run does not dead-letter the same Webex record again on every run.
 * Each DLQ message carries `cdr-raw-sha256`: the hex SHA-256 of the record's
 * raw JSON text exactly as the DLQ value holds it (`JSON.stringify(raw)`, see
 * `toDeadLetterMessage` in kafka/messages.ts); `rawHash` computes the same.
 */
import { createHash } from 'node:crypto';
import { HEADER } from '../kafka/messages.ts';

export const RAW_HASH_HEADER = HEADER.rawSha256;

/** The raw JSON text as `toDeadLetterMessage` writes it. */
const rawJson = (raw: unknown): string => {
  try {
    return JSON.stringify(raw) ?? 'null';
  } catch {
    return '"[not serialisable: nested too deeply]"';
  }
};

/** Hex SHA-256 of a dead record's raw JSON text: the `cdr-raw-sha256` header. */
export const rawHash = (raw: unknown): string =>
  createHash('sha256').update(rawJson(raw), 'utf8').digest('hex');
