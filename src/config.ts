/**
 * @module config
 * The environment, parsed once with zod into typed configuration. Every
 * problem is reported at once; the CLI prints them and exits with code 2.
 * The variable names are the contract with deployments.
 */
import { z } from 'zod';
import { FEEDS } from './cdr/normalise.ts';
import { type LogLevel, silentLogger } from './log.ts';
import { parseDuration } from './reconciler/plan.ts';
import { readRefreshTokenFile } from './reconciler/refresh-token-file.ts';
import { createWebexClient } from './reconciler/webex-client.ts';

const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== ''),
);

const bool = (fallback: boolean) => z.stringbool().default(fallback);
const int = (fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
const topicName = z
  .string()
  .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a Kafka topic name: letters, digits, ".", "_", "-"');
const httpUrl = z.url({ protocol: /^https?$/ });

const kafkaEnv = z.object({
  KAFKA_BROKERS: list.pipe(
    z
      .array(z.string().regex(/^[^\s:]+:\d+$/, 'each broker must be host:port'))
      .min(1, 'at least one broker (host:port)'),
  ),
  KAFKA_CLIENT_ID: z.string().min(1).default('webex-cdr-kafka'),
  KAFKA_SSL: bool(false),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  KAFKA_COMPRESSION: z.enum(['none', 'gzip']).default('none'),
  SCHEMA_REGISTRY_URL: httpUrl,
  SCHEMA_REGISTRY_USERNAME: z.string().optional(),
  SCHEMA_REGISTRY_PASSWORD: z.string().optional(),
  CDR_TOPIC: topicName.default('webex.calling.cdr'),
  CDR_DLQ_TOPIC: topicName.optional(),
  CDR_TOPIC_PARTITIONS: int(6),
  CDR_TOPIC_REPLICATION_FACTOR: int(-1, -1, 32),
  KAFKA_CREATE_TOPICS: bool(true),
  CDR_FEED: z.enum(FEEDS, { message: `one of ${FEEDS.join(', ')} (the Partner Hub feed type)` }),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

const ingressEnv = kafkaEnv.extend({
  PORT: int(8080, 0, 65535),
  HOST: z.string().min(1).default('127.0.0.1'),
  WEBHOOK_PATH: z.string().startsWith('/').default('/webhooks/cdr'),
  WEBHOOK_SECRETS: list.default([]),
  WEBHOOK_ACCEPT_SHA256: bool(false),
  WEBHOOK_SIGNATURE_OVER_DECODED: bool(false),
  MAX_INFLIGHT_BYTES: int(1024 * 1024 * 1024),
  WEBHOOK_INSECURE_NO_SIGNATURE: bool(false),
  WEBHOOK_CONTENT_TYPES: list.default(['application/json', 'application/*+json']),
  MAX_BODY_BYTES: int(256 * 1024 * 1024),
  MAX_DECODED_BYTES: int(256 * 1024 * 1024),
  ACK_TIMEOUT_MS: int(10_000),
  REQUEST_TIMEOUT_MS: int(300_000),
  RETRY_AFTER_SECONDS: int(30),
});

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      try {
        return parseDuration(text);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
        return z.NEVER;
      }
    });

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** A duration within [min, max]; the bounds are named in the problem as written. */
const durationWithin = (fallback: string, min: [number, string], max: [number, string]) =>
  duration(fallback).pipe(
    z.number().min(min[0], `at least ${min[1]}`).max(max[0], `at most ${max[1]}`),
  );

const reconcilerEnv = kafkaEnv.extend({
  WEBEX_API_BASE_URL: httpUrl.default('https://analytics.webexapis.com'),
  WEBEX_ACCESS_TOKEN: z.string().optional(),
  WEBEX_ACCESS_TOKEN_FILE: z.string().optional(),
  WEBEX_CLIENT_ID: z.string().optional(),
  WEBEX_CLIENT_SECRET: z.string().optional(),
  WEBEX_REFRESH_TOKEN: z.string().optional(),
  WEBEX_REFRESH_TOKEN_FILE: z.string().optional(),
  WEBEX_TOKEN_URL: httpUrl.default('https://webexapis.com/v1/access_token'),
  WEBEX_MIN_REQUEST_INTERVAL: durationWithin('0ms', [0, '0ms'], [HOUR, '1h']),
  WEBEX_TIMEOUT: durationWithin('30s', [SECOND, '1s'], [10 * MINUTE, '10m']),
  // Node cannot wait longer than 2^31 - 1 ms (about 24.8 days): longer timers fire after 1 ms.
  RECONCILE_INTERVAL: durationWithin('12h', [MINUTE, '1m'], [24 * DAY, '24d']),
  RECONCILE_LOOKBACK: durationWithin('48h', [HOUR, '1h'], [30 * DAY, '30d (720h)']),
  RECONCILE_SETTLE: duration('15m').pipe(z.number().min(5 * MINUTE, 'at least 5m')),
  RECONCILE_TOPIC: topicName.optional(),
  RECONCILE_WINDOWS_PER_PASS: int(49),
  RECONCILE_CLOCK_SKEW: duration('5m'),
  RECONCILER_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLISH_TIMEOUT: durationWithin('60s', [SECOND, '1s'], [HOUR, '1h']),
});

export type KafkaEnv = z.infer<typeof kafkaEnv>;

const toKafkaConfig = (e: KafkaEnv) => ({
  brokers: e.KAFKA_BROKERS,
  clientId: e.KAFKA_CLIENT_ID,
  ssl: e.KAFKA_SSL,
  sasl:
    e.KAFKA_SASL_MECHANISM === undefined
      ? undefined
      : {
          mechanism: e.KAFKA_SASL_MECHANISM,
          username: e.KAFKA_SASL_USERNAME ?? '',
          password: e.KAFKA_SASL_PASSWORD ?? '',
        },
  compression: e.KAFKA_COMPRESSION,
  registry: {
    url: e.SCHEMA_REGISTRY_URL,
    username: e.SCHEMA_REGISTRY_USERNAME,
    password: e.SCHEMA_REGISTRY_PASSWORD,
  },
  topic: e.CDR_TOPIC,
  dlqTopic: e.CDR_DLQ_TOPIC ?? `${e.CDR_TOPIC}.dlq`,
  createTopics: e.KAFKA_CREATE_TOPICS,
  partitions: e.CDR_TOPIC_PARTITIONS,
  replicationFactor: e.CDR_TOPIC_REPLICATION_FACTOR,
  feed: e.CDR_FEED,
  logLevel: e.LOG_LEVEL satisfies LogLevel,
});

export type KafkaConfig = ReturnType<typeof toKafkaConfig>;

const toIngressConfig = (e: z.infer<typeof ingressEnv>) => ({
  ...toKafkaConfig(e),
  port: e.PORT,
  host: e.HOST,
  path: e.WEBHOOK_PATH,
  secrets: e.WEBHOOK_SECRETS,
  acceptSha256: e.WEBHOOK_ACCEPT_SHA256,
  signatureOverDecoded: e.WEBHOOK_SIGNATURE_OVER_DECODED,
  maxInflightBytes: e.MAX_INFLIGHT_BYTES,
  insecureNoSignature: e.WEBHOOK_INSECURE_NO_SIGNATURE,
  contentTypes: e.WEBHOOK_CONTENT_TYPES,
  maxBodyBytes: e.MAX_BODY_BYTES,
  maxDecodedBytes: e.MAX_DECODED_BYTES,
  ackTimeoutMs: e.ACK_TIMEOUT_MS,
  requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
  retryAfterSeconds: e.RETRY_AFTER_SECONDS,
});

export type IngressConfig = ReturnType<typeof toIngressConfig>;

/** `refreshTokenFromFile`: the content of WEBEX_REFRESH_TOKEN_FILE, read at start. */
const toReconcilerConfig = (
  e: z.infer<typeof reconcilerEnv>,
  refreshTokenFromFile: string | undefined,
) => {
  const base = toKafkaConfig(e);
  const refreshToken = refreshTokenFromFile ?? e.WEBEX_REFRESH_TOKEN;
  const auth =
    e.WEBEX_CLIENT_ID && e.WEBEX_CLIENT_SECRET && refreshToken
      ? ({
          kind: 'oauth',
          clientId: e.WEBEX_CLIENT_ID,
          clientSecret: e.WEBEX_CLIENT_SECRET,
          refreshToken,
          tokenUrl: e.WEBEX_TOKEN_URL,
        } as const)
      : e.WEBEX_ACCESS_TOKEN_FILE
        ? ({ kind: 'file', path: e.WEBEX_ACCESS_TOKEN_FILE } as const)
        : ({ kind: 'static', token: e.WEBEX_ACCESS_TOKEN ?? '' } as const);
  return {
    ...base,
    webex: {
      baseUrl: e.WEBEX_API_BASE_URL,
      auth,
      minIntervalMs: e.WEBEX_MIN_REQUEST_INTERVAL,
      timeoutMs: e.WEBEX_TIMEOUT,
    },
    /** Where a rotated OAuth refresh token is written back (only with the OAuth flow). */
    refreshTokenFile: auth.kind === 'oauth' ? e.WEBEX_REFRESH_TOKEN_FILE : undefined,
    intervalMs: e.RECONCILE_INTERVAL,
    lookbackMs: e.RECONCILE_LOOKBACK,
    settleMs: e.RECONCILE_SETTLE,
    auditTopic: e.RECONCILE_TOPIC ?? `${e.CDR_TOPIC}.reconciliation`,
    windowsPerPass: e.RECONCILE_WINDOWS_PER_PASS,
    clockSkewMs: e.RECONCILE_CLOCK_SKEW,
    port: e.RECONCILER_PORT,
    host: e.HOST,
    publishTimeoutMs: e.PUBLISH_TIMEOUT,
  };
};

export type ReconcilerConfig = ReturnType<typeof toReconcilerConfig>;

export type ConfigResult<T> = { ok: true; config: T } | { ok: false; problems: string[] };

const problemsOf = (error: z.ZodError): string[] =>
  error.issues.map((i) => {
    const message = i.message.endsWith('received undefined') ? 'required, not set' : i.message;
    return `${i.path.join('.') || '(environment)'}: ${message}`;
  });

const parseWith = <S extends z.ZodType, T>(
  schema: S,
  to: (e: z.infer<S>) => T,
  extra: (e: RawEnv) => string[],
  env: NodeJS.ProcessEnv,
): ConfigResult<T> => {
  const raw = emptyAsUnset(env);
  const parsed = schema.safeParse(raw);
  // Cross-variable rules run on the raw values, so every problem is listed at once.
  const problems = [...(parsed.success ? [] : problemsOf(parsed.error)), ...extra(raw)];
  return problems.length > 0 || !parsed.success
    ? { ok: false, problems }
    : { ok: true, config: to(parsed.data) };
};

type RawEnv = Record<string, string>;

const isTrue = (v: string | undefined): boolean =>
  v !== undefined && ['true', '1', 'yes', 'on', 'y', 'enabled'].includes(v.trim().toLowerCase());

// `FOO=` in a .env file means "not set", not "the empty string".
const emptyAsUnset = (env: NodeJS.ProcessEnv): Record<string, string> =>
  Object.fromEntries(
    Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined && kv[1] !== ''),
  );

const kafkaProblems = (e: RawEnv): string[] =>
  e.KAFKA_SASL_MECHANISM !== undefined && (!e.KAFKA_SASL_USERNAME || !e.KAFKA_SASL_PASSWORD)
    ? ['KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD: required when KAFKA_SASL_MECHANISM is set']
    : [];

export const parseIngressConfig = (env: NodeJS.ProcessEnv): ConfigResult<IngressConfig> =>
  parseWith(
    ingressEnv,
    toIngressConfig,
    (e) => [
      ...kafkaProblems(e),
      ...((e.WEBHOOK_SECRETS ?? '').replaceAll(',', '').trim() === '' &&
      !isTrue(e.WEBHOOK_INSECURE_NO_SIGNATURE)
        ? [
            'WEBHOOK_SECRETS: required (comma-separated secrets); to run without signature checks set WEBHOOK_INSECURE_NO_SIGNATURE=true',
          ]
        : []),
    ],
    env,
  );

const webexAuthProblems = (e: RawEnv): string[] => {
  const refresh = e.WEBEX_REFRESH_TOKEN ?? e.WEBEX_REFRESH_TOKEN_FILE;
  const problems =
    e.WEBEX_REFRESH_TOKEN && e.WEBEX_REFRESH_TOKEN_FILE
      ? ['WEBEX_REFRESH_TOKEN/WEBEX_REFRESH_TOKEN_FILE: set one of them, not both']
      : [];
  if (e.WEBEX_ACCESS_TOKEN || e.WEBEX_ACCESS_TOKEN_FILE) return problems;
  if (e.WEBEX_CLIENT_ID || e.WEBEX_CLIENT_SECRET || refresh) {
    return e.WEBEX_CLIENT_ID && e.WEBEX_CLIENT_SECRET && refresh
      ? problems
      : [
          ...problems,
          'WEBEX_CLIENT_ID/WEBEX_CLIENT_SECRET/WEBEX_REFRESH_TOKEN: all three are needed for the OAuth refresh flow (the refresh token or WEBEX_REFRESH_TOKEN_FILE)',
        ];
  }
  return [
    'WEBEX_ACCESS_TOKEN: required (or WEBEX_ACCESS_TOKEN_FILE, or WEBEX_CLIENT_ID + WEBEX_CLIENT_SECRET + WEBEX_REFRESH_TOKEN or WEBEX_REFRESH_TOKEN_FILE)',
  ];
};

export const parseReconcilerConfig = (env: NodeJS.ProcessEnv): ConfigResult<ReconcilerConfig> => {
  const file = emptyAsUnset(env).WEBEX_REFRESH_TOKEN_FILE;
  const fromFile = file === undefined ? undefined : readRefreshTokenFile(file);
  const parsed = parseWith(
    reconcilerEnv,
    (e) => toReconcilerConfig(e, fromFile?.ok ? fromFile.token : undefined),
    (e) => [
      ...kafkaProblems(e),
      ...webexAuthProblems(e),
      ...(fromFile?.ok === false ? [`WEBEX_REFRESH_TOKEN_FILE: ${fromFile.problem}`] : []),
      ...(e.RECONCILE_MAX_IDS_PER_PASS === undefined
        ? []
        : [
            'RECONCILE_MAX_IDS_PER_PASS: no longer used; the ledger is bounded by RECONCILE_WINDOWS_PER_PASS (windows per topic read)',
          ]),
    ],
    env,
  );
  if (!parsed.ok) return parsed;
  // Whatever the Webex client would refuse at start is a configuration problem too.
  try {
    createWebexClient({ ...parsed.config.webex, logger: silentLogger });
  } catch (e) {
    return { ok: false, problems: [e instanceof Error ? e.message : String(e)] };
  }
  return parsed;
};

/** Kafka and registry settings alone, for tools that only read topics (CDR_FEED unused there). */
export const parseKafkaConfig = (env: NodeJS.ProcessEnv): ConfigResult<KafkaConfig> =>
  parseWith(
    kafkaEnv.extend({ CDR_FEED: z.enum(FEEDS).default('analytics') }),
    toKafkaConfig,
    kafkaProblems,
    env,
  );
