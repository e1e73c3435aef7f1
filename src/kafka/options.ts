/**
 * @module kafka/options
 * The Kafka settings of every process, beside the code that uses them: the
 * brokers, TLS and SASL, the client library, the schema registry and the
 * topics, with the rules across them. settings.ts composes them into each
 * process's schema; the adapters take the typed `KafkaOptions`.
 */
import { z } from 'zod';
import {
  acrossSettings,
  bool,
  flag,
  httpUrl,
  int,
  list,
  pem,
  topicName,
} from '../config/schema.ts';

export const kafkaEnv = z.object({
  KAFKA_BROKERS: list.pipe(
    z
      .array(z.string().regex(/^[^\s:]+:\d+$/, 'each broker must be host:port'))
      .min(1, 'at least one broker (host:port)'),
  ),
  KAFKA_CLIENT_ID: z.string().min(1).default('webex-cdr-kafka'),
  KAFKA_SSL: flag().optional(),
  KAFKA_SSL_CA: pem('CERTIFICATE').optional(),
  KAFKA_SSL_CERT: pem('CERTIFICATE').optional(),
  KAFKA_SSL_KEY: pem('PRIVATE KEY').optional(),
  KAFKA_SSL_KEY_PASSWORD: z.string().optional(),
  KAFKA_SSL_SERVERNAME: z.string().min(1).optional(),
  KAFKA_SSL_REJECT_UNAUTHORIZED: bool(true),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  KAFKA_COMPRESSION: z.enum(['none', 'gzip', 'zstd']).default('none'),
  KAFKA_CLIENT: z.enum(['platformatic', 'kafkajs']).default('platformatic'),
  SCHEMA_REGISTRY_URL: httpUrl,
  SCHEMA_REGISTRY_USERNAME: z.string().optional(),
  SCHEMA_REGISTRY_PASSWORD: z.string().optional(),
  SCHEMA_REGISTRY_TOKEN: z.string().optional(),
  SCHEMA_REGISTRY_CA: pem('CERTIFICATE').optional(),
  SCHEMA_AUTO_REGISTER: bool(true),
  SCHEMA_USE_LATEST: bool(false),
  CDR_TOPIC: topicName.default('webex.calling.cdr'),
  CDR_DLQ_TOPIC: topicName.optional(),
  CDR_TOPIC_PARTITIONS: int(6),
  CDR_TOPIC_REPLICATION_FACTOR: int(-1, -1, 32),
  KAFKA_CREATE_TOPICS: bool(true),
});

export type KafkaEnv = z.infer<typeof kafkaEnv>;

export const kafkaRules = acrossSettings<KafkaEnv>((e) => [
  ...(e.KAFKA_SASL_MECHANISM !== undefined && (!e.KAFKA_SASL_USERNAME || !e.KAFKA_SASL_PASSWORD)
    ? ['KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD: required when KAFKA_SASL_MECHANISM is set']
    : []),
  ...(e.KAFKA_SASL_MECHANISM === undefined && (e.KAFKA_SASL_USERNAME || e.KAFKA_SASL_PASSWORD)
    ? [
        'KAFKA_SASL_MECHANISM: required with KAFKA_SASL_USERNAME/PASSWORD (plain, scram-sha-256, scram-sha-512)',
      ]
    : []),
  ...(e.KAFKA_SSL === false && (e.KAFKA_SSL_CA || e.KAFKA_SSL_CERT || e.KAFKA_SSL_KEY)
    ? ['KAFKA_SSL: is false, but a TLS CA, certificate or key is set']
    : []),
  ...(Boolean(e.KAFKA_SSL_CERT) !== Boolean(e.KAFKA_SSL_KEY)
    ? [
        'KAFKA_SSL_CERT/KAFKA_SSL_KEY: a client certificate needs its key, and a key its certificate',
      ]
    : []),
  ...(e.SCHEMA_REGISTRY_TOKEN && (e.SCHEMA_REGISTRY_USERNAME || e.SCHEMA_REGISTRY_PASSWORD)
    ? ['SCHEMA_REGISTRY_TOKEN: set either a bearer token or a username and password, not both']
    : []),
  ...(e.SCHEMA_REGISTRY_PASSWORD && !e.SCHEMA_REGISTRY_USERNAME
    ? ['SCHEMA_REGISTRY_USERNAME: required with SCHEMA_REGISTRY_PASSWORD']
    : []),
  ...(e.SCHEMA_REGISTRY_CA && !/^https:/i.test(e.SCHEMA_REGISTRY_URL ?? '')
    ? ['SCHEMA_REGISTRY_CA: only used with an https SCHEMA_REGISTRY_URL']
    : []),
  ...(e.SCHEMA_USE_LATEST === true && e.SCHEMA_AUTO_REGISTER !== false
    ? ['SCHEMA_USE_LATEST: only with SCHEMA_AUTO_REGISTER=false (governed registry)']
    : []),
]);

/** Masked by `config check`, never logged. */
export const KAFKA_SECRETS = [
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SSL_KEY',
  'KAFKA_SSL_KEY_PASSWORD',
  'SCHEMA_REGISTRY_PASSWORD',
  'SCHEMA_REGISTRY_TOKEN',
] as const;

/** May be given as `<NAME>_FILE` (config/sources.ts). */
export const KAFKA_FROM_FILE = [
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SSL_CA',
  'KAFKA_SSL_CERT',
  'KAFKA_SSL_KEY',
  'KAFKA_SSL_KEY_PASSWORD',
  'SCHEMA_REGISTRY_PASSWORD',
  'SCHEMA_REGISTRY_TOKEN',
  'SCHEMA_REGISTRY_CA',
] as const;

/** TLS to the brokers: on with KAFKA_SSL=true or when a CA, certificate or key is given. */
const toKafkaTls = (e: KafkaEnv) => {
  const files = [e.KAFKA_SSL_CA, e.KAFKA_SSL_CERT, e.KAFKA_SSL_KEY].some((v) => v !== undefined);
  if (!(e.KAFKA_SSL ?? files)) return false as const;
  return {
    ...(e.KAFKA_SSL_CA === undefined ? {} : { ca: e.KAFKA_SSL_CA }),
    ...(e.KAFKA_SSL_CERT === undefined ? {} : { cert: e.KAFKA_SSL_CERT }),
    ...(e.KAFKA_SSL_KEY === undefined ? {} : { key: e.KAFKA_SSL_KEY }),
    ...(e.KAFKA_SSL_KEY_PASSWORD === undefined ? {} : { passphrase: e.KAFKA_SSL_KEY_PASSWORD }),
    ...(e.KAFKA_SSL_SERVERNAME === undefined ? {} : { servername: e.KAFKA_SSL_SERVERNAME }),
    rejectUnauthorized: e.KAFKA_SSL_REJECT_UNAUTHORIZED,
  };
};

export type KafkaTls = ReturnType<typeof toKafkaTls>;

export const toKafkaOptions = (e: KafkaEnv) => ({
  brokers: e.KAFKA_BROKERS,
  clientId: e.KAFKA_CLIENT_ID,
  ssl: toKafkaTls(e),
  sasl:
    e.KAFKA_SASL_MECHANISM === undefined
      ? undefined
      : {
          mechanism: e.KAFKA_SASL_MECHANISM,
          username: e.KAFKA_SASL_USERNAME ?? '',
          password: e.KAFKA_SASL_PASSWORD ?? '',
        },
  compression: e.KAFKA_COMPRESSION,
  /** The Kafka client library: one whole adapter (producer, topics, reads, lease), kafka/client.ts. */
  client: e.KAFKA_CLIENT,
  registry: {
    url: e.SCHEMA_REGISTRY_URL,
    username: e.SCHEMA_REGISTRY_USERNAME,
    password: e.SCHEMA_REGISTRY_PASSWORD,
    token: e.SCHEMA_REGISTRY_TOKEN,
    ca: e.SCHEMA_REGISTRY_CA,
    autoRegister: e.SCHEMA_AUTO_REGISTER,
    useLatest: e.SCHEMA_USE_LATEST,
  },
  topic: e.CDR_TOPIC,
  dlqTopic: e.CDR_DLQ_TOPIC ?? `${e.CDR_TOPIC}.dlq`,
  createTopics: e.KAFKA_CREATE_TOPICS,
  partitions: e.CDR_TOPIC_PARTITIONS,
  replicationFactor: e.CDR_TOPIC_REPLICATION_FACTOR,
});

export type KafkaOptions = ReturnType<typeof toKafkaOptions>;
