import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import type { CdrError } from '../../../src/errors.ts';
import { httpStatus } from '../../../src/ingress/status.ts';
import { createWorkerPool } from '../../../src/ingress/worker-pool.ts';

/**
 * A worker that doubles numbers, dies on 'exit', throws on 'throw', and hangs on 'hang';
 * a message with a port (not a job) is answered over that port.
 */
const ENTRY = new URL(
  `data:text/javascript,${encodeURIComponent(`
import { parentPort, threadId } from 'node:worker_threads';
parentPort.on('message', (m) => {
  if (typeof m === 'object' && m !== null && m.port) { m.port.postMessage(threadId); m.port.close(); return; }
  if (m === 'exit') process.exit(3);
  if (m === 'throw') throw new Error('boom');
  if (m === 'hang') return;
  if (m === 'who') return parentPort.postMessage(threadId);
  parentPort.postMessage(m * 2);
});`)}`,
);

const poolOf = (size: number) => createWorkerPool<unknown, number>({ size, entry: ENTRY });

describe('createWorkerPool', () => {
  it('posts a message that is not a job to a worker with none, beside its jobs; false when all have one', async () => {
    const pool = poolOf(2);
    try {
      const { port1, port2 } = new MessageChannel();
      const answered = new Promise((resolve) => port1.once('message', resolve));
      assert.equal(pool.post({ port: port2 }, [port2]), true);
      assert.equal(typeof (await answered), 'number');
      port1.close();
      assert.equal(pool.idle(), 2, 'a message is not a job: no worker is held');
      const hung = [pool.run('hang'), pool.run('hang')];
      for (const h of hung) h.catch(() => undefined);
      assert.equal(pool.idle(), 0);
      const { port2: other } = new MessageChannel();
      assert.equal(pool.post({ port: other }, [other]), false);
      other.close();
    } finally {
      await pool.close();
    }
  });

  it('answers every job, more jobs than workers waiting their turn', async () => {
    const pool = poolOf(2);
    try {
      const answers = await Promise.all(Array.from({ length: 9 }, (_, i) => pool.run(i)));
      assert.deepEqual(answers, [0, 2, 4, 6, 8, 10, 12, 14, 16]);
    } finally {
      await pool.close();
    }
  });

  it('a worker that exits fails its job with worker_failed (503) and is replaced', async () => {
    const pool = poolOf(1);
    try {
      const before = await pool.run('who');
      const waiting = pool.run(21); // queued behind the job that kills the worker
      await assert.rejects(
        pool.run('exit'),
        (e: CdrError) => e.code === 'worker_failed' && httpStatus(e.code) === 503,
      );
      assert.equal(await waiting, 42, 'the job waiting runs on the replacement');
      assert.notEqual(await pool.run('who'), before);
      assert.equal(pool.replaced(), 1);
    } finally {
      await pool.close();
    }
  });

  it('a worker that throws fails its job naming the error, and is replaced', async () => {
    const pool = poolOf(1);
    try {
      await assert.rejects(
        pool.run('throw'),
        (e: CdrError) => e.code === 'worker_failed' && /boom/.test(e.message),
      );
      assert.equal(await pool.run(5), 10);
      assert.equal(pool.replaced(), 1);
    } finally {
      await pool.close();
    }
  });

  it('close fails the jobs running and waiting, terminates the workers, and refuses new jobs', async () => {
    const pool = poolOf(1);
    assert.equal(await pool.run(1), 2);
    const running = assert.rejects(pool.run('hang'), (e: CdrError) => e.code === 'worker_failed');
    const waiting = assert.rejects(pool.run(3), (e: CdrError) => e.code === 'not_ready');
    await pool.close();
    await running;
    await waiting;
    await assert.rejects(pool.run(4), (e: CdrError) => e.code === 'not_ready');
    assert.equal(pool.replaced(), 0, 'terminated workers are not replaced');
  });
});
