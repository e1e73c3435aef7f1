/**
 * The worker-thread pipeline (INGRESS_WORKERS) on the real broker and
 * registry: one large delivery, posted to an ingress with workers and to one
 * without, lands the same on both topics: the same records with the same
 * Avro bytes (but for the delivery's own id and receipt time), keys, headers
 * and partitions, in delivery order on each partition.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import avsc from 'avsc';
import { readCdrSchema } from '../../src/cdr/avro-schema.ts';
import { HEADER } from '../../src/kafka/messages.ts';
import { createCdrGenerator } from '../../src/simulator/generate.ts';
import { postDelivery, signedDelivery } from './helpers/cdrs.ts';
import { startTestIngress } from './helpers/ingress.ts';
import { type ReadMessage, readTopic, uniqueTopic } from './helpers/kafka.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'worker-secret';
const RECORDS = 9000; // five chunks: four of them on the workers at once

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

describe('worker-thread pipeline on the real stack', () => {
  test('a large delivery with workers lands as without: same records, bytes and order per partition', async (t) => {
    const start = Date.UTC(2026, 0, 5);
    const items = createCdrGenerator({ seed: 'workers', orgs: 40 })
      .generate(start, start + 24 * 3_600_000)
      .slice(0, RECORDS)
      .map((c) => c.raw);
    assert.equal(items.length, RECORDS);
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
      assert.equal(answer.accepted, RECORDS);
      const read = await readTopic(stack.brokers, topic, RECORDS, 60_000);
      assert.equal(read.length, RECORDS);
      // in delivery order on each partition: offsets follow the records' order in the body
      const order = new Map(
        items.map((raw, i) => [(raw as Record<string, string>)['Report ID'], i]),
      );
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
  });
});
