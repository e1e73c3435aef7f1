/**
 * @module kafka/client
 * The Kafka port (kafka/port.ts) as configured: KAFKA_CLIENT picks the
 * producer's adapter (kafka/kafkajs/ or kafka/platformatic/). Topics, reads
 * and the lease are kafkajs' whatever the setting, as before the port
 * (platformatic has the means: Admin.listOffsets and a consumer in MANUAL mode;
 * not done yet). Creating the client opens no connection.
 */

import type { Logger } from '../log.ts';
import { createKafkajsClient, type KafkaConnection } from './kafkajs/client.ts';
import type { KafkaOptions } from './options.ts';
import { createPlatformaticProducer } from './platformatic/producer.ts';
import type { KafkaClient } from './port.ts';

export type KafkaClientConfig = KafkaConnection & Pick<KafkaOptions, 'client' | 'compression'>;

export const createKafkaClient = (config: KafkaClientConfig, logger: Logger): KafkaClient => {
  const kafkajs = createKafkajsClient(config, logger);
  if (config.client !== 'platformatic') return kafkajs;
  return { ...kafkajs, createProducer: (opts) => createPlatformaticProducer(config, opts) };
};
