/**
 * @module ingress/chunk-worker
 * The entry of a worker thread of the pipeline (ingress/publish-parallel.ts):
 * each message is one chunk to check or to encode, or a whole body to parse
 * and encode (ingress/encode-chunk.ts), answered by one message; encoded
 * values are transferred back. An `analyse` message, outside the pool's jobs,
 * follows a body being spooled (ingress/spool-analysis.ts) and is answered
 * over its own port once the body is read whole, between the jobs.
 * `workerData` holds the privacy settings (null: none). The encoder is made
 * from the schema id and text the main thread looked up, and kept while they
 * stay the same.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPrivacy, type PrivacySettings } from '../cdr/privacy.ts';
import { CdrError, describe } from '../errors.ts';
import { type Encoder, encoderFor } from '../kafka/wire-encoder.ts';
import { checkChunk, encodeBody, encodeChunk } from './encode-chunk.ts';
import type { ChunkAnswer, ChunkJob } from './publish-parallel.ts';
import { type AnalyseJob, followSpool } from './spool-analysis.ts';

const settings = workerData as PrivacySettings | null;
const privacy = settings === null ? null : createPrivacy(settings);
let encoder: { id: number; text: string; encoder: Encoder } | null = null;

const answer = (job: ChunkJob): ChunkAnswer => {
  if (job.kind === 'check') {
    checkChunk(job.records);
    return { ok: true, chunk: null };
  }
  const { id, text } = job.schema;
  if (encoder?.id !== id || encoder.text !== text) {
    encoder = { id, text, encoder: encoderFor(id, text) };
  }
  if (job.kind === 'body') {
    const body = encodeBody(job.bytes, job.chunkRecords, job.ingest, encoder.encoder, privacy);
    return { ok: true, body };
  }
  return { ok: true, chunk: encodeChunk(job.records, job.ingest, encoder.encoder, privacy) };
};

/** What an answer hands back rather than copies: the encoded values. */
const answerTransfer = (answer: ChunkAnswer): ArrayBuffer[] => {
  if (!answer.ok) return [];
  if ('body' in answer) return answer.body.chunks.map((c) => c.values.buffer);
  return answer.chunk === null ? [] : [answer.chunk.values.buffer];
};

/**
 * The job's bytes (megabytes: a chunk's records or a whole body), released
 * now: transferred to an empty buffer, which frees them at once. Left to the
 * collector they would stay until its next run, and a worker that transcodes
 * makes so little garbage that the collector seldom runs: bodies piled up
 * (issue 15: +70 MiB peak RSS over a run of deliveries).
 */
const release = (job: ChunkJob): void => {
  const bytes = job.kind === 'body' ? job.bytes : job.records.bytes;
  if (!bytes.buffer.detached) bytes.buffer.transfer(0);
};

const failed = (e: unknown): ChunkAnswer => {
  const error = e instanceof CdrError ? e : new CdrError('worker_failed', describe(e));
  return { ok: false, code: error.code, message: error.message };
};

const send = (reply: ChunkAnswer) => parentPort?.postMessage(reply, answerTransfer(reply));

parentPort?.on('message', (job: ChunkJob | AnalyseJob) => {
  if (job.kind === 'analyse') {
    // not a job of the pool's: answered over its own port once the body is read
    followSpool(job);
    return;
  }
  let reply: ChunkAnswer;
  try {
    reply = answer(job);
  } catch (e) {
    reply = failed(e);
  }
  release(job);
  send(reply);
});
