/**
 * @module kafka/kafkajs/codecs
 * zstd for kafkajs, from Node's own zlib (Node 22.15+): kafkajs ships only gzip
 * and leaves the other codecs to plugins. Compression and decompression run on
 * libuv's thread pool, as kafkajs' gzip does, so they take CPU off the event
 * loop. Registered once, for producing (KAFKA_COMPRESSION=zstd) and for reading
 * zstd batches (the reconciler's ledger, `tail`). @platformatic/kafka has zstd
 * built in.
 */
import { promisify } from 'node:util';
import { zstdCompress, zstdDecompress } from 'node:zlib';
import kafkajs from 'kafkajs';

// CommonJS: Node's named-export detection does not see CompressionCodecs
const { CompressionCodecs, CompressionTypes } = kafkajs;

const compress = promisify(zstdCompress);
const decompress = promisify(zstdDecompress);

/** The kafkajs codec interface: `compress` gets kafkajs' Encoder, `decompress` a Buffer. */
export const zstdCodec = {
  compress: (encoder: { buffer: Buffer }): Promise<Buffer> => compress(encoder.buffer),
  decompress: (buffer: Buffer): Promise<Buffer> => decompress(buffer),
};

/** Makes kafkajs able to write and read zstd record batches (idempotent). */
export const registerCodecs = (): void => {
  CompressionCodecs[CompressionTypes.ZSTD] = () => zstdCodec;
};
