/**
 * @module kafka/cdr-sink
 * Everything a process needs to publish CDRs, wired from configuration:
 * topics created when missing, the schema registered (BACKWARD), the producer
 * connected. Start-up keeps retrying in the background until all three hold,
 * so a process can start before Kafka or the registry and report not-ready
 * meanwhile.
 */
import { readCdrSchema } from '../cdr/avro-schema.ts';
import type { KafkaConfig } from '../config.ts';
import { describe } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createKafka } from './client.ts';
import { type CdrProducer, createCdrProducer } from './producer.ts';
import { type CdrPublisher, createCdrPublisher } from './publish-cdrs.ts';
import { createRegistryClient, type Encoder, type RegistryClient } from './registry.ts';
import { ensureTopics, type TopicSpec } from './topics.ts';

export type CdrSink = {
  readonly kafka: ReturnType<typeof createKafka>;
  readonly producer: CdrProducer;
  readonly registry: RegistryClient;
  readonly publisher: CdrPublisher;
  readonly subject: string;
  /** Resolves once topics, schema and producer are ready (retrying meanwhile). */
  readonly started: Promise<void>;
  readiness(): { ready: boolean; checks: Record<string, boolean> };
  encoder(): Encoder | null;
  close(): Promise<void>;
};

export const createCdrSink = (
  config: KafkaConfig,
  logger: Logger,
  extraTopics: string[] = [],
): CdrSink => {
  const kafka = createKafka(config, logger);
  const producer = createCdrProducer(kafka, { compression: config.compression, logger });
  const registry = createRegistryClient(config.registry);
  const subject = `${config.topic}-value`;
  let encoder: Encoder | null = null;
  let topicsReady = !config.createTopics;
  let stopped = false;

  const topics: TopicSpec[] = [config.topic, config.dlqTopic, ...extraTopics].map((topic) => ({
    topic,
    partitions: topic === config.topic ? config.partitions : Math.min(config.partitions, 3),
    replicationFactor: config.replicationFactor,
  }));

  const attempt = async () => {
    if (!topicsReady) {
      const created = await ensureTopics(kafka, topics);
      if (created.length > 0) logger.info('created topics', { topics: created });
      topicsReady = true;
    }
    if (encoder === null) {
      encoder = await registry.registerEncoder(subject, readCdrSchema().text);
      logger.info('schema registered', { subject, schemaId: encoder.schemaId });
    }
    if (!producer.isConnected()) await producer.connect();
  };

  const started = (async () => {
    let delay = 250;
    for (;;) {
      try {
        await attempt();
        return;
      } catch (e) {
        if (stopped) throw e;
        logger.warn('not ready yet, retrying', { error: describe(e), retryInMs: delay });
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    }
  })();
  started.catch(() => undefined);

  const publisher = createCdrPublisher({
    producer,
    encoder: () => encoder,
    topic: config.topic,
    dlqTopic: config.dlqTopic,
  });

  return {
    kafka,
    producer,
    registry,
    publisher,
    subject,
    started,
    encoder: () => encoder,
    readiness: () => {
      const checks = {
        topics: topicsReady,
        schemaRegistered: encoder !== null,
        producerConnected: producer.isConnected(),
      };
      return { ready: Object.values(checks).every(Boolean), checks };
    },
    async close() {
      stopped = true;
      await producer.disconnect().catch(() => undefined);
    },
  };
};
