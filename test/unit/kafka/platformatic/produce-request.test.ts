import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as lib from '@platformatic/kafka';
import fc from 'fast-check';
import {
  encodeProduceRequest,
  type ProduceMessage,
  type WireBytes,
} from '../../../../src/kafka/platformatic/produce-request.ts';
import { ownProduceApi, serialized } from '../../../../src/kafka/platformatic/producer.ts';

const crc32c = lib.crc32c as (b: Buffer) => number;
const PRODUCE = { 9: lib.produceV9, 10: lib.produceV10, 11: lib.produceV11 } as const;

/** What the library's own request holds for the same messages (it wants bytes, and changes what it is given). */
const libraryRequest = (
  version: 9 | 10 | 11,
  acks: number,
  timeout: number,
  messages: readonly ProduceMessage[],
  options: object,
): Buffer => {
  const copies = serialized(messages);
  const produce = PRODUCE[version];
  return (produce.createRequest(acks, timeout, copies as never, options as never) as lib.Writer)
    .buffer;
};

const sequences = (start: Record<string, number>) => ({
  getWithDefault: (key: string, fallback: number) => start[key] ?? fallback,
});

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
);
const wire: fc.Arbitrary<WireBytes> = fc.oneof(
  text,
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.constant(null),
);
const message = fc.record(
  {
    topic: fc.constantFrom('cdr', 'cdr.dlq', 'ünïcode-topic'),
    partition: fc.integer({ min: 0, max: 5 }),
    key: wire,
    value: wire,
    headers: fc
      .array(fc.tuple(fc.string({ maxLength: 20 }), wire), { maxLength: 9 })
      .map((h) => new Map<WireBytes, WireBytes>(h)),
    // within 2^31 ms of each other: the library's zigzag of a 64-bit varint is wrong beyond (see below)
    timestamp: fc.integer({ min: 1_749_000_000_000, max: 1_751_000_000_000 }).map((t) => BigInt(t)),
  },
  { requiredKeys: ['topic', 'partition'] },
);

describe('encodeProduceRequest', () => {
  it("writes the library's bytes for the same messages (v9-v11)", () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 40 }),
        fc.constantFrom(9, 10, 11),
        fc.constantFrom(-1, 1),
        fc.record({
          producerId: fc.bigInt({ min: -1n, max: 2n ** 40n }),
          producerEpoch: fc.integer({ min: 0, max: 30 }),
        }),
        (messages, version, acks, ids) => {
          const now = 1_750_000_000_000;
          // the library stamps messages without a timestamp with its own clock; give it ours
          const stamped = messages.map((m) => ({ ...m, timestamp: m.timestamp ?? BigInt(now) }));
          const options = { ...ids, sequences: sequences({ 'cdr:1': 7, 'cdr.dlq:0': 2 ** 30 }) };
          const own = encodeProduceRequest(acks, 30_000, messages, options, crc32c, now);
          assert.deepEqual(
            own,
            libraryRequest(version as 9 | 10 | 11, acks, 30_000, stamped, options),
          );
        },
      ),
      { seed: 1515, numRuns: 400 },
    );
  });

  it('writes a message whose value carries its headers as the library writes it with those headers (v9-v11)', () => {
    const headerName = fc.string({ maxLength: 20 }).filter((n) => !/^(0|[1-9]\d*)$/.test(n));
    const carriedMessage = fc.record({
      topic: fc.constantFrom('cdr', 'cdr.dlq'),
      partition: fc.integer({ min: 0, max: 3 }),
      key: fc.option(text, { nil: undefined }),
      value: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      headers: fc.dictionary(headerName, text, { maxKeys: 9 }),
      timestamp: fc.integer({ min: 1_749_000_000_000, max: 1_751_000_000_000 }).map(BigInt),
    });
    fc.assert(
      fc.property(
        fc.array(carriedMessage, { minLength: 1, maxLength: 40 }),
        fc.constantFrom(9, 10, 11),
        (given, version) => {
          const carried: ProduceMessage[] = given.map(({ value, headers, ...m }) => ({
            ...m,
            value: { value, headers },
          }));
          const plain: ProduceMessage[] = given.map(({ headers, ...m }) => ({
            ...m,
            headers: new Map<WireBytes, WireBytes>(Object.entries(headers)),
          }));
          const options = { producerId: 5n, producerEpoch: 0, sequences: sequences({}) };
          const own = encodeProduceRequest(-1, 30_000, carried, options, crc32c);
          assert.deepEqual(own, libraryRequest(version as 9 | 10 | 11, -1, 30_000, plain, options));
          assert.deepEqual(own, encodeProduceRequest(-1, 30_000, plain, options, crc32c));
        },
      ),
      { seed: 1516, numRuns: 200 },
    );
  });

  it('counts requests of any size into its reused scratch (grown, then reused for a smaller one)', () => {
    const many = (n: number): ProduceMessage[] =>
      Array.from({ length: n }, (_, i) => ({
        topic: 'cdr',
        partition: i % 3,
        key: `org-${i % 5}`,
        value: {
          value: Buffer.alloc(20, i),
          headers: { 'cdr-report-id': `r${i}`, 'cdr-feed': 'x' },
        },
        timestamp: 1n,
      }));
    for (const n of [3, 5000, 2]) {
      const messages = many(n);
      assert.deepEqual(
        encodeProduceRequest(-1, 1000, messages, {}, crc32c),
        libraryRequest(11, -1, 1000, serialized(messages), {}),
        `${n} messages`,
      );
    }
  });

  it('writes a transactional id and its batches as transactional, as the library does', () => {
    const messages: ProduceMessage[] = [
      { topic: 'cdr', partition: 2, key: 'org-a', value: Buffer.from('v1'), timestamp: 10n },
      { topic: 'cdr', partition: 0, key: 'org-b', value: 'v2', timestamp: 5n },
    ];
    const options = { producerId: 9n, producerEpoch: 1, transactionalId: 'tx-é' };
    const own = encodeProduceRequest(-1, 1000, messages, options, crc32c);
    assert.deepEqual(own, libraryRequest(11, -1, 1000, messages, options));
  });

  it('writes a timestamp more than 2^31 ms before the first as a correct zigzag varint (the library does not)', () => {
    const first = 1_750_000_000_000n;
    const month = 30n * 86_400_000n;
    const messages: ProduceMessage[] = [
      { topic: 'cdr', partition: 0, value: 'a', timestamp: first },
      { topic: 'cdr', partition: 0, value: 'b', timestamp: first - month },
      { topic: 'cdr', partition: 0, value: 'c', timestamp: first + month },
    ];
    const buf = encodeProduceRequest(-1, 1000, messages, {}, crc32c);
    const reader = lib.Reader.from(buf);
    reader.readNullableString();
    reader.skip(2 + 4);
    reader.readUnsignedVarInt();
    reader.readString();
    reader.readUnsignedVarInt();
    reader.readInt32();
    const length = reader.readUnsignedVarInt() - 1;
    const batch = lib.readRecordsBatch(
      lib.Reader.from(buf.subarray(reader.position, reader.position + length)),
    );
    assert.deepEqual(
      batch.records.map((r) => r.timestampDelta),
      [0n, -month, month],
    );
    assert.equal(batch.maxTimestamp, first + month);
    assert.notDeepEqual(
      buf,
      libraryRequest(11, -1, 1000, messages, {}),
      "the library's bytes differ here",
    );
  });

  it('reads back, through the library, as the records it was given', () => {
    const messages: ProduceMessage[] = Array.from({ length: 300 }, (_, i) => ({
      topic: 'cdr',
      partition: i % 2,
      key: `org-${i % 7}`,
      value: Buffer.alloc(100 + i, i),
      headers: new Map<WireBytes, WireBytes>([
        ['cdr-report-id', `id-${i}-☎`],
        ['cdr-source', i % 3 === 0 ? null : 'webhook'],
      ]),
    }));
    const buf = encodeProduceRequest(
      -1,
      1000,
      messages,
      { producerId: 3n, producerEpoch: 0 },
      crc32c,
      42,
    );
    const reader = lib.Reader.from(buf);
    assert.equal(reader.readNullableString(), null); // transactional id
    assert.equal(reader.readInt16(), -1);
    assert.equal(reader.readInt32(), 1000);
    assert.equal(reader.readUnsignedVarInt(), 2); // one topic
    assert.equal(reader.readString(), 'cdr');
    assert.equal(reader.readUnsignedVarInt(), 3); // two partitions
    for (const partition of [0, 1]) {
      assert.equal(reader.readInt32(), partition);
      const length = reader.readUnsignedVarInt() - 1;
      const batchBytes = buf.subarray(reader.position, reader.position + length);
      const batch = lib.readRecordsBatch(lib.Reader.from(batchBytes));
      reader.skip(length);
      assert.equal(reader.readUnsignedVarInt(), 0); // the partition's tags
      assert.equal(batch.crc, crc32c(batchBytes.subarray(21)), 'CRC-32C from the attributes on');
      assert.equal(batch.firstTimestamp, 42n);
      const mine = messages.filter((m) => m.partition === partition);
      assert.equal(batch.records.length, mine.length);
      batch.records.forEach((r, i) => {
        const m = mine[i] as ProduceMessage;
        assert.equal(r.offsetDelta, i);
        assert.equal(r.key?.toString(), m.key);
        assert.deepEqual(r.value, m.value);
        assert.deepEqual(
          r.headers.map(([k, v]) => [k?.toString(), v === null ? null : v.toString()]),
          [...(m.headers ?? [])],
        );
      });
    }
    assert.equal(reader.readUnsignedVarInt(), 0); // the topic's tags
    assert.equal(reader.readUnsignedVarInt(), 0); // the request's tags
    assert.equal(reader.remaining, 0);
  });
});

describe('ownProduceApi', () => {
  type Sent = { apiKey: number; version: number; payload: lib.Writer; parser: unknown };
  const connection = (sent: Sent[]) => ({
    send(apiKey: number, version: number, payload: () => lib.Writer, parser: unknown) {
      sent.push({ apiKey, version, payload: payload(), parser });
    },
  });
  const library = (version: number, calls: unknown[][]) =>
    Object.assign((...args: unknown[]) => void calls.push(args), { version }) as never;
  const messages = (): ProduceMessage[] => [
    {
      topic: 'cdr',
      partition: 1,
      key: 'org-a',
      value: Buffer.from('avro'),
      headers: new Map([['h', 'é']]),
      timestamp: 1n,
    },
  ];

  it("writes uncompressed v9-v11 requests itself and reads answers with the library's parser", () => {
    for (const version of [9, 10, 11] as const) {
      const sent: Sent[] = [];
      const calls: unknown[][] = [];
      const api = ownProduceApi(lib, library(version, calls));
      assert.equal(api.version, version);
      for (const acks of [-1, 0]) {
        api(
          connection(sent),
          acks,
          500,
          messages(),
          { producerId: 1n, compression: 'none' },
          () => {},
        );
      }
      assert.equal(calls.length, 0, 'the library is not asked');
      assert.equal(sent.length, 2);
      assert.equal(sent[0]?.apiKey, 0);
      assert.equal(sent[0]?.version, version);
      assert.equal(sent[0]?.parser, PRODUCE[version].parseResponse);
      assert.deepEqual(
        sent[0]?.payload.buffer,
        libraryRequest(version, -1, 500, messages(), { producerId: 1n }),
      );
      assert.equal(sent[0]?.payload.context.noResponse, undefined);
      assert.equal(sent[1]?.payload.context.noResponse, true, 'acks=0 expects no answer');
    }
  });

  it('gives the library a carried message as its value bytes and a Map of its headers', () => {
    const calls: unknown[][] = [];
    const api = ownProduceApi(lib, library(11, calls));
    const carried: ProduceMessage = {
      topic: 'cdr',
      partition: 0,
      key: 'org-a',
      value: { value: Buffer.from('avro'), headers: { a: 'é', b: 'x' } },
    };
    api(connection([]), -1, 500, [carried], { compression: 'gzip' }, () => {});
    const m = (calls[0]?.[3] as ProduceMessage[] | undefined)?.[0];
    assert.deepEqual(m?.value, Buffer.from('avro'));
    assert.deepEqual(
      [...(m?.headers ?? [])],
      [
        [Buffer.from('a'), Buffer.from('é')],
        [Buffer.from('b'), Buffer.from('x')],
      ],
    );
  });

  it('leaves compressed sends and brokers without v9 to the library, with the strings made bytes', () => {
    const cases = [
      { version: 11, compression: 'zstd' },
      { version: 8, compression: 'none' },
    ];
    for (const { version, compression } of cases) {
      const sent: Sent[] = [];
      const calls: unknown[][] = [];
      const api = ownProduceApi(lib, library(version, calls));
      api(connection(sent), -1, 500, messages(), { compression }, () => {});
      assert.equal(sent.length, 0);
      assert.equal(calls.length, 1);
      const given = calls[0]?.[3] as ProduceMessage[];
      const m = given[0];
      assert.deepEqual(m?.key, Buffer.from('org-a'));
      assert.deepEqual([...(m?.headers ?? [])], [[Buffer.from('h'), Buffer.from('é')]]);
    }
  });
});
