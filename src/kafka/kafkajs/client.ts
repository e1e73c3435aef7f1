/**
 * @module kafka/kafkajs/client
 * The kafkajs adapter of the Kafka port (kafka/port.ts): builds the kafkajs
 * client from configuration, routes its logs into ours, and offers the
 * producer, topics, reads and the lease on it. Only this folder imports
 * kafkajs.
 */
import { Kafka, type KafkaConfig as KafkaJsConfig, logLevel, type SASLOptions } from 'kafkajs';
import { CdrError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { KafkaOptions } from '../options.ts';
import type { KafkaClient } from '../port.ts';
import { registerCodecs } from './codecs.ts';
import { createLease } from './lease.ts';
import { createCdrProducer } from './producer.ts';
import { readTopicRange } from './read-range.ts';
import { ensureTopics, missingTopics } from './topics.ts';

export type KafkaConnection = Pick<KafkaOptions, 'brokers' | 'clientId' | 'ssl' | 'sasl'>;

/** The connection part of the kafkajs options: brokers, TLS (CA, client certificate) and SASL. */
export const connectionOptions = (config: KafkaConnection): KafkaJsConfig => ({
  clientId: config.clientId,
  brokers: config.brokers,
  // kafkajs hands an object to tls.connect() (servername defaults to the broker's host).
  ssl: config.ssl,
  ...(config.sasl ? { sasl: config.sasl as SASLOptions } : {}),
});

/**
 * A broker refusing our credentials is not going to change its mind: the
 * error becomes `auth_failed` (not retriable) with a message naming the
 * settings to check. Other errors are returned as they are.
 */
export const asAuthFailure = (e: unknown): CdrError | null => {
  // kafkajs may wrap the broker's answer (retrier, connection pool): follow the chain.
  for (let err = e, depth = 0; err instanceof Error && depth < 5; depth++) {
    if (err instanceof CdrError) return err.code === 'auth_failed' ? err : null;
    if (err.name === 'KafkaJSSASLAuthenticationError') {
      return new CdrError(
        'auth_failed',
        `Kafka refused the credentials (${err.message}): check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`,
        { cause: e },
      );
    }
    const next = err as { originalError?: unknown; cause?: unknown };
    err = next.originalError ?? next.cause;
  }
  return null;
};

export const createKafka = (config: KafkaConnection, logger: Logger): Kafka => {
  registerCodecs();
  return new Kafka({
    ...connectionOptions(config),
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...rest } = log;
        // kafkajs logs every retried protocol or connection error as ERROR; the
        // connector reports outcomes itself (503, not ready, run errors), so these
        // are warnings: the client is still retrying.
        logger.warn(message, {
          component: 'kafkajs',
          kafkajsLevel: level === logLevel.ERROR ? 'error' : 'warn',
          ...pickLoggable(rest),
        });
      },
  });
};

const pickLoggable = (o: Record<string, unknown>): Record<string, unknown> => {
  const { timestamp: _t, logger: _l, ...rest } = o;
  return rest;
};

/** The port on kafkajs: everything, the producer included. */
export const createKafkajsClient = (
  config: KafkaConnection & Pick<KafkaOptions, 'compression'>,
  logger: Logger,
): KafkaClient => {
  const kafka = createKafka(config, logger);
  return {
    createProducer: (opts) =>
      createCdrProducer(kafka, { ...opts, compression: config.compression }),
    missingTopics: (specs) => missingTopics(kafka, specs),
    ensureTopics: (specs) => ensureTopics(kafka, specs),
    readRange: (opts) => readTopicRange(kafka, opts),
    lease: (opts) => createLease({ ...opts, kafka }),
    authFailure: asAuthFailure,
  };
};
