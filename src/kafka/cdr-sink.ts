/**
 * @module kafka/cdr-sink
 * Everything a process needs to publish CDRs, wired from configuration:
 * topics created when missing, the schema registered (BACKWARD), the producer
 * connected. Start-up keeps retrying in the background until all three hold,
 * so a process can start before Kafka or the registry and report not-ready
 * meanwhile. Refused credentials (Kafka SASL, registry 401) end the start
 * at once: `started` rejects with `auth_failed`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readCdrSchema } from '../cdr/avro-schema.ts';
import { PRIVACY_HEADER } from '../cdr/privacy.ts';
import type { KafkaConfig } from '../config.ts';
import { describe } from '../errors.ts';
import type { Logger } from '../log.ts';
import { asAuthFailure, createKafka } from './client.ts';
import { type CdrProducer, createCdrProducer } from './producer.ts';
import { createPlatformaticProducer } from './producer-platformatic.ts';
import { type CdrPublisher, createCdrPublisher } from './publish-cdrs.ts';
import { createRegistryClient, type Encoder, type RegistryClient } from './registry.ts';
import { ensureTopics, missingTopics, type TopicSpec } from './topics.ts';

export type CdrSink = {
  readonly kafka: ReturnType<typeof createKafka>;
  readonly producer: CdrProducer;
  readonly registry: RegistryClient;
  readonly publisher: CdrPublisher;
  readonly subject: string;
  /** Resolves once topics, schema and producer are ready (retrying meanwhile); rejects after close(). */
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
  const producer =
    config.client === 'platformatic'
      ? createPlatformaticProducer(config, { logger })
      : createCdrProducer(kafka, { compression: config.compression, logger });
  const registry = createRegistryClient(config.registry);
  const subject = `${config.topic}-value`;
  let encoder: Encoder | null = null;
  let topicsReady = false;
  const stopping = new AbortController();

  const topics: TopicSpec[] = [config.topic, config.dlqTopic, ...extraTopics].map((topic) => ({
    topic,
    partitions: topic === config.topic ? config.partitions : Math.min(config.partitions, 3),
    replicationFactor: config.replicationFactor,
  }));

  const attempt = async () => {
    if (!topicsReady) {
      if (config.createTopics) {
        const created = await ensureTopics(kafka, topics);
        if (created.length > 0) logger.info('created topics', { topics: created });
      } else {
        const missing = await missingTopics(kafka, topics);
        if (missing.length > 0) {
          throw new Error(`topics missing (KAFKA_CREATE_TOPICS=false): ${missing.join(', ')}`);
        }
      }
      topicsReady = true;
    }
    if (encoder === null) {
      encoder = await registry.registerEncoder(subject, readCdrSchema().text);
      logger.info('schema registered', { subject, schemaId: encoder.schemaId });
    }
    if (!producer.isConnected()) await producer.connect();
  };

  // Retries until ready; close() ends it at once (the promise then rejects).
  const aborted = new Promise<never>((_, reject) => {
    stopping.signal.addEventListener('abort', () => reject(stopping.signal.reason), { once: true });
  });
  aborted.catch(() => undefined);
  const started = (async () => {
    let delay = 250;
    for (;;) {
      stopping.signal.throwIfAborted();
      try {
        await Promise.race([attempt(), aborted]);
        return;
      } catch (e) {
        stopping.signal.throwIfAborted();
        // Wrong credentials do not heal by retrying: fail the start, loudly.
        const refused = asAuthFailure(e);
        if (refused !== null) {
          logger.error('cannot start: credentials refused', { error: describe(refused) });
          throw refused;
        }
        logger.warn('not ready yet, retrying', { error: describe(e), retryInMs: delay });
        await sleep(delay, undefined, { signal: stopping.signal });
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
    ...(config.privacy === null ? {} : { headers: { [PRIVACY_HEADER]: config.privacy.header } }),
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
      stopping.abort(new Error('stopped'));
      await producer.disconnect().catch(() => undefined);
    },
  };
};
