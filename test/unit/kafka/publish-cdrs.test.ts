import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { prepareBatch } from '../../../src/cdr/batch.ts';
import { createTopicIndex } from '../../../src/dedup/topic-index.ts';
import { HEADER } from '../../../src/kafka/messages.ts';
import type { CdrProducer, OutMessage, ReadRangeOptions } from '../../../src/kafka/port.ts';
import { createCdrPublisher } from '../../../src/kafka/publish-cdrs.ts';
import { createLogger } from '../../../src/log.ts';
import { INGEST, minimalRawCdr } from '../../helpers/fixtures.ts';
import { stubProducer } from '../../helpers/producer.ts';

const logger = createLogger('silent');

/** A producer that keeps what it was given, as the topic would. */
const recordingProducer = () => {
  const sent: OutMessage[] = [];
  const producer = stubProducer((topic, m) => {
    if (topic === 'cdr') sent.push(m);
  });
  return { sent, producer };
};

/** A topic index over `sent`: the first read hands over what is there, the tail nothing more. */
const indexOver = (sent: OutMessage[]) =>
  createTopicIndex({
    kafka: {
      readRange: async (o: ReadRangeOptions) => {
        if (o.follow === true) return { exists: true, partitions: 1, records: 0, ms: 0 };
        for (const m of sent) {
          o.onRecord({
            partition: 0,
            key: m.key,
            headers: m.headers,
            timestamp: Date.now(),
            value: m.value,
          });
        }
        return { exists: true, partitions: 1, records: sent.length, ms: 0 };
      },
    },
    topic: 'cdr',
    windowMs: 48 * 3_600_000,
    logger,
  });

const encoder = { schemaId: 1, encode: () => Buffer.from([0, 0, 0, 0, 1]) };

const publisherOf = (producer: CdrProducer, dedup?: ReturnType<typeof indexOver>) =>
  createCdrPublisher({
    producer,
    encoder: () => encoder,
    topic: 'cdr',
    dlqTopic: 'cdr.dlq',
    ...(dedup === undefined ? {} : { dedup }),
  });

describe('publishing with the dedup index', () => {
  it('answers not_ready while the index is warming', async () => {
    const { sent, producer } = recordingProducer();
    const index = indexOver(sent);
    const batch = prepareBatch([minimalRawCdr(randomUUID())], INGEST);
    await assert.rejects(publisherOf(producer, index).publish(batch, INGEST, 1000), {
      code: 'not_ready',
    });
    assert.equal(sent.length, 0);
    index.close();
  });

  it('drops repeats, publishes a changed record as version 2, and a restarted index knows both', async (t) => {
    const { sent, producer } = recordingProducer();
    const index = indexOver(sent);
    t.after(() => index.close());
    await index.start();
    const publisher = publisherOf(producer, index);
    const a = randomUUID();
    const b = randomUUID();
    const v1 = minimalRawCdr(a, { 'Report time': '2026-12-01T10:00:00.000Z', Duration: 10 });
    const first = await publisher.publish(
      prepareBatch([v1, minimalRawCdr(b)], INGEST),
      INGEST,
      1000,
    );
    assert.deepEqual(first, {
      accepted: 2,
      deadLettered: 0,
      duplicatesInBatch: 0,
      repeats: 0,
      versions: 0,
    });
    assert.equal(sent[0]?.headers[HEADER.version], undefined);
    assert.match(sent[0]?.headers[HEADER.contentHash] ?? '', /^[0-9a-f]{16}$/);

    const again = { ...INGEST, delivery_id: 'd-2', received_at: INGEST.received_at + 1 };
    const v2 = minimalRawCdr(a, { 'Report time': '2026-12-01T11:00:00.000Z', Duration: 12 });
    const second = await publisher.publish(
      prepareBatch([minimalRawCdr(b), v2], again),
      again,
      1000,
    );
    assert.deepEqual(second, {
      accepted: 1,
      deadLettered: 0,
      duplicatesInBatch: 0,
      repeats: 1,
      versions: 1,
    });
    const latest = sent.at(-1);
    assert.equal(latest?.headers[HEADER.reportId], a);
    assert.equal(latest?.headers[HEADER.version], '2');
    assert.equal(latest?.headers[HEADER.supersedesReportTime], '2026-12-01T10:00:00.000Z');
    assert.deepEqual(index.stats().repeats, 1);

    // a new process: its index is read from the topic's headers only
    const restarted = indexOver(sent);
    t.after(() => restarted.close());
    await restarted.start();
    assert.equal(restarted.stats().size, 2);
    const third = await publisherOf(producer, restarted).publish(
      prepareBatch([v1, v2, minimalRawCdr(b)], again),
      again,
      1000,
    );
    // v1 and v2 share a Report ID: the batch keeps the later one (a duplicate in batch), a repeat here
    assert.deepEqual(third, {
      accepted: 0,
      deadLettered: 0,
      duplicatesInBatch: 1,
      repeats: 2,
      versions: 0,
    });
    assert.equal(sent.length, 3);
  });

  it('without an index publishes everything, with the content hash header', async () => {
    const { sent, producer } = recordingProducer();
    const raw = minimalRawCdr(randomUUID());
    const publisher = publisherOf(producer);
    await publisher.publish(prepareBatch([raw], INGEST), INGEST, 1000);
    const counts = await publisher.publish(prepareBatch([raw], INGEST), INGEST, 1000);
    assert.deepEqual(counts, { accepted: 1, deadLettered: 0, duplicatesInBatch: 0 });
    assert.equal(sent.length, 2);
    assert.equal(sent[0]?.headers[HEADER.contentHash], sent[1]?.headers[HEADER.contentHash]);
  });
});
