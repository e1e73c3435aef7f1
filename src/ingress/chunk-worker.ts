/**
 * @module ingress/chunk-worker
 * The entry of a worker thread of the pipeline (ingress/publish-parallel.ts):
 * each message is one chunk to check or to encode (ingress/encode-chunk.ts),
 * answered by one message; an encoded chunk's values are transferred back.
 * `workerData` holds the privacy settings (null: none). The encoder is made
 * from the schema id and text the main thread looked up, and kept while they
 * stay the same.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPrivacy, type PrivacySettings } from '../cdr/privacy.ts';
import { CdrError, describe } from '../errors.ts';
import { type Encoder, encoderFor } from '../kafka/registry.ts';
import { checkChunk, encodeChunk } from './encode-chunk.ts';
import type { ChunkAnswer, ChunkJob } from './publish-parallel.ts';

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
  return { ok: true, chunk: encodeChunk(job.records, job.ingest, encoder.encoder, privacy) };
};

parentPort?.on('message', (job: ChunkJob) => {
  let reply: ChunkAnswer;
  try {
    reply = answer(job);
  } catch (e) {
    const error = e instanceof CdrError ? e : new CdrError('worker_failed', describe(e));
    reply = { ok: false, code: error.code, message: error.message };
  }
  parentPort?.postMessage(
    reply,
    reply.ok && reply.chunk !== null ? [reply.chunk.values.buffer] : [],
  );
});
