/**
 * @module kafka/platformatic/producer
 * The `CdrProducer` on @platformatic/kafka (`KAFKA_CLIENT=platformatic`, the
 * default since issue 15: about half kafkajs' CPU per record, and maintained;
 * kafkajs stays selectable, kafka/kafkajs/producer.ts).
 * Same guarantees as kafka/kafkajs/producer.ts: idempotent, acks=-1, murmur2
 * partitioning as the Java client and kafkajs (an org lands on the same
 * partition whichever client wrote it; each key hashed once, as for kafkajs), compression none, gzip or zstd, and
 * the send guard (kafka/send-guard.ts: the same chunks, a deadline per chunk,
 * a cap on the bytes of given-up sends). Refused credentials are auth_failed,
 * found by code: the library's PLT_KFK_AUTHENTICATION or Kafka's
 * SASL_AUTHENTICATION_FAILED. The library retries and keeps its producer id
 * itself; there is no producer to rebuild. Connected means holding the
 * producer id (fetched at connect, not at the first send).
 * The library's Produce request encoding is replaced for uncompressed sends
 * (kafka/platformatic/produce-request.ts: the same bytes, about a fifth of the
 * CPU); its connections, retries, sequences and answers are kept.
 */

import type { KafkaOptions } from '../options.ts';
import { createPartitionMemo } from '../partition-memo.ts';
import type { CdrProducer, OutMessage, ProducerOptions } from '../port.ts';
import { connectOnce, createGuardedProducer, type PartitionOf } from '../send-guard.ts';
import {
  clientOptions,
  loadPlatformatic,
  type PlatformaticModule,
  platformaticAuthFailure,
} from './connection.ts';
import {
  type Carried,
  encodeProduceRequest,
  isCarried,
  PRODUCE_VERSIONS,
  type ProduceMessage,
  type ProduceRequestOptions,
  type WireBytes,
} from './produce-request.ts';

/**
 * The producer as built below: string keys and headers, Buffer values, no
 * serializers. Strings reach the Produce request as they are and are written
 * there as UTF-8 (kafka/platformatic/produce-request.ts).
 */
type Producer = import('@platformatic/kafka').Producer<string, Buffer, string, string>;

type Partitioner = NonNullable<
  import('@platformatic/kafka').ProducerOptions<string, Buffer, string, string>['partitioner']
>;

/**
 * The library's partitioner, its answer remembered per key string
 * (kafka/partition-memo.ts): compatibilityPartitioner hashes the key's UTF-8
 * bytes alone and the library takes the remainder by the partition count
 * itself, so one memo serves every topic. Keys are not serialized (see
 * `Producer`), so the bytes are made here, once per key. Messages without a
 * string key are left to the library.
 */
export const rememberingPartitioner = (base: Partitioner): Partitioner => {
  const memo = createPartitionMemo();
  return (message, key, context) => {
    const k = message.key;
    if (typeof k !== 'string') return base(message, key, context);
    return memo.get(k) ?? memo.remember(k, base(message, Buffer.from(k), context));
  };
};

/**
 * Where the library will write a keyed message: the producer's own
 * partitioner's answer for the key (rememberingPartitioner: hashed once, for
 * both) modulo the topic's partition count in the library's current metadata,
 * as the library itself takes it; undefined before the library has the
 * topic's metadata. Lets the send guard cut sends per partition
 * (kafka/send-guard.ts).
 */
export const partitionFinder = (
  partitioner: Partitioner,
  partitions: (topic: string) => number | undefined,
): PartitionOf => {
  const context = { metadata: undefined } as never;
  return (topic, key) => {
    const count = partitions(topic);
    if (count === undefined || count < 1) return undefined;
    return partitioner({ topic, key }, undefined, context) % count;
  };
};

type ProduceArgs = [
  connection: unknown,
  acks: number,
  timeout: number,
  messages: ProduceMessage[],
  options: ProduceRequestOptions & { compression?: string },
  callback: (...args: unknown[]) => void,
];

type LibraryApi = ((...args: ProduceArgs) => void) & { readonly version: number };

const bytes = (x: WireBytes): Uint8Array | null | undefined =>
  typeof x === 'string' ? Buffer.from(x) : x;

/**
 * Messages with their strings as bytes and carried headers as the library's
 * Map: what the library's own encoding expects.
 */
export const serialized = (messages: readonly ProduceMessage[]): ProduceMessage[] =>
  messages.map((m) => {
    const carried = isCarried(m.value) ? m.value : null;
    const headers = carried === null ? m.headers : Object.entries(carried.headers);
    return {
      ...m,
      key: bytes(m.key),
      value: bytes(carried === null ? (m.value as WireBytes) : carried.value),
      ...(headers === undefined
        ? {}
        : { headers: new Map([...headers].map(([k, v]) => [bytes(k), bytes(v)])) }),
    };
  });

/**
 * The Produce API the producer uses, for the version the broker and the
 * library agreed: uncompressed sends of v9-v11 written in one pass
 * (produce-request.ts), answers read by the library's own parser for that
 * version; anything else (compression, an older broker) by the library,
 * its strings made bytes first.
 */
export const ownProduceApi = (lib: PlatformaticModule, library: LibraryApi): LibraryApi => {
  const version = library.version;
  const byLibrary = (
    ...[connection, acks, timeout, messages, options, callback]: ProduceArgs
  ): void => library(connection, acks, timeout, serialized(messages), options, callback);
  if (version < PRODUCE_VERSIONS.min || version > PRODUCE_VERSIONS.max) {
    return Object.assign(byLibrary, { version });
  }
  const { parseResponse } = lib[`produceV${version as 9 | 10 | 11}`];
  const own = lib.createAPI(
    0,
    version,
    (acks: number, timeout: number, messages: ProduceMessage[], options: ProduceRequestOptions) => {
      const writer = lib.Writer.create().append(
        encodeProduceRequest(acks, timeout, messages, options, lib.crc32c as (b: Buffer) => number),
      );
      if (acks === lib.ProduceAcks.NO_RESPONSE) writer.context.noResponse = true;
      return writer;
    },
    parseResponse,
  ) as unknown as LibraryApi;
  const api = (...args: ProduceArgs): void => {
    if ((args[4].compression ?? 'none') === 'none') own(...args);
    else byLibrary(...args);
  };
  return Object.assign(api, { version });
};

/**
 * The library's Producer with its Produce API replaced by `ownProduceApi`
 * (one per API version the library offers); every other API, the retries,
 * the idempotent sequences and the routing stay the library's. It relies on
 * how the library asks for an API (`kGetApi`, a public symbol) and calls it
 * (connection, acks, timeout, messages, options, callback): the library is
 * pinned to one version in package.json, the unit tests compare this
 * request with the library's own byte for byte, and every integration suite
 * sends through it, so an upgrade that changes either fails them.
 */
const ownProducerClass = (lib: PlatformaticModule): typeof lib.Producer => {
  const apis = new WeakMap<object, LibraryApi>();
  return class extends lib.Producer<string, Buffer, string, string> {
    override [lib.kGetApi]<A extends unknown[], R>(
      name: string,
      callback: (error: Error | null, api: never) => void,
    ): void {
      if (name !== 'Produce') {
        super[lib.kGetApi]<A, R>(name, callback as never);
        return;
      }
      super[lib.kGetApi]<A, R>(name, ((error: Error | null, api: LibraryApi) => {
        if (error) {
          callback(error, undefined as never);
          return;
        }
        let own = apis.get(api);
        if (own === undefined) {
          own = ownProduceApi(lib, api);
          apis.set(api, own);
        }
        callback(null, own as never);
      }) as never);
    }
  } as unknown as typeof lib.Producer;
};

/**
 * One message as given to the library's `send`: the message itself rides as
 * the value (`Carried`: its value bytes and its headers), with no `headers` of
 * its own. The library passes the value on untouched (no serializers) to the
 * Produce API, which writes value and headers from it (produce-request.ts),
 * so the library builds no header Maps per message: the largest share of the
 * main thread's allocations on 2,000-record deliveries, and of its
 * collections, were those Maps and their iteration.
 */
const libraryMessage = (topic: string, m: OutMessage) => {
  const value = m as Carried as unknown as Buffer;
  return m.key === null ? { topic, value } : { topic, key: m.key, value };
};

export const createPlatformaticProducer = (
  config: Pick<KafkaOptions, 'brokers' | 'clientId' | 'ssl' | 'sasl' | 'compression'>,
  opts: ProducerOptions,
): CdrProducer => {
  let connected = false;
  let producer: Producer | null = null;
  let partitionOf: PartitionOf | undefined;

  const build = async (): Promise<Producer> => {
    const lib = await loadPlatformatic();
    // toPositive(murmur2) as the Java client and kafkajs' DefaultPartitioner, remembered per key
    const partitioner = rememberingPartitioner(lib.compatibilityPartitioner);
    partitionOf = partitionFinder(
      partitioner,
      (topic) => producer?.currentMetadata?.topics.get(topic)?.partitionsCount,
    );
    const OwnProducer = ownProducerClass(lib);
    return new OwnProducer<string, Buffer, string, string>({
      ...clientOptions(config),
      idempotent: true,
      acks: lib.ProduceAcks.ALL,
      compression: config.compression,
      autocreateTopics: false,
      partitioner,
    });
  };

  const { connect } = connectOnce(async () => {
    producer ??= await build();
    try {
      await producer.metadata({ topics: [] });
      // Ready only with a producer id: a fresh cluster answers InitProducerId with
      // "coordinator loading" for a while, longer than the library's retries of a send.
      if (producer.producerId === undefined) await producer.initIdempotentProducer({});
      connected = true;
    } catch (e) {
      throw platformaticAuthFailure(e) ?? e;
    }
  });

  return createGuardedProducer(
    {
      // connected implies built
      isConnected: () => connected && producer !== null,
      connect,
      async disconnect() {
        connected = false;
        await producer?.close();
      },
      partitionOf: (topic, key) => partitionOf?.(topic, key),
      sendChunk(chunk) {
        const messages = chunk.flatMap((t) => t.messages.map((m) => libraryMessage(t.topic, m)));
        return {
          sending: (producer as Producer).send({ messages }),
          failed(e) {
            connected = false;
            return platformaticAuthFailure(e);
          },
        };
      },
    },
    opts,
  );
};
