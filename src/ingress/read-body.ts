/**
 * @module ingress/read-body
 * Reads a request body under limits: a declared Content-Length over the limit
 * is refused before a byte is read (413); an undeclared one is counted while
 * it streams and cut off at the limit. `Content-Encoding: gzip` is decoded
 * with its own limit on the decoded size (gzip bombs get 413). Bodies over
 * `spoolBytes`, as received and as decoded, are kept in a spool file rather
 * than in memory (body-bytes.ts). Every step throws its coded error: the route
 * only passes it on.
 */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { CdrError } from '../errors.ts';
import { type BodyBytes, createSpool, memoryBytes, type SpoolOptions } from './body-bytes.ts';
import type { SpoolWatch } from './spool-analysis.ts';

export type BodyLimits = SpoolOptions & {
  readonly maxBodyBytes: number;
  readonly maxDecodedBytes: number;
};

export type Body = {
  /** The bytes as received; `close()` them when the request ends. */
  readonly wire: BodyBytes;
  readonly wireBytes: number;
};

/** Bytes held by all requests in flight; a request that would pass the cap is refused. */
export type ByteBudget = { reserve(bytes: number): boolean; release(bytes: number): void };

export const createByteBudget = (cap: number): ByteBudget & { held(): number } => {
  let held = 0;
  return {
    reserve(bytes) {
      if (held + bytes > cap) return false;
      held += bytes;
      return true;
    },
    release(bytes) {
      held -= bytes;
    },
    held: () => held,
  };
};

/** What one request holds of a budget: reserved chunk by chunk, given back at once. */
export type BudgetLease = { reserve(bytes: number): boolean; release(): void };

/** A lease on `budget`; without a budget every reservation succeeds. */
export const leaseBytes = (budget: ByteBudget | undefined): BudgetLease => {
  let held = 0;
  return {
    reserve(bytes) {
      if (budget === undefined) return true;
      if (!budget.reserve(bytes)) return false;
      held += bytes;
      return true;
    },
    release() {
      budget?.release(held);
      held = 0;
    },
  };
};

export type Encoding = 'identity' | 'gzip';

export const readEncoding = (headers: Headers): Encoding => {
  const raw = (headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (raw === 'identity' || raw === '') return 'identity';
  if (raw === 'gzip' || raw === 'x-gzip') return 'gzip';
  throw new CdrError(
    'content_encoding_unsupported',
    `Content-Encoding "${raw.slice(0, 40)}" is not supported (use gzip or none)`,
  );
};

/** Refuses a declared Content-Length over the limit before a byte is read. */
export const checkDeclaredLength = (headers: Headers, limits: BodyLimits): void => {
  const declared = headers.get('content-length');
  if (declared !== null && Number(declared) > limits.maxBodyBytes) {
    throw tooLarge(limits.maxBodyBytes);
  }
};

const tooLarge = (limit: number) =>
  new CdrError('body_too_large', `the body is larger than the limit of ${limit} bytes`);

export type ReadOptions = {
  readonly limits: BodyLimits;
  /** Every chunk is reserved here first; the caller releases it when the request ends. */
  readonly lease?: BudgetLease;
  /** The declared Content-Length, when known: the size of the buffer. */
  readonly expectedBytes?: number;
  /**
   * Told of each write once the body goes to a spool file (spool-analysis.ts);
   * stopped, and awaited, before a refused body's file is closed.
   */
  readonly watch?: Pick<SpoolWatch, 'written' | 'stop'>;
};

/**
 * Where a body comes from: the web stream of a Request (Hono's `app.request`,
 * any fetch runtime), or, served by @hono/node-server, Node's IncomingMessage
 * itself (`c.env.incoming`). Reading the IncomingMessage directly skips the
 * Request object and the two web-stream layers node-server puts around it,
 * about 5 % of the main thread's time on 2,000-record deliveries.
 */
export type BodySource = ReadableStream<Uint8Array> | Readable;

/**
 * Reads the raw body: into one buffer (sized from `expectedBytes`) up to
 * `spoolBytes`, into a spool file beyond. Every chunk is reserved in the lease
 * first; reading stops at the first chunk past a limit (a web stream is
 * cancelled; an IncomingMessage is paused and left to the server, which drains
 * or closes it once the answer is sent).
 */
export const readBody = async (
  source: BodySource | null,
  { limits, lease, expectedBytes, watch }: ReadOptions,
): Promise<Body> => {
  if (source === null) return { wire: memoryBytes(Buffer.alloc(0)), wireBytes: 0 };
  const hint = Number.isSafeInteger(expectedBytes) ? (expectedBytes as number) : 0;
  const spool = createSpool(limits, Math.min(hint, limits.maxBodyBytes));
  /** Takes one chunk; says why the body is refused when it passes a limit. */
  const take = (value: Uint8Array): CdrError | null => {
    if (spool.bytes + value.byteLength > limits.maxBodyBytes) {
      return tooLarge(limits.maxBodyBytes);
    }
    if (lease !== undefined && !lease.reserve(value.byteLength)) {
      return new CdrError('ingress_busy', 'too many bytes of deliveries in flight; retry later');
    }
    try {
      spool.write(value);
      if (spool.fd !== null) watch?.written(spool.fd, spool.bytes);
      return null;
    } catch (cause) {
      return spoolFailed(cause);
    }
  };
  let refused: CdrError | null;
  try {
    refused =
      source instanceof Readable ? await readNode(source, take) : await readWeb(source, take);
  } catch (cause) {
    await watch?.stop();
    spool.abort();
    throw new CdrError('body_invalid_encoding', 'the request body could not be read', { cause });
  }
  if (refused !== null) {
    await watch?.stop();
    spool.abort();
    throw refused;
  }
  return { wire: spool.finish(), wireBytes: spool.bytes };
};

type Take = (value: Uint8Array) => CdrError | null;

/** Reads a web stream chunk by chunk; cancels it at the first refusal. */
const readWeb = async (stream: ReadableStream<Uint8Array>, take: Take) => {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return null;
      const refused = take(value);
      if (refused !== null) {
        await reader.cancel().catch(() => undefined);
        return refused;
      }
    }
  } finally {
    reader.releaseLock();
  }
};

/**
 * Reads a Node stream by its `data` events; at the first refusal it stops
 * listening and pauses the stream. A stream that closes or fails before its
 * end rejects (the client went away, or Node's request timeout cut it off).
 */
const readNode = (stream: Readable, take: Take) =>
  new Promise<CdrError | null>((resolve, reject) => {
    if (stream.readableEnded) {
      resolve(null);
      return;
    }
    const stop = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      const refused = take(chunk);
      if (refused === null) return;
      stop();
      stream.pause();
      resolve(refused);
    };
    const onEnd = () => {
      stop();
      resolve(null);
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    const onClose = () => onError(new Error('the connection closed before the body ended'));
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    if (stream.destroyed) onClose();
  });

/** The spool directory is full or not writable: our problem, so 503 and Webex retries. */
const spoolFailed = (cause: unknown) =>
  new CdrError(
    'ingress_busy',
    `the body could not be written to the spool directory: ${(cause as { code?: string }).code ?? String(cause)}`,
    { cause },
  );

const decodedTooLarge = (limit: number) =>
  new CdrError('body_too_large', `the decoded body is larger than the limit of ${limit} bytes`);

/**
 * Gunzips `wire` block by block into a spool (memory, then a file past
 * `spoolBytes`), stopping at `maxDecodedBytes`.
 */
const gunzipBytes = async (wire: BodyBytes, limits: BodyLimits): Promise<BodyBytes> => {
  const spool = createSpool(limits);
  const gunzip = createGunzip();
  let error: CdrError | null = null;
  const done = new Promise<void>((resolve) => {
    gunzip.on('data', (chunk: Buffer) => {
      if (error !== null) return;
      if (spool.bytes + chunk.length > limits.maxDecodedBytes) {
        error = decodedTooLarge(limits.maxDecodedBytes);
        gunzip.destroy();
        resolve();
        return;
      }
      try {
        spool.write(chunk);
      } catch (cause) {
        error = spoolFailed(cause);
        gunzip.destroy();
        resolve();
      }
    });
    gunzip.on('error', () => {
      error ??= new CdrError('body_invalid_encoding', 'the body is not valid gzip');
      resolve();
    });
    gunzip.on('end', () => resolve());
    gunzip.on('close', () => resolve());
  });
  for (const block of wire) {
    if (error !== null) break;
    if (!gunzip.write(block)) {
      await new Promise<void>((resolve) => {
        const go = () => {
          gunzip.off('drain', go);
          gunzip.off('close', go);
          resolve();
        };
        gunzip.on('drain', go);
        gunzip.on('close', go);
      });
    }
  }
  if (error === null) gunzip.end();
  await done;
  if (error !== null) {
    spool.abort();
    throw error;
  }
  return spool.finish();
};

/** The body's bytes after Content-Encoding: as is, or gunzipped under maxDecodedBytes. */
export const decodeBody = async (
  body: Body,
  encoding: Encoding,
  limits: BodyLimits,
): Promise<BodyBytes> => {
  if (encoding === 'identity') return body.wire;
  return gunzipBytes(body.wire, limits);
};
