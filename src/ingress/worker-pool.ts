/**
 * @module ingress/worker-pool
 * A fixed number of worker threads running one entry module, each given one
 * job at a time; jobs beyond them wait in order. A job is answered by the
 * worker's one message back. A worker that dies (an uncaught error, an exit,
 * running out of memory) fails the job it held with `worker_failed` (503, the
 * sender retries) and is replaced at once; the jobs waiting are not affected.
 * `close()` fails whatever is waiting or running and terminates the workers.
 * Workers are unref'd: an idle pool does not keep the process alive.
 */
import { type Transferable, Worker } from 'node:worker_threads';
import { CdrError } from '../errors.ts';

export type WorkerPool<Job, Answer> = {
  readonly size: number;
  /** Runs `job` on the next free worker; `transfer` lists buffers moved to it, not copied. */
  run(job: Job, transfer?: readonly Transferable[]): Promise<Answer>;
  /** Workers with no job now (a job run now starts at once). */
  idle(): number;
  /**
   * Posts a message that is not a job to a worker with no job now (the
   * worker answers it some other way, e.g. over a port it is given); false
   * when every worker has a job.
   */
  post(message: unknown, transfer: readonly Transferable[]): boolean;
  /** Workers replaced after dying, since the start. */
  replaced(): number;
  close(): Promise<void>;
};

type Pending<Job, Answer> = {
  job: Job;
  transfer: readonly Transferable[];
  resolve: (a: Answer) => void;
  reject: (e: Error) => void;
};

type Slot<Job, Answer> = { worker: Worker; current: Pending<Job, Answer> | null };

export const createWorkerPool = <Job, Answer>(options: {
  size: number;
  /** The worker's module (a file URL). */
  entry: URL;
  /** Given to every worker as `workerData`, replacements too. */
  workerData?: unknown;
}): WorkerPool<Job, Answer> => {
  const queue: Pending<Job, Answer>[] = [];
  const slots: Slot<Job, Answer>[] = [];
  let closed = false;
  let replaced = 0;

  const start = (): Slot<Job, Answer> => {
    const worker = new Worker(options.entry, { workerData: options.workerData });
    worker.unref();
    const slot: Slot<Job, Answer> = { worker, current: null };
    let why = 'it exited';
    worker.on('message', (answer: Answer) => {
      const done = slot.current;
      slot.current = null;
      done?.resolve(answer);
      pump();
    });
    worker.on('error', (e) => {
      why = `it failed: ${e.message}`;
    });
    worker.on('exit', (code) => {
      const lost = slot.current;
      slot.current = null;
      lost?.reject(
        new CdrError(
          'worker_failed',
          `a worker thread stopped during the delivery (${why}, code ${code})`,
        ),
      );
      const at = slots.indexOf(slot);
      if (closed || at < 0) return;
      replaced += 1;
      slots[at] = start();
      pump();
    });
    return slot;
  };

  const pump = () => {
    for (const slot of slots) {
      if (slot.current !== null) continue;
      const next = queue.shift();
      if (next === undefined) return;
      slot.current = next;
      slot.worker.postMessage(next.job, next.transfer);
    }
  };

  for (let i = 0; i < options.size; i++) slots.push(start());

  return {
    size: options.size,
    run(job, transfer = []) {
      if (closed) return Promise.reject(new CdrError('not_ready', 'the worker pool is closed'));
      return new Promise<Answer>((resolve, reject) => {
        queue.push({ job, transfer, resolve, reject });
        pump();
      });
    },
    idle: () => slots.reduce((n, s) => (s.current === null ? n + 1 : n), 0),
    post(message, transfer) {
      const free = closed ? undefined : slots.find((s) => s.current === null);
      free?.worker.postMessage(message, transfer);
      return free !== undefined;
    },
    replaced: () => replaced,
    async close() {
      closed = true;
      for (const waiting of queue.splice(0)) {
        waiting.reject(new CdrError('not_ready', 'the ingress is shutting down; retry later'));
      }
      await Promise.all(slots.splice(0).map((s) => s.worker.terminate()));
    },
  };
};
