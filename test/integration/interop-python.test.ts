/**
 * Interop with a client nobody here wrote: Python confluent-kafka (from PyPI,
 * in a venv this test creates and caches under .stack/) reads our topic and
 * decodes every record with its schema-registry AvroDeserializer. What it
 * decodes must equal what we published.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { normalise } from '../../src/cdr/normalise.ts';
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
      String(items.length),
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const decoded = stdout
    .trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(l) as {
          key: string;
          headers: Record<string, string>;
          value: Record<string, unknown>;
        },
    );
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
