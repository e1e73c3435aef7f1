import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FIELD_NAMES, toMatchKey } from '../../../src/cdr/fields.ts';
import type { CdrRecord } from '../../../src/cdr/normalise.ts';
import { normalise } from '../../../src/cdr/normalise.ts';
import { createPrivacy } from '../../../src/cdr/privacy.ts';
import { contentHash, contentText, isContentHash } from '../../../src/dedup/content-hash.ts';
import { createPartnerApi, RECORDS_PATH } from '../../../src/simulator/partner-api.ts';
import { encodeDelivery } from '../../../src/simulator/webhook-sender.ts';
import { createWebexWorld } from '../../../src/simulator/world.ts';
import { fullRawCdr, INGEST } from '../../helpers/fixtures.ts';

const HOUR = 3_600_000;

const hashOf = (raw: unknown, ingest = INGEST) => {
  const r = normalise(raw, ingest);
  assert.ok(r.ok);
  return contentHash(r.value.record);
};

describe('content hash', () => {
  it('is 16 hex digits, the same for the same record delivered twice', () => {
    const h = hashOf(fullRawCdr());
    assert.ok(isContentHash(h), h);
    const again = { ...INGEST, delivery_id: 'another', received_at: INGEST.received_at + 5000 };
    assert.equal(hashOf(fullRawCdr(), again), h);
    assert.equal(hashOf(fullRawCdr(), { ...INGEST, source: 'reconciler' }), h);
  });

  it('ignores key order and spelling of the raw record, extra fields included', () => {
    const a = { ...fullRawCdr(), 'Some new key': 'x', 'Another key': 'y' };
    const b = Object.fromEntries(Object.entries(a).reverse());
    assert.equal(hashOf(b), hashOf(a));
  });

  it('changes with any value Webex sent, an "NA" text and an extra field included', () => {
    const h = hashOf(fullRawCdr());
    assert.notEqual(hashOf(fullRawCdr({ Duration: 999 })), h);
    assert.notEqual(hashOf(fullRawCdr({ 'International country': 'NA' })), h);
    assert.notEqual(hashOf({ ...fullRawCdr(), 'Some new key': 'x' }), h);
  });
});

describe('content hash: the webhook and the partner APIs spell one record alike', () => {
  const END = Date.parse('2026-11-23T12:00:00.000Z');
  const world = createWebexWorld({ seed: 14, orgs: 6, startMs: END - 2 * HOUR, endMs: END });
  /** The partner APIs' camelCase spelling, numbers as text where they were numbers. */
  const camel = (raw: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(raw).map(([k, v]) => [
        k.toLowerCase().replace(/[ _]+(\w)/g, (_, c: string) => c.toUpperCase()),
        typeof v === 'number' ? String(v) : v,
      ]),
    );

  it('the stand-in: what its webhook delivers and what cdrsbyorg returns hash the same', async () => {
    const api = createPartnerApi({ world, tokens: ['t'], now: () => END + 10 * 60_000 });
    const delivered = new Map<string, string>();
    for (const d of world.deliveries()) {
      const body = JSON.parse(encodeDelivery(d.items).toString()) as { items: unknown[] };
      for (const raw of body.items) {
        const r = normalise(raw, INGEST);
        assert.ok(r.ok);
        delivered.set(r.value.reportId, contentHash(r.value.record));
      }
    }
    let compared = 0;
    for (const org of world.orgs) {
      for (let start = END - 2 * HOUR; start < END; start += HOUR) {
        const url = `${RECORDS_PATH}?orgId=${org.orgId}&startTime=${new Date(start).toISOString()}&endTime=${new Date(start + HOUR).toISOString()}`;
        const res = await api.app.request(url, { headers: { Authorization: 'Bearer t' } });
        const { items } = (await res.json()) as { items: unknown[] };
        for (const raw of items) {
          const r = normalise(raw, { ...INGEST, source: 'reconciler' });
          assert.ok(r.ok);
          assert.equal(contentHash(r.value.record), delivered.get(r.value.reportId));
          compared += 1;
        }
      }
    }
    assert.ok(compared > 100, `compared ${compared}`);
  });

  it('camelCase keys and numbers as text hash as the webhook spelling', () => {
    const [first] = world.records;
    assert.ok(first !== undefined);
    const raw = first.raw as Record<string, unknown>;
    assert.notDeepEqual(camel(raw), raw);
    assert.equal(hashOf(camel(raw)), hashOf(raw));
    assert.equal(hashOf(camel(fullRawCdr())), hashOf(fullRawCdr()));
  });
  it('is, for a record without extra fields, the hash published before keys were matched (an upgrade republishes none of them)', () => {
    // pinned: the fixture's cdr-content-hash as written before 2026-12-06
    assert.equal(hashOf(fullRawCdr()), '8a933b6be58184ae');
  });

  it('keeps two extra keys that match alike apart', () => {
    const one = { ...fullRawCdr(), 'Some key': 'x', someKey: 'y' };
    const other = { ...fullRawCdr(), 'Some key': 'y', someKey: 'x' };
    const single = { ...fullRawCdr(), someKey: 'y' };
    assert.equal(hashOf(one), hashOf(other)); // the same pairs, however spelt
    assert.notEqual(hashOf(one), hashOf(single));
  });
});

describe('content hash: the text hashed', () => {
  /** The text as first defined: JSON.stringify of the fields in the record's order, then the matched extra fields. */
  const stringified = (record: CdrRecord, extra: unknown) => {
    const { ingest: _ingest, extra_fields: _extra, ...fields } = record;
    return JSON.stringify([fields, extra]);
  };
  const recordOf = (raw: unknown) => {
    const r = normalise(raw, INGEST);
    assert.ok(r.ok);
    return r.value.record;
  };
  const world = createWebexWorld({ seed: 15, orgs: 4, startMs: 0, endMs: 3_600_000 });

  it('is JSON.stringify of the record as built, for every record of the stand-in, privacy applied or not', () => {
    const privacy = createPrivacy({ drop: ['calling_number'], hash: ['called_number'], key: 'k' });
    assert.ok(world.records.length > 50);
    for (const { raw } of world.records) {
      const record = recordOf({ ...(raw as object), 'Some new key': 'x' });
      const extra = Object.fromEntries(
        Object.entries(record.extra_fields)
          .map(([k, v]): [string, string] => [toMatchKey(k), v])
          .sort(([a], [b]) => (a < b ? -1 : 1)),
      );
      assert.equal(extra.somenewkey, 'x');
      assert.equal(contentText(record), stringified(record, extra));
      privacy.protect(record);
      assert.equal(contentText(record), stringified(record, extra));
    }
  });

  it('writes every string as JSON.stringify does: quotes, backslashes, controls, emoji, paired and lone surrogates', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const record = recordOf(fullRawCdr());
        const fields = record as unknown as Record<string, unknown>;
        fields.calling_number = a; // bypasses the normaliser's Unicode check: the builder must still agree
        fields.called_number = b;
        fields.duration = -0;
        assert.equal(contentText(record), stringified(record, {}));
      }),
      { numRuns: 500 },
    );
    const record = recordOf(fullRawCdr());
    (record as unknown as Record<string, unknown>).calling_number = 'a"b\\c\n\u0001\u2028\ud800';
    assert.equal(contentText(record), stringified(record, {}));
  });

  it('falls back to JSON.stringify for a value of another type, in the schema order', () => {
    const record = recordOf(fullRawCdr());
    const fields = record as unknown as Record<string, unknown>;
    fields.duration = { nested: [1, 2] };
    fields.called_number = undefined;
    assert.equal(contentText(record), stringified(record, {}));
    assert.ok(contentText(record).includes('"duration":{"nested":[1,2]}'));
    assert.equal(Object.keys(fields).slice(0, FIELD_NAMES.length).join(), FIELD_NAMES.join());
  });
});

describe('content hash: extra fields', () => {
  const textOf = (extra: Record<string, string>) => {
    const r = normalise(fullRawCdr(), INGEST);
    assert.ok(r.ok);
    const text = contentText({ ...r.value.record, extra_fields: extra });
    return text.slice(text.indexOf('},') + 2, -1);
  };
  /** As first written: an object of match keys in sorted order (pairs when two match alike). */
  const asObject = (extra: Record<string, string>) => {
    const pairs = Object.entries(extra)
      .map(([k, v]): [string, string] => [toMatchKey(k), v])
      .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
    const keys = new Set(pairs.map(([k]) => k));
    return JSON.stringify(keys.size < pairs.length ? pairs : Object.fromEntries(pairs));
  };

  it('is the text of the object of match keys, all-digit and clashing keys included', () => {
    const key = fc.oneof(
      fc.constantFrom('Some key', 'someKey', 'SOME-KEY', '12', '1-2', '007', 'a1', 'Z'),
      fc.string(),
    );
    fc.assert(
      fc.property(fc.dictionary(key, fc.string({ unit: 'binary' }), { maxKeys: 6 }), (extra) => {
        assert.equal(textOf(extra), asObject(extra));
      }),
      { numRuns: 1000 },
    );
    assert.equal(textOf({ '2': 'b', 'x 1': 'a', '10': 'c' }), '{"2":"b","10":"c","x1":"a"}');
    assert.equal(textOf({}), '{}');
  });
});
