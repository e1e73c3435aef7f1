/**
 * @module kafka/cdr-sink
 * Everything a process needs to publish CDRs, wired from configuration:
 * topics created when missing, the schema registered (BACKWARD), the producer
 * connected. Start-up keeps retrying in the background until all three hold,
 * so a process can start before Kafka or the registry and report not-ready
 * meanwhile, saying what it waits for: `problem()` is the error a delivery
 * gets until then (not_ready while a step is first tried, kafka_unavailable or
 * registry_unavailable once it failed). The producer counts as ready once it
 * holds its producer id. Refused credentials (Kafka SASL, registry 401/403)
 * and a registry that cannot be right (a wrong URL, a governed schema that is
 * missing or cannot read our records) end the start at once: `started`
 * rejects with `auth_failed` or `config_invalid`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readCdrSchema } from '../cdr/avro-schema.ts';
import { PRIVACY_HEADER } from '../cdr/privacy.ts';
import type { KafkaConfig } from '../config.ts';
import { CdrError, describe } from '../errors.ts';
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
  readiness(): { ready: boolean; checks: Record<string, boolean>; problem: CdrError | null };
  /** Why the sink is not ready yet (what a delivery is answered meanwhile); null once started. */
  problem(): CdrError | null;
  encoder(): Encoder | null;
  close(): Promise<void>;
};

type Step = 'topics' | 'schema' | 'producer';

const WAITING_FOR: Record<Step, string> = {
  topics: 'Kafka (topics)',
  schema: 'the schema registry',
  producer: 'Kafka (producer id)',
};

/** A refusal that retrying cannot change: credentials, or a registry that cannot be right. */
const startRefusal = (e: unknown): CdrError | null =>
  asAuthFailure(e) ?? (e instanceof CdrError && e.code === 'config_invalid' ? e : null);

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
  let producerReady = false;
  /** The step start-up is at, and how it last failed (null: not yet). */
  let step: { name: Step; failed: string | null } | null = { name: 'topics', failed: null };
  const stopping = new AbortController();

  const topics: TopicSpec[] = [config.topic, config.dlqTopic, ...extraTopics].map((topic) => ({
    topic,
    partitions: topic === config.topic ? config.partitions : Math.min(config.partitions, 3),
    replicationFactor: config.replicationFactor,
  }));

  /** Runs one step of the start, remembering which one is waited for and how it failed. */
  const at = async (name: Step, work: () => Promise<void>) => {
    if (step?.name !== name) step = { name, failed: null };
    try {
      await work();
    } catch (e) {
      step = { name, failed: describe(e) };
      throw e;
    }
  };

  const attempt = async () => {
    if (!topicsReady) {
      await at('topics', async () => {
        if (config.createTopics) {
          const created = await ensureTopics(kafka, topics);
          if (created.length > 0) logger.info('created topics', { topics: created });
        } else {
          const missing = await missingTopics(kafka, topics);
          if (missing.length > 0) {
            throw new Error(`topics missing (KAFKA_CREATE_TOPICS=false): ${missing.join(', ')}`);
          }
        }
      });
      topicsReady = true;
    }
    if (encoder === null) {
      await at('schema', async () => {
        encoder = await registry.registerEncoder(subject, readCdrSchema().text);
      });
      const e = encoder as Encoder | null;
      logger.info(
        config.registry.autoRegister === false ? 'schema found (governed)' : 'schema registered',
        { subject, schemaId: e?.schemaId },
      );
    }
    if (!producer.isConnected()) await at('producer', () => producer.connect());
    producerReady = true;
    step = null;
  };

  const problem = (): CdrError | null => {
    if (step === null) return null;
    const waiting = WAITING_FOR[step.name];
    if (step.failed === null) {
      return new CdrError('not_ready', `starting: waiting for ${waiting}`);
    }
    if (step.name === 'schema') {
      return new CdrError(
        'registry_unavailable',
        `the schema registry is not available (start-up keeps retrying): ${step.failed}`,
      );
    }
    return new CdrError(
      'kafka_unavailable',
      `Kafka at ${config.brokers.join(',')} is not available (start-up keeps retrying): ${step.failed}`,
    );
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
        // Wrong credentials or a wrong registry do not heal by retrying: fail the start, loudly.
        const refused = startRefusal(e);
        if (refused !== null) {
          logger.error(
            refused.code === 'auth_failed' ? 'cannot start: credentials refused' : 'cannot start',
            { error: describe(refused) },
          );
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
    notReady: problem,
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
    problem,
    readiness: () => {
      const checks = {
        topics: topicsReady,
        schemaRegistered: encoder !== null,
        // connected with its producer id (both clients)
        producerConnected: producerReady && producer.isConnected(),
      };
      const ready = Object.values(checks).every(Boolean);
      return { ready, checks, problem: ready ? null : problem() };
    },
    async close() {
      stopping.abort(new Error('stopped'));
      await producer.disconnect().catch(() => undefined);
    },
  };
};
