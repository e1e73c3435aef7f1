import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CdrError } from '../../../src/errors.ts';
import { httpStatus } from '../../../src/ingress/status.ts';
import { createWorkerPool } from '../../../src/ingress/worker-pool.ts';

/** A worker that doubles numbers, dies on 'exit', throws on 'throw', and hangs on 'hang'. */
const ENTRY = new URL(
  `data:text/javascript,${encodeURIComponent(`
import { parentPort, threadId } from 'node:worker_threads';
parentPort.on('message', (m) => {
  if (m === 'exit') process.exit(3);
  if (m === 'throw') throw new Error('boom');
  if (m === 'hang') return;
  if (m === 'who') return parentPort.postMessage(threadId);
  parentPort.postMessage(m * 2);
});`)}`,
);

const poolOf = (size: number) => createWorkerPool<unknown, number>({ size, entry: ENTRY });

describe('createWorkerPool', () => {
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
