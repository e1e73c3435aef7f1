/**
 * @module kafka/client
 * The Kafka port (kafka/port.ts) as configured: KAFKA_CLIENT picks one whole
 * adapter, kafka/platformatic/ (the default) or kafka/kafkajs/, for the
 * producer, topics, reads and the lease alike: with `platformatic` nothing of
 * kafkajs runs. Creating the client opens no connection.
 */

import type { Logger } from '../log.ts';
import { createKafkajsClient, type KafkaConnection } from './kafkajs/client.ts';
import type { KafkaOptions } from './options.ts';
import { createPlatformaticClient } from './platformatic/client.ts';
import type { KafkaClient } from './port.ts';

export type KafkaClientConfig = KafkaConnection & Pick<KafkaOptions, 'client' | 'compression'>;

export const createKafkaClient = (config: KafkaClientConfig, logger: Logger): KafkaClient =>
  config.client === 'platformatic'
    ? createPlatformaticClient(config)
    : createKafkajsClient(config, logger);
