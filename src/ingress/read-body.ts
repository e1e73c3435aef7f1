/**
 * @module ingress/read-body
 * Reads a request body under limits: a declared Content-Length over the limit
 * is refused before a byte is read (413); an undeclared one is counted while
 * it streams and cut off at the limit. `Content-Encoding: gzip` is decoded
 * with its own limit on the decoded size (gzip bombs get 413). Bodies over
 * `spoolBytes`, as received and as decoded, are kept in a spool file rather
 * than in memory (body-bytes.ts).
 */
import { createGunzip } from 'node:zlib';
import { CdrError, fail, ok, type Result } from '../errors.ts';
import { type BodyBytes, createSpool, memoryBytes, type SpoolOptions } from './body-bytes.ts';

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

export type Encoding = 'identity' | 'gzip';

export const readEncoding = (headers: Headers): Result<Encoding> => {
  const raw = (headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (raw === 'identity' || raw === '') return ok('identity');
  if (raw === 'gzip' || raw === 'x-gzip') return ok('gzip');
  return fail(
    new CdrError(
      'content_encoding_unsupported',
      `Content-Encoding "${raw.slice(0, 40)}" is not supported (use gzip or none)`,
    ),
  );
};

export const checkDeclaredLength = (headers: Headers, limits: BodyLimits): Result<void> => {
  const declared = headers.get('content-length');
  if (declared !== null && Number(declared) > limits.maxBodyBytes) {
    return fail(tooLarge(limits.maxBodyBytes));
  }
  return ok(undefined);
};

const tooLarge = (limit: number) =>
  new CdrError('body_too_large', `the body is larger than the limit of ${limit} bytes`);

/**
 * Reads the raw body: into one buffer (sized from `expectedBytes`, the declared
 * Content-Length, when known) up to `spoolBytes`, into a spool file beyond.
 * Every chunk is reserved in `budget` first (the caller releases `wireBytes`
 * when the request ends, also on failure: see the `reserved` count in the
 * result or error path); the stream is cancelled at the first chunk past a limit.
 */
export const readBody = async (
  stream: ReadableStream<Uint8Array> | null,
  limits: BodyLimits,
  budget?: ByteBudget,
  onReserved?: (bytes: number) => void,
  expectedBytes?: number,
): Promise<Result<Body>> => {
  if (stream === null) return ok({ wire: memoryBytes(Buffer.alloc(0)), wireBytes: 0 });
  const hint = Number.isSafeInteger(expectedBytes) ? (expectedBytes as number) : 0;
  const spool = createSpool(limits, Math.min(hint, limits.maxBodyBytes));
  const reader = stream.getReader();
  const refuse = async (error: CdrError) => {
    spool.abort();
    await reader.cancel().catch(() => undefined);
    return fail(error);
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (spool.bytes + value.byteLength > limits.maxBodyBytes) {
        return await refuse(tooLarge(limits.maxBodyBytes));
      }
      if (budget !== undefined) {
        if (!budget.reserve(value.byteLength)) {
          return await refuse(
            new CdrError('ingress_busy', 'too many bytes of deliveries in flight; retry later'),
          );
        }
        onReserved?.(value.byteLength);
      }
      try {
        spool.write(value);
      } catch (cause) {
        return await refuse(spoolFailed(cause));
      }
    }
  } catch (cause) {
    spool.abort();
    return fail(
      new CdrError('body_invalid_encoding', 'the request body could not be read', { cause }),
    );
  } finally {
    reader.releaseLock();
  }
  return ok({ wire: spool.finish(), wireBytes: spool.bytes });
};

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
const gunzipBytes = async (wire: BodyBytes, limits: BodyLimits): Promise<Result<BodyBytes>> => {
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
    return fail(error);
  }
  return ok(spool.finish());
};

/** The body's bytes after Content-Encoding: as is, or gunzipped under maxDecodedBytes. */
export const decodeBody = async (
  body: Body,
  encoding: Encoding,
  limits: BodyLimits,
): Promise<Result<BodyBytes>> => {
  if (encoding === 'identity') return ok(body.wire);
  return gunzipBytes(body.wire, limits);
};
