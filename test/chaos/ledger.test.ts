/** The chaos ledger's duplicate accounting, on hand-made topic contents. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { readCdrSchema } from '../../src/cdr/avro-schema.ts';
import { normalise } from '../../src/cdr/normalise.ts';
import { contentHash } from '../../src/dedup/content-hash.ts';
import { fullRawCdr, INGEST } from '../helpers/fixtures.ts';
import type { ReadMessage } from '../integration/helpers/kafka.ts';
import { CONCURRENT_MS, checkLedger, FAULT_SLACK_MS } from './ledger.ts';

const type = avro.Type.forSchema(readCdrSchema().schema as avro.Schema);
const T = Date.UTC(2026, 11, 6, 22, 0, 0);
let offset = 0;

/** One copy of record `id` on the topic at `at`; `duration` changes its content. */
const copy = (id: string, at: number, more: { duration?: number; version?: string } = {}) => {
  const r = normalise(fullRawCdr({ 'Report ID': id, Duration: more.duration ?? 60 }), {
    ...INGEST,
    delivery_id: `d-${offset}`,
  });
  assert.ok(r.ok);
  const headers: Record<string, string> = {
    'cdr-report-id': id,
    'cdr-content-hash': contentHash(r.value.record),
    ...(more.version === undefined ? {} : { 'cdr-version': more.version }),
  };
  const value = Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), type.toBuffer(r.value.record)]);
  const m: ReadMessage = {
    topic: 't',
    partition: 0,
    offset: String(offset++),
    key: r.value.orgId,
    value,
    headers,
    timestamp: at,
  };
  return m;
};

const check = (
  messages: ReadMessage[],
  opts: {
    acknowledged?: string[][];
    retried?: string[];
    faults?: { from: number; to: number }[];
  } = {},
) =>
  checkLedger({
    messages,
    acknowledged: opts.acknowledged ?? [],
    retried: new Set(opts.retried ?? []),
    faults: opts.faults ?? [],
    webex: messages.map((m) => m.headers['cdr-report-id'] ?? ''),
    canary: 'canary-x',
  });

describe('chaos ledger: duplicates', () => {
  it('a later version is not a duplicate; each id acknowledged twice by design is counted', () => {
    const f = check(
      [copy('a', T), copy('a', T + 60_000, { duration: 61, version: '2' }), copy('b', T)],
      {
        acknowledged: [['a', 'b'], ['a']],
      },
    );
    assert.equal(f.duplicates, 0);
    assert.equal(f.versions, 1);
    assert.equal(f.acknowledgedTwice, 1);
    assert.deepEqual(f.lost, []);
  });

  it('explains a duplicate by a retried delivery, or by two replicas within the lag or a fault', () => {
    const f = check(
      [
        copy('r', T),
        copy('r', T + 60_000), // its delivery was attempted twice
        copy('c', T),
        copy('c', T + CONCURRENT_MS), // a repeat delivery, within the lag
        copy('f', T),
        copy('f', T + 50_000), // a repeat delivery while a fault held
        copy('u', T),
        copy('u', T + 60_000), // a repeat, long after, no fault: the index failed
        copy('once', T),
        copy('once', T + 1), // acknowledged once, tried once: nothing explains it
      ],
      {
        acknowledged: [
          ['r', 'c', 'f', 'u', 'once'],
          ['c', 'f', 'u'],
        ],
        retried: ['r'],
        faults: [{ from: T + 10_000, to: T + 50_000 - FAULT_SLACK_MS + 5_000 }],
      },
    );
    assert.equal(f.duplicates, 5);
    assert.deepEqual(f.duplicateCauses, { retried: 1, concurrent: 2, unexplained: ['u', 'once'] });
    assert.deepEqual(f.differingDuplicates, []);
  });

  it('a duplicate with other content under the same version is differing', () => {
    const f = check([copy('d', T), copy('d', T + 1, { duration: 99 })], { retried: ['d'] });
    assert.equal(f.duplicates, 1);
    assert.deepEqual(f.differingDuplicates, ['d']);
  });
});
