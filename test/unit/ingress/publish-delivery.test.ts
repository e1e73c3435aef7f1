import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCdrSchema } from '../../../src/cdr/avro-schema.ts';
import type { PreparedBatch } from '../../../src/cdr/batch.ts';
import { contentHash } from '../../../src/dedup/content-hash.ts';
import { CdrError } from '../../../src/errors.ts';
import { readRecords } from '../../../src/ingress/parse-body.ts';
import { type Publish, publishDelivery } from '../../../src/ingress/publish-delivery.ts';
import type { EncodedBatch } from '../../../src/kafka/publish-cdrs.ts';
import { encoderFor } from '../../../src/kafka/wire-encoder.ts';
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

  it('with the encoder, transcodes each chunk from the bytes: the same records, hashes and values as parsed objects', async () => {
    const raws: unknown[] = Array.from({ length: 23 }, (_, i) => minimalRawCdr(`r-${i % 20}`));
    raws[4] = { ...(raws[4] as object), Location: 'a "quoted" place' }; // the usual path, in its chunk
    raws[8] = { Location: 'no ids' }; // dead-lettered
    const text = JSON.stringify({ items: raws });
    const encoder = encoderFor(3, readCdrSchema().text);
    const objects = recording();
    const bytes = recording();
    const usual = await publishDelivery(slicesOf(text), options(objects.publish, 10));
    const counts = await publishDelivery(slicesOf(text), {
      ...options(bytes.publish, 10),
      encoder,
    });
    // r-0 to r-2 again in the last chunk (published again: as new as the first), r-8 without ids
    assert.deepEqual(counts, { accepted: 22, deadLettered: 1, duplicatesInBatch: 3 });
    assert.deepEqual(counts, usual);
    assert.ok(bytes.batches.every((b) => 'encoded' in b));
    const hashOf = (b: PreparedBatch | EncodedBatch) =>
      b.records.map((r) => [
        r.reportId,
        r.orgId,
        r.reportTime,
        r.callEnd,
        'hash' in r ? r.hash : contentHash(r.record),
      ]);
    assert.deepEqual(bytes.batches.map(hashOf), objects.batches.map(hashOf));
    const valuesOf = (b: PreparedBatch | EncodedBatch) =>
      b.records.map((r) =>
        'value' in r && r.value !== null
          ? Buffer.from(r.value).toString('hex')
          : Buffer.from(encoder.encode(r.record)).toString('hex'),
      );
    assert.deepEqual(bytes.batches.map(valuesOf), objects.batches.map(valuesOf));
    assert.deepEqual(
      bytes.batches.map((b) => b.dead.map((d) => [d.index, d.error.code])),
      objects.batches.map((b) => b.dead.map((d) => [d.index, d.error.code])),
    );
  });
});
