import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { buildCdrSchema, readCdrSchema } from '../../../src/cdr/avro-schema.ts';
import { FIELD_SPECS, FIELDS, toMatchKey } from '../../../src/cdr/fields.ts';
import { normalise } from '../../../src/cdr/normalise.ts';
import { fullRawCdr, INGEST, minimalRawCdr } from '../../helpers/fixtures.ts';

type SchemaField = { name: string; type: unknown; default?: unknown };

const committed = readCdrSchema();
const fields = committed.schema.fields as SchemaField[];
const byName = new Map(fields.map((f) => [f.name, f]));
const fieldType = (name: string): unknown => {
  const f = byName.get(name);
  if (f === undefined) throw new Error(`no field ${name} in the schema`);
  return f.type;
};

const TIME_FIELDS = [
  'answer_time',
  'call_transfer_time',
  'release_time',
  'report_time',
  'start_time',
];
const LONG_FIELDS = ['duration', 'hold_duration', 'ring_duration'];
const BOOLEAN_FIELDS = ['answered'];

describe('schemas/cdr.avsc', () => {
  it('equals buildCdrSchema()', () => {
    assert.deepEqual(committed.schema, buildCdrSchema());
  });

  it('is the text `npm run schema` writes (no hand edits)', () => {
    assert.equal(committed.text, `${JSON.stringify(buildCdrSchema(), null, 2)}\n`);
  });

  it('has exactly the 83 fields of fields.ts, then extra_fields and ingest', () => {
    assert.equal(FIELD_SPECS.length, 83);
    assert.deepEqual(
      fields.map((f) => f.name),
      [...FIELDS.map((f) => f.name), 'extra_fields', 'ingest'],
    );
  });

  it('names fields by the naming rule', () => {
    const expectName = (webex: string) =>
      webex
        .toLowerCase()
        .split(/[^a-z0-9]+/)
        .filter((p) => p !== '')
        .join('_');
    for (const f of FIELDS) assert.equal(f.name, expectName(f.webex), f.webex);
    const name = (webex: string) => FIELDS.find((f) => f.webex === webex)?.name;
    assert.equal(name('Report ID'), 'report_id');
    assert.equal(name('Call transfer Time'), 'call_transfer_time');
    assert.equal(name('OS type'), 'os_type');
    assert.equal(name('WxCC consult merge status'), 'wxcc_consult_merge_status');
    assert.equal(name('Final local SessionID'), 'final_local_sessionid');
    for (const f of fields) assert.match(f.name, /^[a-z][a-z0-9_]*$/, f.name);
  });

  it('has no two fields that collide on name or on the key matcher', () => {
    assert.equal(new Set(FIELDS.map((f) => f.name)).size, 83);
    assert.equal(new Set(FIELDS.map((f) => f.matchKey)).size, 83);
    assert.equal(new Set(FIELDS.map((f) => f.webex)).size, 83);
  });

  it('matches every live spelling to its specification spelling', () => {
    for (const f of FIELDS) {
      if (f.live !== undefined) assert.equal(toMatchKey(f.live), f.matchKey, f.live);
    }
  });

  it('makes every one of the 83 fields a nullable union with default null', () => {
    for (const f of fields.slice(0, 83)) {
      assert.ok(Array.isArray(f.type), f.name);
      assert.equal((f.type as unknown[])[0], 'null', f.name);
      assert.equal((f.type as unknown[]).length, 2, f.name);
      assert.ok(Object.hasOwn(f, 'default'), f.name);
      assert.equal(f.default, null, f.name);
    }
  });

  it('types time, boolean and long fields; everything else is a string', () => {
    for (const name of TIME_FIELDS) {
      assert.deepEqual(fieldType(name), [
        'null',
        { type: 'long', logicalType: 'timestamp-millis' },
      ]);
    }
    for (const name of LONG_FIELDS) assert.deepEqual(fieldType(name), ['null', 'long'], name);
    for (const name of BOOLEAN_FIELDS) assert.deepEqual(fieldType(name), ['null', 'boolean']);
    const typed = new Set([...TIME_FIELDS, ...LONG_FIELDS, ...BOOLEAN_FIELDS]);
    for (const f of FIELDS) {
      if (!typed.has(f.name)) assert.deepEqual(fieldType(f.name), ['null', 'string'], f.name);
    }
  });

  it('keeps extra_fields as a string map defaulting to {} and ingest as a record', () => {
    assert.deepEqual(fieldType('extra_fields'), { type: 'map', values: 'string' });
    assert.deepEqual(byName.get('extra_fields')?.default, {});
    const ingest = fieldType('ingest') as { type: string; fields: { name: string }[] };
    assert.equal(ingest.type, 'record');
    assert.deepEqual(
      ingest.fields.map((f) => f.name),
      ['feed', 'source', 'received_at', 'delivery_id'],
    );
  });
});

describe('a normalised record and the Avro schema', () => {
  const type = avro.Type.forSchema(committed.schema as avro.Schema);

  const roundTrip = (raw: unknown) => {
    const r = normalise(raw, INGEST);
    if (!r.ok) assert.fail(r.error.message);
    const { record } = r.value;
    assert.ok(type.isValid(record), 'record fits the schema');
    const decoded = type.fromBuffer(type.toBuffer(record)) as Record<string, unknown>;
    return { record, decoded };
  };

  it('round-trips a record with all 83 fields set', () => {
    const { record, decoded } = roundTrip(
      fullRawCdr({ 'Transfer type': 'BLIND', 'Answer reason': { code: 1 } }),
    );
    for (const f of FIELDS) assert.notEqual(record[f.name], null, f.name);
    for (const f of FIELDS) assert.equal(decoded[f.name], record[f.name], f.name);
    assert.deepEqual({ ...(decoded.extra_fields as object) }, { ...record.extra_fields });
    assert.deepEqual(
      { ...record.extra_fields },
      {
        'Transfer type': 'BLIND',
        'Answer reason': '{"code":1}',
      },
    );
    assert.deepEqual({ ...(decoded.ingest as object) }, { ...INGEST });
  });

  it('round-trips a minimal record (every optional field null)', () => {
    const { record, decoded } = roundTrip(minimalRawCdr('r-min'));
    for (const f of FIELDS) assert.equal(decoded[f.name], record[f.name], f.name);
    assert.equal(decoded.report_id, 'r-min');
    assert.equal(decoded.duration, null);
    assert.deepEqual({ ...(decoded.extra_fields as object) }, {});
  });

  it('encodes a record with raw text kept for unparseable values', () => {
    const { decoded } = roundTrip(
      minimalRawCdr('r-raw', { Duration: '9007199254740993', 'Start time': 'yesterday' }),
    );
    assert.equal(decoded.duration, null);
    assert.deepEqual(
      { ...(decoded.extra_fields as object) },
      { Duration: '9007199254740993', 'Start time': 'yesterday' },
    );
  });

  it('encodes both feeds and both sources', () => {
    for (const feed of ['analytics', 'billing'] as const) {
      for (const source of ['webhook', 'reconciler'] as const) {
        const r = normalise(minimalRawCdr('r'), { ...INGEST, feed, source });
        assert.ok(r.ok);
        assert.ok(type.isValid(r.value.record), `${feed}/${source}`);
      }
    }
  });
});
