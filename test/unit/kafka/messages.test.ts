import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { normalise } from '../../../src/cdr/normalise.ts';
import { CdrError } from '../../../src/errors.ts';
import {
  HEADER,
  MAX_DLQ_RAW_CHARS,
  rawHash,
  toCdrMessage,
  toDeadLetterMessage,
} from '../../../src/kafka/messages.ts';
import { INGEST } from '../../helpers/fixtures.ts';

const letter = (raw: unknown) =>
  toDeadLetterMessage(
    {
      raw,
      error: new CdrError('record_missing_report_id', 'the CDR has no "Report ID"'),
      index: 3,
    },
    INGEST,
  );

describe('dead letters', () => {
  it('carry the raw JSON, the reason, the delivery and a hash of the raw text', () => {
    const raw = { 'Org UUID': 'org-9', Duration: '7' };
    const m = letter(raw);
    assert.equal(m.key, 'org-9');
    const value = JSON.parse(m.value.toString());
    assert.deepEqual(JSON.parse(value.raw), raw);
    assert.equal(value.code, 'record_missing_report_id');
    assert.equal(value.deliveryId, INGEST.delivery_id);
    assert.equal(value.index, 3);
    assert.equal(value.rawTruncated, undefined);
    assert.equal(
      m.headers['cdr-raw-sha256'],
      createHash('sha256').update(JSON.stringify(raw)).digest('hex'),
    );
    assert.equal(m.headers['cdr-dlq-code'], 'record_missing_report_id');
  });

  it('cut a huge raw record so the letter stays under the broker limit; the hash covers all of it', () => {
    const raw = { 'Org UUID': 'org-9', blob: 'x'.repeat(2 * MAX_DLQ_RAW_CHARS) };
    const m = letter(raw);
    assert.ok(m.value.length < 1024 * 1024);
    const value = JSON.parse(m.value.toString());
    assert.equal(value.rawTruncated, true);
    assert.equal(value.rawLength, JSON.stringify(raw).length);
    assert.equal(value.raw.length, MAX_DLQ_RAW_CHARS);
    assert.equal(
      m.headers['cdr-raw-sha256'],
      createHash('sha256').update(JSON.stringify(raw)).digest('hex'),
    );
  });

  it("are keyed by the org in any spelling the normaliser reads, the partner APIs' orgId too", () => {
    assert.equal(letter({ org_uuid: 'org-a' }).key, 'org-a');
    assert.equal(letter({ orgId: 'org-b' }).key, 'org-b');
  });

  it('have no key when the record has no org', () => {
    assert.equal(letter('not an object').key, null);
    assert.equal(letter({ Duration: 1 }).key, null);
  });
});

const reconcilerIngest = {
  feed: 'analytics',
  source: 'reconciler',
  received_at: 0,
  delivery_id: 'run-1',
} as const;

describe('dead-letter raw hash', () => {
  it('is the cdr-raw-sha256 header the dead-letter message carries', () => {
    const deep: unknown[] = [];
    let cursor = deep;
    for (let i = 0; i < 20_000; i++) {
      const next: unknown[] = [];
      cursor.push(next);
      cursor = next;
    }
    for (const raw of [
      { 'Report ID': 'r1', 'Org UUID': 'o1', Duration: 12, Answered: 'true' },
      { 'Report ID': 'ü ✓ \u{1F600}' },
      'a string',
      null,
      undefined,
      { big: 'x'.repeat(600 * 1024) }, // cut in the value, hashed whole
      deep, // not serialisable
    ]) {
      const message = toDeadLetterMessage(
        { raw, error: new CdrError('record_missing_org_uuid', 'no org'), index: 0 },
        reconcilerIngest,
      );
      assert.equal(message.headers?.[HEADER.rawSha256], rawHash(raw));
    }
  });

  it('differs for different records and is stable for the same one', () => {
    assert.equal(rawHash({ a: 1 }), rawHash({ a: 1 }));
    assert.notEqual(rawHash({ a: 1 }), rawHash({ a: 2 }));
    assert.match(rawHash({ a: 1 }), /^[0-9a-f]{64}$/);
  });
});

describe('CDR message headers', () => {
  const headersOf = (raw: Record<string, unknown>) => {
    const n = normalise({ 'Report ID': 'r', 'Org UUID': 'o', ...raw }, INGEST);
    assert.ok(n.ok);
    return { cdr: n.value, headers: toCdrMessage(n.value, Buffer.alloc(0)).headers };
  };

  it('carry the times as toISOString writes them, whatever spelling the record used', () => {
    const spellings = (ms: number): string[] => {
      const iso = new Date(ms).toISOString();
      const plus2 = new Date(ms + 2 * 3_600_000).toISOString().slice(0, 23);
      return [iso, iso.replace('T', ' ').replace('Z', ''), `${plus2}+02:00`, iso.slice(0, 19)];
    };
    fc.assert(
      fc.property(
        // years 1000 to 9999, the times parseTime takes
        fc.integer({ min: -30_610_224_000_000 + 86_400_000, max: 253_402_300_799_000 - 7_200_000 }),
        fc.integer({ min: 0, max: 86_400_000 }),
        fc.nat(3),
        fc.nat(3),
        fc.boolean(),
        (report, length, rs, es, withRelease) => {
          const release = report - length;
          const { cdr, headers } = headersOf({
            'Report time': spellings(report)[rs],
            ...(withRelease ? { 'Release time': spellings(release)[es] } : {}),
          });
          assert.equal(headers[HEADER.reportTime], new Date(cdr.reportTime ?? 0).toISOString());
          assert.equal(headers[HEADER.callEnd], new Date(cdr.callEnd ?? 0).toISOString());
        },
      ),
      { seed: 5150, numRuns: 2000 },
    );
  });

  it("keep the record's own text when it is already in that form, and have no time header without a time", () => {
    const { cdr, headers } = headersOf({
      'Report time': '2023-10-12T21:22:32.621Z',
      'Release time': '2023-10-12 21:20:00.5',
    });
    assert.equal(cdr.reportTimeIso, '2023-10-12T21:22:32.621Z');
    assert.equal(cdr.callEndIso, null);
    assert.equal(headers[HEADER.callEnd], '2023-10-12T21:20:00.500Z');
    const none = headersOf({ 'Report time': 'NA' });
    assert.equal(none.headers[HEADER.reportTime], undefined);
    assert.equal(none.headers[HEADER.callEnd], undefined);
    // a later spelling with a value fills the field: its text is the header's
    const later = headersOf({ 'Report time': '', report_time: '2023-10-12T21:22:32.621Z' });
    assert.equal(later.cdr.reportTimeIso, '2023-10-12T21:22:32.621Z');
    assert.equal(later.headers[HEADER.callEnd], '2023-10-12T21:22:32.621Z');
  });
});
