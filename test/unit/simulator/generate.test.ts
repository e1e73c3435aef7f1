import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FIELD_SPECS, FIELDS_BY_MATCH_KEY, toMatchKey } from '../../../src/cdr/fields.ts';
import { normalise } from '../../../src/cdr/normalise.ts';
import { parseTime } from '../../../src/cdr/parse-value.ts';
import { formatTime, type SimulatedCdr } from '../../../src/simulator/generate/legs.ts';
import { EXTRA_KEYS } from '../../../src/simulator/generate/reference-data.ts';
import { createCdrGenerator } from '../../../src/simulator/generate.ts';

const HOUR = 3_600_000;
const END = Date.parse('2026-11-23T12:00:00.000Z');
const START = END - 3 * HOUR;

const generate = (seed: number | string = 1, orgs = 20) =>
  createCdrGenerator({ seed, orgs }).generate(START, END);

const records = generate();
const documented = FIELD_SPECS.filter((f) => !('origin' in f));
const specMatchKeys = new Set(documented.map((f) => toMatchKey(f.webex)));
const extraMatchKeys = new Set(EXTRA_KEYS.map(toMatchKey));

const INGEST_T = {
  feed: 'analytics',
  source: 'webhook',
  received_at: 0,
  delivery_id: 't',
} as const;

const share = (rs: readonly SimulatedCdr[], pred: (r: SimulatedCdr) => boolean) =>
  rs.filter(pred).length / rs.length;

describe('simulator/generate', () => {
  it('is deterministic from the seed', () => {
    assert.ok(records.length > 1000, `only ${records.length} records`);
    assert.deepEqual(generate(), records);
    const other = generate(2);
    assert.notDeepEqual(
      other.map((r) => r.reportId),
      records.map((r) => r.reportId),
    );
  });

  it('gives each org a stable id from the seed and its index', () => {
    const few = createCdrGenerator({ seed: 'x', orgs: 3 }).orgs.map((o) => o.orgId);
    const many = createCdrGenerator({ seed: 'x', orgs: 10 }).orgs.map((o) => o.orgId);
    assert.deepEqual(many.slice(0, 3), few);
    assert.equal(new Set(many).size, 10);
    for (const id of many) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/);
  });

  it('writes all 83 documented fields, in the live spelling where FIELD_SPECS has one', () => {
    assert.equal(documented.length, 83);
    for (const r of records) {
      const keys = Object.keys(r.raw);
      const matchKeys = new Set(keys.map(toMatchKey));
      for (const k of specMatchKeys) assert.ok(matchKeys.has(k), `missing ${k} in ${r.reportId}`);
      for (const k of matchKeys) {
        assert.ok(specMatchKeys.has(k) || extraMatchKeys.has(k), `unexpected key ${k}`);
      }
    }
    const keys = new Set(records.flatMap((r) => Object.keys(r.raw)));
    for (const f of FIELD_SPECS) {
      assert.ok(keys.has(f.live ?? f.webex), `spelling ${f.live ?? f.webex}`);
      if (f.live !== undefined) assert.ok(!keys.has(f.webex), `spec spelling ${f.webex} used`);
    }
  });

  it('groups 1-3 legs of one org under a Correlation ID and gives unique Report IDs', () => {
    const ids = new Set(records.map((r) => r.reportId));
    assert.equal(ids.size, records.length);
    const calls = new Map<string, SimulatedCdr[]>();
    for (const r of records) {
      assert.equal(r.raw['Report ID'], r.reportId);
      assert.equal(r.raw['Correlation ID'], r.correlationId);
      assert.equal(r.raw['Org UUID'], r.orgId);
      const legs = calls.get(r.correlationId) ?? [];
      legs.push(r);
      calls.set(r.correlationId, legs);
    }
    const sizes = new Map<number, number>();
    for (const legs of calls.values()) {
      assert.ok(legs.length >= 1 && legs.length <= 3);
      assert.equal(new Set(legs.map((l) => l.orgId)).size, 1);
      sizes.set(legs.length, (sizes.get(legs.length) ?? 0) + 1);
    }
    for (const n of [1, 2, 3]) assert.ok((sizes.get(n) ?? 0) > 0, `no ${n}-leg calls`);
  });

  it('sets each call end to the Release time, inside the range, in order', () => {
    let previous = Number.NEGATIVE_INFINITY;
    for (const r of records) {
      assert.equal(parseTime(String(r.raw['Release time'])), r.callEnd);
      assert.ok(r.callEnd >= START && r.callEnd < END);
      assert.ok(r.callEnd >= previous);
      previous = r.callEnd;
      const start = parseTime(String(r.raw['Start time']));
      assert.ok(start !== null && start <= r.callEnd, 'start after release');
    }
  });

  it('reproduces the quirks of live data', () => {
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
    const specFormat = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/;
    const isoShare = share(records, (r) => iso.test(String(r.raw['Release time'])));
    const specShare = share(records, (r) => specFormat.test(String(r.raw['Release time'])));
    assert.ok(isoShare > 0.8 && specShare > 0.03, `iso ${isoShare}, spec ${specShare}`);
    assert.equal(isoShare + specShare, 1);
    for (const r of records) {
      assert.ok(r.raw.Answered === 'true' || r.raw.Answered === 'false');
      assert.match(String(r.raw['Site timezone']), /^-?\d+$/);
    }
    assert.ok(share(records, (r) => typeof r.raw.Duration === 'string') > 0.1);
    assert.ok(share(records, (r) => typeof r.raw.Duration === 'number') > 0.5);
    assert.ok(share(records, (r) => typeof r.raw['Ring duration'] === 'string') > 0.8);
    assert.ok(share(records, (r) => typeof r.raw['Ring duration'] === 'number') > 0.02);
    assert.ok(share(records, (r) => r.raw['Call ID'] === '') > 0.005);
    assert.ok(share(records, (r) => Object.values(r.raw).includes('NA')) > 0.5);
    assert.ok(share(records, (r) => Object.values(r.raw).includes('')) > 0.5);
    const extra = share(records, (r) => EXTRA_KEYS.some((k) => k in r.raw));
    assert.ok(extra > 0.02 && extra < 0.1, `extra keys share ${extra}`);
  });

  it('produces records the normaliser takes whole: every time parsed', () => {
    const ingest = {
      feed: 'analytics',
      source: 'webhook',
      received_at: END,
      delivery_id: 't',
    } as const;
    for (const r of records.slice(0, 3000)) {
      const n = normalise(r.raw, ingest);
      assert.ok(n.ok, `${r.reportId} does not normalise`);
      assert.equal(n.value.reportId, r.reportId);
      assert.equal(n.value.orgId, r.orgId);
      assert.equal(n.value.callEnd, r.callEnd);
      // v2: the keys beyond the specification are schema fields; extra_fields only keeps "NA"s
      const { record } = n.value;
      for (const [k, v] of Object.entries(record.extra_fields)) {
        assert.equal(v, 'NA', k);
        assert.ok(FIELDS_BY_MATCH_KEY.has(toMatchKey(k)), k);
      }
      if (typeof r.raw['Transfer type'] === 'string' && r.raw['Transfer type'] !== '') {
        assert.equal(record.transfer_type, r.raw['Transfer type']);
      }
    }
  });

  it('sends "NA" as a country (Namibia) on some international calls, kept by the normaliser', () => {
    const namibia = records.filter((r) => r.raw['International country'] === 'NA');
    assert.ok(namibia.length > 0);
    const n = normalise(namibia[0]?.raw, { ...INGEST_T, received_at: END });
    assert.ok(n.ok);
    assert.equal(n.value.record.international_country, 'NA');
  });

  it('varies the rate per org around the mean, or takes it per org', () => {
    const gen = createCdrGenerator({ seed: 5, orgs: 200, callsPerHour: 10 });
    const rates = gen.orgs.map((o) => o.callsPerHour);
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
    assert.ok(mean > 7 && mean < 13, `mean rate ${mean}`);
    assert.ok(Math.max(...rates) > 2 * Math.min(...rates));
    const fixed = createCdrGenerator({ seed: 5, orgs: 4, callsPerHour: (i) => (i === 0 ? 0 : 60) });
    const rs = fixed.generate(START, END);
    const zero = fixed.orgs[0]?.orgId;
    assert.ok(!rs.some((r) => r.orgId === zero));
    const calls = new Set(rs.map((r) => r.correlationId)).size;
    // 3 orgs x 3 hours x 60 calls = 540 expected
    assert.ok(calls > 440 && calls < 640, `${calls} calls`);
  });

  it('formats both Webex time formats', () => {
    const t = Date.parse('2026-11-23T07:08:09.012Z');
    assert.equal(formatTime(t), '2026-11-23T07:08:09.012Z');
    assert.equal(formatTime(t, true), '2026-11-23 07:08:09.012');
  });

  it('generates 250 orgs x 6 hours x 20 calls/hour, every record with its own Report ID', () => {
    const big = createCdrGenerator({ seed: 'scale', orgs: 250, callsPerHour: 20 }).generate(
      END - 6 * HOUR,
      END,
    );
    assert.ok(big.length > 30_000, `${big.length} records`);
    assert.equal(new Set(big.map((r) => r.reportId)).size, big.length);
  });
});
