/**
 * Each record once on the topic (issue 14), on the real broker and registry:
 * two ingress processes on one topic, the same delivery sent to each; a
 * changed record published as version 2 with the supersede headers; an
 * ingress started after all that rebuilds its index from the topic's headers
 * and still drops the repeats.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { startTestIngress } from './helpers/ingress.ts';
import { KAFKA_CLIENTS, readTopic, topicSize, uniqueTopic } from './helpers/kafka.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'dedup-secret';
const N = 40;

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

/** One sample of a /metrics answer (no labels). */
const metric = async (url: string, name: string): Promise<number | undefined> => {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

/** Resolves when the ingress' index holds `n` Report IDs: the tail saw what the other published. */
const indexHolds = async (url: string, n: number, timeoutMs = 30_000) => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (((await metric(url, 'webex_cdr_dedup_index_report_ids')) ?? 0) >= n) return;
    if (Date.now() > until) assert.fail(`the index of ${url} did not reach ${n} Report IDs`);
    await setTimeout(20);
  }
};

const deliver = async (url: string, items: unknown[]) => {
  const res = await postDelivery(url, signedDelivery(items, SECRET));
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as Record<string, number>;
};

/** Open sockets of this process to the stack's brokers. */
const brokerSockets = () => {
  const ports = new Set(stack.brokers.map((b) => Number(b.split(':').at(-1))));
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter(
    (h) =>
      typeof h === 'object' &&
      h !== null &&
      ports.has((h as { remotePort?: number }).remotePort ?? -1),
  ).length;
};

describe('dedup against the topic', () => {
  for (const client of KAFKA_CLIENTS) {
    test(`an ingress closed as soon as it is ready leaves no connection to Kafka open (its tail was joining; ${client})`, async (t) => {
      const before = brokerSockets();
      for (let i = 0; i < 3; i++) {
        const ingress = await startTestIngress(t, stack, {
          KAFKA_CLIENT: client,
          CDR_TOPIC: uniqueTopic('dedup-close'),
          WEBHOOK_SECRETS: SECRET,
        });
        await ingress.close(10_000);
      }
      // Calls still under way when the tail stopped are disconnected once they settle.
      const deadline = Date.now() + 20_000;
      while (brokerSockets() > before && Date.now() < deadline) await setTimeout(250);
      assert.equal(brokerSockets(), before, 'every connection to Kafka closed');
    });
  }

  for (const client of KAFKA_CLIENTS) {
    test(`an ingress closed while starting leaves no connection to Kafka open (its producer was connecting; ${client})`, async (t) => {
      const before = brokerSockets();
      // closed at these moments of its start: the topics, the schema, the producer id
      for (const afterMs of [0, 50, 150]) {
        const ingress = await startTestIngress(
          t,
          stack,
          {
            KAFKA_CLIENT: client,
            CDR_TOPIC: uniqueTopic('close-starting'),
            WEBHOOK_SECRETS: SECRET,
          },
          { waitReady: false },
        );
        await setTimeout(afterMs);
        await ingress.close(10_000);
      }
      const deadline = Date.now() + 20_000;
      while (brokerSockets() > before && Date.now() < deadline) await setTimeout(250);
      assert.equal(brokerSockets(), before, 'every connection to Kafka closed');
    });
  }

  test('two ingress processes, repeated deliveries, a new version, a restart: each record once', async (t) => {
    const topic = uniqueTopic('dedup');
    const env = { CDR_TOPIC: topic, WEBHOOK_SECRETS: SECRET };
    const a = await startTestIngress(t, stack, env);
    const b = await startTestIngress(t, stack, env);
    const items = Array.from({ length: N }, (_, i) => rawCdr(i, `org-${i % 3}`));

    const first = await deliver(a.webhookUrl, items);
    assert.deepEqual([first.accepted, first.repeats, first.versions], [N, 0, 0]);
    // A repeat to the same process is dropped at once (it knows what it published) ...
    const again = await deliver(a.webhookUrl, items);
    assert.deepEqual([again.accepted, again.repeats], [0, N]);
    // ... and to the other once its tail has seen the records.
    const since = Date.now();
    await indexHolds(b.url, N);
    const learnedMs = Date.now() - since;
    const other = await deliver(b.webhookUrl, items);
    assert.deepEqual([other.accepted, other.repeats], [0, N]);
    const lag = await metric(b.url, 'webex_cdr_dedup_index_lag_seconds');
    t.diagnostic(`replica B learned ${N} records within ${learnedMs} ms; its tail lag ${lag} s`);
    assert.equal(await topicSize(stack.brokers, topic), N);

    // The same Report ID with other content: a new version, published, marked.
    const changed = { ...items[0], Duration: 999, 'Report time': '2026-11-23T11:00:00.000Z' };
    const v2 = await deliver(b.webhookUrl, [changed, ...items.slice(1, 5)]);
    assert.deepEqual([v2.accepted, v2.versions, v2.repeats], [1, 1, 4]);
    const onTopic = await readTopic(stack.brokers, topic, N + 1);
    assert.equal(onTopic.length, N + 1);
    const versions = onTopic.filter((m) => m.headers['cdr-report-id'] === items[0]?.['Report ID']);
    assert.equal(versions.length, 2);
    const latest = versions.find((m) => m.headers['cdr-version'] !== undefined);
    assert.equal(latest?.headers['cdr-version'], '2');
    assert.equal(latest?.headers['cdr-supersedes-report-time'], items[0]?.['Report time']);
    const hashes = new Set(versions.map((m) => m.headers['cdr-content-hash']));
    assert.equal(hashes.size, 2, 'two versions, two content hashes');

    // A process started now knows everything from the topic alone.
    await a.close(5_000);
    const c = await startTestIngress(t, stack, env);
    assert.equal(await metric(c.url, 'webex_cdr_dedup_index_warm'), 1);
    const replay = await deliver(c.webhookUrl, [...items, changed]);
    assert.deepEqual([replay.accepted, replay.versions, replay.repeats], [0, 0, N]);
    assert.equal(replay.duplicatesInBatch, 1, 'both versions of one Report ID in one delivery');
    assert.equal(await topicSize(stack.brokers, topic), N + 1);
    assert.equal(await metric(c.url, 'webex_cdr_dedup_repeats_dropped_total'), N);
  });

  test('DEDUP=false publishes every repeat, as before', async (t) => {
    const topic = uniqueTopic('nodedup');
    const ingress = await startTestIngress(t, stack, {
      CDR_TOPIC: topic,
      WEBHOOK_SECRETS: SECRET,
      DEDUP: 'false',
    });
    const items = Array.from({ length: 5 }, (_, i) => rawCdr(i, 'org-1'));
    await deliver(ingress.webhookUrl, items);
    const again = await deliver(ingress.webhookUrl, items);
    assert.equal(again.accepted, 5);
    assert.equal(again.repeats, undefined);
    assert.equal((await readTopic(stack.brokers, topic, 10)).length, 10);
  });
});
