/**
 * Interop with a client nobody here wrote: Python confluent-kafka (from PyPI,
 * in a venv this test creates and caches under .stack/) reads our topic and
 * decodes every record with its schema-registry AvroDeserializer. What it
 * decodes must equal what we published. With contract v2 registered over v1
 * (the ingress starting on a subject that holds v1), its deserializer with the
 * v2 reader schema reads the v1 records already on the topic and the v2 ones.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { readCdrSchema, SCHEMA_PATH, SCHEMA_V1_PATH } from '../../src/cdr/avro-schema.ts';
import { FIELDS } from '../../src/cdr/fields.ts';
import { normalise } from '../../src/cdr/normalise.ts';
import { createRegistryClient } from '../../src/kafka/registry.ts';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { startTestIngress } from './helpers/ingress.ts';
import { uniqueTopic } from './helpers/kafka.ts';
import { python } from './helpers/python.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../interop/decode_topic.py', import.meta.url));
let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

type Decoded = { key: string; headers: Record<string, string>; value: Record<string, unknown> };

/** Runs the Python reader on a topic; one decoded record per line. */
const decodeTopic = async (py: string, topic: string, count: number, extra: string[] = []) => {
  const { stdout } = await run(
    py,
    [
      SCRIPT,
      '--bootstrap',
      stack.brokers.join(','),
      '--registry',
      stack.registryUrl,
      '--topic',
      topic,
      '--count',
      String(count),
      ...extra,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Decoded);
};

test('Python confluent-kafka AvroDeserializer decodes our records', {
  timeout: 600_000,
}, async (t) => {
  const py = await python();
  const topic = uniqueTopic('interop');
  const ingress = await startTestIngress(t, stack, { CDR_TOPIC: topic, WEBHOOK_SECRETS: 's' });
  const items = Array.from({ length: 12 }, (_, i) => rawCdr(i, `org-${i % 3}`));
  const d = signedDelivery(items, 's');
  const res = await postDelivery(ingress.webhookUrl, d);
  assert.equal(res.status, 200);
  const { deliveryId } = (await res.json()) as { deliveryId: string };

  const decoded = await decodeTopic(py, topic, items.length);
  assert.equal(decoded.length, items.length);
  const byId = new Map(items.map((r) => [r['Report ID'], r]));
  for (const d of decoded) {
    const raw = byId.get(String(d.value.report_id));
    assert.ok(raw, 'decoded report_id is one we sent');
    assert.equal(d.key, raw['Org UUID']);
    assert.equal(d.headers['cdr-report-id'], raw['Report ID']);
    const ingest = d.value.ingest as Record<string, unknown>;
    const expected = normalise(raw, {
      feed: 'analytics',
      source: 'webhook',
      received_at: Number(ingest.received_at),
      delivery_id: deliveryId,
    });
    assert.ok(expected.ok);
    assert.deepEqual(d.value, JSON.parse(JSON.stringify(expected.value.record)));
  }
});

test('contract v2 over v1: confluent-kafka with the v2 reader schema reads v1 and v2 records', {
  timeout: 600_000,
}, async (t) => {
  const py = await python();
  const topic = uniqueTopic('interop-v2');
  // the subject holds v1 before the connector (now v2) starts
  const registry = createRegistryClient({ url: stack.registryUrl });
  const v1Encoder = await registry.registerEncoder(
    `${topic}-value`,
    readCdrSchema(SCHEMA_V1_PATH).text,
  );
  const ingress = await startTestIngress(t, stack, { CDR_TOPIC: topic, WEBHOOK_SECRETS: 's' });
  const kafka = new Kafka({
    clientId: 'interop-v1',
    brokers: stack.brokers,
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer();
  try {
    // a record as v1 published it: the live keys in extra_fields
    const v1Fields = readCdrSchema(SCHEMA_V1_PATH).schema.fields.slice(0, 83);
    const ingest = { feed: 'analytics', source: 'webhook', received_at: 1, delivery_id: 'v1' };
    const v1Record = {
      ...Object.fromEntries(v1Fields.map((f) => [f.name, null])),
      report_id: 'v1-record',
      org_uuid: 'org-v1',
      duration: 5,
      extra_fields: { 'Transfer type': 'BLIND', 'External customer ID': 'ext-v1' },
      ingest,
    };
    await producer.connect();
    await producer.send({
      topic,
      messages: [{ key: 'org-v1', value: v1Encoder.encode(v1Record) }],
    });
    // v2 records through the ingress: the live keys, the partner APIs' orgId, "NA" kept
    const items = [
      rawCdr(0, 'org-a', { 'Transfer type': 'ATTENDED', 'Answer reason': 'Answered' }),
      {
        ...rawCdr(1, 'org-b', {
          'International country': 'NA',
          'Transfer type context': 'CONSULT',
        }),
        'Org UUID': undefined,
        orgId: 'org-b',
      },
    ];
    const d = signedDelivery(items, 's');
    const res = await postDelivery(ingress.webhookUrl, d);
    assert.equal(res.status, 200);
    const { deliveryId } = (await res.json()) as { deliveryId: string };

    const versions = await fetch(
      `${stack.registryUrl}/subjects/${encodeURIComponent(`${topic}-value`)}/versions`,
    );
    assert.deepEqual(await versions.json(), [1, 2], 'v2 registered over v1');

    const decoded = await decodeTopic(py, topic, 3, [
      '--reader-schema',
      fileURLToPath(SCHEMA_PATH),
    ]);
    assert.equal(decoded.length, 3);
    const byId = new Map(decoded.map((r) => [String(r.value.report_id), r.value]));
    const old = byId.get('v1-record');
    assert.ok(old, 'the v1 record is read');
    for (const f of FIELDS.filter((x) => x.origin === 'live')) {
      assert.equal(old[f.name], null, `${f.name} takes its default`);
    }
    assert.equal(old.duration, 5);
    assert.deepEqual(old.extra_fields, {
      'Transfer type': 'BLIND',
      'External customer ID': 'ext-v1',
    });
    for (const raw of items) {
      const value = byId.get(raw['Report ID']);
      assert.ok(value);
      const expected = normalise(JSON.parse(JSON.stringify(raw)), {
        feed: 'analytics',
        source: 'webhook',
        received_at: Number((value.ingest as Record<string, unknown>).received_at),
        delivery_id: deliveryId,
      });
      assert.ok(expected.ok);
      assert.deepEqual(value, JSON.parse(JSON.stringify(expected.value.record)));
    }
    assert.equal(byId.get(items[0]?.['Report ID'] ?? '')?.transfer_type, 'ATTENDED');
    const namibia = byId.get(items[1]?.['Report ID'] ?? '');
    assert.equal(namibia?.international_country, 'NA');
    assert.equal(namibia?.org_uuid, 'org-b');
    assert.equal(namibia?.transfer_type_context, 'CONSULT');
  } finally {
    await producer.disconnect();
  }
});
