/**
 * @module kafka/platformatic/produce-request
 * A Produce request (versions 9 to 11, the flexible ones: Kafka 2.8 and
 * later) written in one pass into one buffer, for the @platformatic/kafka
 * producer (kafka/platformatic/producer.ts hands it to the library in place
 * of the library's own encoding).
 *
 * Why: the library builds a record from about 40 small buffers (one per
 * varint, key, header name and value), concatenates them twice and, with its
 * string serializers, allocates a buffer per header string. Measured on the
 * ingress' 2,000-record deliveries that was about 20 µs a record on the main
 * thread, the largest stage left there (docs/performance.md). Here the sizes
 * are counted first and each record is written straight into the request:
 * strings as UTF-8 without an intermediate buffer, values copied once.
 *
 * The bytes are the library's for the same messages (a unit test compares
 * them), from the protocol's definitions: RecordBatch magic 2 (base offset 0,
 * partition leader epoch 0, CRC-32C from the attributes to the end), records
 * with zigzag varints, no compression; the request with compact strings,
 * arrays and empty tagged fields. Batches are one per partition, partitions in
 * ascending order, each partition's records in the order given, the
 * base sequence from the producer's sequences (`topic:partition`).
 * Compression is not written here: the producer leaves compressed sends, and
 * brokers without Produce v9, to the library.
 */

/** A key, value, header name or value as the producer passes it: text, bytes or null. */
export type WireBytes = string | Uint8Array | null | undefined;

/**
 * A message's value and headers as the producer hands them to the library in
 * the value's place (kafka/platformatic/producer.ts): the library passes a
 * value on untouched, and builds no header Maps for a message without
 * headers. Headers are written in the record's property order.
 */
export type Carried = {
  readonly value: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
};

/** One message as the library hands it to its Produce API, after partitioning. */
export type ProduceMessage = {
  readonly topic: string;
  readonly partition: number;
  readonly key?: WireBytes;
  /** Bytes or text; or, from our producer, the value with its headers (`headers` then unset). */
  readonly value?: WireBytes | Carried;
  readonly headers?: ReadonlyMap<WireBytes, WireBytes>;
  readonly timestamp?: bigint | number;
};

/** Whether a message's value carries its headers. */
export const isCarried = (value: ProduceMessage['value']): value is Carried =>
  value != null && typeof value === 'object' && !(value instanceof Uint8Array);

/** What the producer adds to a Produce request (the library's produce options). */
export type ProduceRequestOptions = {
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly sequences?: { getWithDefault(key: string, fallback: number): number };
  readonly transactionalId?: string | null;
  readonly partitionLeaderEpoch?: number;
};

/** The first and last Produce versions written here. */
export const PRODUCE_VERSIONS = { min: 9, max: 11 } as const;

const MAGIC = 2;
const IS_TRANSACTIONAL = 1 << 4;
/** Base offset (8) + batch length (4). */
const BATCH_HEAD = 12;
/** Partition leader epoch (4) + magic (1) + CRC (4): what precedes the attributes after the head. */
const BEFORE_ATTRIBUTES = 9;
/** Attributes (2), last offset delta (4), two timestamps (16), producer id (8), epoch (2), base sequence (4), count (4). */
const AFTER_CRC = 40;

const unsignedVarIntSize = (n: number): number => {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
};

const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);
const varIntSize = (n: number): number => unsignedVarIntSize(zigzag(n));

const writeUnsignedVarInt = (buf: Buffer, pos: number, n: number): number => {
  while (n >= 0x80) {
    buf[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[pos++] = n;
  return pos;
};

const writeVarInt = (buf: Buffer, pos: number, n: number): number =>
  writeUnsignedVarInt(buf, pos, zigzag(n));

/** The bytes `x` takes on the wire, -1 for null. */
const byteLength = (x: WireBytes): number =>
  x == null ? -1 : typeof x === 'string' ? Buffer.byteLength(x) : x.length;

/** Writes `x` of `length` bytes (from byteLength) with its varint length. */
const writeBytes = (buf: Buffer, pos: number, x: WireBytes, length: number): number => {
  pos = writeVarInt(buf, pos, length);
  if (length <= 0) return pos;
  if (typeof x === 'string') buf.write(x, pos, length, 'utf8');
  else buf.set(x as Uint8Array, pos);
  return pos + length;
};

const toMillis = (t: bigint | number | undefined, now: number): number =>
  t === undefined ? now : Number(t);

/**
 * The byte lengths counted before anything is written, in writing order: of
 * every key, value, header count, header name and value, and each record's
 * size without its own length varint. The write pass reads them back with a
 * cursor. Kept in growing typed arrays reused from one request to the next
 * (a request is written in one synchronous call), so that counting allocates
 * nothing per record.
 */
type Sizing = { lengths: Int32Array; records: Int32Array; nLengths: number; nRecords: number };
type Cursor = { lengths: number; records: number };

const SIZING: Sizing = {
  lengths: new Int32Array(1 << 14),
  records: new Int32Array(1 << 10),
  nLengths: 0,
  nRecords: 0,
};

/** `list` with room at `count`: itself, or a copy twice as long. */
const roomAt = (list: Int32Array, count: number): Int32Array => {
  if (count < list.length) return list;
  const grown = new Int32Array(list.length * 2);
  grown.set(list);
  return grown;
};

const pushLength = (sizing: Sizing, n: number): void => {
  sizing.lengths = roomAt(sizing.lengths, sizing.nLengths);
  sizing.lengths[sizing.nLengths++] = n;
};

const pushRecord = (sizing: Sizing, n: number): void => {
  sizing.records = roomAt(sizing.records, sizing.nRecords);
  sizing.records[sizing.nRecords++] = n;
};

/** A header's name and text, counted into `sizing`: the bytes they take in the record. */
const sizeHeader = (sizing: Sizing, name: WireBytes, text: WireBytes): number => {
  const n = byteLength(name);
  const t = byteLength(text);
  pushLength(sizing, n);
  pushLength(sizing, t);
  return varIntSize(n) + Math.max(n, 0) + varIntSize(t) + Math.max(t, 0);
};

/** One partition's batch as counted: what its head says, and its size, head included. */
type Batch = {
  readonly partition: number;
  readonly messages: readonly ProduceMessage[];
  readonly firstSequence: number;
  readonly first: number;
  readonly max: number;
  readonly size: number;
};

/** Counts a partition's records into `sizing`. */
const sizeBatch = (
  partition: number,
  messages: readonly ProduceMessage[],
  firstSequence: number,
  now: number,
  sizing: Sizing,
): Batch => {
  const first = toMillis(messages[0]?.timestamp, now);
  let max = first;
  let size = BATCH_HEAD + BEFORE_ATTRIBUTES + AFTER_CRC;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as ProduceMessage;
    const ts = toMillis(m.timestamp, now);
    if (ts > max) max = ts;
    const carried = isCarried(m.value) ? m.value : null;
    const key = byteLength(m.key);
    const value = byteLength(carried === null ? (m.value as WireBytes) : carried.value);
    pushLength(sizing, key);
    pushLength(sizing, value);
    let record =
      1 +
      varIntSize(ts - first) +
      varIntSize(i) +
      varIntSize(key) +
      Math.max(key, 0) +
      varIntSize(value) +
      Math.max(value, 0);
    const countAt = sizing.nLengths;
    pushLength(sizing, 0);
    let count = 0;
    if (carried !== null) {
      const headers = carried.headers;
      for (const name in headers) {
        record += sizeHeader(sizing, name, headers[name]);
        count++;
      }
    } else if (m.headers !== undefined) {
      for (const [name, text] of m.headers) {
        record += sizeHeader(sizing, name, text);
        count++;
      }
    }
    sizing.lengths[countAt] = count;
    record += varIntSize(count);
    pushRecord(sizing, record);
    size += varIntSize(record) + record;
  }
  return { partition, messages, firstSequence, first, max, size };
};

/** The library's CRC-32C (wasm, or @node-rs/crc32 when installed). */
export type Crc32c = (bytes: Buffer) => number;

/** What every batch of one request shares. */
type Shared = {
  /** What a message without a timestamp stands for. */
  readonly now: number;
  readonly attributes: number;
  readonly options: ProduceRequestOptions;
  readonly sizing: Sizing;
  readonly cursor: Cursor;
  readonly crc32c: Crc32c;
};

const writeBatch = (buf: Buffer, start: number, batch: Batch, shared: Shared): void => {
  const { messages, first } = batch;
  const { options, sizing, cursor } = shared;
  let pos = start + BATCH_HEAD + BEFORE_ATTRIBUTES + AFTER_CRC;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as ProduceMessage;
    const carried = isCarried(m.value) ? m.value : null;
    const { lengths } = sizing;
    pos = writeVarInt(buf, pos, sizing.records[cursor.records++] as number);
    buf[pos++] = 0; // record attributes: unused
    pos = writeVarInt(buf, pos, toMillis(m.timestamp, shared.now) - first);
    pos = writeVarInt(buf, pos, i);
    pos = writeBytes(buf, pos, m.key, lengths[cursor.lengths++] as number);
    const value = carried === null ? (m.value as WireBytes) : carried.value;
    pos = writeBytes(buf, pos, value, lengths[cursor.lengths++] as number);
    pos = writeVarInt(buf, pos, lengths[cursor.lengths++] as number);
    if (carried !== null) {
      const headers = carried.headers;
      for (const name in headers) {
        pos = writeBytes(buf, pos, name, lengths[cursor.lengths++] as number);
        pos = writeBytes(buf, pos, headers[name], lengths[cursor.lengths++] as number);
      }
    } else if (m.headers !== undefined) {
      for (const [name, text] of m.headers) {
        pos = writeBytes(buf, pos, name, lengths[cursor.lengths++] as number);
        pos = writeBytes(buf, pos, text, lengths[cursor.lengths++] as number);
      }
    }
  }
  buf.writeBigInt64BE(0n, start); // base offset: the broker assigns it
  buf.writeInt32BE(batch.size - BATCH_HEAD, start + 8);
  buf.writeInt32BE(options.partitionLeaderEpoch ?? 0, start + 12);
  buf.writeInt8(MAGIC, start + 16);
  const at = start + BATCH_HEAD + BEFORE_ATTRIBUTES; // the attributes; the CRC covers them on
  buf.writeInt16BE(shared.attributes, at);
  buf.writeInt32BE(messages.length - 1, at + 2);
  buf.writeBigInt64BE(BigInt(first), at + 6);
  buf.writeBigInt64BE(BigInt(batch.max), at + 14);
  buf.writeBigInt64BE(options.producerId ?? -1n, at + 22);
  buf.writeInt16BE(options.producerEpoch ?? 0, at + 30);
  buf.writeInt32BE(batch.firstSequence, at + 32);
  buf.writeInt32BE(messages.length, at + 36);
  buf.writeUInt32BE(shared.crc32c(buf.subarray(at, start + batch.size)), start + 17);
};

/** Messages by topic (in first-appearance order), then partition (ascending, as the library). */
const group = (messages: readonly ProduceMessage[]): Map<string, Map<number, ProduceMessage[]>> => {
  const topics = new Map<string, Map<number, ProduceMessage[]>>();
  for (const m of messages) {
    let partitions = topics.get(m.topic);
    if (partitions === undefined) {
      partitions = new Map();
      topics.set(m.topic, partitions);
    }
    const list = partitions.get(m.partition);
    if (list === undefined) partitions.set(m.partition, [m]);
    else list.push(m);
  }
  return topics;
};

/**
 * The body of a Produce request (v9-v11) for `messages`, uncompressed: what
 * follows the request header. `now` stands for a message without a timestamp.
 * Counted first (every topic's batches, `sizing`), then written from that count.
 */
export const encodeProduceRequest = (
  acks: number,
  timeoutMs: number,
  messages: readonly ProduceMessage[],
  options: ProduceRequestOptions,
  crc32c: Crc32c,
  now: number = Date.now(),
): Buffer => {
  const transactionalId = options.transactionalId ?? null;
  const sizing = SIZING;
  sizing.nLengths = 0;
  sizing.nRecords = 0;
  const idBytes = transactionalId === null ? -1 : Buffer.byteLength(transactionalId);
  const topics = [...group(messages)].map(([topic, partitions]) => ({
    topic,
    nameBytes: Buffer.byteLength(topic),
    batches: [...partitions]
      .sort((a, b) => a[0] - b[0])
      .map(([partition, list]) => {
        const firstSequence = options.sequences?.getWithDefault(`${topic}:${partition}`, 0) ?? 0;
        return sizeBatch(partition, list, firstSequence, now, sizing);
      }),
  }));
  let size = unsignedVarIntSize(idBytes + 1) + Math.max(idBytes, 0) + 2 + 4;
  size += unsignedVarIntSize(topics.length + 1) + 1; // topics, then the request's tags
  for (const { nameBytes, batches } of topics) {
    size +=
      unsignedVarIntSize(nameBytes + 1) + nameBytes + unsignedVarIntSize(batches.length + 1) + 1;
    for (const batch of batches) size += 4 + unsignedVarIntSize(batch.size + 1) + batch.size + 1;
  }

  const buf = Buffer.allocUnsafe(size);
  const shared: Shared = {
    now,
    attributes: transactionalId === null ? 0 : IS_TRANSACTIONAL,
    options,
    sizing,
    cursor: { lengths: 0, records: 0 },
    crc32c,
  };
  let pos = writeUnsignedVarInt(buf, 0, idBytes + 1);
  if (transactionalId !== null) pos += buf.write(transactionalId, pos, idBytes, 'utf8');
  pos = buf.writeInt16BE(acks, pos);
  pos = buf.writeInt32BE(timeoutMs, pos);
  pos = writeUnsignedVarInt(buf, pos, topics.length + 1);
  for (const { topic, nameBytes, batches } of topics) {
    pos = writeUnsignedVarInt(buf, pos, nameBytes + 1);
    pos += buf.write(topic, pos, nameBytes, 'utf8');
    pos = writeUnsignedVarInt(buf, pos, batches.length + 1);
    for (const batch of batches) {
      pos = buf.writeInt32BE(batch.partition, pos);
      pos = writeUnsignedVarInt(buf, pos, batch.size + 1);
      writeBatch(buf, pos, batch, shared);
      pos += batch.size;
      buf[pos++] = 0; // the partition's tags
    }
    buf[pos++] = 0; // the topic's tags
  }
  buf[pos++] = 0; // the request's tags
  if (pos !== size) throw new Error(`produce request: wrote ${pos} bytes of ${size}`);
  return buf;
};
