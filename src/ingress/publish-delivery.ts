/**
 * @module ingress/publish-delivery
 * A verified body becomes records on Kafka in bounded chunks: each chunk of
 * records is parsed from the body's bytes, normalised and deduplicated (also
 * against earlier chunks), then published; the next chunk is prepared while
 * Kafka acknowledges the previous one. Memory stays at the body's bytes plus
 * about two chunks of records, whatever the delivery's size. The counts are
 * returned once every chunk is acknowledged. Invalid JSON in any record is
 * found before the first chunk is sent (nothing is published for a refused
 * delivery): the later chunks' records are checked on their bytes first,
 * without building them (ingress/json-syntax.ts); a Kafka failure ends the delivery with its error and no further
 * chunk is sent.
 */
import { setImmediate } from 'node:timers/promises';
import { type PreparedBatch, prepareChunk, type SeenReports } from '../cdr/batch.ts';
import type { Ingest } from '../cdr/normalise.ts';
import type { Privacy } from '../cdr/privacy.ts';
import type { EncodedBatch, PublishCounts } from '../kafka/publish-cdrs.ts';
import type { Encoder } from '../kafka/wire-encoder.ts';
import { encodeChunk, toEncodedBatch } from './encode-chunk.ts';
import type { RecordSlices } from './parse-body.ts';

/** Records per chunk: about 5 MB of JSON at the usual ~2.5 KB a record. */
export const DELIVERY_CHUNK_RECORDS = 2000;

/** Sends one prepared chunk and resolves once Kafka acknowledged all of it (kafka/publish-cdrs.ts). */
export type Publish = (
  batch: PreparedBatch | EncodedBatch,
  ingest: Ingest,
  deadlineMs: number,
) => Promise<PublishCounts>;

export type DeliveryOptions = {
  readonly ingest: Ingest;
  readonly publish: Publish;
  /** Longest Kafka may take to acknowledge one chunk. */
  readonly deadlineMs: number;
  readonly privacy?: Privacy | null;
  /** Called once per chunk when Kafka has acknowledged it (metrics). */
  readonly onChunk?: (batch: PreparedBatch | EncodedBatch, counts: PublishCounts) => void;
  readonly chunkRecords?: number;
  /**
   * The publisher's encoder: when given, chunks read from the body's bytes are
   * encoded as a worker encodes them (ingress/encode-chunk.ts: transcoded from
   * the bytes when the schema and privacy settings allow, else as objects).
   */
  readonly encoder?: Encoder | null;
};

/**
 * Sends a delivery's chunks one after another: a chunk goes out once the one
 * before it is acknowledged (so they land in delivery order), the counts add
 * up. A chunk still on its way when a later one failed ends unheard.
 */
export const createChunkSender = (options: DeliveryOptions) => {
  const { ingest, publish, deadlineMs, onChunk } = options;
  const total: PublishCounts = { accepted: 0, deadLettered: 0, duplicatesInBatch: 0 };
  const add = (c: PublishCounts) => {
    total.accepted += c.accepted;
    total.deadLettered += c.deadLettered;
    total.duplicatesInBatch += c.duplicatesInBatch;
    if (c.repeats !== undefined) total.repeats = (total.repeats ?? 0) + c.repeats;
    if (c.versions !== undefined) total.versions = (total.versions ?? 0) + c.versions;
  };
  let sending: Promise<PublishCounts> | null = null;
  return {
    /** Waits for the chunk before to be acknowledged, then sends `batch`. */
    async next(batch: PreparedBatch | EncodedBatch) {
      if (sending !== null) add(await sending);
      sending = publish(batch, ingest, deadlineMs).then((counts) => {
        onChunk?.(batch, counts);
        return counts;
      });
      // its failure is met at the next chunk or at the end, whatever is awaited meanwhile
      sending.catch(() => undefined);
    },
    async finish(): Promise<PublishCounts> {
      if (sending !== null) add(await sending);
      sending = null;
      return total;
    },
  };
};

export const publishDelivery = async (
  slices: RecordSlices,
  options: DeliveryOptions,
): Promise<PublishCounts> => {
  const { ingest, privacy = null, chunkRecords = DELIVERY_CHUNK_RECORDS } = options;
  const seen: SeenReports = new Map();
  // A delivery is refused whole or published whole: before the first chunk goes
  // out, the syntax of the later chunks' records is checked on their bytes (no
  // objects built), so a syntax error anywhere answers 400 with nothing on the
  // topic. One chunk: no extra pass.
  for (let from = chunkRecords; from < slices.count; from += chunkRecords) {
    slices.check(from, Math.min(from + chunkRecords, slices.count));
    await setImmediate(); // probes and other deliveries keep being answered
  }
  const sender = createChunkSender(options);
  const { encoder = null } = options;
  const { take } = slices;
  // an empty delivery is published too: the publisher answers not_ready before the schema is known
  for (let from = 0; from === 0 || from < slices.count; from += chunkRecords) {
    const to = Math.min(from + chunkRecords, slices.count);
    if (take !== undefined && encoder !== null) {
      const chunk = encodeChunk(take(from, to), ingest, encoder, privacy);
      await sender.next(toEncodedBatch([chunk], ingest, seen));
      continue;
    }
    await sender.next(prepareChunk(slices.parse(from, to), from, ingest, seen, privacy));
  }
  return sender.finish();
};
