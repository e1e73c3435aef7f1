/**
 * The ingress end to end on the real broker and registry: signed deliveries
 * become Avro records (decoded through the registry and compared with the
 * normalised input), forged ones leave nothing behind, poison records go to
 * the dead-letter topic, and a stopped broker means 503 within the deadline,
 * never 2xx, with the records arriving once Webex retries.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Partitioners } from 'kafkajs';
import { normalise } from '../../src/cdr/normalise.ts';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { startTestIngress, type TestIngress } from './helpers/ingress.ts';
import { readTopic, topicSize, uniqueTopic, withAdmin } from './helpers/kafka.ts';
import type { TestScope } from './helpers/scope.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'integration-secret';

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

/**
 * The whole suite runs once per producer client (KAFKA_CLIENT): the contract,
 * the failure behaviour and the partitioning must not depend on it.
 */
for (const client of ['kafkajs', 'platformatic'] as const) {
  describe(`ingress on the real stack (${client})`, () => {
    /** An ingress of this client on `topic`, closed when the test `t` ends. */
    const start = (
      t: TestScope,
      topic: string,
      env: Record<string, string> = {},
      opts: { waitReady?: boolean } = {},
    ) =>
      startTestIngress(
        t,
        stack,
        { KAFKA_CLIENT: client, CDR_TOPIC: topic, WEBHOOK_SECRETS: SECRET, ...env },
        opts,
      );

    test('a signed delivery round-trips: one Avro record per CDR, keyed by org, with headers', async (t) => {
      const topic = uniqueTopic('roundtrip');
      const ingress = await start(t, topic);
      const items = Array.from({ length: 25 }, (_, i) => rawCdr(i, `org-${i % 4}`));
      const res = await postDelivery(ingress.webhookUrl, signedDelivery(items, SECRET));
      assert.equal(res.status, 200);
      const answer = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(
        {
          accepted: answer.accepted,
          deadLettered: answer.deadLettered,
          dup: answer.duplicatesInBatch,
        },
        { accepted: 25, deadLettered: 0, dup: 0 },
      );

      const got = await readTopic(stack.brokers, topic, 25);
      assert.equal(got.length, 25);
      const registry = new SchemaRegistry({ host: stack.registryUrl });
      const byReportId = new Map(items.map((r) => [r['Report ID'], r]));
      for (const m of got) {
        assert.equal(m.value[0], 0, 'Confluent wire format magic byte');
        const decoded = (await registry.decode(m.value)) as Record<string, unknown>;
        const raw = byReportId.get(m.headers['cdr-report-id'] ?? '');
        assert.ok(raw, 'cdr-report-id header names a sent record');
        assert.equal(m.key, raw['Org UUID']);
        const ingest = decoded.ingest as Record<string, unknown>;
        const expected = normalise(raw, {
          feed: 'analytics',
          source: 'webhook',
          received_at: Number(ingest.received_at),
          delivery_id: String(answer.deliveryId),
        });
        assert.ok(expected.ok);
        // plain data on both sides (avsc decodes records into classes)
        assert.deepEqual(
          JSON.parse(JSON.stringify(decoded)),
          JSON.parse(JSON.stringify(expected.value.record)),
        );
        assert.equal(m.headers['cdr-source'], 'webhook');
        assert.equal(m.headers['cdr-feed'], 'analytics');
        assert.equal(m.headers['cdr-call-end'], raw['Release time']);
        assert.equal(m.headers['cdr-report-time'], raw['Report time']);
        assert.ok(
          m.timestamp >= Date.parse(raw['Release time']),
          'produce time not before call end',
        );
      }
      // same org -> same partition, the one the Java client's murmur2 gives (as kafkajs')
      const javaPartition = Partitioners.DefaultPartitioner();
      const partitionMetadata = [0, 1, 2].map((partitionId) => ({
        partitionId,
        leader: 1,
        partitionErrorCode: 0,
        replicas: [1],
        isr: [1],
      }));
      for (const m of got) {
        const expected = javaPartition({
          topic,
          partitionMetadata,
          message: { key: m.key, value: null },
        });
        assert.equal(m.partition, expected, `partition of org ${m.key}`);
      }
      assert.equal(await topicSize(stack.brokers, `${topic}.dlq`), 0);
    });

    test('a forged signature gets 401 and nothing reaches either topic', async (t) => {
      const topic = uniqueTopic('forged');
      const ingress = await start(t, topic);
      const items = [rawCdr(1, 'org-a'), rawCdr(2, 'org-b')];
      const forged = signedDelivery(items, 'not-the-secret');
      const res = await postDelivery(ingress.webhookUrl, forged);
      assert.equal(res.status, 401);
      const unsigned = await postDelivery(ingress.webhookUrl, {
        body: forged.body,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(unsigned.status, 401);
      // a good delivery afterwards proves the topics exist and are being written
      const good = await postDelivery(
        ingress.webhookUrl,
        signedDelivery([rawCdr(3, 'org-c')], SECRET),
      );
      assert.equal(good.status, 200);
      assert.equal(await topicSize(stack.brokers, topic), 1);
      assert.equal(await topicSize(stack.brokers, `${topic}.dlq`), 0);
    });

    test('a poison record goes to the DLQ with its reason while its neighbours publish', async (t) => {
      const topic = uniqueTopic('poison');
      const ingress = await start(t, topic);
      const good = [rawCdr(1, 'org-a'), rawCdr(2, 'org-a'), rawCdr(3, 'org-b')];
      const poison = { 'Org UUID': 'org-a', Duration: '7' }; // no Report ID
      const items = [good[0], poison, good[1], 'not an object', good[2]];
      const res = await postDelivery(ingress.webhookUrl, signedDelivery(items, SECRET));
      assert.equal(res.status, 200);
      const answer = (await res.json()) as Record<string, unknown>;
      assert.equal(answer.accepted, 3);
      assert.equal(answer.deadLettered, 2);

      const main = await readTopic(stack.brokers, topic, 3);
      assert.deepEqual(
        main.map((m) => m.headers['cdr-report-id']).sort(),
        good.map((g) => g['Report ID']).sort(),
      );
      const dlq = await readTopic(stack.brokers, `${topic}.dlq`, 2);
      assert.equal(dlq.length, 2);
      const letters = dlq.map((m) => ({
        key: m.key,
        headers: m.headers,
        body: JSON.parse(m.value.toString()),
      }));
      const missing = letters.find((l) => l.body.code === 'record_missing_report_id');
      assert.ok(missing);
      assert.equal(missing.key, 'org-a');
      assert.deepEqual(JSON.parse(missing.body.raw), poison);
      assert.equal(missing.body.deliveryId, answer.deliveryId);
      assert.equal(missing.headers['cdr-dlq-code'], 'record_missing_report_id');
      assert.match(missing.headers['cdr-dlq-reason'] ?? '', /Report ID/);
      const notObject = letters.find((l) => l.body.code === 'record_not_object');
      assert.ok(notObject);
      assert.equal(JSON.parse(notObject.body.raw), 'not an object');
    });

    test('broker stopped: 503 with Retry-After within the deadline; the retry lands every record', async (t) => {
      const topic = uniqueTopic('outage');
      const deadline = 3000;
      const ingress = await start(t, topic, { ACK_TIMEOUT_MS: String(deadline) });
      const items = Array.from({ length: 40 }, (_, i) => rawCdr(i, `org-${i % 5}`));
      const delivery = signedDelivery(items, SECRET);
      try {
        await stack.stopBroker();
        const t0 = Date.now();
        const res = await postDelivery(ingress.webhookUrl, delivery);
        const elapsed = Date.now() - t0;
        assert.equal(res.status, 503);
        assert.ok(res.headers.get('retry-after'), 'Retry-After is set');
        assert.ok(elapsed < deadline + 1500, `answered in ${elapsed} ms, deadline ${deadline} ms`);
      } finally {
        await stack.startBroker();
      }
      // Webex retries until it gets 2xx
      let status = 0;
      for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
        status = (await postDelivery(ingress.webhookUrl, delivery)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 1000));
      }
      assert.equal(status, 200);
      const got = await readTopic(stack.brokers, topic, 40, 20_000);
      const ids = new Set(got.map((m) => m.headers['cdr-report-id']));
      assert.deepEqual([...ids].sort(), items.map((i) => i['Report ID']).sort());
      // The first attempt may still land after its 503 (kafkajs keeps retrying):
      // a duplicate then carries the same Report ID, key and record content.
      const registry = new SchemaRegistry({ host: stack.registryUrl });
      const firstById = new Map<string, { key: string | null; record: string }>();
      for (const m of got) {
        const id = m.headers['cdr-report-id'] ?? '';
        const { ingest: _ingest, ...record } = (await registry.decode(m.value)) as Record<
          string,
          unknown
        >;
        const seen = firstById.get(id);
        const current = { key: m.key, record: JSON.stringify(record) };
        if (seen === undefined) firstById.set(id, current);
        else assert.deepEqual(current, seen);
      }
    });

    test('registry not answering at start: not ready and 503, then 200 once it answers', async (t) => {
      const topic = uniqueTopic('registry');
      await stack.pauseRegistry();
      let ingress: TestIngress | undefined;
      try {
        ingress = await start(t, topic, { ACK_TIMEOUT_MS: '2000' }, { waitReady: false });
        const ready = await fetch(`${ingress.url}/readyz`);
        assert.equal(ready.status, 503);
        const body = (await ready.json()) as { checks: Record<string, boolean> };
        assert.equal(body.checks.schemaRegistered, false);
        const delivery = signedDelivery([rawCdr(1, 'org-r')], SECRET);
        const refused = await postDelivery(ingress.webhookUrl, delivery);
        assert.equal(refused.status, 503);
        assert.ok(refused.headers.get('retry-after'));
        await stack.resumeRegistry();
        await ingress.started;
        const accepted = await postDelivery(ingress.webhookUrl, delivery);
        assert.equal(accepted.status, 200);
        assert.equal(await topicSize(stack.brokers, topic), 1);
      } finally {
        await stack.resumeRegistry();
      }
    });

    test('the deadline is per acknowledgement: a delivery longer than it in all still gets 200', async (t) => {
      const topic = uniqueTopic('large');
      const deadline = 1000;
      const ingress = await start(t, topic, { ACK_TIMEOUT_MS: String(deadline) });
      const items = Array.from({ length: 40_000 }, (_, i) => rawCdr(i, `org-${i % 50}`));
      const t0 = Date.now();
      const res = await postDelivery(ingress.webhookUrl, signedDelivery(items, SECRET));
      const elapsed = Date.now() - t0;
      assert.equal(res.status, 200);
      assert.ok(
        elapsed > deadline,
        `the scenario needs a delivery slower than ${deadline} ms (took ${elapsed})`,
      );
      assert.equal(await topicSize(stack.brokers, topic), items.length);
    });

    test("megabytes of records land whole and in delivery order per partition, each batch within the topic's limit", async (t) => {
      // A topic of 2 partitions whose batches the broker takes up to 800 KiB: the sends are cut
      // so no partition's batch passes 768 KiB (with @platformatic/kafka by partition, several
      // partitions' batches in one send; a wrong partition count would make a batch of about
      // 1 MiB here, refused: no 200)
      const topic = uniqueTopic('batches');
      await withAdmin(stack.brokers, (admin) =>
        admin.createTopics({
          topics: [
            {
              topic,
              numPartitions: 2,
              configEntries: [{ name: 'max.message.bytes', value: String(800 * 1024) }],
            },
            { topic: `${topic}.dlq` },
          ],
          waitForLeaders: true,
        }),
      );
      const ingress = await start(t, topic, { CDR_TOPIC_PARTITIONS: '2' });
      const items = Array.from({ length: 3000 }, (_, i) =>
        rawCdr(i, `org-${i % 20}`, { 'Unknown blob': 'x'.repeat(1000) }),
      );
      // two deliveries: the first may be sent before the client holds the topic's metadata
      for (const part of [items.slice(0, 1500), items.slice(1500)]) {
        const res = await postDelivery(ingress.webhookUrl, signedDelivery(part, SECRET));
        assert.equal(res.status, 200, await res.text());
      }
      const got = await readTopic(stack.brokers, topic, items.length);
      assert.equal(got.length, items.length);
      const order = new Map(items.map((r, i) => [r['Report ID'], i]));
      for (const partition of [0, 1]) {
        const positions = got
          .filter((m) => m.partition === partition)
          .sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)))
          .map((m) => order.get(m.headers['cdr-report-id'] ?? '') ?? -1);
        assert.ok(positions.length > 0, `partition ${partition} written`);
        assert.deepEqual(
          positions,
          [...positions].sort((a, b) => a - b),
          `partition ${partition} in delivery order`,
        );
      }
    });

    test('with KAFKA_CREATE_TOPICS=false a missing topic keeps the ingress not ready', async (t) => {
      const topic = uniqueTopic('nocreate');
      const ingress = await start(t, topic, { KAFKA_CREATE_TOPICS: 'false' }, { waitReady: false });
      await withAdmin(stack.brokers, async (admin) => {
        await new Promise((r) => setTimeout(r, 1000));
        const notReady = await fetch(`${ingress.url}/readyz`);
        assert.equal(notReady.status, 503);
        assert.equal(
          ((await notReady.json()) as { checks: { topics: boolean } }).checks.topics,
          false,
        );
        assert.equal((await admin.listTopics()).includes(topic), false, 'nothing was created');
        await admin.createTopics({
          topics: [{ topic }, { topic: `${topic}.dlq` }],
          waitForLeaders: true,
        });
        await ingress.started;
        assert.equal((await fetch(`${ingress.url}/readyz`)).status, 200);
      });
    });

    test('a record too large for the broker is dead-lettered (cut), its neighbours publish', async (t) => {
      const topic = uniqueTopic('oversized');
      const ingress = await start(t, topic);
      const huge = rawCdr(1, 'org-big', { 'Unknown blob': 'y'.repeat(1_200_000) });
      const items = [rawCdr(0, 'org-a'), huge, rawCdr(2, 'org-a')];
      const res = await postDelivery(ingress.webhookUrl, signedDelivery(items, SECRET));
      assert.equal(res.status, 200);
      const answer = (await res.json()) as Record<string, unknown>;
      assert.equal(answer.accepted, 2);
      assert.equal(answer.deadLettered, 1);
      const [letter] = await readTopic(stack.brokers, `${topic}.dlq`, 1);
      assert.ok(letter);
      const body = JSON.parse(letter.value.toString());
      assert.equal(body.code, 'record_encode_failed');
      assert.equal(body.rawTruncated, true);
      assert.equal(letter.key, 'org-big');
    });
  });
}
