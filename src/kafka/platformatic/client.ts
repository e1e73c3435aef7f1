/**
 * @module kafka/platformatic/client
 * The @platformatic/kafka adapter of the Kafka port (kafka/port.ts): the
 * producer, topics, reads and the lease, each on clients of its own built
 * from the connection settings (kafka/platformatic/connection.ts). Only this
 * folder imports @platformatic/kafka, and only when the adapter is used.
 */
import type { KafkaOptions } from '../options.ts';
import type { KafkaClient, TopicSpec } from '../port.ts';
import {
  clientOptions,
  loadPlatformatic,
  type PlatformaticConnection,
  platformaticAuthFailure,
} from './connection.ts';
import { createLease } from './lease.ts';
import { createPlatformaticProducer } from './producer.ts';
import type { ReadClients } from './read-range.ts';
import { readTopicRange } from './read-range.ts';
import { ensureTopics, missingTopics } from './topics.ts';

export const createPlatformaticClient = (
  config: PlatformaticConnection & Pick<KafkaOptions, 'compression'>,
): KafkaClient => {
  const openAdmin = async () => {
    const lib = await loadPlatformatic();
    return new lib.Admin(clientOptions(config));
  };
  const readClients: ReadClients = {
    admin: openAdmin,
    async consumer(groupId) {
      const lib = await loadPlatformatic();
      return new lib.Consumer({ ...clientOptions(config), groupId });
    },
  };
  const topics = {
    missingTopics: (specs: TopicSpec[]) => missingTopics(openAdmin, specs),
    ensureTopics: (specs: TopicSpec[]) => ensureTopics(openAdmin, specs),
  };
  return {
    createProducer: (opts) => createPlatformaticProducer(config, opts),
    ...topics,
    readRange: (opts) => readTopicRange(readClients, opts),
    lease: (opts) => createLease({ ...opts, ...topics, connection: config }),
    authFailure: platformaticAuthFailure,
  };
};
