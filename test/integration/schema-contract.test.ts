/**
 * The Avro contract on the real registry: the subject `<topic>-value` holds the
 * committed schema at compatibility BACKWARD (whether the registry answers a
 * subject without its own setting with 404, as Confluent does, or with the
 * global default, as Apicurio does), a backward-compatible evolution (a new
 * optional field) is accepted, an incompatible one refused. Contract v2
 * registers over v1 (the connector's own registration, on a subject that
 * holds v1), a v2 reader reads v1 data, and v1 stays readable by its id.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import avro from 'avsc';
import { readCdrSchema, SCHEMA_V1_PATH } from '../../src/cdr/avro-schema.ts';
import { normalise } from '../../src/cdr/normalise.ts';
import { createRegistryClient } from '../../src/kafka/registry.ts';
import { uniqueTopic } from './helpers/kafka.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

const registryCall = async (path: string, init: { method?: string; body?: unknown } = {}) => {
  const res = await fetch(`${stack.registryUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

test('the subject holds the committed schema at BACKWARD, and BACKWARD is enforced', async () => {
  const subject = `${uniqueTopic('contract')}-value`;
  const { text, schema } = readCdrSchema();
  const client = createRegistryClient({ url: stack.registryUrl });
  const first = await client.registerEncoder(subject, text);
  // registering again (a restart) finds the same id
  const again = await client.registerEncoder(subject, text);
  assert.equal(again.schemaId, first.schemaId);

  const config = await registryCall(`/config/${encodeURIComponent(subject)}`);
  assert.equal(config.status, 200);
  assert.equal(config.body.compatibilityLevel, 'BACKWARD');
  const latest = await registryCall(`/subjects/${encodeURIComponent(subject)}/versions/latest`);
  assert.deepEqual(JSON.parse(String(latest.body.schema)).fields.length, schema.fields.length);

  const evolved = {
    ...schema,
    fields: [...schema.fields, { name: 'future_field', type: ['null', 'string'], default: null }],
  };
  const compatible = await registryCall(`/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    body: { schema: JSON.stringify(evolved) },
  });
  assert.equal(compatible.status, 200, JSON.stringify(compatible.body));

  const breaking = {
    ...schema,
    fields: [...schema.fields, { name: 'must_have', type: 'string' }],
  };
  const refused = await registryCall(`/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    body: { schema: JSON.stringify(breaking) },
  });
  assert.equal(refused.status, 409, 'a new required field breaks BACKWARD');
});

test('a subject the operator set stricter (FULL) is left as it is', async () => {
  const subject = `${uniqueTopic('contract-full')}-value`;
  const set = await registryCall(`/config/${encodeURIComponent(subject)}`, {
    method: 'PUT',
    body: { compatibility: 'FULL' },
  });
  assert.equal(set.status, 200);
  await createRegistryClient({ url: stack.registryUrl }).registerEncoder(
    subject,
    readCdrSchema().text,
  );
  const config = await registryCall(`/config/${encodeURIComponent(subject)}`);
  assert.equal(config.body.compatibilityLevel, 'FULL');
});

test('contract v2 registers over v1 at BACKWARD; v2 reads v1 data; v1 stays readable', async () => {
  const subject = `${uniqueTopic('contract-v2')}-value`;
  const v1 = readCdrSchema(SCHEMA_V1_PATH);
  const v2 = readCdrSchema();
  const client = createRegistryClient({ url: stack.registryUrl });
  const v1Encoder = await client.registerEncoder(subject, v1.text);
  // what the connector does at start on a subject that holds v1
  const v2Encoder = await client.registerEncoder(subject, v2.text);
  assert.notEqual(v2Encoder.schemaId, v1Encoder.schemaId);
  const versions = await registryCall(`/subjects/${encodeURIComponent(subject)}/versions`);
  assert.deepEqual(versions.body, [1, 2]);
  const config = await registryCall(`/config/${encodeURIComponent(subject)}`);
  assert.equal(config.body.compatibilityLevel, 'BACKWARD');

  // a record as v1 wrote it (the live keys in extra_fields), and one of v2
  const ingest = {
    feed: 'analytics',
    source: 'webhook',
    received_at: 1,
    delivery_id: 'd',
  } as const;
  const v1Type = avro.Type.forSchema(v1.schema as avro.Schema);
  const v1Record = {
    ...Object.fromEntries(v1.schema.fields.slice(0, 83).map((f) => [f.name, null])),
    report_id: 'r-v1',
    org_uuid: 'org-1',
    duration: 7,
    extra_fields: { 'Transfer type': 'BLIND' },
    ingest,
  };
  assert.ok(v1Type.isValid(v1Record));
  const n = normalise(
    {
      'Report ID': 'r-v2',
      orgId: 'org-1',
      'Transfer type': 'BLIND',
      'International country': 'NA',
    },
    ingest,
  );
  assert.ok(n.ok);
  const wire = [v1Encoder.encode(v1Record), v2Encoder.encode(n.value.record)];

  // a consumer with the v2 reader schema: the writer schema comes from the registry by id
  const v2Type = avro.Type.forSchema(v2.schema as avro.Schema);
  const read = [];
  for (const bytes of wire) {
    assert.equal(bytes[0], 0, 'Confluent wire format');
    const id = bytes.readInt32BE(1);
    const writer = await registryCall(`/schemas/ids/${id}`);
    assert.equal(writer.status, 200, `schema ${id} readable`);
    const writerType = avro.Type.forSchema(JSON.parse(String(writer.body.schema)) as avro.Schema);
    read.push(
      v2Type.fromBuffer(bytes.subarray(5), v2Type.createResolver(writerType)) as Record<
        string,
        unknown
      >,
    );
  }
  const [old, current] = read;
  assert.equal(old?.report_id, 'r-v1');
  assert.equal(old?.duration, 7);
  assert.equal(old?.transfer_type, null, 'new field: its default');
  assert.deepEqual({ ...(old?.extra_fields as object) }, { 'Transfer type': 'BLIND' });
  assert.equal(current?.transfer_type, 'BLIND');
  assert.equal(current?.org_uuid, 'org-1');
  assert.equal(current?.international_country, 'NA');

  // v1 as registered is the committed v1, unchanged
  const first = await registryCall(`/subjects/${encodeURIComponent(subject)}/versions/1`);
  assert.deepEqual(JSON.parse(String(first.body.schema)), v1.schema);
});
