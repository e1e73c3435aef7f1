/**
 * The ledger check of a chaos run, on what was read back from the topic:
 *   lost       = Report IDs of deliveries answered 2xx - Report IDs on the topic
 *   unseen     = Report IDs the stand-in has in the run's range - Report IDs on the topic
 *   duplicates = extra copies of a Report ID and version (`cdr-version`: a later
 *                version is not a duplicate); each must carry the same key, the
 *                same `cdr-content-hash` and the same record (the `ingest`
 *                block, which says how it came, aside), and be explained:
 *                  retried:    a delivery holding it was attempted more than
 *                              once (an attempt unanswered or refused may
 *                              have landed before the retry)
 *                  concurrent: it was acknowledged in more than one delivery
 *                              (a repeat by design) and the copy landed
 *                              within `lagMs` of the one before, or while a
 *                              fault held (or `faultSlackMs` after it): two
 *                              replicas within the dedup tail's lag
 *                anything else is unexplained (the dedup index failed).
 *   acknowledgedTwice = Report IDs acknowledged in more than one delivery: the
 *                repeats sent by design, which the ingresses should drop
 *   phantoms   = Report IDs on the topic that Webex never had
 *   leaks      = records whose headers or value carry the request's canary
 * Values are decoded with the contract's schema itself (Confluent framing:
 * magic byte + 4-byte schema id), so the check does not depend on the
 * registry, which is one of the things killed.
 */
import avro from 'avsc';
import { readCdrSchema } from '../../src/cdr/avro-schema.ts';
import type { ReadMessage } from '../integration/helpers/kafka.ts';

export type LedgerFigures = {
  readonly read: number;
  readonly distinct: number;
  readonly lost: string[];
  readonly unseen: string[];
  readonly duplicates: number;
  readonly differingDuplicates: string[];
  readonly duplicateCauses: { retried: number; concurrent: number; unexplained: string[] };
  readonly acknowledgedTwice: number;
  /** Records with `cdr-version` above 1. */
  readonly versions: number;
  readonly phantoms: string[];
  readonly leaks: number;
};

/** A duplicate landed this close to the copy before it is within the tail's lag (measured 0.3 s). */
export const CONCURRENT_MS = 2_000;
/** After a fault healed the tail may still be catching up. */
export const FAULT_SLACK_MS = 30_000;

const type = avro.Type.forSchema(readCdrSchema().schema as avro.Schema);

const decode = (value: Buffer): Record<string, unknown> => {
  if (value[0] !== 0 || value.length < 5) throw new Error('not in the Confluent wire format');
  return type.fromBuffer(value.subarray(5)) as Record<string, unknown>;
};

export const checkLedger = (input: {
  messages: readonly ReadMessage[];
  /** Report IDs of each delivery answered 2xx. */
  acknowledged: Iterable<readonly string[]>;
  /** Report IDs of deliveries attempted more than once. */
  retried: ReadonlySet<string>;
  /** When faults held. */
  faults: readonly { from: number; to: number }[];
  webex: Iterable<string>;
  canary: string;
  lagMs?: number;
}): LedgerFigures => {
  const lagMs = input.lagMs ?? CONCURRENT_MS;
  const ackCount = new Map<string, number>();
  for (const ids of input.acknowledged) {
    for (const id of new Set(ids)) ackCount.set(id, (ackCount.get(id) ?? 0) + 1);
  }
  const inFault = (t: number) =>
    input.faults.some((f) => t >= f.from && t <= f.to + FAULT_SLACK_MS);
  const ids = new Set<string>();
  /** Per Report ID and version: the first copy's content, and the last copy's timestamp. */
  const copies = new Map<string, { copy: string; lastAt: number }>();
  const differing = new Set<string>();
  const causes = { retried: 0, concurrent: 0, unexplained: [] as string[] };
  let duplicates = 0;
  let versions = 0;
  let leaks = 0;
  for (const m of input.messages) {
    const id = m.headers['cdr-report-id'] ?? '';
    ids.add(id);
    const version = m.headers['cdr-version'] ?? '1';
    if (version !== '1') versions++;
    if (
      Object.entries(m.headers).some(
        ([k, v]) => k.includes('canary') || v.includes(input.canary),
      ) ||
      m.value.includes(input.canary)
    ) {
      leaks++;
    }
    const { ingest: _ingest, ...record } = decode(m.value);
    const copy = JSON.stringify(
      { key: m.key, hash: m.headers['cdr-content-hash'], record },
      (_k, v) => (Buffer.isBuffer(v) ? v.toString('base64') : v),
    );
    const group = `${id}#${version}`;
    const seen = copies.get(group);
    if (seen === undefined) {
      copies.set(group, { copy, lastAt: m.timestamp });
      continue;
    }
    duplicates++;
    if (seen.copy !== copy) differing.add(id);
    if (input.retried.has(id)) causes.retried++;
    else if (
      (ackCount.get(id) ?? 0) > 1 &&
      (Math.abs(m.timestamp - seen.lastAt) <= lagMs || inFault(m.timestamp))
    ) {
      causes.concurrent++;
    } else causes.unexplained.push(id);
    seen.lastAt = m.timestamp;
  }
  const webex = new Set(input.webex);
  return {
    read: input.messages.length,
    distinct: ids.size,
    lost: [...ackCount.keys()].filter((id) => !ids.has(id)),
    unseen: [...webex].filter((id) => !ids.has(id)),
    duplicates,
    differingDuplicates: [...differing],
    duplicateCauses: causes,
    acknowledgedTwice: [...ackCount.values()].filter((n) => n > 1).length,
    versions,
    phantoms: [...ids].filter((id) => !webex.has(id)),
    leaks,
  };
};
