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
 *
 * STARTUP_TIMEOUT bounds the wait: a one-shot command (`giveUpAfter-
 * StartupTimeout`) then gives up, `started` rejecting with `startup_timeout`
 * naming what was not reached (the brokers or the registry URL) and the last
 * error; a service keeps retrying and says so at `warn`. While starting, the
 * reason is logged at most once per 30 s (and kafkajs' own lines likewise).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readCdrSchema } from '../cdr/avro-schema.ts';
import { PRIVACY_HEADER } from '../cdr/privacy.ts';
import type { ProcessOptions } from '../config/process.ts';
import { createTopicIndex, type TopicIndex } from '../dedup/topic-index.ts';
import { CdrError, describe } from '../errors.ts';
import { type Logger, rateLimited } from '../log.ts';
import { createKafkaClient } from './client.ts';
import type { KafkaOptions } from './options.ts';
import type { CdrProducer, KafkaClient, TopicSpec } from './port.ts';
import { diagnoseBrokers } from './probe.ts';
import { type CdrPublisher, createCdrPublisher } from './publish-cdrs.ts';
import { createRegistryClient, type RegistryClient } from './registry.ts';
import type { Encoder } from './wire-encoder.ts';

export type CdrSink = {
  /** The Kafka client (the port: reads, topics, the lease), as KAFKA_CLIENT configures it. */
  readonly kafka: KafkaClient;
  readonly producer: CdrProducer;
  readonly registry: RegistryClient;
  readonly publisher: CdrPublisher;
  readonly subject: string;
  /** The dedup index the publisher checks (CdrSinkOptions.dedupWindowMs), else null. */
  readonly dedup: TopicIndex | null;
  /** Resolves once topics, schema and producer are ready and the dedup index is warm (retrying meanwhile); rejects after close(). */
  readonly started: Promise<void>;
  readiness(): { ready: boolean; checks: Record<string, boolean>; problem: CdrError | null };
  /** Why the sink is not ready yet (what a delivery is answered meanwhile); null once started. */
  problem(): CdrError | null;
  encoder(): Encoder | null;
  close(): Promise<void>;
};

export type CdrSinkOptions = {
  /** One-shot commands: give up once STARTUP_TIMEOUT has passed (services keep retrying). */
  giveUpAfterStartupTimeout?: boolean;
  /** Drop repeats against the topic's last `dedupWindowMs` (dedup/topic-index.ts); no dedup when absent. */
  dedupWindowMs?: number;
  now?: () => number;
};

/** While starting, a repeated reason is logged at most this often. */
export const STARTUP_WARN_EVERY_MS = 30_000;
/** Each connection and answer of a probe of KAFKA_BROKERS (kafka/probe.ts). */
export const PROBE_TIMEOUT_MS = 3_000;
const NO_ANSWER = 'no answer yet';

type Step = 'topics' | 'schema' | 'producer';

const WAITING_FOR: Record<Step, string> = {
  topics: 'Kafka (topics)',
  schema: 'the schema registry',
  producer: 'Kafka (producer id)',
};

/** A refusal that retrying cannot change: credentials, or a registry that cannot be right. */
const startRefusal = (kafka: KafkaClient, e: unknown): CdrError | null =>
  kafka.authFailure(e) ?? (e instanceof CdrError && e.code === 'config_invalid' ? e : null);

export const createCdrSink = (
  config: KafkaOptions & Pick<ProcessOptions, 'startupTimeoutMs' | 'privacy'>,
  logger: Logger,
  extraTopics: string[] = [],
  options: CdrSinkOptions = {},
): CdrSink => {
  const now = options.now ?? Date.now;
  let ready = false;
  // kafkajs logs each failed connection; until the start succeeds, our own
  // rate-limited line says the same, so its lines are limited too and the last
  // one is kept as the reason when an attempt is cut short by the deadline.
  let kafkaSays: string | undefined;
  const kafkaWarn = rateLimited((m, f) => logger.warn(m, f), STARTUP_WARN_EVERY_MS, now);
  const kafkaLogger: Logger = {
    ...logger,
    warn: (msg, fields) => {
      if (ready) return logger.warn(msg, fields);
      kafkaSays = msg;
      kafkaWarn(msg, fields);
    },
  };
  const kafka = createKafkaClient(config, kafkaLogger);
  const dedup =
    options.dedupWindowMs === undefined
      ? null
      : createTopicIndex({
          kafka,
          topic: config.topic,
          windowMs: options.dedupWindowMs,
          logger,
          startTimeoutMs: config.startupTimeoutMs,
        });
  const producer = kafka.createProducer({ logger });
  const registry = createRegistryClient(config.registry);
  const subject = `${config.topic}-value`;
  let encoder: Encoder | null = null;
  let topicsReady = false;
  /** The step start-up is at, and how it last failed (null: not yet). */
  let step: { name: Step; failed: string | null } | null = { name: 'topics', failed: null };
  const stopping = new AbortController();

  const topics: TopicSpec[] = [config.topic, config.dlqTopic, ...extraTopics].map((topic) => ({
    topic,
    partitions: topic === config.topic ? config.partitions : Math.min(config.partitions, 3),
    replicationFactor: config.replicationFactor,
  }));

  // Why Kafka cannot be reached, in an operator's words (kafka/probe.ts): asked
  // while a Kafka step fails or hangs, at most once per STARTUP_WARN_EVERY_MS,
  // each probe bounded by PROBE_TIMEOUT_MS. Null: not asked, or nothing found.
  let diagnosis: string | null = null;
  let diagnosedAt = Number.NEGATIVE_INFINITY;
  let diagnosing: Promise<void> | null = null;
  /** Kafka steps done so far: a probe's finding counts only if none was done while it ran. */
  let kafkaStepsDone = 0;
  const onKafka = () => step !== null && step.name !== 'schema';
  const diagnose = (): Promise<void> => {
    if (diagnosing !== null) return diagnosing;
    if (ready || !onKafka() || now() - diagnosedAt < STARTUP_WARN_EVERY_MS) {
      return Promise.resolve();
    }
    diagnosedAt = now();
    const asOf = kafkaStepsDone;
    const probe = diagnoseBrokers(config.brokers, {
      tls: config.ssl,
      sasl: config.sasl !== undefined,
      timeoutMs: PROBE_TIMEOUT_MS,
    }).then(
      (found) => {
        if (kafkaStepsDone === asOf) diagnosis = found;
      },
      () => undefined,
    );
    diagnosing = probe.finally(() => {
      diagnosing = null;
    });
    return diagnosing;
  };
  const diagnosed = () => (onKafka() ? diagnosis : null);

  /** Runs one step of the start, remembering which one is waited for and how it failed. */
  const at = async (name: Step, work: () => Promise<void>) => {
    if (step?.name !== name) step = { name, failed: null };
    try {
      await work();
    } catch (e) {
      step = { name, failed: describe(e) };
      throw e;
    }
    // Kafka answered: what a probe found before no longer holds
    if (name !== 'schema') {
      kafkaStepsDone += 1;
      diagnosis = null;
      diagnosedAt = Number.NEGATIVE_INFINITY;
    }
  };

  const attempt = async () => {
    if (!topicsReady) {
      await at('topics', async () => {
        if (config.createTopics) {
          const created = await kafka.ensureTopics(topics);
          if (created.length > 0) logger.info('created topics', { topics: created });
        } else {
          const missing = await kafka.missingTopics(topics);
          if (missing.length > 0) {
            throw new Error(`topics missing (KAFKA_CREATE_TOPICS=false): ${missing.join(', ')}`);
          }
        }
      });
      topicsReady = true;
    }
    // close() does not wait for a step under way; none starts after it
    stopping.signal.throwIfAborted();
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
    stopping.signal.throwIfAborted();
    if (!producer.isConnected()) await at('producer', () => producer.connect());
    step = null;
  };

  const problem = (): CdrError | null => {
    if (step === null) return null;
    const waiting = WAITING_FOR[step.name];
    const found = diagnosed();
    if (found !== null) {
      return new CdrError(
        'kafka_unavailable',
        `Kafka at ${config.brokers.join(',')} is not available (start-up keeps retrying): ${step.failed ?? NO_ANSWER}; ${found}`,
      );
    }
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

  /** What the start is stuck on, from the steps done so far. */
  const onRegistry = () => step?.name === 'schema';
  const waitingFor = () =>
    onRegistry()
      ? `the schema registry ${config.registry.url}`
      : `Kafka brokers ${config.brokers.join(', ')}`;

  // Retries until ready; close() ends it at once (the promise then rejects).
  const aborted = new Promise<never>((_, reject) => {
    stopping.signal.addEventListener('abort', () => reject(stopping.signal.reason), { once: true });
  });
  aborted.catch(() => undefined);
  const giveUp = options.giveUpAfterStartupTimeout === true;
  const since = now();
  let attempts = 0;
  let lastError = NO_ANSWER;
  /** The last error, or what kafkajs said last when an attempt is still waiting for Kafka. */
  const reason = () => (onRegistry() ? lastError : (kafkaSays ?? lastError));
  const warnFields = () => {
    const found = diagnosed();
    return {
      waitingFor: waitingFor(),
      error: reason(),
      ...(found === null ? {} : { diagnosis: found }),
      attempts,
      sinceMs: now() - since,
    };
  };
  // At the deadline a one-shot command stops trying; a service says it still is.
  const DEADLINE = Symbol('STARTUP_TIMEOUT');
  let stillWaiting: NodeJS.Timeout | undefined;
  const expiry = new AbortController();
  const expired = sleep(config.startupTimeoutMs, undefined, {
    signal: expiry.signal,
    ref: false,
  }).then(async (): Promise<never> => {
    if (!giveUp) {
      await diagnose();
      logger.warn('not ready after STARTUP_TIMEOUT, still retrying', warnFields());
      // an attempt that hangs (no answer at all) fails no step: say so again at the same rate
      stillWaiting = setInterval(() => {
        void diagnose().then(() => {
          if (!ready) warn('not ready after STARTUP_TIMEOUT, still retrying', warnFields());
        });
      }, STARTUP_WARN_EVERY_MS);
      stillWaiting.unref();
    }
    throw DEADLINE;
  });
  expired.catch(() => undefined);
  const warn = rateLimited((m, f) => logger.warn(m, f), STARTUP_WARN_EVERY_MS, now);
  const overdue = () => now() - since >= config.startupTimeoutMs;
  const gaveUp = async () => {
    await diagnose();
    const found = diagnosed();
    const error = new CdrError(
      'startup_timeout',
      `${waitingFor()} not reached within ${config.startupTimeoutMs / 1000}s (STARTUP_TIMEOUT; ${attempts} attempt${attempts === 1 ? '' : 's'}); last error: ${reason()}${found === null ? '' : `; ${found}`}`,
    );
    logger.error('cannot start: gave up', { error: error.message, attempts });
    return error;
  };
  /** The start's attempt under way (close() does not wait for it). */
  let attempting: Promise<void> = Promise.resolve();
  const started = (async () => {
    let delay = 250;
    for (;;) {
      stopping.signal.throwIfAborted();
      if (giveUp && overdue()) throw await gaveUp();
      attempts++;
      try {
        attempting = attempt();
        await Promise.race([attempting, aborted, ...(giveUp ? [expired] : [])]);
        ready = true;
        if (attempts > 1) logger.info('ready', { attempts, ms: now() - since });
        return;
      } catch (e) {
        stopping.signal.throwIfAborted();
        // Wrong credentials or a wrong registry do not heal by retrying: fail the start, loudly.
        const refused = startRefusal(kafka, e);
        if (refused !== null) {
          logger.error(
            refused.code === 'auth_failed' ? 'cannot start: credentials refused' : 'cannot start',
            { error: describe(refused) },
          );
          throw refused;
        }
        if (e !== DEADLINE) lastError = describe(e);
        await diagnose();
        if (giveUp && overdue()) throw await gaveUp();
        const late = overdue();
        warn(late ? 'not ready after STARTUP_TIMEOUT, still retrying' : 'not ready yet, retrying', {
          ...warnFields(),
          retryInMs: delay,
        });
        const remaining = config.startupTimeoutMs - (now() - since);
        await sleep(giveUp ? Math.min(delay, Math.max(0, remaining)) : delay, undefined, {
          signal: stopping.signal,
        });
        delay = Math.min(delay * 2, 10_000);
      }
    }
  })();
  started.catch(() => undefined);
  void started
    .finally(() => {
      expiry.abort();
      clearInterval(stillWaiting);
    })
    .catch(() => undefined);
  // the index is read once the topic exists; until it is warm, publishing answers not_ready
  const warm = dedup === null ? started : started.then(() => dedup.start());
  warm.catch(() => undefined);

  const publisher = createCdrPublisher({
    producer,
    encoder: () => encoder,
    notReady: problem,
    topic: config.topic,
    dlqTopic: config.dlqTopic,
    ...(config.privacy === null ? {} : { headers: { [PRIVACY_HEADER]: config.privacy.header } }),
    ...(dedup === null ? {} : { dedup }),
  });

  return {
    kafka,
    producer,
    registry,
    publisher,
    subject,
    dedup,
    started: warm,
    encoder: () => encoder,
    problem,
    readiness: () => {
      const checks = {
        topics: topicsReady,
        schemaRegistered: encoder !== null,
        // connected with its producer id (both clients)
        producerConnected: producer.isConnected(),
        ...(dedup === null ? {} : { dedupIndexWarm: dedup.stats().warm }),
      };
      const ready = Object.values(checks).every(Boolean);
      return { ready, checks, problem: ready ? null : (problem() ?? dedup?.problem() ?? null) };
    },
    async close() {
      stopping.abort(new Error('stopped'));
      await dedup?.close();
      await producer.disconnect().catch(() => undefined);
      // A producer connect under way when stopped may still open a connection:
      // disconnected again once the attempt has settled.
      void attempting
        .catch(() => undefined)
        .then(() => producer.disconnect())
        .catch(() => undefined);
    },
  };
};
