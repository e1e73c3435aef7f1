/**
 * @module kafka/client
 * Builds the kafkajs client from configuration and routes its logs into ours.
 * `kafka/` is the only folder that imports kafkajs or the registry client.
 */
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import type { KafkaConfig } from '../config.ts';
import type { Logger } from '../log.ts';

export type KafkaConnection = Pick<KafkaConfig, 'brokers' | 'clientId' | 'ssl' | 'sasl'>;

export const createKafka = (config: KafkaConnection, logger: Logger): Kafka =>
  new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    ...(config.sasl ? { sasl: config.sasl as SASLOptions } : {}),
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

const pickLoggable = (o: Record<string, unknown>): Record<string, unknown> => {
  const { timestamp: _t, logger: _l, ...rest } = o;
  return rest;
};
