/**
 * @module ingress/spool-analysis
 * A large body's signature digests and records scan, taken on a worker thread
 * while the main thread is still reading the body into its spool file: by the
 * time the last byte is in, both are (nearly) done, where the main thread
 * would otherwise read the whole spool back twice, once to hash it and once
 * to scan it, while the other core waited (issue 15: 0.57 s of a 3.9 s
 * 100,000-record delivery).
 *
 * The worker reads the spool file itself, through the same descriptor (file
 * descriptors are the process'), up to what the main thread says it wrote:
 * nothing is copied between threads, and a worker that starts late catches
 * up. It hashes every byte with each secret, for each algorithm claimed
 * (createBodyHashes), and scans the same blocks as the main thread would
 * (createBodyScan): the same checks, the same span, the same error. The
 * route checks the signature first, then takes the scan's error or span
 * (so an unsigned bad body is still a 401, not a 400).
 *
 * The job goes to a worker that is free as the spool file opens, so it never
 * waits behind other deliveries' chunks; it does not hold that worker: while
 * it waits for bytes (a slow sender), the worker takes other jobs, the
 * analysis catching up between them. No free worker, or a worker that fails
 * or stops (or a scan that throws anything but the body's own error): the
 * body is hashed and scanned on the main thread as before.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { CdrError, type ErrorCode } from '../errors.ts';
import { BLOCK_BYTES, readSpoolFile } from './body-bytes.ts';
import { type BodyScanned, createBodyScan } from './parse-body.ts';
import { type Algorithm, createBodyHashes } from './verify-signature.ts';

/** The job given to a worker (chunk-worker.ts): the spool's descriptor and what to hash with. */
export type AnalyseJob = {
  readonly kind: 'analyse';
  readonly fd: number;
  /** Where the main thread says how far the file is written (transferred). */
  readonly port: MessagePort;
  readonly algorithms: readonly Algorithm[];
  readonly secrets: readonly string[];
};

/** What the main thread tells the worker: bytes written so far, the body's end, or stop. */
type Progress = { readonly written: number } | { readonly end: number } | { readonly stop: true };

/** The worker's answer: digests by algorithm, one a secret; the scan's span or error. */
export type AnalyseAnswer = {
  readonly digests: ReadonlyMap<Algorithm, readonly Uint8Array[]>;
  readonly span: {
    readonly start: number;
    readonly end: number;
    readonly starts: Float64Array<ArrayBuffer>;
    readonly ends: Float64Array<ArrayBuffer>;
  } | null;
  readonly error: { readonly code: ErrorCode; readonly message: string } | null;
};

/**
 * On the worker: follows the file as it grows, hashing and scanning each new
 * block, until the end (the answer) or stop (rejected: nobody waits for it).
 */
export const analyseSpool = (job: AnalyseJob): Promise<AnalyseAnswer> =>
  new Promise((resolve, reject) => {
    const hashes = createBodyHashes(job.algorithms, job.secrets);
    const scan = createBodyScan();
    let error: CdrError | null = null;
    let at = 0;
    // one buffer for every block (the hashes and the scan keep nothing of it): a
    // new one a block would leave the body's size in buffers for the collector,
    // which runs seldom on a thread that makes so little garbage
    const room = Buffer.allocUnsafeSlow(BLOCK_BYTES);
    const catchUp = (upTo: number) => {
      while (at < upTo) {
        const block = readSpoolFile(job.fd, at, Math.min(upTo, at + BLOCK_BYTES), room);
        hashes.update(block);
        if (error === null) {
          try {
            scan.feed(block);
          } catch (e) {
            if (!(e instanceof CdrError)) throw e; // not the body's fault: the main thread does it
            error = e;
          }
        }
        at += block.length;
      }
    };
    const finish = (): AnalyseAnswer => {
      let scanned: BodyScanned = { span: undefined };
      if (error === null) {
        try {
          scanned = scan.finish();
        } catch (e) {
          if (!(e instanceof CdrError)) throw e;
          error = e;
        }
      }
      const { span } = scanned;
      return {
        digests: hashes.digests(),
        span:
          span === undefined
            ? null
            : {
                start: span.start,
                end: span.end,
                starts: Float64Array.from(span.starts),
                ends: Float64Array.from(span.ends),
              },
        error: error === null ? null : { code: error.code, message: error.message },
      };
    };
    let settled = false;
    const done = (outcome: () => void) => {
      settled = true;
      outcome();
    };
    job.port.on('message', (m: Progress) => {
      if (settled) return;
      try {
        if ('stop' in m) return done(() => reject(new Error('the body was not read whole')));
        if ('written' in m) return catchUp(m.written);
        catchUp(m.end);
        const answer = finish();
        done(() => resolve(answer));
      } catch (e) {
        done(() => reject(e));
      }
    });
    job.port.on('close', () =>
      done(() => reject(new Error('the main thread closed the analysis'))),
    );
  });

/**
 * On the worker: the analysis answered over its port, which is then closed
 * (stopped or failed: closed without an answer, which the main thread takes
 * as no analysis).
 */
export const followSpool = (job: AnalyseJob): void => {
  analyseSpool(job)
    .then(
      (answer) => job.port.postMessage(answer, analyseTransfer(answer)),
      () => undefined,
    )
    .finally(() => job.port.close());
};

/** What an answer hands back rather than copies: the bounds of the records. */
export const analyseTransfer = (answer: AnalyseAnswer): ArrayBuffer[] =>
  answer.span === null ? [] : [answer.span.starts.buffer, answer.span.ends.buffer];

/** The analysis as the route takes it: digests to check the claims against, then the scan. */
export type SpoolAnalysis = {
  readonly digests: ReadonlyMap<Algorithm, readonly Uint8Array[]>;
  /** The scan of the body, or the error the main thread's scan would have thrown. */
  readonly scanned: BodyScanned | CdrError;
};

/** The main thread's side: told of each write to the spool, then of the end. */
export type SpoolWatch = {
  /** The spool file `fd` now holds `bytes` bytes of the body. */
  written(fd: number, bytes: number): void;
  /** The body is read whole (`bytes`): its analysis, or null when none was made (or it failed). */
  end(bytes: number): Promise<SpoolAnalysis | null>;
  /** The body is refused or the request ends: the worker stops (awaited, before the file closes). */
  stop(): Promise<void>;
};

/** The main thread tells the worker of progress every so many bytes (a message is cheap, not free). */
const PROGRESS_BYTES = BLOCK_BYTES;

export type AnalysisWorkers = {
  /**
   * Gives the job to a worker with no job now, beside the jobs it will be
   * given (it waits for the body's bytes between them); false when none is
   * free. The answer comes over the job's port.
   */
  follow(job: AnalyseJob): boolean;
};

export const watchSpool = (
  workers: AnalysisWorkers,
  algorithms: readonly Algorithm[],
  secrets: readonly string[],
): SpoolWatch => {
  let job: Promise<AnalyseAnswer | null> | null = null;
  let port: MessagePort | null = null;
  let declined = false;
  let told = 0;
  let settled = false;
  const close = () => {
    settled = true;
    port?.close();
  };
  return {
    written(fd, bytes) {
      if (declined || settled) return;
      if (port === null) {
        const channel = new MessageChannel();
        const ours = channel.port1;
        if (!workers.follow({ kind: 'analyse', fd, port: channel.port2, algorithms, secrets })) {
          ours.close();
          declined = true;
          return;
        }
        port = ours;
        // the answer, or null when the port closes without one (stopped, failed, the worker gone)
        job = new Promise((resolve) => {
          ours.once('message', (answer: AnalyseAnswer) => resolve(answer));
          ours.once('close', () => resolve(null));
        });
      }
      if (bytes - told >= PROGRESS_BYTES) {
        port.postMessage({ written: bytes } satisfies Progress);
        told = bytes;
      }
    },
    async end(bytes) {
      if (job === null || port === null || settled) return null;
      port.postMessage({ end: bytes } satisfies Progress);
      const answer = await job;
      close();
      if (answer === null) return null;
      const { span, error } = answer;
      return {
        digests: answer.digests,
        scanned:
          error !== null
            ? new CdrError(error.code, error.message)
            : { span: span === null ? undefined : span },
      };
    },
    async stop() {
      if (job === null || port === null || settled) return;
      port.postMessage({ stop: true } satisfies Progress);
      await job;
      close();
    },
  };
};
