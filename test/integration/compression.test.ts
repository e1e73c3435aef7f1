/**
 * KAFKA_COMPRESSION on the real broker, for both producer clients: the same
 * delivery published uncompressed, with gzip and with zstd. Every record reads
 * back and decodes through the registry, the broker stores the compressed
 * topics in fewer bytes (so the batches really are compressed), and a client
 * nobody here wrote (Python confluent-kafka, librdkafka) decodes the zstd
 * batches our kafkajs codec wrote.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { startTestIngress } from './helpers/ingress.ts';
import { readTopic, topicBytesOnDisk, uniqueTopic } from './helpers/kafka.ts';
import { python } from './helpers/python.ts';
import type { TestScope } from './helpers/scope.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../interop/decode_topic.py', import.meta.url));
const SECRET = 'compression-secret';
const RECORDS = 300;

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

/** The same records for every codec, so the topics' sizes compare. */
const items = Array.from({ length: RECORDS }, (_, i) => rawCdr(i, `org-${i % 7}`));
const delivery = signedDelivery(items, SECRET);

/** Publishes the delivery through an ingress with this client and codec (closed when `t` ends); returns the topic. */
const publish = async (t: TestScope, client: string, compression: string) => {
  const topic = uniqueTopic(`compression-${client}-${compression}`);
  const ingress = await startTestIngress(t, stack, {
    KAFKA_CLIENT: client,
    KAFKA_COMPRESSION: compression,
    CDR_TOPIC: topic,
    WEBHOOK_SECRETS: SECRET,
  });
  const res = await postDelivery(ingress.webhookUrl, delivery);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(((await res.json()) as { accepted: number }).accepted, RECORDS);
  return topic;
};

for (const client of ['kafkajs', 'platformatic'] as const) {
  describe(`KAFKA_COMPRESSION (${client})`, () => {
    const sizes = new Map<string, number>();
    const topics = new Map<string, string>();

    for (const compression of ['none', 'gzip', 'zstd'] as const) {
      test(`${compression}: every record reads back and decodes`, async (t) => {
        const topic = await publish(t, client, compression);
        topics.set(compression, topic);
        const got = await readTopic(stack.brokers, topic, RECORDS);
        assert.equal(got.length, RECORDS);
        const registry = new SchemaRegistry({ host: stack.registryUrl });
        const ids = new Set<string>();
        for (const m of got) {
          const decoded = (await registry.decode(m.value)) as { report_id: string };
          assert.equal(decoded.report_id, m.headers['cdr-report-id']);
          ids.add(decoded.report_id);
        }
        assert.deepEqual([...ids].sort(), items.map((r) => String(r['Report ID'])).sort());
        sizes.set(compression, await topicBytesOnDisk(stack.brokers, topic));
      });
    }

    test('the broker stores the compressed topics in fewer bytes', (t) => {
      t.diagnostic(`bytes on disk: ${JSON.stringify(Object.fromEntries(sizes))}`);
      const none = sizes.get('none') ?? 0;
      assert.ok(none > RECORDS * 100, `uncompressed topic: ${none} bytes`);
      for (const codec of ['gzip', 'zstd']) {
        const bytes = sizes.get(codec) ?? Number.POSITIVE_INFINITY;
        assert.ok(bytes < none / 2, `${codec}: ${bytes} bytes against ${none} uncompressed`);
      }
    });

    test('Python confluent-kafka (librdkafka) decodes the zstd batches', {
      timeout: 600_000,
    }, async () => {
      const topic = topics.get('zstd');
      assert.ok(topic, 'the zstd topic was written');
      const { stdout } = await run(
        await python(),
        [
          SCRIPT,
          ...['--bootstrap', stack.brokers.join(','), '--registry', stack.registryUrl],
          ...['--topic', topic, '--count', String(RECORDS)],
        ],
        { maxBuffer: 64 * 1024 * 1024 },
      );
      const decoded = stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { value: { report_id: string } }).value.report_id);
      assert.deepEqual(decoded.sort(), items.map((r) => String(r['Report ID'])).sort());
    });
  });
}
