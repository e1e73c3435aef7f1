/**
 * The worker-thread pipeline (INGRESS_WORKERS) on the real broker and
 * registry: one large delivery, posted to an ingress with workers and to one
 * without, lands the same on both topics: the same records with the same
 * Avro bytes (but for the delivery's own id and receipt time), keys, headers
 * and partitions, in delivery order on each partition.
 */
import assert from 'node:assert/strict';
import { before, describe, type TestContext, test } from 'node:test';
import avsc from 'avsc';
import { readCdrSchema } from '../../src/cdr/avro-schema.ts';
import { HEADER } from '../../src/kafka/messages.ts';
import { createCdrGenerator } from '../../src/simulator/generate.ts';
import { postDelivery, signedDelivery } from './helpers/cdrs.ts';
import { startTestIngress } from './helpers/ingress.ts';
import { type ReadMessage, readTopic, uniqueTopic } from './helpers/kafka.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'worker-secret';

let stack: TestStack;
before(async () => {
  stack = await getStack();
});

const type = avsc.Type.forSchema(JSON.parse(readCdrSchema().text));

/** A message as comparable across two deliveries: the delivery's id and receipt time left out. */
const comparable = (m: ReadMessage) => {
  const record = type.fromBuffer(m.value.subarray(5)) as Record<string, unknown>;
  const { ingest, ...rest } = record as { ingest: Record<string, unknown> };
  const { delivery_id: _id, received_at: _at, ...sameIngest } = ingest;
  const { [HEADER.deliveryId]: _d, ...headers } = m.headers;
  return {
    partition: m.partition,
    key: m.key,
    headers,
    record: JSON.stringify({ ...rest, ingest: sameIngest }),
    bytes: m.value.length,
  };
};

/** One delivery of `count` records, with workers and without: the same on both topics. */
const landsAsWithout = async (t: TestContext, count: number) => {
  const start = Date.UTC(2026, 0, 5);
  const items = createCdrGenerator({ seed: 'workers', orgs: 40 })
    .generate(start, start + 24 * 3_600_000)
    .slice(0, count)
    .map((c) => c.raw);
  assert.equal(items.length, count);
  const delivery = signedDelivery(items, SECRET);
  const results = new Map<string, ReturnType<typeof comparable>[]>();
  for (const workers of ['2', '0']) {
    const topic = uniqueTopic(`workers-${workers}`);
    const ingress = await startTestIngress(t, stack, {
      CDR_TOPIC: topic,
      WEBHOOK_SECRETS: SECRET,
      INGRESS_WORKERS: workers,
      INGRESS_WORKERS_MIN_BYTES: '0',
      MAX_BODY_BYTES: String(64 * 1024 * 1024),
      MAX_DECODED_BYTES: String(64 * 1024 * 1024),
    });
    assert.equal(ingress.config.workers, Number(workers));
    const res = await postDelivery(ingress.webhookUrl, delivery);
    assert.equal(res.status, 200, await res.clone().text());
    const answer = (await res.json()) as { accepted: number };
    assert.equal(answer.accepted, count);
    const read = await readTopic(stack.brokers, topic, count, 60_000);
    assert.equal(read.length, count);
    // in delivery order on each partition: offsets follow the records' order in the body
    const order = new Map(items.map((raw, i) => [(raw as Record<string, string>)['Report ID'], i]));
    for (const p of new Set(read.map((m) => m.partition))) {
      const positions = read
        .filter((m) => m.partition === p)
        .sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)))
        .map((m) => order.get(m.headers[HEADER.reportId] ?? '') ?? -1);
      assert.deepEqual(
        positions,
        [...positions].sort((a, b) => a - b),
        `partition ${p} in delivery order`,
      );
    }
    const byOffset = (a: ReadMessage, b: ReadMessage) =>
      a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset));
    results.set(workers, read.sort(byOffset).map(comparable));
  }
  const withWorkers = results.get('2') ?? [];
  const inline = results.get('0') ?? [];
  assert.equal(withWorkers.length, inline.length);
  for (let i = 0; i < inline.length; i++) {
    assert.deepEqual(withWorkers[i], inline[i], `message ${i}`);
  }
};

describe('worker-thread pipeline on the real stack', () => {
  // 23 MB, spooled: hashed and scanned on a worker while it is read, five chunks spread over the workers (four at once)
  test('a large delivery with workers lands as without: same records, bytes and order per partition', (t) =>
    landsAsWithout(t, 9000));

  // 6.5 MB, in memory and alone: published by the main thread, as without workers
  test('a delivery in memory, alone, lands as without', (t) => landsAsWithout(t, 2500));

  test('deliveries in memory at once, some parsed whole on a worker, land as without', async (t) => {
    const start = Date.UTC(2026, 0, 6);
    const records = createCdrGenerator({ seed: 'workers-whole', orgs: 40 })
      .generate(start, start + 24 * 3_600_000)
      .slice(0, 4 * 1000)
      .map((c) => c.raw as Record<string, string>);
    assert.equal(records.length, 4000);
    const deliveries = [0, 1, 2, 3].map((d) => records.slice(d * 1000, (d + 1) * 1000));
    const bodies = deliveries.map((items) => signedDelivery(items, SECRET));
    /** Report ID -> its delivery and position there. */
    const origin = new Map(
      deliveries.flatMap((items, d) => items.map((raw, i) => [raw['Report ID'], { d, i }])),
    );
    const landed = new Map<string, Map<string, ReturnType<typeof comparable>>>();
    for (const workers of ['2', '0']) {
      const topic = uniqueTopic(`workers-whole-${workers}`);
      const ingress = await startTestIngress(t, stack, {
        CDR_TOPIC: topic,
        WEBHOOK_SECRETS: SECRET,
        INGRESS_WORKERS: workers,
        INGRESS_WORKERS_MIN_BYTES: '0',
      });
      const answers = await Promise.all(bodies.map((b) => postDelivery(ingress.webhookUrl, b)));
      for (const res of answers) assert.equal(res.status, 200, await res.clone().text());
      const metrics = await (await fetch(`${ingress.url}/metrics`)).text();
      const whole = /webex_cdr_worker_deliveries_total\{mode="whole"\} (\d+)/.exec(metrics);
      if (workers === '2')
        assert.ok(Number(whole?.[1] ?? 0) >= 1, 'a delivery went whole to a worker');
      else assert.equal(whole, null);
      const read = await readTopic(stack.brokers, topic, 4000, 60_000);
      assert.equal(read.length, 4000);
      // each delivery in its order on every partition
      for (const p of new Set(read.map((m) => m.partition))) {
        const onP = read
          .filter((m) => m.partition === p)
          .sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)))
          .map((m) => origin.get(m.headers[HEADER.reportId] ?? ''));
        for (const d of [0, 1, 2, 3]) {
          const positions = onP.filter((o) => o?.d === d).map((o) => o?.i ?? -1);
          assert.deepEqual(
            positions,
            [...positions].sort((a, b) => a - b),
            `delivery ${d} on ${p}`,
          );
        }
      }
      landed.set(
        workers,
        new Map(read.map((m) => [m.headers[HEADER.reportId] ?? '', comparable(m)])),
      );
    }
    assert.deepEqual(landed.get('2'), landed.get('0'));
  });
});
