import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { ErrorCode, Result } from '../../../src/errors.ts';
import {
  type Body,
  type BodyLimits,
  checkDeclaredLength,
  createByteBudget,
  decodeBody,
  readBody,
  readEncoding,
} from '../../../src/ingress/read-body.ts';

const LIMITS: BodyLimits = { maxBodyBytes: 1024, maxDecodedBytes: 4096, spoolBytes: 100 };

const all = (bytes: Iterable<Buffer>): Buffer => Buffer.concat([...bytes]);

/** A stream of the given chunks that records how far it was read and whether it was cancelled. */
const streamOf = (chunks: readonly Uint8Array[]) => {
  const state = { pulls: 0, cancelled: false };
  let i = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        state.pulls += 1;
        const next = chunks[i++];
        if (next === undefined) controller.close();
        else controller.enqueue(next);
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
};

const okBody = (r: Result<Body>): Body => {
  if (!r.ok) assert.fail(`expected a body, got ${r.error.code}`);
  return r.value;
};
const errCode = (r: Result<unknown>): ErrorCode => {
  if (r.ok) assert.fail('expected an error');
  return r.error.code;
};

describe('readEncoding', () => {
  const enc = (value?: string) =>
    readEncoding(new Headers(value === undefined ? {} : { 'Content-Encoding': value }));

  it('accepts none, identity and gzip', () => {
    assert.deepEqual(enc(), { ok: true, value: 'identity' });
    assert.deepEqual(enc('identity'), { ok: true, value: 'identity' });
    assert.deepEqual(enc('gzip'), { ok: true, value: 'gzip' });
    assert.deepEqual(enc('GZIP'), { ok: true, value: 'gzip' });
    assert.deepEqual(enc('x-gzip'), { ok: true, value: 'gzip' });
  });

  it('refuses other encodings', () => {
    for (const e of ['br', 'deflate', 'compress', 'zstd', 'gzip, br', 'gzip, gzip']) {
      assert.equal(errCode(enc(e)), 'content_encoding_unsupported', e);
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
    assert.equal(errCode(check('1025')), 'body_too_large');
    assert.equal(errCode(check('99999999999999999999')), 'body_too_large');
  });

  it('lets the limit itself and an undeclared length through', () => {
    assert.equal(check('1024').ok, true);
    assert.equal(check('0').ok, true);
    assert.equal(check().ok, true);
  });
});

const readGzip = async (stream: ReadableStream<Uint8Array>, limits: typeof LIMITS) => {
  const body = await readBody(stream, limits);
  return body.ok ? decodeBody(body.value, 'gzip', limits) : body;
};

describe('readBody', () => {
  it('returns the bytes as received', async () => {
    const { stream } = streamOf([Buffer.from('{"items"'), Buffer.from(':[]}')]);
    const body = okBody(await readBody(stream, LIMITS));
    assert.equal(all(body.wire).toString(), '{"items":[]}');
    assert.equal(body.wireBytes, 12);
  });

  it('reads an absent body as empty', async () => {
    const body = okBody(await readBody(null, LIMITS));
    assert.equal(body.wireBytes, 0);
    assert.equal(body.wire.length, 0);
    assert.deepEqual([...body.wire], []);
  });

  it('accepts a body of exactly the limit', async () => {
    const { stream } = streamOf([Buffer.alloc(1000), Buffer.alloc(24)]);
    const body = okBody(await readBody(stream, LIMITS));
    assert.equal(body.wireBytes, 1024);
  });

  it('cuts a streaming body off at the limit and cancels the stream', async () => {
    const chunks = Array.from({ length: 10 }, () => Buffer.alloc(300, 0x20));
    const { stream, state } = streamOf(chunks);
    assert.equal(errCode(await readBody(stream, LIMITS)), 'body_too_large');
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
    assert.equal(errCode(await readBody(stream, LIMITS)), 'body_invalid_encoding');
  });

  it('decodes gzip and keeps the wire bytes', async () => {
    const json = Buffer.from(JSON.stringify({ items: [{ 'Report ID': 'r' }] }));
    const gz = gzipSync(json);
    const { stream } = streamOf([gz.subarray(0, 7), gz.subarray(7)]);
    const body = okBody(await readBody(stream, LIMITS));
    assert.deepEqual(all(body.wire), gz);
    assert.equal(body.wireBytes, gz.length);
    const decoded = await decodeBody(body, 'gzip', LIMITS);
    assert.ok(decoded.ok);
    assert.deepEqual(all(decoded.value), json);
  });

  it('refuses a gzip bomb over maxDecodedBytes', async () => {
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024));
    assert.ok(bomb.length < LIMITS.maxBodyBytes * 20);
    const limits = { maxBodyBytes: bomb.length, maxDecodedBytes: 64 * 1024, spoolBytes: 1024 };
    const { stream } = streamOf([bomb]);
    const r = await readGzip(stream, limits);
    assert.equal(errCode(r), 'body_too_large');
    assert.ok(!r.ok && r.error.status === 413);
  });

  it('applies the wire limit to gzip bodies too', async () => {
    const gz = gzipSync(randomBytes(4096));
    const { stream } = streamOf([gz]);
    assert.equal(errCode(await readGzip(stream, LIMITS)), 'body_too_large');
  });

  it('refuses bytes that are not gzip, and truncated gzip', async () => {
    const gz = gzipSync(Buffer.from('{"items":[]}'));
    for (const bad of [Buffer.from('{"items":[]}'), gz.subarray(0, gz.length - 5)]) {
      const { stream } = streamOf([bad]);
      assert.equal(errCode(await readGzip(stream, LIMITS)), 'body_invalid_encoding');
    }
  });
});

describe('readBody with a byte budget', () => {
  it('reserves every chunk and refuses (503 ingress_busy) when the budget is spent', async () => {
    const budget = createByteBudget(700);
    let reserved = 0;
    const first = streamOf([Buffer.alloc(300), Buffer.alloc(300)]);
    const one = await readBody(first.stream, LIMITS, budget, (n) => {
      reserved += n;
    });
    assert.ok(one.ok);
    assert.equal(budget.held(), 600);
    const second = streamOf([Buffer.alloc(50), Buffer.alloc(300)]);
    const two = await readBody(second.stream, LIMITS, budget, (n) => {
      reserved += n;
    });
    assert.equal(errCode(two), 'ingress_busy');
    assert.ok(!two.ok && two.error.status === 503);
    assert.equal(second.state.cancelled, true);
    assert.equal(budget.held(), 650);
    budget.release(reserved);
    assert.equal(budget.held(), 0);
  });
});
