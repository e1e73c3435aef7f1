/**
 * @module kafka/kafkajs/producer
 * The `CdrProducer` on kafkajs (`KAFKA_CLIENT=kafkajs`; the default is
 * @platformatic/kafka, kafka/platformatic/producer.ts):
 * idempotent, acks=-1, one request in flight per broker, compression as
 * configured. Chunks, the deadline per chunk and the cap on given-up sends are
 * kafka/send-guard.ts; kafkajs retries an idempotent send forever, so that
 * deadline is what bounds a send.
 * Producer-fatal errors (sequence, producer id, epoch) rebuild the producer.
 * It is connected only once it holds its producer id (InitProducerId, which a
 * fresh cluster answers "coordinator loading" for a while: kafkajs retries it,
 * and a connect that still fails is retried by the caller); sends made before
 * wait for it.
 */
import {
  CompressionTypes,
  type ICustomPartitioner,
  type Kafka,
  type Message,
  Partitioners,
  type Producer,
} from 'kafkajs';
import { describe } from '../../errors.ts';
import { createPartitionMemo, type PartitionMemo } from '../partition-memo.ts';
import type { CdrProducer, ProducerOptions } from '../port.ts';
import { connectOnce, createGuardedProducer } from '../send-guard.ts';

const FATAL_TYPES = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
  'UNKNOWN_PRODUCER_ID',
]);

/**
 * kafkajs' DefaultPartitioner (murmur2 as the Java client), remembering the
 * partition of each key (kafka/partition-memo.ts) per partition count: the
 * default's answer for a keyed message depends on the key and the partition
 * count only (the CDR and dead-letter topics differ), and it also filters the
 * partition list for every message.
 */
export const rememberingPartitioner: ICustomPartitioner = () => {
  const base = Partitioners.DefaultPartitioner();
  const byCount = new Map<number, PartitionMemo>();
  return (args) => {
    const { message, partitionMetadata } = args;
    if (message.partition != null || typeof message.key !== 'string') return base(args);
    let memo = byCount.get(partitionMetadata.length);
    if (memo === undefined) {
      memo = createPartitionMemo();
      byCount.set(partitionMetadata.length, memo);
    }
    return memo.get(message.key) ?? memo.remember(message.key, base(args));
  };
};

export const createCdrProducer = (
  kafka: Kafka,
  opts: ProducerOptions & { compression: 'none' | 'gzip' | 'zstd' },
): CdrProducer => {
  const compression = {
    none: CompressionTypes.None,
    gzip: CompressionTypes.GZIP,
    zstd: CompressionTypes.ZSTD,
  }[opts.compression];
  let producer: Producer;
  let connected = false;

  const build = () => {
    const p = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2, as the Java client: the same org lands on the same partition for every producer
      createPartitioner: rememberingPartitioner,
    });
    // Not on CONNECT: kafkajs emits it before InitProducerId, and a send made
    // while the producer id is on its way fails inside kafkajs ("reading
    // 'release'"). Connected means connect() resolved: the producer id is held.
    // Events of a replaced producer must not change the state of the current one.
    p.on(p.events.DISCONNECT, () => {
      if (producer === p) connected = false;
    });
    producer = p;
  };
  build();

  const connection = connectOnce(() => {
    const p = producer;
    return p
      .connect()
      .then(() => {
        if (producer === p) connected = true;
      })
      .catch(async (e: unknown) => {
        // a failed connect can leave sockets open: close them before the next try
        await p.disconnect().catch(() => undefined);
        throw e;
      });
  });
  const connect = connection.connect;

  const rebuild = async (reason: string) => {
    opts.logger.warn('rebuilding Kafka producer after a producer-fatal error', { reason });
    const old = producer;
    connected = false;
    connection.reset();
    build();
    await old.disconnect().catch(() => undefined);
    // reconnect now: readiness must not wait for the next delivery
    connect().catch((e: unknown) =>
      opts.logger.warn('reconnecting the rebuilt producer failed', { error: describe(e) }),
    );
  };

  return createGuardedProducer(
    {
      isConnected: () => connected,
      connect,
      disconnect: () => producer.disconnect(),
      sendChunk(chunk) {
        const p = producer;
        return {
          sending: p.sendBatch({
            acks: -1,
            compression,
            topicMessages: chunk.map((t) => ({
              topic: t.topic,
              messages: t.messages as Message[],
            })),
          }),
          async failed(e) {
            const type = (e as { type?: string }).type;
            if (type !== undefined && FATAL_TYPES.has(type) && producer === p) await rebuild(type);
            return null;
          },
        };
      },
    },
    opts,
  );
};
