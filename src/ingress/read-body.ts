/**
 * @module ingress/read-body
 * Reads a request body under limits: a declared Content-Length over the limit
 * is refused before a byte is read (413); an undeclared one is counted while
 * it streams and cut off at the limit. `Content-Encoding: gzip` is decoded
 * with its own limit on the decoded size (gzip bombs get 413).
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { CdrError, fail, ok, type Result } from '../errors.ts';

const gunzipAsync = promisify(gunzip);

export type BodyLimits = { readonly maxBodyBytes: number; readonly maxDecodedBytes: number };

export type Body = {
  /** The bytes as received (one buffer, or none for an empty body). */
  readonly wire: readonly Buffer[];
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
 * Reads the raw body into one buffer (sized from `expectedBytes`, the declared
 * Content-Length, when known; grown by doubling otherwise), so the body is
 * held once and never copied into a string. Every chunk is reserved in
 * `budget` first (the caller releases `wireBytes` when the request ends, also
 * on failure: see the `reserved` count in the result or error path); the
 * stream is cancelled at the first chunk past a limit.
 */
export const readBody = async (
  stream: ReadableStream<Uint8Array> | null,
  limits: BodyLimits,
  budget?: ByteBudget,
  onReserved?: (bytes: number) => void,
  expectedBytes?: number,
): Promise<Result<Body>> => {
  let wireBytes = 0;
  if (stream === null) return ok({ wire: [], wireBytes });
  const hint = Number.isSafeInteger(expectedBytes) ? (expectedBytes as number) : 0;
  let store = Buffer.allocUnsafe(Math.min(Math.max(hint, 64 * 1024), limits.maxBodyBytes));
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (wireBytes + value.byteLength > limits.maxBodyBytes) {
        await reader.cancel().catch(() => undefined);
        return fail(tooLarge(limits.maxBodyBytes));
      }
      if (budget !== undefined) {
        if (!budget.reserve(value.byteLength)) {
          await reader.cancel().catch(() => undefined);
          return fail(
            new CdrError('ingress_busy', 'too many bytes of deliveries in flight; retry later'),
          );
        }
        onReserved?.(value.byteLength);
      }
      if (wireBytes + value.byteLength > store.length) {
        const grown = Buffer.allocUnsafe(
          Math.min(Math.max(store.length * 2, wireBytes + value.byteLength), limits.maxBodyBytes),
        );
        store.copy(grown, 0, 0, wireBytes);
        store = grown;
      }
      store.set(value, wireBytes);
      wireBytes += value.byteLength;
    }
  } catch (cause) {
    return fail(
      new CdrError('body_invalid_encoding', 'the request body could not be read', { cause }),
    );
  } finally {
    reader.releaseLock();
  }
  return ok({ wire: wireBytes === 0 ? [] : [store.subarray(0, wireBytes)], wireBytes });
};

/** The body's bytes after Content-Encoding: as is, or gunzipped under maxDecodedBytes. */
export const decodeBody = async (
  body: Body,
  encoding: Encoding,
  limits: BodyLimits,
): Promise<Result<Buffer>> => {
  const bytes =
    body.wire.length === 1 && body.wire[0] !== undefined
      ? body.wire[0]
      : Buffer.concat(body.wire, body.wireBytes);
  if (encoding === 'identity') return ok(bytes);
  try {
    return ok(await gunzipAsync(bytes, { maxOutputLength: limits.maxDecodedBytes }));
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      return fail(
        new CdrError(
          'body_too_large',
          `the decoded body is larger than the limit of ${limits.maxDecodedBytes} bytes`,
        ),
      );
    }
    return fail(new CdrError('body_invalid_encoding', 'the body is not valid gzip'));
  }
};
