import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { buildCdrSchema, readCdrSchema, SCHEMA_V1_PATH } from '../../../src/cdr/avro-schema.ts';
import {
  DOCUMENTED_FIELD_COUNT,
  FIELD_SPECS,
  FIELDS,
  FIELDS_BY_MATCH_KEY,
  toMatchKey,
} from '../../../src/cdr/fields.ts';
import { normalise } from '../../../src/cdr/normalise.ts';
import { fullRawCdr, INGEST, minimalRawCdr, SPEC_TIME_MS } from '../../helpers/fixtures.ts';

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

  it('has exactly the 87 fields of fields.ts (83 documented, 4 seen live), then extra_fields and ingest', () => {
    assert.equal(FIELD_SPECS.length, 87);
    assert.equal(DOCUMENTED_FIELD_COUNT, 83);
    assert.deepEqual(
      FIELDS.filter((f) => f.origin === 'live').map((f) => f.name),
      ['external_customer_id', 'transfer_type', 'transfer_type_context', 'answer_reason'],
    );
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

  it('has no two fields that collide on name or on the key matcher (aliases included)', () => {
    assert.equal(new Set(FIELDS.map((f) => f.name)).size, 87);
    assert.equal(new Set(FIELDS.map((f) => f.webex)).size, 87);
    const matchKeys = FIELDS.flatMap((f) => [f.matchKey, ...(f.aliases ?? []).map(toMatchKey)]);
    assert.equal(new Set(matchKeys).size, matchKeys.length);
    assert.equal(FIELDS_BY_MATCH_KEY.size, matchKeys.length);
    assert.equal(FIELDS_BY_MATCH_KEY.get(toMatchKey('orgId'))?.name, 'org_uuid');
  });

  it('matches every live spelling to its specification spelling', () => {
    for (const f of FIELDS) {
      if (f.live !== undefined) assert.equal(toMatchKey(f.live), f.matchKey, f.live);
    }
  });

  it('makes every one of the 87 fields a nullable union with default null', () => {
    for (const f of fields.slice(0, 87)) {
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

  it('round-trips a record with all 87 fields set', () => {
    const { record, decoded } = roundTrip(
      fullRawCdr({ 'Brand new key': 'BLIND', 'Another new key': { code: 1 } }),
    );
    for (const f of FIELDS) assert.notEqual(record[f.name], null, f.name);
    for (const f of FIELDS) assert.equal(decoded[f.name], record[f.name], f.name);
    assert.deepEqual({ ...(decoded.extra_fields as object) }, { ...record.extra_fields });
    assert.deepEqual(
      { ...record.extra_fields },
      {
        'Brand new key': 'BLIND',
        'Another new key': '{"code":1}',
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

describe('contract v2 over v1 (schemas/cdr.v1.avsc)', () => {
  const v1 = readCdrSchema(SCHEMA_V1_PATH);
  const v1Fields = v1.schema.fields as SchemaField[];
  const v1Type = avro.Type.forSchema(v1.schema as avro.Schema);
  const v2Type = avro.Type.forSchema(committed.schema as avro.Schema);

  it('keeps v1 verbatim, as it was published', () => {
    assert.equal(
      createHash('sha256').update(v1.text).digest('hex'),
      '49b362bd5a923ac0d616a897f625f69f275f585519283dae7854984de2d7ce91',
    );
    assert.equal(v1Fields.length, 85);
  });

  it('only adds optional fields: every v1 field is in v2 unchanged, every new one defaults to null', () => {
    assert.equal(committed.schema.name, v1.schema.name);
    assert.equal(committed.schema.namespace, v1.schema.namespace);
    for (const f of v1Fields) assert.deepEqual(byName.get(f.name)?.type, f.type, f.name);
    const added = fields.filter((f) => !v1Fields.some((o) => o.name === f.name));
    assert.deepEqual(
      added.map((f) => f.name),
      ['external_customer_id', 'transfer_type', 'transfer_type_context', 'answer_reason'],
    );
    for (const f of added) {
      assert.deepEqual(f.type, ['null', 'string'], f.name);
      assert.equal(f.default, null, f.name);
    }
  });

  it('reads v1 data with the v2 schema (BACKWARD), the new fields null', () => {
    // a record as v1 wrote it: the four live keys were extra_fields entries then
    const v1Record = {
      ...Object.fromEntries(v1Fields.slice(0, 83).map((f) => [f.name, null])),
      report_id: 'r-v1',
      org_uuid: 'org-1',
      duration: 12,
      start_time: SPEC_TIME_MS,
      extra_fields: { 'Transfer type': 'BLIND' },
      ingest: INGEST,
    };
    const bytes = v1Type.toBuffer(v1Record);
    const resolver = v2Type.createResolver(v1Type);
    const read = v2Type.fromBuffer(bytes, resolver) as Record<string, unknown>;
    assert.equal(read.report_id, 'r-v1');
    assert.equal(read.duration, 12);
    assert.equal(read.start_time, SPEC_TIME_MS);
    assert.equal(read.transfer_type, null);
    assert.equal(read.external_customer_id, null);
    assert.deepEqual({ ...(read.extra_fields as object) }, { 'Transfer type': 'BLIND' });
    assert.deepEqual({ ...(read.ingest as object) }, { ...INGEST });
  });

  it('lets a v1 reader read v2 data too (FORWARD holds, though only BACKWARD is promised)', () => {
    const r = normalise(fullRawCdr(), INGEST);
    if (!r.ok) assert.fail(r.error.message);
    const read = v1Type.fromBuffer(
      v2Type.toBuffer(r.value.record),
      v1Type.createResolver(v2Type),
    ) as Record<string, unknown>;
    assert.equal(read.report_id, 'report-1');
    assert.equal('transfer_type' in read, false);
  });
});
