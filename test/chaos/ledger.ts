/**
 * The ledger check of a chaos run, on what was read back from the topic:
 *   lost       = Report IDs of deliveries answered 2xx - Report IDs on the topic
 *   unseen     = Report IDs the stand-in has in the run's range - Report IDs on the topic
 *   duplicates = extra copies of a Report ID; each must carry the same key and
 *                the same record (the `ingest` block, which says how it came, aside)
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
  readonly phantoms: string[];
  readonly leaks: number;
};

const type = avro.Type.forSchema(readCdrSchema().schema as avro.Schema);

const decode = (value: Buffer): Record<string, unknown> => {
  if (value[0] !== 0 || value.length < 5) throw new Error('not in the Confluent wire format');
  return type.fromBuffer(value.subarray(5)) as Record<string, unknown>;
};

export const checkLedger = (input: {
  messages: readonly ReadMessage[];
  acknowledged: Iterable<string>;
  webex: Iterable<string>;
  canary: string;
}): LedgerFigures => {
  const firstCopy = new Map<string, string>();
  const differing = new Set<string>();
  let duplicates = 0;
  let leaks = 0;
  for (const m of input.messages) {
    const id = m.headers['cdr-report-id'] ?? '';
    if (
      Object.entries(m.headers).some(
        ([k, v]) => k.includes('canary') || v.includes(input.canary),
      ) ||
      m.value.includes(input.canary)
    ) {
      leaks++;
    }
    const { ingest: _ingest, ...record } = decode(m.value);
    const copy = JSON.stringify({ key: m.key, record }, (_k, v) =>
      Buffer.isBuffer(v) ? v.toString('base64') : v,
    );
    const seen = firstCopy.get(id);
    if (seen === undefined) firstCopy.set(id, copy);
    else {
      duplicates++;
      if (seen !== copy) differing.add(id);
    }
  }
  const webex = new Set(input.webex);
  return {
    read: input.messages.length,
    distinct: firstCopy.size,
    lost: [...new Set(input.acknowledged)].filter((id) => !firstCopy.has(id)),
    unseen: [...webex].filter((id) => !firstCopy.has(id)),
    duplicates,
    differingDuplicates: [...differing],
    phantoms: [...firstCopy.keys()].filter((id) => !webex.has(id)),
    leaks,
  };
};
