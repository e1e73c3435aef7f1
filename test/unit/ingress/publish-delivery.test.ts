import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PreparedBatch } from '../../../src/cdr/batch.ts';
import { CdrError } from '../../../src/errors.ts';
import { readRecords } from '../../../src/ingress/parse-body.ts';
import { type Publish, publishDelivery } from '../../../src/ingress/publish-delivery.ts';
import type { EncodedBatch } from '../../../src/kafka/publish-cdrs.ts';
import { INGEST, minimalRawCdr } from '../../helpers/fixtures.ts';

// scanned: records parsed chunk by chunk
const slicesOf = (text: string) => readRecords(Buffer.from(text), 0);

const recording = (fail?: (call: number) => unknown) => {
  const batches: (PreparedBatch | EncodedBatch)[] = [];
  const publish: Publish = async (batch) => {
    batches.push(batch);
    const error = fail?.(batches.length);
    if (error !== undefined) throw error;
    return {
      accepted: batch.records.length,
      deadLettered: batch.dead.length,
      duplicatesInBatch: batch.duplicates,
    };
  };
  return { batches, publish };
};

const options = (publish: Publish, chunkRecords: number) => ({
  ingest: INGEST,
  publish,
  deadlineMs: 1000,
  chunkRecords,
});

const body = (n: number) =>
  JSON.stringify({ items: Array.from({ length: n }, (_, i) => minimalRawCdr(`r-${i}`)) });

describe('publishDelivery', () => {
  it('publishes every record in chunks and sums the counts', async () => {
    const { batches, publish } = recording();
    const counts = await publishDelivery(slicesOf(body(25)), options(publish, 10));
    assert.deepEqual(counts, { accepted: 25, deadLettered: 0, duplicatesInBatch: 0 });
    assert.deepEqual(
      batches.map((b) => b.records.length),
      [10, 10, 5],
    );
  });

  it('publishes an empty delivery once (so not_ready still answers 503)', async () => {
    const { batches, publish } = recording();
    const counts = await publishDelivery(slicesOf('{"items":[]}'), options(publish, 10));
    assert.equal(batches.length, 1);
    assert.equal(counts.accepted, 0);
  });

  it('refuses a record that is not valid JSON in a later chunk before anything is sent', async () => {
    const good = Array.from({ length: 12 }, (_, i) => JSON.stringify(minimalRawCdr(`r-${i}`)));
    const text = `{"items":[${good.join(',')},{"x":NaN},${good[0]}]}`;
    const { batches, publish } = recording();
    await assert.rejects(publishDelivery(slicesOf(text), options(publish, 5)), {
      code: 'body_invalid_json',
      message: /\(record 13\)/,
    });
    assert.equal(batches.length, 0);
  });

  it('sends no further chunk after a failed publish and rethrows its error', async () => {
    const { batches, publish } = recording((call) =>
      call === 2 ? new CdrError('kafka_timeout', 'no ack') : undefined,
    );
    await assert.rejects(publishDelivery(slicesOf(body(50)), options(publish, 10)), {
      code: 'kafka_timeout',
    });
    assert.ok(batches.length <= 3, `published ${batches.length} chunks`);
  });
});
