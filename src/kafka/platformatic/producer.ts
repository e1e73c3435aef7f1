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
 */

import type { KafkaOptions } from '../options.ts';
import { createPartitionMemo } from '../partition-memo.ts';
import type { CdrProducer, ProducerOptions } from '../port.ts';
import { connectOnce, createGuardedProducer } from '../send-guard.ts';
import { clientOptions, loadPlatformatic, platformaticAuthFailure } from './connection.ts';

/** The producer as built below: string keys and headers, Buffer values. */
type Producer = import('@platformatic/kafka').Producer<string, Buffer, string, string>;

type Partitioner = NonNullable<
  import('@platformatic/kafka').ProducerOptions<string, Buffer, string, string>['partitioner']
>;

/**
 * The library's partitioner, its answer remembered per key string
 * (kafka/partition-memo.ts): compatibilityPartitioner hashes the key's bytes
 * alone and the library takes the remainder by the partition count itself,
 * so one memo serves every topic. Messages without a string key, or with a
 * partition, are left to the library.
 */
export const rememberingPartitioner = (base: Partitioner): Partitioner => {
  const memo = createPartitionMemo();
  return (message, key, context) => {
    const k = message.key;
    if (typeof k !== 'string' || key === undefined) return base(message, key, context);
    return memo.get(k) ?? memo.remember(k, base(message, key, context));
  };
};

export const createPlatformaticProducer = (
  config: Pick<KafkaOptions, 'brokers' | 'clientId' | 'ssl' | 'sasl' | 'compression'>,
  opts: ProducerOptions,
): CdrProducer => {
  let connected = false;
  let producer: Producer | null = null;

  const build = async (): Promise<Producer> => {
    const lib = await loadPlatformatic();
    return new lib.Producer<string, Buffer, string, string>({
      ...clientOptions(config),
      idempotent: true,
      acks: lib.ProduceAcks.ALL,
      compression: config.compression,
      autocreateTopics: false,
      // toPositive(murmur2) as the Java client and kafkajs' DefaultPartitioner, remembered per key
      partitioner: rememberingPartitioner(lib.compatibilityPartitioner),
      serializers: {
        key: lib.stringSerializer,
        headerKey: lib.stringSerializer,
        headerValue: lib.stringSerializer,
      },
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
      sendChunk(chunk) {
        const messages = chunk.flatMap((t) =>
          t.messages.map((m) => ({
            topic: t.topic,
            ...(m.key === null ? {} : { key: m.key }),
            value: m.value,
            headers: m.headers,
          })),
        );
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
