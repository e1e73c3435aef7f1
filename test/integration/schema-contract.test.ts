/**
 * The Avro contract on the real registry: the subject `<topic>-value` holds the
 * committed schema at compatibility BACKWARD (whether the registry answers a
 * subject without its own setting with 404, as Confluent does, or with the
 * global default, as Apicurio does), a backward-compatible evolution (a new
 * optional field) is accepted, an incompatible one refused.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readCdrSchema } from '../../src/cdr/avro-schema.ts';
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
    fields: [...schema.fields, { name: 'transfer_type', type: ['null', 'string'], default: null }],
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
