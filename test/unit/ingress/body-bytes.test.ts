import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isCdrError } from '../../../src/errors.ts';
import {
  BLOCK_BYTES,
  createSpool,
  memoryBytes,
  spoolDirProblem,
} from '../../../src/ingress/body-bytes.ts';
import { decodeBody, readBody } from '../../../src/ingress/read-body.ts';
import { httpStatus } from '../../../src/ingress/status.ts';

const dir = mkdtempSync(join(tmpdir(), 'spool-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const streamOf = (chunks: readonly Uint8Array[]) => {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks[i++];
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
  });
};

describe('spool', () => {
  it('keeps a body up to spoolBytes in memory', () => {
    const spool = createSpool({ spoolBytes: 10, spoolDir: dir });
    spool.write(Buffer.from('0123456789'));
    const bytes = spool.finish();
    assert.equal(bytes.spooled, false);
    assert.equal(bytes.read(2, 5).toString(), '234');
  });

  it('moves a body past spoolBytes to a file that no directory lists', () => {
    const data = randomBytes(3 * BLOCK_BYTES + 17);
    const spool = createSpool({ spoolBytes: 1000, spoolDir: dir });
    for (let at = 0; at < data.length; at += 700) spool.write(data.subarray(at, at + 700));
    const bytes = spool.finish();
    assert.equal(bytes.spooled, true);
    assert.equal(bytes.length, data.length);
    assert.deepEqual(readdirSync(dir), [], 'the spool file is unlinked while in use');
    assert.deepEqual(bytes.read(999, 1003), data.subarray(999, 1003));
    const blocks = [...bytes];
    assert.equal(blocks.length, 4);
    assert.deepEqual(Buffer.concat(blocks), data);
    assert.deepEqual(Buffer.concat([...bytes]), data, 'iterated again from the start');
    bytes.close();
    bytes.close();
    assert.throws(() => bytes.read(0, 1), /closed/);
  });

  it('spools from the first byte when the declared length is over spoolBytes', async () => {
    const data = randomBytes(5000);
    const r = await readBody(streamOf([data.subarray(0, 2000), data.subarray(2000)]), {
      limits: { maxBodyBytes: 10_000, maxDecodedBytes: 10_000, spoolBytes: 4096, spoolDir: dir },
      expectedBytes: data.length,
    });
    assert.equal(r.wire.spooled, true);
    assert.deepEqual(r.wire.read(0, data.length), data);
    r.wire.close();
  });

  it('gunzips a large body into a spool file, under maxDecodedBytes', async () => {
    const json = Buffer.from(
      JSON.stringify({ items: Array.from({ length: 3000 }, (_, i) => ({ i })) }),
    );
    const limits = {
      maxBodyBytes: 1 << 20,
      maxDecodedBytes: 1 << 20,
      spoolBytes: 1024,
      spoolDir: dir,
    };
    const body = await readBody(streamOf([gzipSync(json)]), { limits });
    const decoded = await decodeBody(body, 'gzip', limits);
    assert.equal(decoded.spooled, true);
    assert.deepEqual(decoded.read(0, decoded.length), json);
    await assert.rejects(decodeBody(body, 'gzip', { ...limits, maxDecodedBytes: 5000 }), {
      code: 'body_too_large',
    });
    decoded.close();
  });

  it('take: a body in memory hands over its own buffer, never a slice of a buffer others use', () => {
    // A small Buffer from Node's shared pool, made before the body: transferring
    // a pool would detach it (and every other Buffer of that pool).
    const neighbour = Buffer.from('neighbour');
    const spool = createSpool({ spoolBytes: 100, spoolDir: dir }, 10);
    spool.write(Buffer.from('0123456789'));
    const body = spool.finish();
    const taken = body.take();
    assert.equal(Buffer.from(taken).toString(), '0123456789');
    assert.equal(taken.buffer, body.read(0, body.length).buffer, "the body's buffer, not a copy");
    assert.ok(taken.buffer.byteLength < Buffer.poolSize || taken.buffer !== neighbour.buffer);
    const moved = structuredClone(taken, { transfer: [taken.buffer] });
    assert.equal(Buffer.from(moved).toString(), '0123456789');
    assert.equal(taken.buffer.detached, true, 'moved, not copied');
    assert.equal(neighbour.toString(), 'neighbour', 'nothing else detached');
  });

  it('take: a buffer the body does not own, or a spooled body, is copied', () => {
    const shared = Buffer.from('abcdef');
    const taken = memoryBytes(shared).take();
    assert.notEqual(taken.buffer, shared.buffer);
    taken[0] = 0x7a;
    assert.equal(shared.toString(), 'abcdef');
    const spool = createSpool({ spoolBytes: 0, spoolDir: dir });
    spool.write(Buffer.from('spooled bytes'));
    const file = spool.finish();
    assert.equal(file.spooled, true);
    assert.equal(Buffer.from(file.take()).toString(), 'spooled bytes');
    file.close();
  });

  it('iterates a memory body as one block, an empty one as none', () => {
    assert.deepEqual([...memoryBytes(Buffer.from('ab'))].map(String), ['ab']);
    assert.deepEqual([...memoryBytes(Buffer.alloc(0))], []);
  });
});

describe('spool failures', () => {
  it('answers 503 ingress_busy when the spool directory cannot be written', async () => {
    const limits = {
      maxBodyBytes: 10_000,
      maxDecodedBytes: 10_000,
      spoolBytes: 10,
      spoolDir: join(dir, 'no-such-directory'),
    };
    await assert.rejects(
      readBody(streamOf([Buffer.alloc(100, 0x20)]), { limits }),
      (e) =>
        isCdrError(e) &&
        e.code === 'ingress_busy' &&
        httpStatus(e.code) === 503 &&
        /ENOENT/.test(e.message),
    );
    const small = await readBody(streamOf([Buffer.from('{}')]), { limits });
    assert.equal(small.wireBytes, 2, 'a body under spoolBytes does not need the directory');
  });

  it('is checked at start: the reason a directory cannot hold spool files, and none left behind', () => {
    assert.equal(spoolDirProblem(dir), null);
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(spoolDirProblem(join(dir, 'missing')), 'ENOENT');
  });
});
