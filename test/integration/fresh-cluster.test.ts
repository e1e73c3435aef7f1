/**
 * The first deliveries on a brand-new cluster: a freshly formatted broker (its
 * own, empty data dir) has no producer-id block yet and answers InitProducerId
 * with "coordinator loading" for a while. The sink may report ready only once
 * its idempotent producer holds a producer id; sends from that moment on must
 * succeed (kafkajs failed a send made while the id was on its way with
 * "Cannot read properties of undefined (reading 'release')"), for both clients:
 * through the sink itself, publishing back to back from the moment it is ready,
 * and through the ingress, deliveries posted the moment /readyz says ready.
 * And a brand-new broker answers metadata before it coordinates consumer
 * groups: `tail`'s first read there must not fail ("Consumer group was not
 * initialized"), on either adapter.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setImmediate, setTimeout } from 'node:timers/promises';
import { prepareChunk } from '../../src/cdr/batch.ts';
import { describe as describeError } from '../../src/errors.ts';
import { createCdrSink } from '../../src/kafka/cdr-sink.ts';
import { createKafka } from '../../src/kafka/kafkajs/client.ts';
import { createLogger } from '../../src/log.ts';
import { parseIngressConfig } from '../../src/settings.ts';
import { tailTopic } from '../../src/tail.ts';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { type FreshBroker, startFreshBroker } from './helpers/fresh-broker.ts';
import { startSuiteIngress } from './helpers/ingress.ts';
import { KAFKA_CLIENTS, topicSize, uniqueTopic } from './helpers/kafka.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'fresh-cluster-secret';
const SENDERS = 8;
const PER_SENDER = 8;
const RECORDS = 10;

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

const withFreshBroker = async (work: (broker: FreshBroker) => Promise<void>) => {
  const broker = await startFreshBroker();
  try {
    await work(broker);
  } finally {
    await broker.close();
  }
};

describe('a freshly formatted broker', () => {
  for (const client of ['kafkajs', 'platformatic'] as const) {
    test(`the sink: sends from the moment it is ready all succeed (${client})`, async () => {
      await withFreshBroker(async (broker) => {
        const topic = uniqueTopic('fresh-sink');
        const parsed = parseIngressConfig({
          KAFKA_BROKERS: broker.brokers.join(','),
          SCHEMA_REGISTRY_URL: stack.registryUrl,
          CDR_FEED: 'analytics',
          CDR_TOPIC: topic,
          CDR_TOPIC_PARTITIONS: '3',
          KAFKA_CLIENT: client,
          WEBHOOK_SECRETS: SECRET,
        });
        assert.ok(parsed.ok);
        const sink = createCdrSink(parsed.config, createLogger('silent'));
        try {
          // the first moment the sink says ready (checked on every turn of the event loop)
          while (!sink.readiness().ready) await setImmediate();
          const failures: string[] = [];
          let sent = 0;
          // back to back for a second, as a busy ingress would
          const until = Date.now() + 1000;
          while (Date.now() < until) {
            const ingest = {
              feed: 'analytics',
              source: 'webhook',
              received_at: Date.now(),
              delivery_id: randomUUID(),
            } as const;
            const batch = prepareChunk([rawCdr(sent, 'org-fresh')], 0, ingest, new Map());
            await sink.publisher.publish(batch, ingest, 10_000).then(
              () => {
                sent += 1;
              },
              (e: unknown) => {
                failures.push(describeError(e));
              },
            );
            if (failures.length > 0) break;
          }
          assert.deepEqual(failures, [], 'every send after readiness succeeds');
          assert.equal(await topicSize(broker.brokers, topic), sent);
        } finally {
          await sink.close();
        }
      });
    });

    test(`the ingress: deliveries posted the moment it is ready get 200 (${client})`, async () => {
      await withFreshBroker(async (broker) => {
        // Webex's first deliveries, from several senders at once, built beforehand
        const deliveries = Array.from({ length: SENDERS * PER_SENDER }, (_, d) =>
          signedDelivery(
            Array.from({ length: RECORDS }, (_, r) =>
              rawCdr(d * RECORDS + r, `org-${r % 7}`, { 'Unknown blob': 'x'.repeat(40_000) }),
            ),
            SECRET,
          ),
        );
        const topic = uniqueTopic('fresh');
        const ingress = await startSuiteIngress(
          { ...stack, brokers: broker.brokers },
          { KAFKA_CLIENT: client, CDR_TOPIC: topic, WEBHOOK_SECRETS: SECRET },
          { waitReady: false },
        );
        try {
          // asks as soon as the ingress listens and posts the moment it says ready
          for (;;) {
            const ready = await fetch(`${ingress.url}/readyz`);
            if (ready.status === 200) break;
            assert.equal(ready.status, 503);
            await setTimeout(10);
          }
          const statuses: string[] = [];
          const sender = async (s: number) => {
            for (const d of deliveries.slice(s * PER_SENDER, (s + 1) * PER_SENDER)) {
              const res = await postDelivery(ingress.webhookUrl, d);
              statuses.push(res.status === 200 ? '200' : `${res.status} ${await res.text()}`);
            }
          };
          await Promise.all(Array.from({ length: SENDERS }, (_, s) => sender(s)));
          assert.deepEqual(
            statuses.filter((s) => s !== '200'),
            [],
            'every delivery after readiness is accepted',
          );
          assert.equal(await topicSize(broker.brokers, topic), deliveries.length * RECORDS);
        } finally {
          await ingress.close();
        }
      });
    });
  }

  for (const client of KAFKA_CLIENTS) {
    test(`tail: the first read of a brand-new cluster reads the topic (${client})`, async () => {
      await withFreshBroker(async (broker) => {
        const topic = uniqueTopic('fresh-tail');
        // the records, written before any consumer group exists (no group coordinator yet)
        const kafka = createKafka(
          { brokers: broker.brokers, clientId: 'fresh-tail', ssl: false, sasl: undefined },
          createLogger('silent'),
        );
        const admin = kafka.admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
        await admin.disconnect();
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({
          topic,
          messages: Array.from({ length: 9 }, (_, i) => ({
            key: `org-${i % 3}`,
            value: JSON.stringify({ n: i }),
          })),
        });
        await producer.disconnect();
        const seen: unknown[] = [];
        const written = await tailTopic(
          {
            KAFKA_BROKERS: broker.brokers.join(','),
            KAFKA_CLIENT: client,
            SCHEMA_REGISTRY_URL: stack.registryUrl,
          },
          { topic, sinceMs: 0, startTimeoutMs: 60_000 },
          async (r) => {
            seen.push(r.value);
            return undefined;
          },
        );
        assert.equal(written, 9);
        assert.deepEqual(
          seen.map((v) => (v as { n: number }).n).sort((a, b) => a - b),
          [0, 1, 2, 3, 4, 5, 6, 7, 8],
        );
      });
    });
  }
});
