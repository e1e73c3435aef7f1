import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readCdrSchema } from '../../../src/cdr/avro-schema.ts';
import type { PreparedBatch } from '../../../src/cdr/batch.ts';
import type { Ingest } from '../../../src/cdr/normalise.ts';
import { CdrError } from '../../../src/errors.ts';
import { createApp, type Drain, type IngressSettings } from '../../../src/ingress/app.ts';
import { DELIVERY_CHUNK_RECORDS } from '../../../src/ingress/publish-delivery.ts';
import {
  type ChunkJob,
  type ChunkWorkers,
  createChunkWorkers,
} from '../../../src/ingress/publish-parallel.ts';
import { type ByteBudget, createByteBudget } from '../../../src/ingress/read-body.ts';
import { sign } from '../../../src/ingress/verify-signature.ts';
import type { PublishCounts } from '../../../src/kafka/publish-cdrs.ts';
import { encoderFor } from '../../../src/kafka/wire-encoder.ts';
import { createRepeatedWarnings } from '../../../src/log-repeats.ts';
import { createMetrics, type Metrics } from '../../../src/metrics.ts';
import { fullRawCdr, minimalRawCdr } from '../../helpers/fixtures.ts';
import { ingressSettings } from '../../helpers/ingress.ts';
import { recordingLogger } from '../../helpers/logger.ts';
import { parsePrometheusText, sampleValue } from '../../helpers/prometheus.ts';
import { watchedStream } from '../../helpers/streams.ts';

const SECRET = 'partner-hub-secret';
const PATH = '/webhooks/cdr';
const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);
const MARKER = 'PAYLOAD-MARKER-4711';

const SETTINGS: IngressSettings = ingressSettings({
  secrets: [SECRET],
  spoolBytes: 2048, // larger test bodies go through a spool file
  maxDecodedBytes: 256 * 1024,
  retryAfterSeconds: 17,
});

type PublishCall = { batch: PreparedBatch; ingest: Ingest; deadlineMs: number };

const createHarness = (
  opts: {
    settings?: Partial<IngressSettings>;
    publishError?: unknown;
    ready?: boolean;
    drain?: Drain;
    metrics?: Metrics;
    budget?: ByteBudget;
    workers?: ChunkWorkers;
    /** Awaited by the publish of the first delivery only (holds it while others come). */
    holdFirst?: Promise<void>;
  } = {},
) => {
  const calls: PublishCall[] = [];
  const { logger, lines: logs } = recordingLogger();
  const warnings = createRepeatedWarnings(logger);
  const app = createApp({
    settings: { ...SETTINGS, ...opts.settings },
    publish: async (batch, ingest, deadlineMs): Promise<PublishCounts> => {
      calls.push({ batch: batch as PreparedBatch, ingest, deadlineMs });
      if (calls.length === 1 && opts.holdFirst !== undefined) await opts.holdFirst;
      if (opts.publishError !== undefined) throw opts.publishError;
      return {
        accepted: batch.records.length,
        deadLettered: batch.dead.length,
        duplicatesInBatch: batch.duplicates,
      };
    },
    readiness: () => ({
      ready: opts.ready ?? true,
      checks: { producer: opts.ready ?? true, schema: true },
    }),
    logger,
    now: () => NOW,
    ...(opts.drain === undefined ? {} : { drain: opts.drain }),
    ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }),
    ...(opts.budget === undefined ? {} : { budget: opts.budget }),
    ...(opts.workers === undefined ? {} : { workers: opts.workers }),
    warnings,
  });
  return { app, calls, logs, warnings };
};

type App = ReturnType<typeof createHarness>['app'];

const bytes = (body: string | Uint8Array): Uint8Array<ArrayBuffer> =>
  typeof body === 'string' ? new TextEncoder().encode(body) : new Uint8Array(body);

/** POSTs a body signed with SECRET (unless headers override), as application/json. */
const post = (app: App, body: string | Uint8Array, headers: Record<string, string> = {}) => {
  const b = bytes(body);
  return app.request(PATH, {
    method: 'POST',
    body: b,
    headers: {
      'content-type': 'application/json',
      'x-spark-signature': sign(Buffer.from(b), SECRET),
      ...headers,
    },
  });
};

const postStream = (
  app: App,
  stream: ReadableStream<Uint8Array>,
  headers: Record<string, string>,
) =>
  app.request(
    new Request(`http://localhost${PATH}`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers,
    }),
  );

type Answer = { status: number; json: Record<string, unknown>; text: string; headers: Headers };
const answer = async (res: Response | Promise<Response>): Promise<Answer> => {
  const r = await res;
  const text = await r.text();
  return { status: r.status, json: JSON.parse(text), text, headers: r.headers };
};

const items = (...records: unknown[]) => JSON.stringify({ items: records });

describe('POST webhook: accepted deliveries', () => {
  it('answers 200 with counts after publishing the normalised records', async () => {
    const h = createHarness();
    const body = items(
      fullRawCdr({ 'Report ID': 'r-1', Duration: '61' }),
      minimalRawCdr('r-2', { Answered: 'false', 'Start time': '2023-10-12 21:22:32.621' }),
    );
    const res = await answer(post(h.app, body));
    assert.equal(res.status, 200);
    assert.equal(typeof res.json.deliveryId, 'string');
    assert.deepEqual(
      { ...res.json, deliveryId: 'x' },
      { deliveryId: 'x', received: 2, accepted: 2, deadLettered: 0, duplicatesInBatch: 0 },
    );
    assert.equal(h.calls.length, 1);
    const call = h.calls[0];
    assert.ok(call !== undefined);
    assert.deepEqual(
      call.batch.records.map((r) => r.reportId),
      ['r-1', 'r-2'],
    );
    const [first, second] = call.batch.records;
    assert.equal(first?.record.duration, 61);
    assert.equal(first?.record.answered, true);
    assert.equal(second?.record.answered, false);
    assert.equal(second?.record.start_time, Date.UTC(2023, 9, 12, 21, 22, 32, 621));
    assert.deepEqual(call.ingest, {
      feed: 'billing',
      source: 'webhook',
      received_at: NOW,
      delivery_id: res.json.deliveryId,
    });
    assert.equal(second?.record.ingest, call.ingest);
    assert.ok(call.deadlineMs > 0 && call.deadlineMs <= SETTINGS.ackTimeoutMs);
  });

  it('gives every delivery its own id', async () => {
    const h = createHarness();
    const a = await answer(post(h.app, items(minimalRawCdr('a'))));
    const b = await answer(post(h.app, items(minimalRawCdr('a'))));
    assert.notEqual(a.json.deliveryId, b.json.deliveryId);
  });

  it('accepts each documented wrapper', async () => {
    const one = minimalRawCdr('r');
    for (const body of [
      JSON.stringify([one]),
      JSON.stringify({ items: [one] }),
      JSON.stringify({ data: { items: [one] } }),
      JSON.stringify({ body: { items: [one] } }),
    ]) {
      const h = createHarness();
      const res = await answer(post(h.app, body));
      assert.equal(res.status, 200, body);
      assert.equal(h.calls[0]?.batch.records[0]?.reportId, 'r');
    }
  });

  it('accepts Content-Type with parameters and +json media types', async () => {
    for (const type of [
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/vnd.webex.cdr+json',
    ]) {
      const h = createHarness();
      const res = await post(h.app, items(minimalRawCdr('r')), { 'content-type': type });
      assert.equal(res.status, 200, type);
    }
  });

  it('accepts an empty delivery and publishes nothing into it', async () => {
    const h = createHarness();
    const res = await answer(post(h.app, '{"items":[]}'));
    assert.equal(res.status, 200);
    assert.equal(res.json.received, 0);
    assert.equal(h.calls[0]?.batch.records.length, 0);
  });

  it('accepts gzip signed over the wire bytes; over the decoded bytes only when configured', async () => {
    const json = Buffer.from(items(minimalRawCdr('gz')));
    const gz = gzipSync(json);
    const wire = createHarness();
    const overWire = await post(wire.app, gz, {
      'content-encoding': 'gzip',
      'x-spark-signature': sign(gz, SECRET),
    });
    assert.equal(overWire.status, 200);
    assert.equal(wire.calls[0]?.batch.records[0]?.reportId, 'gz');

    const strict = createHarness();
    const refused = await post(strict.app, gz, {
      'content-encoding': 'gzip',
      'x-spark-signature': sign(json, SECRET),
    });
    assert.equal(refused.status, 401, 'decoded-bytes signatures are off by default');
    assert.equal(strict.calls.length, 0);

    const tolerant = createHarness({ settings: { signatureOverDecoded: true } });
    const overDecoded = await post(tolerant.app, gz, {
      'content-encoding': 'gzip',
      'x-spark-signature': sign(json, SECRET),
    });
    assert.equal(overDecoded.status, 200);
    assert.equal(tolerant.calls[0]?.batch.records[0]?.reportId, 'gz');
  });

  it('never decodes a gzip body whose signature does not match (unless decoded signatures are on)', async () => {
    const h = createHarness();
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
    const res = await answer(
      post(h.app, bomb, { 'content-encoding': 'gzip', 'x-spark-signature': '0'.repeat(40) }),
    );
    assert.equal(res.status, 401, 'refused for the signature, not 413 for the decoded size');
  });

  it('accepts an unsigned delivery in insecure mode', async () => {
    const h = createHarness({ settings: { secrets: [], insecureNoSignature: true } });
    const res = await h.app.request(PATH, {
      method: 'POST',
      body: items(minimalRawCdr('r')),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 200);
    assert.equal(h.calls.length, 1);
  });

  it('publishes the good records of a batch and dead-letters the poison one', async () => {
    const h = createHarness();
    const poison = { 'Org UUID': 'org-1', User: MARKER };
    const res = await answer(
      post(h.app, items(minimalRawCdr('good-1'), poison, 'not an object', minimalRawCdr('good-2'))),
    );
    assert.equal(res.status, 200);
    assert.equal(res.json.accepted, 2);
    assert.equal(res.json.deadLettered, 2);
    const batch = h.calls[0]?.batch;
    assert.deepEqual(
      batch?.records.map((r) => r.reportId),
      ['good-1', 'good-2'],
    );
    assert.deepEqual(
      batch?.dead.map((d) => [d.index, d.error.code]),
      [
        [1, 'record_missing_report_id'],
        [2, 'record_not_object'],
      ],
    );
    assert.deepEqual(batch?.dead[0]?.raw, poison);
  });

  it('dead-letters a record nested too deeply instead of crashing', async () => {
    const h = createHarness({ settings: { maxBodyBytes: 1024 * 1024 } });
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const body = `{"items":[{"Report ID":"d","Org UUID":"o","x":${deep}},{"Report ID":"ok","Org UUID":"o"}]}`;
    const res = await answer(post(h.app, body));
    assert.equal(res.status, 200);
    assert.equal(res.json.accepted, 1);
    assert.equal(res.json.deadLettered, 1);
    assert.equal(h.calls[0]?.batch.dead[0]?.error.code, 'record_invalid_text');
  });

  it('dead-letters a record with a lone surrogate', async () => {
    const h = createHarness();
    const body = '{"items":[{"Report ID":"s","Org UUID":"o","User":"\\ud800"}]}';
    const res = await answer(post(h.app, body));
    assert.equal(res.status, 200);
    assert.equal(res.json.deadLettered, 1);
    assert.equal(h.calls[0]?.batch.dead[0]?.error.code, 'record_invalid_text');
  });

  it('publishes a Report ID once per batch, the latest Report time winning', async () => {
    const h = createHarness();
    const body = items(
      minimalRawCdr('dup', { 'Report time': '2023-10-12T21:30:00Z', User: 'newer' }),
      minimalRawCdr('dup', { 'Report time': '2023-10-12T21:00:00Z', User: 'older' }),
      minimalRawCdr('other'),
    );
    const res = await answer(post(h.app, body));
    assert.equal(res.status, 200);
    assert.equal(res.json.received, 3);
    assert.equal(res.json.accepted, 2);
    assert.equal(res.json.duplicatesInBatch, 1);
    const records = h.calls[0]?.batch.records ?? [];
    assert.equal(records.filter((r) => r.reportId === 'dup').length, 1);
    assert.equal(records.find((r) => r.reportId === 'dup')?.record.user, 'newer');
  });

  it('takes 100 000 records in one delivery, published in chunks of bounded size', async () => {
    const raws = Array.from({ length: 100_000 }, (_, i) => ({
      'Report ID': `r-${i}`,
      'Org UUID': `o-${i % 7}`,
    }));
    const h = createHarness({ settings: { maxBodyBytes: 16 * 1024 * 1024 } });
    const res = await answer(post(h.app, JSON.stringify({ items: raws })));
    assert.equal(res.status, 200);
    assert.equal(res.json.accepted, 100_000);
    assert.equal(h.calls.length, 100_000 / DELIVERY_CHUNK_RECORDS);
    assert.ok(h.calls.every((c) => c.batch.records.length <= DELIVERY_CHUNK_RECORDS));
    const ids = h.calls.flatMap((c) => c.batch.records.map((r) => r.reportId));
    assert.deepEqual(
      ids,
      raws.map((r) => r['Report ID']),
    );
  });
});

describe('POST webhook: with worker threads (INGRESS_WORKERS)', () => {
  const schemaText = readCdrSchema().text;
  const workersOf = (minBytes: number) =>
    createChunkWorkers({
      size: 2,
      minBytes,
      privacy: null,
      encoder: () => encoderFor(1, schemaText),
    });
  const bigBody = (n: number) =>
    Array.from({ length: n }, (_, i) => JSON.stringify(minimalRawCdr(`r-${i}`)));
  const settings = { maxBodyBytes: 16 * 1024 * 1024, maxDecodedBytes: 16 * 1024 * 1024 };

  it('encodes a delivery over their minimum on the workers, published in order', async () => {
    const workers = workersOf(1024);
    try {
      const h = createHarness({ settings, workers });
      const records = bigBody(5000);
      const res = await answer(post(h.app, `{"items":[${records.join(',')}]}`));
      assert.equal(res.status, 200);
      assert.equal(res.json.accepted, 5000);
      assert.equal(h.calls.length, 3);
      assert.ok(h.calls.every((c) => 'encoded' in c.batch));
      const ids = h.calls.flatMap((c) => c.batch.records.map((r) => r.reportId));
      assert.deepEqual(
        ids,
        records.map((_, i) => `r-${i}`),
      );
      const line = h.logs.find((l) => l.msg === 'delivery');
      assert.equal(line?.fields?.workers, true);
      // spooled (over 2 KiB here): hashed and scanned on a worker while it was read
      assert.equal(line?.fields?.analysedOnWorker, true);
      // below the minimum: inline, as without workers
      const small = await answer(post(h.app, items(minimalRawCdr('s'))));
      assert.equal(small.status, 200);
      assert.ok(!('encoded' in (h.calls.at(-1)?.batch ?? {})));
    } finally {
      await workers.close();
    }
  });

  it('checks the signature of a spooled body first, then the scan the worker made (401, then 400)', async () => {
    const workers = workersOf(0);
    try {
      const h = createHarness({ settings, workers });
      const text = Buffer.from(`{"items":[${bigBody(3000).join(',')}]}`);
      const bad = Buffer.concat([
        text.subarray(0, 100_000),
        Buffer.from([0xff]),
        text.subarray(100_000),
      ]);
      const forged = await answer(
        post(h.app, bad, { 'x-spark-signature': sign(Buffer.from('other'), SECRET) }),
      );
      assert.equal(forged.status, 401);
      assert.equal(forged.json.error, 'signature_invalid');
      const signed = await answer(post(h.app, bad));
      assert.equal(signed.status, 400);
      assert.equal(signed.json.error, 'body_invalid_encoding');
      const lines = h.logs.filter((l) => l.msg === 'delivery');
      assert.deepEqual(
        lines.map((l) => l.fields?.analysedOnWorker),
        [undefined, true],
      );
      assert.equal(h.calls.length, 0);
      // and a body the worker found fine is published whole
      const good = await answer(post(h.app, text));
      assert.equal(good.status, 200);
      assert.equal(good.json.accepted, 3000);
      assert.equal(workers.idle(), 2);
    } finally {
      await workers.close();
    }
  });

  it('refuses the whole delivery for a syntax error in a later chunk (400, nothing published)', async () => {
    const workers = workersOf(0);
    try {
      const h = createHarness({ settings, workers });
      const records = bigBody(5000);
      records[4500] = '{"Report ID": "r-4500",}';
      const res = await answer(post(h.app, `{"items":[${records.join(',')}]}`));
      assert.equal(res.status, 400);
      assert.equal(res.json.error, 'body_invalid_json');
      assert.equal(h.calls.length, 0);
    } finally {
      await workers.close();
    }
  });

  it('answers 503 worker_failed when a worker dies with a chunk, and sends nothing after it', async () => {
    const real = workersOf(0);
    let jobs = 0;
    const dying: ChunkWorkers = {
      ...real,
      run: (job) => {
        jobs += 1;
        // the second chunk's encoding: its worker died
        if (job.kind === 'encode' && job.records.firstIndex > 0) {
          return Promise.reject(new CdrError('worker_failed', 'a worker thread stopped'));
        }
        return real.run(job);
      },
    };
    try {
      const h = createHarness({ settings, workers: dying });
      const res = await answer(post(h.app, `{"items":[${bigBody(5000).join(',')}]}`));
      assert.equal(res.status, 503);
      assert.equal(res.json.error, 'worker_failed');
      assert.ok(h.calls.length <= 1, 'at most the chunk before the failed one');
      assert.ok(jobs > 2);
    } finally {
      await real.close();
    }
  });
});

describe('POST webhook: a body in memory handed whole to a worker while another is published', () => {
  const schemaText = readCdrSchema().text;
  // bodies stay in memory (under spoolBytes and the whole-parse size)
  const settings = { spoolBytes: 8 * 1024 * 1024, maxBodyBytes: 8 * 1024 * 1024 };
  /** Real workers; the jobs they were given, by kind. */
  const countedWorkers = (fail?: ChunkJob['kind']) => {
    const real = createChunkWorkers({
      size: 2,
      minBytes: 1024,
      privacy: null,
      encoder: () => encoderFor(1, schemaText),
    });
    const kinds: ChunkJob['kind'][] = [];
    const workers: ChunkWorkers = {
      ...real,
      run: (job) => {
        kinds.push(job.kind);
        if (job.kind === fail) {
          return Promise.reject(new CdrError('worker_failed', 'a worker thread stopped'));
        }
        return real.run(job);
      },
    };
    return { workers, kinds, close: () => real.close() };
  };
  const body = (n: number) =>
    `{"items":[${Array.from({ length: n }, (_, i) => JSON.stringify(minimalRawCdr(`r-${i}`))).join(',')}]}`;

  /**
   * A harness whose first delivery (one record, inline) is held in its
   * publish while `during` posts more; then released and answered 200.
   */
  const whileOneIsPublished = async (
    workers: ChunkWorkers,
    during: (h: ReturnType<typeof createHarness>) => Promise<void>,
  ) => {
    let release: () => void = () => {};
    const holdFirst = new Promise<void>((r) => {
      release = r;
    });
    const h = createHarness({ settings, workers, holdFirst });
    const first = answer(post(h.app, items(minimalRawCdr('first'))));
    while (h.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    await during(h);
    release();
    assert.equal((await first).status, 200);
    return h;
  };

  it('one job parses and encodes it; its chunks are published in order, as inline', async () => {
    const { workers, kinds, close } = countedWorkers();
    try {
      const h = await whileOneIsPublished(workers, async (h) => {
        const res = await answer(post(h.app, body(5000)));
        assert.equal(res.status, 200);
        assert.equal(res.json.received, 5000);
        assert.equal(res.json.accepted, 5000);
      });
      assert.deepEqual(kinds, ['body']);
      const later = h.calls.slice(1);
      assert.deepEqual(
        later.map((c) => c.batch.records.length),
        [2000, 2000, 1000],
      );
      assert.ok(later.every((c) => 'encoded' in c.batch));
      assert.deepEqual(
        later.flatMap((c) => c.batch.records.map((r) => r.reportId)),
        Array.from({ length: 5000 }, (_, i) => `r-${i}`),
      );
      const line = h.logs.find((l) => l.msg === 'delivery' && l.fields?.records === 5000);
      assert.equal(line?.fields?.workers, true);
      // alone, the same body is published here: no hand-over to wait for
      const alone = await answer(post(h.app, body(5000)));
      assert.equal(alone.status, 200);
      assert.deepEqual(kinds, ['body']);
      assert.ok(!('encoded' in (h.calls.at(-1)?.batch ?? {})));
    } finally {
      await close();
    }
  });

  it('also while another is still being received', async () => {
    const { workers, kinds, close } = countedWorkers();
    try {
      const h = createHarness({ settings, workers });
      const first = Buffer.from(items(minimalRawCdr('first')));
      let finish: () => void = () => {};
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new Uint8Array(first.subarray(0, 10)));
          finish = () => {
            controller.enqueue(new Uint8Array(first.subarray(10)));
            controller.close();
          };
        },
      });
      const receiving = answer(
        postStream(h.app, stream, {
          'content-type': 'application/json',
          'x-spark-signature': sign(first, SECRET),
        }),
      );
      const res = await answer(post(h.app, body(3000)));
      assert.equal(res.status, 200);
      assert.deepEqual(kinds, ['body']);
      finish();
      assert.equal((await receiving).status, 200);
      assert.deepEqual(kinds, ['body'], 'the first, alone by then, inline');
    } finally {
      await close();
    }
  });

  it('refuses it whole for a syntax error near its end (400, nothing published)', async () => {
    const { workers, kinds, close } = countedWorkers();
    try {
      const h = await whileOneIsPublished(workers, async (h) => {
        const text = body(5000).replace('"r-4999"', '"r-4999",');
        const res = await answer(post(h.app, text));
        assert.equal(res.status, 400);
        assert.equal(res.json.error, 'body_invalid_json');
      });
      assert.deepEqual(kinds, ['body']);
      assert.equal(h.calls.length, 1, 'only the first delivery');
    } finally {
      await close();
    }
  });

  it('answers 503 worker_failed when its worker dies, nothing published', async () => {
    const { workers, close } = countedWorkers('body');
    try {
      const h = await whileOneIsPublished(workers, async (h) => {
        const res = await answer(post(h.app, body(3000)));
        assert.equal(res.status, 503);
        assert.equal(res.json.error, 'worker_failed');
      });
      assert.equal(h.calls.length, 1, 'only the first delivery');
    } finally {
      await close();
    }
  });
});

describe('POST webhook: refused deliveries', () => {
  it('answers 401 for a missing signature without reading the body', async () => {
    const h = createHarness();
    const { stream, state } = watchedStream([bytes(items(minimalRawCdr('r')))]);
    const res = await answer(postStream(h.app, stream, { 'content-type': 'application/json' }));
    assert.equal(res.status, 401);
    assert.equal(res.json.error, 'signature_missing');
    assert.equal(state.pulls, 0);
    assert.equal(h.calls.length, 0);
  });

  it('answers 401 for a malformed signature without reading the body', async () => {
    const h = createHarness();
    const { stream, state } = watchedStream([bytes(items(minimalRawCdr('r')))]);
    const res = await answer(
      postStream(h.app, stream, {
        'content-type': 'application/json',
        'x-spark-signature': 'A'.repeat(40),
      }),
    );
    assert.equal(res.status, 401);
    assert.equal(res.json.error, 'signature_invalid');
    assert.equal(state.pulls, 0);
  });

  it('answers 401 for forged signatures and never publishes', async () => {
    const body = items(minimalRawCdr('r', { User: MARKER }));
    const reserialised = JSON.stringify(JSON.parse(body), null, 1);
    for (const signature of [
      sign(body, 'wrong-secret'),
      sign(reserialised, SECRET),
      sign(`${body}\n`, SECRET),
      sign(body, SECRET).toUpperCase(),
      sign(body, SECRET).slice(1),
      sign(body, SECRET, 'sha256'),
    ]) {
      const h = createHarness();
      const res = await answer(post(h.app, body, { 'x-spark-signature': signature }));
      assert.equal(res.status, 401, signature);
      assert.equal(res.json.error, 'signature_invalid');
      assert.equal(h.calls.length, 0);
      assert.equal(res.text.includes(MARKER), false);
      assert.equal(res.text.includes(signature), false);
    }
  });

  it('answers 401 when the signed body changed by one byte', async () => {
    const h = createHarness();
    const body = items(minimalRawCdr('r-1'));
    const res = await post(h.app, body.replace('r-1', 'r-2'), {
      'x-spark-signature': sign(body, SECRET),
    });
    assert.equal(res.status, 401);
    assert.equal(h.calls.length, 0);
  });

  it('answers 415 for a wrong or missing Content-Type', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/jsonx',
      null,
    ]) {
      const h = createHarness();
      const body = bytes(items(minimalRawCdr('r')));
      const headers: Record<string, string> = {
        'x-spark-signature': sign(Buffer.from(body), SECRET),
      };
      if (type !== null) headers['content-type'] = type;
      const res = await answer(h.app.request(PATH, { method: 'POST', body, headers }));
      assert.equal(res.status, 415, String(type));
      assert.equal(res.json.error, 'content_type_unsupported');
      assert.equal(h.calls.length, 0);
    }
  });

  it('answers 415 for an unsupported Content-Encoding', async () => {
    const h = createHarness();
    const res = await answer(post(h.app, items(minimalRawCdr('r')), { 'content-encoding': 'br' }));
    assert.equal(res.status, 415);
    assert.equal(res.json.error, 'content_encoding_unsupported');
  });

  it('answers 413 for a declared Content-Length over the limit without reading the body', async () => {
    const h = createHarness({ settings: { maxBodyBytes: 100 } });
    const body = bytes(items(minimalRawCdr('r', { User: 'x'.repeat(200) })));
    const { stream, state } = watchedStream([body]);
    const res = await answer(
      postStream(h.app, stream, {
        'content-type': 'application/json',
        'content-length': String(body.length),
        'x-spark-signature': sign(Buffer.from(body), SECRET),
      }),
    );
    assert.equal(res.status, 413);
    assert.equal(res.json.error, 'body_too_large');
    assert.equal(state.pulls, 0, 'the body must not be read');
    assert.equal(h.calls.length, 0);
  });

  it('answers 413 for an undeclared body that streams past the limit', async () => {
    const h = createHarness({ settings: { maxBodyBytes: 1000 } });
    const chunk = bytes(' '.repeat(400));
    const { stream, state } = watchedStream(Array.from({ length: 50 }, () => chunk));
    const res = await answer(
      postStream(h.app, stream, {
        'content-type': 'application/json',
        'x-spark-signature': '0'.repeat(40),
      }),
    );
    assert.equal(res.status, 413);
    assert.ok(state.pulls < 10, `pulled ${state.pulls} chunks`);
    assert.equal(h.calls.length, 0);
  });

  it('answers 413 for a gzip bomb', async () => {
    const h = createHarness();
    const bomb = gzipSync(Buffer.from(`{"items":[],"pad":"${' '.repeat(4 * 1024 * 1024)}"}`));
    assert.ok(bomb.length < SETTINGS.maxBodyBytes);
    const res = await answer(post(h.app, bomb, { 'content-encoding': 'gzip' }));
    assert.equal(res.status, 413);
    assert.equal(res.json.error, 'body_too_large');
    assert.equal(h.calls.length, 0);
  });

  it('answers 400 for bodies that are not UTF-8 JSON, without the payload', async () => {
    const cases: [string, Uint8Array][] = [
      ['truncated', bytes(`{"items":[{"User":"${MARKER}"`)],
      ['trailing garbage', bytes(`{"items":[]} ${MARKER}`)],
      ['NaN', bytes(`{"items":[{"User":"${MARKER}","Duration":NaN}]}`)],
      ['BOM', bytes(`\ufeff{"items":[{"User":"${MARKER}"}]}`)],
      [
        'invalid UTF-8',
        Buffer.concat([bytes(`{"items":["${MARKER}`), Buffer.from([0xff]), bytes('"]}')]),
      ],
      ['empty', new Uint8Array(0)],
      ['invalid gzip', bytes(`not gzip ${MARKER}`)],
    ];
    for (const [name, body] of cases) {
      const h = createHarness();
      const headers: Record<string, string> =
        name === 'invalid gzip' ? { 'content-encoding': 'gzip' } : {};
      const res = await answer(post(h.app, body, headers));
      assert.equal(res.status, 400, name);
      assert.match(String(res.json.error), /^body_invalid_(json|encoding)$/, name);
      assert.equal(res.text.includes(MARKER), false, `${name}: ${res.text}`);
      assert.equal(h.calls.length, 0, name);
    }
  });

  it('answers 422 when the body holds no records array', async () => {
    for (const body of [
      '{}',
      `{"records":[{"User":"${MARKER}"}]}`,
      '{"data":[]}',
      '"items"',
      'null',
    ]) {
      const h = createHarness();
      const res = await answer(post(h.app, body));
      assert.equal(res.status, 422, body);
      assert.equal(res.json.error, 'body_no_records');
      assert.equal(res.text.includes(MARKER), false);
      assert.equal(h.calls.length, 0);
    }
  });

  it('answers 404 for other paths and methods', async () => {
    const h = createHarness();
    assert.equal((await h.app.request('/webhooks/other', { method: 'POST' })).status, 404);
    assert.equal((await h.app.request(PATH)).status, 404);
  });
});

describe('POST webhook: Kafka not answering', () => {
  for (const code of [
    'kafka_timeout',
    'kafka_failed',
    'not_ready',
    'registry_unavailable',
  ] as const) {
    it(`answers 503 with Retry-After when publish fails with ${code}`, async () => {
      const h = createHarness({ publishError: new CdrError(code, `simulated ${code}`) });
      const res = await answer(post(h.app, items(minimalRawCdr('r', { User: MARKER }))));
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '17');
      assert.equal(res.json.error, code);
      assert.equal(res.text.includes(MARKER), false);
      assert.equal(h.calls.length, 1);
    });
  }

  it('never answers 2xx when publish throws something unexpected', async () => {
    const h = createHarness({ publishError: new TypeError(`boom ${MARKER}`) });
    const res = await answer(post(h.app, items(minimalRawCdr('r'))));
    assert.equal(res.status, 500);
    assert.deepEqual(res.json, { error: 'internal', message: 'internal error' });
  });
});

describe('logging', () => {
  it('logs one line per delivery, without payload or signature', async () => {
    const h = createHarness();
    const body = items(minimalRawCdr('r', { User: MARKER }), minimalRawCdr('s'));
    const signature = sign(body, SECRET);
    assert.equal((await post(h.app, body)).status, 200);
    await post(h.app, `${body} ${MARKER}`);
    await post(h.app, body, { 'x-spark-signature': sign(body, 'wrong') });
    const lines = h.logs.filter((l) => l.msg === 'delivery');
    assert.deepEqual(
      lines.map((l) => [l.fields?.status, l.fields?.code]),
      [
        [200, undefined],
        [400, 'body_invalid_json'],
        [401, 'signature_invalid'],
      ],
    );
    // one line per delivery; the two refusals are also warned about (issue 12)
    assert.equal(h.logs.filter((l) => l.level === 'info').length, 3, JSON.stringify(h.logs));
    assert.deepEqual(
      h.logs.filter((l) => l.level === 'warn').map((l) => [l.msg, l.fields?.code]),
      [
        ['delivery refused', 'body_invalid_json'],
        ['delivery refused', 'signature_invalid'],
      ],
    );
    assert.deepEqual(
      Object.keys(lines[0]?.fields ?? {}).sort(),
      [
        'bytes',
        'deadLettered',
        'deliveryId',
        'duplicates',
        'ms',
        'scanMs',
        'published',
        'readMs',
        'records',
        'status',
        'trackingId',
      ].sort(),
    );
    assert.equal(lines[0]?.fields?.published, 2);
    assert.equal(lines[0]?.fields?.bytes, Buffer.byteLength(body));
    const all = JSON.stringify(h.logs);
    assert.equal(all.includes(MARKER), false, all);
    assert.equal(all.includes(signature), false);
    assert.equal(all.includes(SECRET), false);
  });
});

describe('refusals: warned about by reason, rate-limited, and counted', () => {
  it('a wrong secret: one warn line with the reason, then a count; a counter by reason', async () => {
    const metrics = createMetrics();
    const h = createHarness({ metrics });
    const body = items(minimalRawCdr('r', { User: MARKER }));
    const forged = sign(body, 'not-the-secret');
    for (let i = 0; i < 5; i++) {
      assert.equal((await post(h.app, body, { 'x-spark-signature': forged })).status, 401);
    }
    assert.equal((await post(h.app, body, { 'content-type': 'text/plain' })).status, 415);
    const warned = () => h.logs.filter((l) => l.level === 'warn');
    assert.deepEqual(
      warned().map((l) => l.fields),
      [
        {
          status: 401,
          code: 'signature_invalid',
          reason: 'x-spark-signature does not match the body',
          trackingId: undefined,
        },
        {
          status: 415,
          code: 'content_type_unsupported',
          reason: 'Content-Type must be one of application/json, application/*+json',
          trackingId: undefined,
        },
      ],
    );
    assert.ok(warned().every((l) => l.msg === 'delivery refused'));
    // the repeats are summed up once per interval (here: at once)
    h.warnings.flush();
    assert.deepEqual(
      warned()
        .slice(2)
        .map((l) => [l.fields?.code, l.fields?.repeated]),
      [['signature_invalid', 4]],
    );
    const m = parsePrometheusText(await metrics.render());
    const errors = (status: string, reason: string) =>
      sampleValue(m, 'webex_cdr_delivery_errors_total', { status, reason });
    assert.equal(errors('401', 'signature_invalid'), 5);
    assert.equal(errors('415', 'content_type_unsupported'), 1);
    const all = JSON.stringify(h.logs);
    assert.equal(all.includes(MARKER), false);
    assert.equal(all.includes(forged), false);
    assert.equal(all.includes(SECRET), false);
  });

  it('a 503 and dead letters are warned about with their reason code', async () => {
    const metrics = createMetrics();
    const down = createHarness({
      metrics,
      publishError: new CdrError('kafka_unavailable', 'Kafka is not reachable at k:9092'),
    });
    assert.equal((await post(down.app, items(minimalRawCdr('r')))).status, 503);
    assert.deepEqual(
      down.logs.filter((l) => l.level === 'warn').map((l) => [l.fields?.status, l.fields?.code]),
      [[503, 'kafka_unavailable']],
    );
    assert.equal(
      sampleValue(parsePrometheusText(await metrics.render()), 'webex_cdr_delivery_errors_total', {
        status: '503',
        reason: 'kafka_unavailable',
      }),
      1,
    );
    const h = createHarness();
    const res = await post(h.app, items(minimalRawCdr('r'), { 'Org UUID': 'o', User: MARKER }));
    assert.equal(res.status, 200);
    assert.deepEqual(
      h.logs
        .filter((l) => l.level === 'warn')
        .map((l) => [l.msg, l.fields?.code, l.fields?.records]),
      [['records dead-lettered', 'record_missing_report_id', 1]],
    );
    assert.equal(JSON.stringify(h.logs).includes(MARKER), false);
  });
});

describe('health endpoints', () => {
  it('answers /healthz 200', async () => {
    const h = createHarness({ ready: false });
    const res = await answer(h.app.request('/healthz'));
    assert.equal(res.status, 200);
    assert.equal(res.json.status, 'ok');
  });

  it('answers /readyz 200 when ready and 503 when not', async () => {
    const ready = await answer(createHarness({ ready: true }).app.request('/readyz'));
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { status: 'ready', checks: { producer: true, schema: true } });
    const notReady = await answer(createHarness({ ready: false }).app.request('/readyz'));
    assert.equal(notReady.status, 503);
    assert.deepEqual(notReady.json, {
      status: 'not ready',
      checks: { producer: false, schema: true },
    });
  });
});

describe('GET /metrics', () => {
  it('counts deliveries by status and records by outcome, in the Prometheus text format', async () => {
    const { app } = createHarness();
    const good = fullRawCdr({ 'Report ID': 'm-1' });
    await post(app, items(good, good, fullRawCdr({ 'Report ID': 'm-2' }), { 'Org UUID': 'x' }));
    await post(app, items(good), { 'x-spark-signature': '0'.repeat(40) });
    const res = await app.request('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /^webex_cdr_deliveries_total\{status="200",outcome="accepted"\} 1$/m);
    assert.match(text, /^webex_cdr_deliveries_total\{status="401",outcome="refused"\} 1$/m);
    const records = (outcome: string) =>
      new RegExp(
        `^webex_cdr_records_total\\{source="webhook",outcome="${outcome}"\\} (\\d+)$`,
        'm',
      );
    assert.match(text, records('published'));
    assert.equal(text.match(records('published'))?.[1], '2');
    assert.equal(text.match(records('dead_lettered'))?.[1], '1');
    assert.equal(text.match(records('duplicate_in_batch'))?.[1], '1');
    assert.match(text, /^webex_cdr_dead_lettered_total\{reason="record_missing_report_id"\} 1$/m);
    assert.match(text, /^webex_cdr_duplicates_in_batch_total 1$/m);
    assert.match(text, /^webex_cdr_delivery_seconds_count 2$/m);
    assert.match(text, /^webex_cdr_delivery_seconds_bucket\{le="\+Inf"\} 2$/m);
    assert.match(text, /^webex_cdr_produce_seconds_count 1$/m);
    assert.match(text, /^webex_cdr_delivery_bytes_count 2$/m);
    assert.match(text, new RegExp(`^webex_cdr_last_accepted_delivery_seconds ${NOW / 1000}$`, 'm'));
    assert.match(text, /^process_resident_memory_bytes \d+$/m);
  });
});

describe('draining (shutdown)', () => {
  it('refuses new deliveries with 503 + Retry-After and fails /readyz, but keeps /healthz', async () => {
    let draining = false;
    let inFlight = 0;
    const drain: Drain = {
      draining: () => draining,
      enter: () => {
        inFlight += 1;
        return () => {
          inFlight -= 1;
        };
      },
    };
    const h = createHarness({ drain });
    assert.equal((await post(h.app, items(minimalRawCdr('a')))).status, 200);
    assert.equal((await h.app.request('/readyz')).status, 200);
    draining = true;
    const refused = await post(h.app, items(minimalRawCdr('b')));
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '17');
    assert.equal(((await refused.json()) as { error: string }).error, 'not_ready');
    assert.equal((await h.app.request('/readyz')).status, 503);
    assert.equal((await h.app.request('/healthz')).status, 200);
    assert.equal(h.calls.length, 1, 'nothing published while draining');
    assert.equal(inFlight, 0, 'every delivery marked done');
  });
});

describe('the byte budget of deliveries in flight', () => {
  it('gives the bytes of a delivery back when it is answered, whatever answered it', async () => {
    const body = items(minimalRawCdr('r'));
    const budget = createByteBudget(10_000);
    const accepted = createHarness({ budget });
    assert.equal((await post(accepted.app, body)).status, 200);
    assert.equal(budget.held(), 0, 'after 200');
    const forged = { 'x-spark-signature': sign(Buffer.from(body), 'another secret') };
    assert.equal((await post(accepted.app, body, forged)).status, 401);
    assert.equal(budget.held(), 0, 'after 401, the body read');
    const failing = createHarness({
      budget,
      publishError: new CdrError('kafka_timeout', 'no ack'),
    });
    assert.equal((await post(failing.app, body)).status, 503);
    assert.equal(budget.held(), 0, 'after a failed publish');
  });

  it('answers 503 ingress_busy with Retry-After past the budget, and holds nothing after', async () => {
    const budget = createByteBudget(10);
    const h = createHarness({ budget });
    const res = await answer(post(h.app, items(minimalRawCdr('r'))));
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '17');
    assert.equal(res.json.error, 'ingress_busy');
    assert.equal(budget.held(), 0);
    assert.equal(h.calls.length, 0);
  });
});

describe('large deliveries (spooled)', () => {
  it('publishes a body over spoolBytes from the spool file, and says so in its log line', async () => {
    const h = createHarness({ settings: { spoolBytes: 1024, maxBodyBytes: 1 << 20 } });
    const raws = Array.from({ length: 40 }, (_, i) => minimalRawCdr(`r-${i}`, { User: 'é😀' }));
    const body = items(...raws);
    assert.ok(Buffer.byteLength(body) > 1024);
    const res = await answer(post(h.app, body));
    assert.equal(res.status, 200);
    assert.equal((res.json as { accepted: number }).accepted, 40);
    const published = h.calls.flatMap((c) => c.batch.records.map((r) => r.reportId));
    assert.deepEqual(
      published,
      raws.map((_, i) => `r-${i}`),
    );
    const line = h.logs.find((l) => l.msg === 'delivery');
    assert.equal(line?.fields?.spooled, true);
  });

  it('refuses a forged large body before reading its records', async () => {
    const h = createHarness({ settings: { spoolBytes: 1024, maxBodyBytes: 1 << 20 } });
    const body = items(...Array.from({ length: 40 }, (_, i) => minimalRawCdr(`r-${i}`)));
    const res = await post(h.app, body, { 'x-spark-signature': sign(body, 'wrong') });
    assert.equal(res.status, 401);
    assert.equal(h.calls.length, 0);
  });
});
