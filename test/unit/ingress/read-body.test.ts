import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isCdrError } from '../../../src/errors.ts';
import {
  type BodyLimits,
  checkDeclaredLength,
  createByteBudget,
  decodeBody,
  leaseBytes,
  readBody,
  readEncoding,
} from '../../../src/ingress/read-body.ts';
import { httpStatus } from '../../../src/ingress/status.ts';
import { watchedStream } from '../../helpers/streams.ts';

const LIMITS: BodyLimits = { maxBodyBytes: 1024, maxDecodedBytes: 4096, spoolBytes: 100 };

const all = (bytes: Iterable<Buffer>): Buffer => Buffer.concat([...bytes]);

/** For assert.throws/rejects: the error has this code, which the ingress answers with `status`. */
const refusal = (code: string, status: number) => (e: unknown) =>
  isCdrError(e) && e.code === code && httpStatus(e.code) === status;

describe('readEncoding', () => {
  const enc = (value?: string) =>
    readEncoding(new Headers(value === undefined ? {} : { 'Content-Encoding': value }));

  it('accepts none, identity and gzip', () => {
    assert.equal(enc(), 'identity');
    assert.equal(enc('identity'), 'identity');
    assert.equal(enc('gzip'), 'gzip');
    assert.equal(enc('GZIP'), 'gzip');
    assert.equal(enc('x-gzip'), 'gzip');
  });

  it('refuses other encodings', () => {
    for (const e of ['br', 'deflate', 'compress', 'zstd', 'gzip, br', 'gzip, gzip']) {
      assert.throws(() => enc(e), { code: 'content_encoding_unsupported' }, e);
    }
  });
});

describe('checkDeclaredLength', () => {
  const check = (length?: string) =>
    checkDeclaredLength(
      new Headers(length === undefined ? {} : { 'Content-Length': length }),
      LIMITS,
    );

  it('refuses a declared length over the limit', () => {
    assert.throws(() => check('1025'), { code: 'body_too_large' });
    assert.throws(() => check('99999999999999999999'), { code: 'body_too_large' });
  });

  it('lets the limit itself and an undeclared length through', () => {
    assert.doesNotThrow(() => check('1024'));
    assert.doesNotThrow(() => check('0'));
    assert.doesNotThrow(() => check());
  });
});

const readGzip = async (stream: ReadableStream<Uint8Array>, limits: typeof LIMITS) =>
  decodeBody(await readBody(stream, { limits }), 'gzip', limits);

describe('readBody', () => {
  it('returns the bytes as received', async () => {
    const { stream } = watchedStream([Buffer.from('{"items"'), Buffer.from(':[]}')]);
    const body = await readBody(stream, { limits: LIMITS });
    assert.equal(all(body.wire).toString(), '{"items":[]}');
    assert.equal(body.wireBytes, 12);
  });

  it('reads an absent body as empty', async () => {
    const body = await readBody(null, { limits: LIMITS });
    assert.equal(body.wireBytes, 0);
    assert.equal(body.wire.length, 0);
    assert.deepEqual([...body.wire], []);
  });

  it('accepts a body of exactly the limit', async () => {
    const { stream } = watchedStream([Buffer.alloc(1000), Buffer.alloc(24)]);
    const body = await readBody(stream, { limits: LIMITS });
    assert.equal(body.wireBytes, 1024);
  });

  it('cuts a streaming body off at the limit and cancels the stream', async () => {
    const chunks = Array.from({ length: 10 }, () => Buffer.alloc(300, 0x20));
    const { stream, state } = watchedStream(chunks);
    await assert.rejects(readBody(stream, { limits: LIMITS }), { code: 'body_too_large' });
    assert.equal(state.cancelled, true);
    assert.ok(state.pulls <= 4, `read ${state.pulls} chunks, the limit is passed at the 4th`);
  });

  it('refuses a body whose stream fails while reading', async () => {
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) controller.error(new Error('connection reset'));
        else controller.enqueue(Buffer.from('{"ite'));
        sent = true;
      },
    });
    await assert.rejects(readBody(stream, { limits: LIMITS }), { code: 'body_invalid_encoding' });
  });

  it('decodes gzip and keeps the wire bytes', async () => {
    const json = Buffer.from(JSON.stringify({ items: [{ 'Report ID': 'r' }] }));
    const gz = gzipSync(json);
    const { stream } = watchedStream([gz.subarray(0, 7), gz.subarray(7)]);
    const body = await readBody(stream, { limits: LIMITS });
    assert.deepEqual(all(body.wire), gz);
    assert.equal(body.wireBytes, gz.length);
    const decoded = await decodeBody(body, 'gzip', LIMITS);
    assert.deepEqual(all(decoded), json);
  });

  it('refuses a gzip bomb over maxDecodedBytes', async () => {
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024));
    assert.ok(bomb.length < LIMITS.maxBodyBytes * 20);
    const limits = { maxBodyBytes: bomb.length, maxDecodedBytes: 64 * 1024, spoolBytes: 1024 };
    const { stream } = watchedStream([bomb]);
    await assert.rejects(readGzip(stream, limits), refusal('body_too_large', 413));
  });

  it('applies the wire limit to gzip bodies too', async () => {
    const gz = gzipSync(randomBytes(4096));
    const { stream } = watchedStream([gz]);
    await assert.rejects(readGzip(stream, LIMITS), { code: 'body_too_large' });
  });

  it('refuses bytes that are not gzip, and truncated gzip', async () => {
    const gz = gzipSync(Buffer.from('{"items":[]}'));
    for (const bad of [Buffer.from('{"items":[]}'), gz.subarray(0, gz.length - 5)]) {
      const { stream } = watchedStream([bad]);
      await assert.rejects(readGzip(stream, LIMITS), { code: 'body_invalid_encoding' });
    }
  });
});

describe('readBody from a Node stream (the IncomingMessage under @hono/node-server)', () => {
  /** A Node stream that gives `chunks` as it is read, counting the reads. */
  const nodeStream = (chunks: readonly Buffer[]) => {
    const state = { reads: 0 };
    let i = 0;
    const stream = new Readable({
      highWaterMark: 0,
      read() {
        state.reads += 1;
        this.push(chunks[i++] ?? null);
      },
    });
    return { stream, state };
  };

  it('returns the bytes as received, in memory and spooled', async () => {
    const small = await readBody(
      nodeStream([Buffer.from('{"items"'), Buffer.from(':[]}')]).stream,
      {
        limits: LIMITS,
      },
    );
    assert.equal(all(small.wire).toString(), '{"items":[]}');
    assert.equal(small.wire.spooled, false);
    const parts = Array.from({ length: 5 }, (_, k) => Buffer.alloc(150, 0x61 + k));
    const big = await readBody(nodeStream(parts).stream, { limits: LIMITS });
    assert.equal(big.wire.spooled, true, 'past spoolBytes');
    assert.deepEqual(all(big.wire), Buffer.concat(parts));
    big.wire.close();
  });

  it('stops reading at the limit: its listener gone, the stream paused and left to the server', async () => {
    const { stream, state } = nodeStream(Array.from({ length: 10 }, () => Buffer.alloc(300, 0x20)));
    await assert.rejects(readBody(stream, { limits: LIMITS }), refusal('body_too_large', 413));
    assert.equal(stream.listenerCount('data'), 0);
    assert.equal(stream.isPaused(), true);
    assert.equal(stream.destroyed, false, 'not destroyed: the server still answers 413');
    await new Promise((r) => setImmediate(r));
    assert.ok(state.reads <= 5, `read ${state.reads} chunks, the limit is passed at the 4th`);
  });

  it('refuses a body whose stream fails, or closes before its end (the client went away)', async () => {
    const failing = new PassThrough();
    const failed = readBody(failing, { limits: LIMITS });
    failing.write('{"ite');
    failing.destroy(new Error('connection reset'));
    await assert.rejects(failed, refusal('body_invalid_encoding', 400));
    const closing = new PassThrough();
    const closed = readBody(closing, { limits: LIMITS });
    closing.write('{"ite');
    closing.destroy();
    await assert.rejects(closed, { code: 'body_invalid_encoding' });
    const gone = new PassThrough();
    gone.destroy();
    await assert.rejects(readBody(gone, { limits: LIMITS }), { code: 'body_invalid_encoding' });
  });

  it('reads a stream that has already ended as empty', async () => {
    const ended = new PassThrough();
    ended.end();
    ended.resume();
    await new Promise((r) => ended.once('end', r));
    const body = await readBody(ended, { limits: LIMITS });
    assert.equal(body.wireBytes, 0);
  });

  it('reserves every chunk in the lease, as from a web stream', async () => {
    const budget = createByteBudget(500);
    const lease = leaseBytes(budget);
    const { stream } = nodeStream([Buffer.alloc(300), Buffer.alloc(300)]);
    await assert.rejects(readBody(stream, { limits: LIMITS, lease }), refusal('ingress_busy', 503));
    assert.equal(budget.held(), 300);
    lease.release();
  });
});

describe('readBody with a byte budget', () => {
  it('reserves every chunk and refuses (503 ingress_busy) when the budget is spent', async () => {
    const budget = createByteBudget(700);
    const first = watchedStream([Buffer.alloc(300), Buffer.alloc(300)]);
    const one = leaseBytes(budget);
    await readBody(first.stream, { limits: LIMITS, lease: one });
    assert.equal(budget.held(), 600);
    const second = watchedStream([Buffer.alloc(50), Buffer.alloc(300)]);
    const two = leaseBytes(budget);
    await assert.rejects(
      readBody(second.stream, { limits: LIMITS, lease: two }),
      refusal('ingress_busy', 503),
    );
    assert.equal(second.state.cancelled, true);
    assert.equal(budget.held(), 650);
    one.release();
    assert.equal(budget.held(), 50, 'a lease gives back what it reserved');
    two.release();
    two.release();
    assert.equal(budget.held(), 0, 'and only once');
  });
});
