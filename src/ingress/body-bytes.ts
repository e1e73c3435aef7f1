/**
 * @module ingress/body-bytes
 * Where a delivery's bytes are held while it is processed: in memory when it
 * is small, in a spool file when it passes a threshold. A 100,000-record
 * delivery (about 260 MB) then costs disk, not memory: the ingress reads back
 * only the block or group of records it is working on. The spool file is
 * unlinked as soon as it is created, so it disappears with its descriptor
 * even when the process is killed; `close()` releases the descriptor.
 */
import {
  closeSync,
  mkdtempSync,
  openSync,
  readSync,
  rmdirSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Bytes read per block when a spooled body is hashed or scanned. */
export const BLOCK_BYTES = 1024 * 1024;

export type BodyBytes = Iterable<Buffer> & {
  readonly length: number;
  /** True when the bytes are in a spool file rather than in memory. */
  readonly spooled: boolean;
  /** Bytes `start` (inclusive) to `end` (exclusive): a view in memory, a read from the spool. */
  read(start: number, end: number): Buffer;
  /**
   * All the bytes, for another thread, which may transfer them rather than
   * copy them: the body's own buffer when nobody else holds it (the body must
   * not be read after it is transferred), else a copy.
   */
  take(): Uint8Array<ArrayBuffer>;
  /** Releases the spool file (nothing to do in memory); idempotent. */
  close(): void;
};

const copyOf = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
};

/**
 * A body held in memory: one buffer, iterated as one block. `owned`: its
 * ArrayBuffer holds nothing else and nobody else refers to it (the spool's
 * own store), so `take` hands it over as it is instead of copying megabytes.
 */
export const memoryBytes = (buffer: Buffer, owned = false): BodyBytes => ({
  length: buffer.length,
  spooled: false,
  read: (start, end) => buffer.subarray(start, end),
  take: () =>
    owned && buffer.buffer instanceof ArrayBuffer
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length)
      : copyOf(buffer),
  close: () => undefined,
  *[Symbol.iterator]() {
    if (buffer.length > 0) yield buffer;
  },
});

/**
 * Bytes `start` to `end` of a spool file, read whole (short reads continued),
 * into a new buffer or at the start of `into` (a view of it is returned).
 */
export const readSpoolFile = (fd: number, start: number, end: number, into?: Buffer): Buffer => {
  const length = Math.max(0, end - start);
  const out = into === undefined ? Buffer.allocUnsafe(length) : into.subarray(0, length);
  let done = 0;
  while (done < out.length) {
    const n = readSync(fd, out, done, out.length - done, start + done);
    if (n === 0) throw new Error('the spool file is shorter than the body');
    done += n;
  }
  return out;
};

const fileBytes = (fd: number, length: number): BodyBytes => {
  let open = true;
  const read = (start: number, end: number): Buffer => {
    if (!open) throw new Error('the spooled body is closed');
    return readSpoolFile(fd, start, end);
  };
  return {
    length,
    spooled: true,
    read,
    take: () => copyOf(read(0, length)),
    close() {
      if (open) closeSync(fd);
      open = false;
    },
    *[Symbol.iterator]() {
      for (let at = 0; at < length; at += BLOCK_BYTES) {
        yield read(at, Math.min(at + BLOCK_BYTES, length));
      }
    },
  };
};

export type SpoolOptions = {
  /** Bodies larger than this go to a spool file; 0 spools every non-empty body. */
  readonly spoolBytes: number;
  /** Directory of spool files (default: the OS temporary directory). Should be on disk, not tmpfs. */
  readonly spoolDir?: string;
};

export type Spool = {
  /** Appends bytes (copied: the caller may reuse its buffer). */
  write(chunk: Uint8Array): void;
  /** The bytes written so far, as a body; the spool must not be written after. */
  finish(): BodyBytes;
  /** Drops what was written (on a refused or failed body). */
  abort(): void;
  readonly bytes: number;
  /** The spool file's descriptor once the bytes went to a file; null while they are in memory. */
  readonly fd: number | null;
};

/** Opens a spool file and unlinks it at once: only the descriptor keeps it. */
const openSpoolFile = (dir: string | undefined): number => {
  const folder = mkdtempSync(join(dir ?? tmpdir(), 'webex-cdr-spool-'));
  const path = join(folder, 'body');
  try {
    return openSync(path, 'w+', 0o600);
  } finally {
    try {
      unlinkSync(path);
    } catch {
      // never created
    }
    rmdirSync(folder);
  }
};

/**
 * Whether a spool file can be made in `dir` (checked at start): null when it
 * can, else the error code (ENOENT, EACCES, EROFS...).
 */
export const spoolDirProblem = (dir: string | undefined): string | null => {
  try {
    closeSync(openSpoolFile(dir));
    return null;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
};

/**
 * Collects a body: in memory up to `spoolBytes` (one buffer, grown by
 * doubling from `expectedBytes`), then in a spool file. Writes are
 * synchronous: the spool sits in the page cache, and the request stream is
 * read one chunk at a time anyway.
 */
export const createSpool = (options: SpoolOptions, expectedBytes = 0): Spool => {
  let bytes = 0;
  let fd: number | null = null;
  const first = expectedBytes > options.spoolBytes ? 0 : Math.max(expectedBytes, 64 * 1024);
  // allocUnsafeSlow: a buffer of its own, never a slice of Node's shared pool (see memoryBytes' owned)
  let store: Buffer | null = Buffer.allocUnsafeSlow(
    Math.min(first, Math.max(options.spoolBytes, 0)),
  );
  const writeFile = (file: number, chunk: Uint8Array) => {
    let done = 0;
    while (done < chunk.byteLength) {
      done += writeSync(file, chunk, done, chunk.byteLength - done, bytes + done);
    }
  };
  return {
    get bytes() {
      return bytes;
    },
    get fd() {
      return fd;
    },
    write(chunk) {
      if (fd === null && store !== null && bytes + chunk.byteLength > options.spoolBytes) {
        fd = openSpoolFile(options.spoolDir);
        let done = 0;
        while (done < bytes) done += writeSync(fd, store, done, bytes - done, done);
        store = null;
      }
      if (fd !== null) {
        writeFile(fd, chunk);
      } else if (store !== null) {
        if (bytes + chunk.byteLength > store.length) {
          const grown = Buffer.allocUnsafeSlow(
            Math.max(store.length * 2, bytes + chunk.byteLength),
          );
          store.copy(grown, 0, 0, bytes);
          store = grown;
        }
        store.set(chunk, bytes);
      }
      bytes += chunk.byteLength;
    },
    finish() {
      if (fd !== null) return fileBytes(fd, bytes);
      return memoryBytes((store ?? Buffer.alloc(0)).subarray(0, bytes), store !== null);
    },
    abort() {
      if (fd !== null) closeSync(fd);
      fd = null;
      store = null;
    },
  };
};
