/**
 * @module ingress/publish-parallel
 * A large delivery published with worker threads (INGRESS_WORKERS): the main
 * thread keeps HTTP, the signature, the dedup index and the Kafka client;
 * the workers parse, normalise, hash and Avro-encode chunks of records
 * (ingress/encode-chunk.ts), given the records' bytes and the schema the
 * main thread looked up. The rules of the inline path hold:
 *
 *   - refused whole or published whole: every chunk after the first is
 *     syntax-checked (on the workers) before the first is sent;
 *   - in order: chunks are encoded in parallel, but taken in delivery order,
 *     and each is sent once the one before it is acknowledged;
 *   - a chunk that fails (its error, or `worker_failed` when its worker died)
 *     ends the delivery with that error, and nothing after it is sent;
 *   - bounded memory: at most `size` chunks are on the workers, and one being
 *     sent, besides the body's bytes (a window of `size` jobs).
 *
 * A delivery of fewer chunks than workers has each chunk encoded in parts (one
 * per worker), put together again before it is sent: what is sent, and the
 * choice among versions of a Report ID, are those of the whole chunk.
 *
 * Below `minBytes` a body is processed inline (cheaper than the hand-over).
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SeenReports } from '../cdr/batch.ts';
import type { Ingest } from '../cdr/normalise.ts';
import type { Privacy } from '../cdr/privacy.ts';
import { CdrError, type ErrorCode } from '../errors.ts';
import type { PublishCounts } from '../kafka/publish-cdrs.ts';
import type { Encoder } from '../kafka/wire-encoder.ts';
import { type EncodedBody, type EncodedChunk, encodeBody, toEncodedBatch } from './encode-chunk.ts';
import type { RecordBytes, RecordSlices } from './parse-body.ts';
import {
  createChunkSender,
  DELIVERY_CHUNK_RECORDS,
  type DeliveryOptions,
} from './publish-delivery.ts';
import type { AnalysisWorkers } from './spool-analysis.ts';
import { createWorkerPool } from './worker-pool.ts';

/** The schema a chunk is encoded with: looked up once, on the main thread. */
export type ChunkSchema = { readonly id: number; readonly text: string };

export type ChunkJob =
  | { readonly kind: 'check'; readonly records: RecordBytes }
  | {
      readonly kind: 'encode';
      readonly records: RecordBytes;
      readonly ingest: Ingest;
      readonly schema: ChunkSchema;
    }
  | {
      /** A body in memory, handed whole (publishBodyOnWorker). */
      readonly kind: 'body';
      readonly bytes: Uint8Array<ArrayBuffer>;
      readonly chunkRecords: number;
      readonly ingest: Ingest;
      readonly schema: ChunkSchema;
    };

export type ChunkAnswer =
  | { readonly ok: true; readonly chunk: EncodedChunk | null }
  | { readonly ok: true; readonly body: EncodedBody }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

/** What a job hands over to its worker rather than copies. */
const transferOf = (job: ChunkJob): ArrayBuffer[] =>
  job.kind === 'body' ? [job.bytes.buffer] : [job.records.bytes.buffer, job.records.bounds.buffer];

export type ChunkWorkers = AnalysisWorkers & {
  readonly size: number;
  /** Bodies smaller than this are processed inline. */
  readonly minBytes: number;
  /** The schema to encode with; null until the sink has it (the inline path then answers). */
  schema(): ChunkSchema | null;
  run(job: ChunkJob): Promise<ChunkAnswer>;
  close(): Promise<void>;
};

/** The worker's module, beside this one: .ts run from the sources, .js from dist/. */
const WORKER_ENTRY = new URL(
  `./chunk-worker${extname(fileURLToPath(import.meta.url))}`,
  import.meta.url,
);

export const createChunkWorkers = (options: {
  size: number;
  minBytes: number;
  privacy: Privacy | null;
  encoder: () => Encoder | null;
}): ChunkWorkers & { replaced(): number; idle(): number } => {
  const pool = createWorkerPool<ChunkJob, ChunkAnswer>({
    size: options.size,
    entry: WORKER_ENTRY,
    workerData: options.privacy?.settings ?? null,
  });
  const run = (job: ChunkJob) => pool.run(job, transferOf(job));
  return {
    size: options.size,
    minBytes: options.minBytes,
    schema() {
      const e = options.encoder();
      return e?.schemaText === undefined ? null : { id: e.schemaId, text: e.schemaText };
    },
    run,
    follow: (job) => pool.post(job, [job.port]),
    idle: pool.idle,
    replaced: pool.replaced,
    close: pool.close,
  };
};

/**
 * Starts job i for i = 0..count-1, at most `window` at a time, and hands their
 * results to `take` in order of i (each awaited before the next job starts). A
 * job or `take` that fails ends it with that error; jobs still running are
 * left to end unheard.
 */
const inOrder = async <T>(
  count: number,
  window: number,
  start: (i: number) => Promise<T>,
  take: (result: T) => Promise<void> | void,
): Promise<void> => {
  const running: Promise<T>[] = [];
  let next = 0;
  const fill = () => {
    while (next < count && running.length < window) {
      const job = start(next++);
      job.catch(() => undefined); // awaited in turn below; meanwhile not unhandled
      running.push(job);
    }
  };
  fill();
  while (running.length > 0) {
    const result = await (running.shift() as Promise<T>);
    fill();
    await take(result);
  }
};

/** A job's answer, or its error thrown (`worker_failed` when its worker died). */
const answerOf = async (workers: ChunkWorkers, job: ChunkJob) => {
  const answer = await workers.run(job);
  if (!answer.ok) throw new CdrError(answer.code, answer.message);
  return answer;
};

/**
 * A body in memory of at most WHOLE_PARSE_BYTES, handed whole to one worker:
 * no scan on the main thread, which keeps HTTP, the signature and Kafka; the
 * worker parses it as the inline path would (a syntax error anywhere refuses
 * it, nothing sent) and encodes it in the inline path's chunks, which are sent
 * here in order, each once the one before is acknowledged. Deliveries in
 * flight at once run on as many workers.
 */
export const publishBodyOnWorker = async (
  bytes: Uint8Array<ArrayBuffer>,
  options: DeliveryOptions & { workers: ChunkWorkers; schema: ChunkSchema },
): Promise<{ received: number; counts: PublishCounts }> => {
  const { ingest, workers, schema, chunkRecords = DELIVERY_CHUNK_RECORDS } = options;
  const answer = await answerOf(workers, { kind: 'body', bytes, chunkRecords, ingest, schema });
  if (!('body' in answer)) throw new CdrError('worker_failed', 'a worker answered without records');
  return sendBody(answer.body, options);
};

/**
 * A body in memory of at most WHOLE_PARSE_BYTES encoded here, as a worker
 * would (encodeBody): a lone delivery has no hand-over to wait for.
 */
export const publishBodyHere = (
  bytes: Buffer,
  options: DeliveryOptions & { encoder: Encoder },
): Promise<{ received: number; counts: PublishCounts }> => {
  const { ingest, encoder, privacy = null, chunkRecords = DELIVERY_CHUNK_RECORDS } = options;
  return sendBody(encodeBody(bytes, chunkRecords, ingest, encoder, privacy), options);
};

/** A body's encoded chunks sent in order, each once the one before is acknowledged. */
const sendBody = async (body: EncodedBody, options: DeliveryOptions) => {
  const seen: SeenReports = new Map();
  const sender = createChunkSender(options);
  for (const chunk of body.chunks) await sender.next(toEncodedBatch([chunk], options.ingest, seen));
  return { received: body.received, counts: await sender.finish() };
};

export const publishInParallel = async (
  slices: RecordSlices,
  options: DeliveryOptions & { workers: ChunkWorkers; schema: ChunkSchema },
): Promise<PublishCounts> => {
  const { ingest, workers, schema, chunkRecords = DELIVERY_CHUNK_RECORDS } = options;
  const { take } = slices;
  if (take === undefined) throw new Error('publishInParallel: the body was parsed whole');
  const chunks = Math.max(1, Math.ceil(slices.count / chunkRecords));
  const records = (i: number) =>
    take(i * chunkRecords, Math.min((i + 1) * chunkRecords, slices.count));
  const run = async (job: ChunkJob): Promise<EncodedChunk | null> => {
    const answer = await answerOf(workers, job);
    return 'chunk' in answer ? answer.chunk : null;
  };
  const window = Math.max(1, workers.size);
  // refused whole: the later chunks' syntax, before anything is sent
  await inOrder(
    chunks - 1,
    window,
    (i) => run({ kind: 'check', records: records(i + 1) }),
    () => undefined,
  );
  // Fewer chunks than workers (a delivery of one or two chunks): each chunk is
  // encoded in parts, one per worker, and sent whole once its parts are in.
  const parts = Math.max(1, Math.ceil(workers.size / chunks));
  const partRecords = Math.ceil(chunkRecords / parts);
  const part = (j: number) => {
    const chunk = Math.floor(j / parts);
    const from = chunk * chunkRecords + (j % parts) * partRecords;
    const end = Math.min((chunk + 1) * chunkRecords, slices.count);
    return take(Math.min(from, end), Math.min(from + partRecords, end));
  };
  const seen: SeenReports = new Map();
  const sender = createChunkSender(options);
  let done: EncodedChunk[] = [];
  await inOrder(
    chunks * parts,
    window,
    (j) => run({ kind: 'encode', records: part(j), ingest, schema }),
    async (chunk) => {
      if (chunk === null) throw new CdrError('worker_failed', 'a worker answered without records');
      done.push(chunk);
      if (done.length < parts) return;
      const batch = toEncodedBatch(done, ingest, seen);
      done = [];
      await sender.next(batch);
    },
  );
  return sender.finish();
};
