import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { readCdrSchema } from '../../../src/cdr/avro-schema.ts';
import { createPrivacy } from '../../../src/cdr/privacy.ts';
import { CdrError } from '../../../src/errors.ts';
import { checkChunk, encodeBody, encodeChunk } from '../../../src/ingress/encode-chunk.ts';
import { readRecords } from '../../../src/ingress/parse-body.ts';
import { type Publish, publishDelivery } from '../../../src/ingress/publish-delivery.ts';
import {
  type ChunkAnswer,
  type ChunkJob,
  type ChunkWorkers,
  createChunkWorkers,
  publishBodyOnWorker,
  publishInParallel,
} from '../../../src/ingress/publish-parallel.ts';
import { httpStatus } from '../../../src/ingress/status.ts';
import type { OutMessage } from '../../../src/kafka/port.ts';
import { createCdrPublisher } from '../../../src/kafka/publish-cdrs.ts';
import { encoderFor } from '../../../src/kafka/wire-encoder.ts';
import { createCdrGenerator } from '../../../src/simulator/generate.ts';
import { INGEST, minimalRawCdr } from '../../helpers/fixtures.ts';
import { stubProducer } from '../../helpers/producer.ts';

const SCHEMA = { id: 7, text: readCdrSchema().text };
const CHUNK = 40;

/** Realistic records, with what a delivery may hold: repeats, a record that cannot be normalised. */
const deliveryOf = (n: number): Buffer => {
  const start = Date.UTC(2026, 0, 5);
  const raws = createCdrGenerator({ seed: 'parallel', orgs: 20 })
    .generate(start, start + 6 * 3_600_000)
    .slice(0, n)
    .map((c) => c.raw as Record<string, unknown>);
  raws.push({ ...(raws[3] as object) }); // the same Report ID later, in another chunk
  raws.splice(10, 0, { ...(raws[10] as object), 'Report ID': undefined }); // dead-lettered
  raws.splice(50, 0, { ...(raws[50] as object) }); // the same Report ID in one chunk
  return Buffer.from(JSON.stringify({ items: raws }));
};

/** The publisher of the sink over a producer that keeps what it is given, per topic. */
const recordingSink = () => {
  const sent: { topic: string; message: OutMessage }[] = [];
  const publisher = createCdrPublisher({
    producer: stubProducer((topic, message) => sent.push({ topic, message })),
    encoder: () => encoderFor(SCHEMA.id, SCHEMA.text),
    topic: 'cdr',
    dlqTopic: 'cdr.dlq',
  });
  const publish: Publish = (batch, ingest, deadlineMs) =>
    publisher.publish(batch, ingest, deadlineMs);
  return { sent, publish };
};

const comparable = (sent: { topic: string; message: OutMessage }[]) =>
  sent.map(({ topic, message }) => ({
    topic,
    key: message.key,
    value: Buffer.from(message.value as Buffer).toString('base64'),
    headers: message.headers,
  }));

/** Workers run inline, answering in the order `order` gives (to make chunks finish out of order). */
const inlineWorkers = (
  answerOrder: (pending: number) => number = () => 0,
  fail?: (job: ChunkJob, n: number) => ChunkAnswer | null,
): ChunkWorkers & { jobs: ChunkJob[] } => {
  const encoder = encoderFor(SCHEMA.id, SCHEMA.text);
  const pending: (() => void)[] = [];
  const jobs: ChunkJob[] = [];
  const settle = () => {
    queueMicrotask(() => {
      const at = answerOrder(pending.length);
      const [next] = pending.splice(Math.min(at, pending.length - 1), 1);
      next?.();
    });
  };
  return {
    jobs,
    size: 3,
    minBytes: 0,
    schema: () => SCHEMA,
    follow: () => false,
    run(job) {
      jobs.push(job);
      const n = jobs.length;
      return new Promise<ChunkAnswer>((resolve) => {
        pending.push(() => {
          const failed = fail?.(job, n) ?? null;
          if (failed !== null) return resolve(failed);
          try {
            if (job.kind === 'check') {
              checkChunk(job.records);
              return resolve({ ok: true, chunk: null });
            }
            if (job.kind === 'body') {
              const body = encodeBody(job.bytes, job.chunkRecords, job.ingest, encoder, null);
              return resolve({ ok: true, body });
            }
            resolve({ ok: true, chunk: encodeChunk(job.records, job.ingest, encoder, null) });
          } catch (e) {
            const error = e as CdrError;
            resolve({ ok: false, code: error.code, message: error.message });
          }
        });
        // answers come once the window is full or the last job is in
        setTimeout(settle, 0);
      });
    },
    close: async () => undefined,
  };
};

/** Kafka fails the second chunk: the delivery fails with it, and no chunk after it is sent. */
const failsAtSecondChunk = async (deliver: (publish: Publish) => Promise<unknown>) => {
  let calls = 0;
  const publish: Publish = async () => {
    calls += 1;
    if (calls === 2) throw new CdrError('kafka_timeout', 'no ack');
    return { accepted: 0, deadLettered: 0, duplicatesInBatch: 0 };
  };
  await assert.rejects(deliver(publish), (e: CdrError) => e.code === 'kafka_timeout');
  assert.equal(calls, 2);
};

/** Two workers without privacy settings, closed after the suite. */
const suiteWorkers = () => {
  const workers = createChunkWorkers({
    size: 2,
    minBytes: 0,
    privacy: null,
    encoder: () => encoderFor(SCHEMA.id, SCHEMA.text),
  });
  after(() => workers.close());
  return workers;
};

/** Workers that drop and hash fields, and those settings (for the inline path to compare). */
const privateWorkers = () => {
  const privacy = createPrivacy({ drop: ['calling_number'], hash: ['called_number'], key: 'k' });
  const private_ = createChunkWorkers({
    size: 1,
    minBytes: 0,
    privacy,
    encoder: () => encoderFor(SCHEMA.id, SCHEMA.text),
  });
  return { privacy, private_ };
};

const options = (publish: Publish) => ({
  ingest: INGEST,
  publish,
  deadlineMs: 1000,
  chunkRecords: CHUNK,
});

describe('publishInParallel', () => {
  const workers = suiteWorkers();

  it('puts the same messages on the topics, in the same order, as the inline path', async () => {
    const body = deliveryOf(300);
    const inline = recordingSink();
    const inlineCounts = await publishDelivery(readRecords(body, 0), options(inline.publish));
    const parallel = recordingSink();
    const counts = await publishInParallel(readRecords(body, 0), {
      ...options(parallel.publish),
      workers,
      schema: SCHEMA,
    });
    assert.deepEqual(counts, inlineCounts);
    assert.equal(counts.deadLettered, 1);
    assert.equal(counts.duplicatesInBatch, 2);
    assert.ok(parallel.sent.length > 300);
    assert.deepEqual(comparable(parallel.sent), comparable(inline.sent));
  });

  it('encodes a delivery of fewer chunks than workers in parts, sent as the chunk inline would be', async () => {
    const body = deliveryOf(300); // one chunk of 400, in two parts: a Report ID repeated across them
    const inline = recordingSink();
    const inlineCounts = await publishDelivery(readRecords(body, 0), {
      ...options(inline.publish),
      chunkRecords: 400,
    });
    const parallel = recordingSink();
    const encoded: number[] = [];
    const counting: ChunkWorkers = {
      ...workers,
      run: (job) => {
        if (job.kind === 'encode') encoded.push(job.records.bounds.length / 2);
        return workers.run(job);
      },
    };
    const counts = await publishInParallel(readRecords(body, 0), {
      ...options(parallel.publish),
      chunkRecords: 400,
      workers: counting,
      schema: SCHEMA,
    });
    assert.deepEqual(encoded, [200, 103]);
    assert.deepEqual(counts, inlineCounts);
    assert.equal(counts.duplicatesInBatch, 2);
    assert.deepEqual(comparable(parallel.sent), comparable(inline.sent));
  });

  it('applies the privacy settings on the workers as inline', async () => {
    const { privacy, private_ } = privateWorkers();
    try {
      const body = deliveryOf(100);
      const inline = recordingSink();
      await publishDelivery(readRecords(body, 0), { ...options(inline.publish), privacy });
      const parallel = recordingSink();
      await publishInParallel(readRecords(body, 0), {
        ...options(parallel.publish),
        workers: private_,
        schema: private_.schema() ?? SCHEMA,
      });
      assert.deepEqual(comparable(parallel.sent), comparable(inline.sent));
      const plain = recordingSink();
      await publishDelivery(readRecords(body, 0), options(plain.publish));
      assert.notDeepEqual(comparable(parallel.sent), comparable(plain.sent));
    } finally {
      await private_.close();
    }
  });

  it('sends chunks in delivery order when the workers finish them out of order', async () => {
    const body = deliveryOf(300);
    const inline = recordingSink();
    await publishDelivery(readRecords(body, 0), options(inline.publish));
    const fake = inlineWorkers((n) => n - 1); // the latest job first
    const parallel = recordingSink();
    await publishInParallel(readRecords(body, 0), {
      ...options(parallel.publish),
      workers: fake,
      schema: SCHEMA,
    });
    assert.deepEqual(comparable(parallel.sent), comparable(inline.sent));
    assert.ok(fake.jobs.filter((j) => j.kind === 'encode').length >= 8);
  });

  it('a failing chunk ends the delivery with its error (503): nothing after it is sent', async () => {
    const body = deliveryOf(300);
    const fake = inlineWorkers(
      (n) => n - 1,
      (job) =>
        job.kind === 'encode' && job.records.firstIndex === 3 * CHUNK
          ? { ok: false, code: 'worker_failed', message: 'a worker thread stopped' }
          : null,
    );
    const chunks: number[] = [];
    const publish: Publish = async (batch) => {
      chunks.push(batch.records.length);
      return { accepted: batch.records.length, deadLettered: 0, duplicatesInBatch: 0 };
    };
    await assert.rejects(
      publishInParallel(readRecords(body, 0), {
        ...options(publish),
        workers: fake,
        schema: SCHEMA,
      }),
      (e: CdrError) => e.code === 'worker_failed' && httpStatus(e.code) === 503,
    );
    assert.equal(chunks.length, 3, 'the three chunks before the failing one, no more');
  });

  /** `n` records, record `bad` (0-based) not JSON: refused whole, its number named, nothing sent. */
  const refusedWhole = async (n: number, bad: number, text: string) => {
    const items = Array.from({ length: n }, (_, i) => JSON.stringify(minimalRawCdr(`r-${i}`)));
    items[bad] = text;
    const body = Buffer.from(`{"items":[${items.join(',')}]}`);
    const { sent, publish } = recordingSink();
    await assert.rejects(
      publishInParallel(readRecords(body, 0), { ...options(publish), workers, schema: SCHEMA }),
      (e: CdrError) => e.code === 'body_invalid_json' && e.message.includes(`(record ${bad + 1})`),
    );
    assert.equal(sent.length, 0);
  };

  it('a syntax error in a later chunk refuses the whole delivery (nothing sent)', () =>
    refusedWhole(200, 170, '{"Report ID": "r-170", "oops" 1}'));

  it('a syntax error in the first chunk is found on the workers too', () =>
    refusedWhole(100, 5, '{"Report ID": tru}'));

  it('a Kafka failure on a chunk ends the delivery: the chunks after it are not sent', async () => {
    await failsAtSecondChunk((publish) =>
      publishInParallel(readRecords(deliveryOf(300), 0), {
        ...options(publish),
        workers,
        schema: SCHEMA,
      }),
    );
  });

  it('refuses slices parsed whole (those are published inline)', async () => {
    const { publish } = recordingSink();
    await assert.rejects(
      publishInParallel(readRecords(deliveryOf(5)), {
        ...options(publish),
        workers,
        schema: SCHEMA,
      }),
      /parsed whole/,
    );
  });

  it('has no schema to give until the sink has an encoder that names its text', () => {
    const none = createChunkWorkers({
      size: 0,
      minBytes: 0,
      privacy: null,
      encoder: () => ({ schemaId: 1, encode: () => Buffer.alloc(0) }),
    });
    assert.equal(none.schema(), null);
    assert.deepEqual(workers.schema(), SCHEMA);
  });
});

describe('publishBodyOnWorker', () => {
  const workers = suiteWorkers();
  const onWorker = (body: Buffer, publish: Publish, chosen: ChunkWorkers = workers) =>
    publishBodyOnWorker(new Uint8Array(body), {
      ...options(publish),
      workers: chosen,
      schema: SCHEMA,
    });

  it('puts the same messages on the topics, in the same order and chunks, as the inline path', async () => {
    const body = deliveryOf(300);
    const inline = recordingSink();
    const inlineCounts = await publishDelivery(readRecords(body), options(inline.publish));
    const chunks: number[] = [];
    const whole = recordingSink();
    const { received, counts } = await onWorker(body, (batch, ingest, deadline) => {
      chunks.push(batch.records.length + batch.dead.length);
      return whole.publish(batch, ingest, deadline);
    });
    assert.equal(received, 303);
    assert.deepEqual(counts, inlineCounts);
    assert.equal(counts.deadLettered, 1);
    assert.equal(counts.duplicatesInBatch, 2);
    assert.equal(chunks.length, Math.ceil(303 / CHUNK));
    assert.deepEqual(comparable(whole.sent), comparable(inline.sent));
  });

  it('refuses a body with a syntax error, no records array, or bytes that are not UTF-8, sending nothing', async () => {
    const { sent, publish } = recordingSink();
    const refused = async (body: Buffer, code: string) =>
      assert.rejects(onWorker(body, publish), (e: CdrError) => e.code === code);
    const good = deliveryOf(100).toString();
    await refused(Buffer.from(`${good.slice(0, -3)},]}`), 'body_invalid_json');
    await refused(Buffer.from('{"records":[]}'), 'body_no_records');
    await refused(
      Buffer.concat([Buffer.from('{"items":["'), Buffer.from([0xff]), Buffer.from('"]}')]),
      'body_invalid_encoding',
    );
    assert.equal(sent.length, 0);
  });

  it('a Kafka failure on a chunk ends the delivery: the chunks after it are not sent', async () => {
    await failsAtSecondChunk((publish) => onWorker(deliveryOf(300), publish));
  });

  it('applies the privacy settings on the worker as inline', async () => {
    const { privacy, private_ } = privateWorkers();
    try {
      const body = deliveryOf(100);
      const inline = recordingSink();
      await publishDelivery(readRecords(body), { ...options(inline.publish), privacy });
      const whole = recordingSink();
      await onWorker(body, whole.publish, private_);
      assert.deepEqual(comparable(whole.sent), comparable(inline.sent));
    } finally {
      await private_.close();
    }
  });
});
