/**
 * @module kafka/wire-encoder
 * Records in the Confluent wire format (magic byte 0, 4-byte schema id, Avro
 * body) with a schema the registry already gave an id: what the main thread
 * and the worker threads (ingress/chunk-worker.ts) encode with. Only avsc
 * here, so a worker does not load the registry's client (kafka/registry.ts).
 */
import avsc from 'avsc';

export type AvroSchemaType = ReturnType<typeof avsc.Type.forSchema>;

export const parseAvro = (text: string): AvroSchemaType => avsc.Type.forSchema(JSON.parse(text));

export type Encoder = {
  readonly schemaId: number;
  /** Confluent wire format of one record; throws when the value does not fit the schema. */
  encode(value: object): Buffer;
  /** The schema written with (JSON text): what a worker thread builds the same encoder from (`encoderFor`). */
  readonly schemaText?: string;
};

/** The encoder writing with schema `id` (`text`, parsed unless `type` is given). */
export const encoderFor = (
  id: number,
  text: string,
  type: AvroSchemaType = parseAvro(text),
): Encoder => {
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(id, 1);
  return { schemaId: id, encode: wireEncoder(header, type), schemaText: text };
};

/** Bytes of the slabs records are encoded into. */
const SLAB_BYTES = 1024 * 1024;

type AvroType = {
  toBuffer(value: unknown): Buffer;
  /** avsc: writes at `pos`; returns the end, or a negative number when `buf` is too short. */
  encode?(value: unknown, buf: Buffer, pos: number): number;
};

/**
 * The Confluent wire format (magic byte, schema id, Avro body) of one record,
 * written straight into a shared slab: no buffer per record, no copy. A
 * record's bytes are a view of the slab, which lives as long as any of them.
 */
export const wireEncoder = (header: Buffer, type: AvroType): ((value: object) => Buffer) => {
  const encode = type.encode?.bind(type);
  if (encode === undefined) return (value) => Buffer.concat([header, type.toBuffer(value)]);
  let slab = Buffer.allocUnsafe(SLAB_BYTES);
  let used = 0;
  return (value) => {
    for (let size = SLAB_BYTES; ; size *= 2) {
      if (slab.length - used < header.length + 1) {
        slab = Buffer.allocUnsafe(size);
        used = 0;
      }
      const start = used;
      header.copy(slab, start);
      const end = encode(value, slab, start + header.length);
      if (end >= 0) {
        used = end;
        return slab.subarray(start, end);
      }
      // too long for what is left: a fresh slab, larger when the record alone does not fit
      slab = Buffer.allocUnsafe(start === 0 ? size * 2 : size);
      used = 0;
    }
  };
};
