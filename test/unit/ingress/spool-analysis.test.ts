import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import fc from 'fast-check';
import { CdrError } from '../../../src/errors.ts';
import { BLOCK_BYTES, type BodyBytes, createSpool } from '../../../src/ingress/body-bytes.ts';
import { readRecords } from '../../../src/ingress/parse-body.ts';
import { createChunkWorkers } from '../../../src/ingress/publish-parallel.ts';
import {
  type AnalysisWorkers,
  analyseSpool,
  followSpool,
  type SpoolAnalysis,
  watchSpool,
} from '../../../src/ingress/spool-analysis.ts';

const SECRETS = ['first-secret', 'second-secret'];

/** A spool file holding `bytes`, written in pieces of the sizes given (cycled), each announced. */
const spoolOf = (
  bytes: Buffer,
  pieces: readonly number[],
  onWrite: (fd: number, n: number) => void,
) => {
  const spool = createSpool({ spoolBytes: 0 });
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const n = Math.max(1, pieces[k % pieces.length] ?? 1);
    spool.write(bytes.subarray(at, at + n));
    at = Math.min(bytes.length, at + n);
    onWrite(spool.fd as number, spool.bytes);
  }
  return spool.finish();
};

/** The workers' side run on this thread: the same function a worker runs, over a real port. */
const hereWorkers = (): AnalysisWorkers & { jobs: number } => {
  const w = {
    jobs: 0,
    follow(job: Parameters<AnalysisWorkers['follow']>[0]) {
      w.jobs += 1;
      followSpool(job);
      return true;
    },
  };
  return w;
};

/** The digests of an algorithm as buffers (they cross the threads as Uint8Arrays). */
const digestsOf = (analysis: SpoolAnalysis, algorithm: 'sha1' | 'sha256') =>
  analysis.digests.get(algorithm)?.map((d) => Buffer.from(d));

/** What the main thread makes of a body without the analysis: records or the error. */
const onMainThread = (body: BodyBytes) => {
  try {
    const slices = readRecords(body, 0);
    return { ok: true as const, records: slices.parse(0, slices.count) };
  } catch (e) {
    return { ok: false as const, code: (e as CdrError).code, message: (e as CdrError).message };
  }
};

const withAnalysis = (body: BodyBytes, analysis: SpoolAnalysis) => {
  if (analysis.scanned instanceof CdrError) {
    return { ok: false as const, code: analysis.scanned.code, message: analysis.scanned.message };
  }
  try {
    const slices = readRecords(body, 0, analysis.scanned);
    return { ok: true as const, records: slices.parse(0, slices.count) };
  } catch (e) {
    return { ok: false as const, code: (e as CdrError).code, message: (e as CdrError).message };
  }
};

const analyse = async (bytes: Buffer, pieces: readonly number[]) => {
  const workers = hereWorkers();
  const watch = watchSpool(workers, ['sha1', 'sha256'], SECRETS);
  const body = spoolOf(bytes, pieces, (fd, n) => watch.written(fd, n));
  try {
    const analysis = await watch.end(bytes.length);
    return { body, analysis, jobs: workers.jobs };
  } catch (e) {
    body.close();
    throw e;
  }
};

describe('spool analysis', () => {
  it('takes the digests of every secret and algorithm, and the scan the main thread would', async () => {
    const records = Array.from({ length: 3000 }, (_, i) => ({
      'Report ID': `r-${i}`,
      n: i,
      s: 'é€😀',
    }));
    const bytes = Buffer.from(JSON.stringify({ items: records }));
    const { body, analysis, jobs } = await analyse(bytes, [65536, 777, 3]);
    try {
      assert.equal(jobs, 1);
      assert.ok(analysis !== null);
      for (const algorithm of ['sha1', 'sha256'] as const) {
        assert.deepEqual(
          digestsOf(analysis, algorithm),
          SECRETS.map((s) => createHmac(algorithm, s).update(bytes).digest()),
        );
      }
      assert.deepEqual(withAnalysis(body, analysis), onMainThread(body));
      assert.equal((withAnalysis(body, analysis) as { records: unknown[] }).records.length, 3000);
    } finally {
      body.close();
    }
  });

  it('agrees with the main thread on any body, valid or not, however it is written', async () => {
    const shapes = [
      (items: unknown[]) => JSON.stringify(items),
      (items: unknown[]) => JSON.stringify({ items }),
      (items: unknown[]) => JSON.stringify({ data: { items } }, null, 2),
    ];
    // what can go wrong with the bytes: a byte that is not UTF-8, a mark, a character cut off
    const harms = [
      (b: Buffer) => b,
      (b: Buffer, at: number) =>
        Buffer.concat([b.subarray(0, at), Buffer.from([0xff]), b.subarray(at)]),
      (b: Buffer) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]),
      (b: Buffer) => Buffer.concat([b, Buffer.from([0xe2, 0x82])]),
      (b: Buffer, at: number) =>
        Buffer.concat([b.subarray(0, at), Buffer.from(',]'), b.subarray(at)]),
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 20 }),
        fc.nat(shapes.length - 1),
        fc.nat(harms.length - 1),
        fc.nat(),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 5 }),
        async (items, shape, harm, where, pieces) => {
          const text = Buffer.from((shapes[shape] as (i: unknown[]) => string)(items));
          const bytes = (harms[harm] as (b: Buffer, at: number) => Buffer)(
            text,
            where % (text.length + 1),
          );
          const { body, analysis } = await analyse(bytes, pieces);
          try {
            assert.ok(analysis !== null);
            assert.deepEqual(
              digestsOf(analysis, 'sha1'),
              SECRETS.map((s) => createHmac('sha1', s).update(bytes).digest()),
            );
            assert.deepEqual(withAnalysis(body, analysis), onMainThread(body));
          } finally {
            body.close();
          }
        },
      ),
      { seed: 4711, numRuns: 300 },
    );
  });

  it('reads a body of several blocks into one buffer: a key, a character, a record cut by a block end', async () => {
    const records = Array.from({ length: 2000 }, (_, i) => ({
      'Report ID': `r-${i}`,
      s: '€'.repeat(i % 7),
    }));
    // a field after the records: the second block is a whole one too, read into the same buffer
    const tail = `"items":${JSON.stringify(records)},"after":"${'y'.repeat(BLOCK_BYTES)}"}`;
    // the first block ends at 1 MiB: inside the key "items", inside a character, inside a record
    const euro = Buffer.from(tail).indexOf('€', 20_000);
    // written a block at a time (each block read whole into the buffer), or in other pieces
    const ways = [[BLOCK_BYTES], [300_000, 1_000_000]];
    for (const [cut, pieces] of [3, 5, euro + 1, euro + 2, 20_000].flatMap((c) =>
      ways.map((w) => [c, w] as const),
    )) {
      const head = `{"pad":"${'x'.repeat(BLOCK_BYTES - 10 - cut)}",`;
      assert.equal(Buffer.byteLength(head), BLOCK_BYTES - cut);
      const bytes = Buffer.from(`${head}${tail}`);
      assert.ok(bytes.length > 2 * BLOCK_BYTES);
      const { body, analysis } = await analyse(bytes, pieces);
      try {
        assert.ok(analysis !== null);
        const got = withAnalysis(body, analysis);
        assert.deepEqual(got, onMainThread(body));
        assert.deepEqual(got, { ok: true, records });
      } finally {
        body.close();
      }
    }
  });

  it('is not made when no worker is free: the main thread hashes and scans', async () => {
    let asked = 0;
    const busy: AnalysisWorkers = {
      follow: () => {
        asked += 1;
        return false;
      },
    };
    const watch = watchSpool(busy, ['sha1'], SECRETS);
    const body = spoolOf(Buffer.from('[1,2,3]'), [2], (fd, n) => watch.written(fd, n));
    try {
      assert.equal(await watch.end(body.length), null);
      assert.equal(asked, 1); // asked once, when the file opened; not again
    } finally {
      body.close();
    }
  });

  it('is null when the worker fails or goes (the main thread then does it), not an error', async () => {
    // a worker that dies: its end of the port closes without an answer
    const failing: AnalysisWorkers = {
      follow: (job) => {
        job.port.close();
        return true;
      },
    };
    const watch = watchSpool(failing, ['sha1'], SECRETS);
    const body = spoolOf(Buffer.from('[1,2,3]'), [2], (fd, n) => watch.written(fd, n));
    try {
      assert.equal(await watch.end(body.length), null);
    } finally {
      body.close();
    }
  });

  it('stops when told (a refused body), and the worker answers nothing', async () => {
    const channel = new MessageChannel();
    const spool = createSpool({ spoolBytes: 0 });
    spool.write(Buffer.from('[1,2,'));
    const job = analyseSpool({
      kind: 'analyse',
      fd: spool.fd as number,
      port: channel.port2,
      algorithms: ['sha1'],
      secrets: SECRETS,
    });
    channel.port1.postMessage({ written: 5 });
    channel.port1.postMessage({ stop: true });
    await assert.rejects(job, /not read whole/);
    channel.port1.close();
    spool.abort();
  });
});

describe('spool analysis on the real worker threads', () => {
  it('runs on a worker that takes other jobs meanwhile, and stops when the body is refused', async () => {
    const workers = createChunkWorkers({
      size: 2,
      minBytes: 0,
      privacy: null,
      encoder: () => null,
    });
    try {
      const bytes = Buffer.from(
        JSON.stringify({ items: Array.from({ length: 20_000 }, (_, i) => ({ i })) }),
      );
      const watch = watchSpool(workers, ['sha1'], SECRETS);
      const body = spoolOf(bytes, [100_000], (fd, n) => watch.written(fd, n));
      // the worker following the file is not held: jobs run on both workers before the body ends
      assert.equal(workers.idle(), 2);
      const checks = await Promise.all(
        [0, 1, 2, 3].map(() =>
          workers.run({
            kind: 'check',
            records: {
              bytes: new Uint8Array([0x31]),
              bounds: new Uint32Array([0, 1]),
              firstIndex: 0,
            },
          }),
        ),
      );
      assert.ok(checks.every((c) => c.ok));
      const analysis = await watch.end(bytes.length);
      assert.ok(analysis !== null && !(analysis.scanned instanceof CdrError));
      assert.equal(analysis.scanned.span?.starts.length, 20_000);
      assert.deepEqual(
        digestsOf(analysis, 'sha1'),
        SECRETS.map((s) => createHmac('sha1', s).update(bytes).digest()),
      );
      assert.equal(workers.idle(), 2);
      body.close();

      // refused while it is read: stopped (awaited: the worker closed its port), no answer after
      const stopped = watchSpool(workers, ['sha1'], SECRETS);
      const spool = createSpool({ spoolBytes: 0 });
      spool.write(Buffer.alloc(2_000_000, 0x20));
      stopped.written(spool.fd as number, spool.bytes);
      await stopped.stop();
      assert.equal(await stopped.end(spool.bytes), null);
      spool.abort();
      // and the workers still answer jobs
      const after = await workers.run({
        kind: 'check',
        records: { bytes: new Uint8Array([0x31]), bounds: new Uint32Array([0, 1]), firstIndex: 0 },
      });
      assert.ok(after.ok);
    } finally {
      await workers.close();
    }
  });
});
