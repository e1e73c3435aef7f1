import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLineWriter } from '../../src/tail.ts';

/** A writable whose reader takes each chunk only when `release()` is called. */
const slowReader = () => {
  const pending: (() => void)[] = [];
  const chunks: string[] = [];
  const stream = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      pending.push(done);
    },
  });
  return { stream, chunks, release: () => pending.shift()?.() };
};

describe('tail line writer', () => {
  it('waits for the reader when the stream is full (backpressure)', async () => {
    const r = slowReader();
    const out = createLineWriter(r.stream);
    await out.write('0123456789\n'); // under the high-water mark: at once
    let settled = false;
    const second = out.write('0123456789\n').then(() => {
      settled = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'waits while the reader has not taken the lines');
    r.release();
    r.release();
    await second;
    assert.deepEqual(r.chunks, ['0123456789\n', '0123456789\n']);
  });

  it('a reader that went away (EPIPE) is not a failure: gone, and later lines dropped', async () => {
    const r = slowReader();
    const out = createLineWriter(r.stream);
    const waiting = out.write('x'.repeat(32));
    r.stream.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await waiting;
    assert.equal(out.gone, true);
    assert.equal(out.failure, undefined);
    await out.write('more\n');
    assert.deepEqual(r.chunks, ['x'.repeat(32)]);
  });

  it('any other write error is a failure', async () => {
    const r = slowReader();
    const out = createLineWriter(r.stream);
    r.stream.destroy(Object.assign(new Error('no space'), { code: 'ENOSPC' }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(out.gone, true);
    assert.match(out.failure?.message ?? '', /no space/);
  });
});
