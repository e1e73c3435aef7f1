/**
 * @module config
 * The environment, parsed once with zod into typed configuration. Every
 * problem is reported at once; the CLI prints them and exits with code 2.
 * The variable names are the contract with deployments.
 *
 * Sources, strongest first: the environment; a JSON file named by CONFIG_FILE
 * (the CLI's `--config <path>` sets it) whose keys are the same names; the
 * defaults. Each name in FROM_FILE may instead be given as `<NAME>_FILE`, the
 * path of a file holding the value (trailing newline trimmed), so that secrets
 * can come from mounted files; setting both is a problem.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { FEEDS } from './cdr/normalise.ts';
import { privacyEnv, privacyProblems, toPrivacy } from './cdr/privacy.ts';
import type { LogLevel } from './log.ts';
import { parseDuration } from './reconciler/plan.ts';
import { parseClientOptions } from './reconciler/webex/options.ts';
import { readRefreshTokenFile } from './reconciler/webex/refresh-token-file.ts';
import { DEFAULT_REDIRECT_HOSTS, parseRedirectHosts } from './reconciler/webex/region-redirect.ts';
import { createSettingNames } from './setting-names.ts';

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
/** PEM text (given inline or, usually, through `<NAME>_FILE`). */
const pem = (kind: string) =>
  z.string().refine((t) => t.includes('-----BEGIN'), `PEM text (-----BEGIN ...${kind}-----)`);

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
    })
    .meta({ unit: 'ms' });

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** A duration within [min, max]; the bounds are named in the problem as written. */
const durationWithin = (fallback: string, min: [number, string], max: [number, string]) =>
  duration(fallback)
    .pipe(z.number().min(min[0], `at least ${min[1]}`).max(max[0], `at most ${max[1]}`))
    .meta({ unit: 'ms' });

const kafkaEnv = z.object({
  KAFKA_BROKERS: list.pipe(
    z
      .array(z.string().regex(/^[^\s:]+:\d+$/, 'each broker must be host:port'))
      .min(1, 'at least one broker (host:port)'),
  ),
  KAFKA_CLIENT_ID: z.string().min(1).default('webex-cdr-kafka'),
  KAFKA_SSL: z.stringbool().optional(),
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
  KAFKA_CLIENT: z.enum(['kafkajs', 'platformatic']).default('kafkajs'),
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
  CDR_FEED: z.enum(FEEDS, { message: `one of ${FEEDS.join(', ')} (the Partner Hub feed type)` }),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: int(25_000, 100),
  /** Environment variables under the product's prefixes that are not its settings: names or `PREFIX*`. */
  IGNORE_ENV: list.optional(),
  STARTUP_TIMEOUT: durationWithin('60s', [SECOND, '1s'], [HOUR, '1h']),
  ...privacyEnv.shape,
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
  SPOOL_BYTES: int(16 * 1024 * 1024),
  SPOOL_DIR: z.string().min(1).optional(),
  ACK_TIMEOUT_MS: int(10_000),
  REQUEST_TIMEOUT_MS: int(300_000),
  KEEP_ALIVE_TIMEOUT_MS: int(65_000),
  RETRY_AFTER_SECONDS: int(30),
});

const reconcilerEnv = kafkaEnv.extend({
  WEBEX_API_BASE_URL: httpUrl.default('https://analytics.webexapis.com'),
  // Hosts a 451 region redirect is followed to: `host`, `*.suffix` (https), or `http(s)://host:port`.
  WEBEX_REDIRECT_HOSTS: list.default([...DEFAULT_REDIRECT_HOSTS]).superRefine((hosts, ctx) => {
    const parsed = parseRedirectHosts(hosts);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.problems.join('; ') });
  }),
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
  RECONCILE_SETTLE: duration('15m')
    .pipe(z.number().min(5 * MINUTE, 'at least 5m'))
    .meta({ unit: 'ms' }),
  RECONCILE_TOPIC: topicName.optional(),
  RECONCILE_WINDOWS_PER_PASS: int(49),
  RECONCILE_CLOCK_SKEW: duration('5m'),
  RECONCILER_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLISH_TIMEOUT: durationWithin('60s', [SECOND, '1s'], [HOUR, '1h']),
  RECONCILE_LEASE: bool(true),
  RECONCILE_LEASE_TOPIC: topicName.optional(),
  RECONCILE_LEASE_GROUP: z.string().min(1).max(255).optional(),
  // Brokers accept 6s to 30m unless configured otherwise (group.min/max.session.timeout.ms).
  RECONCILE_LEASE_SESSION_TIMEOUT: durationWithin('30s', [6 * SECOND, '6s'], [30 * MINUTE, '30m']),
});

export type KafkaEnv = z.infer<typeof kafkaEnv>;

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

const toKafkaConfig = (e: KafkaEnv) => ({
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
  /** The producer's client library (admin, consumers and the reconciler's reads stay on kafkajs). */
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
  feed: e.CDR_FEED,
  logLevel: e.LOG_LEVEL satisfies LogLevel,
  shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  /** How long a start may try to reach Kafka and the registry: one-shot commands then give up. */
  startupTimeoutMs: e.STARTUP_TIMEOUT,
  privacy: toPrivacy(e),
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
  spoolBytes: e.SPOOL_BYTES,
  ...(e.SPOOL_DIR === undefined ? {} : { spoolDir: e.SPOOL_DIR }),
  ackTimeoutMs: e.ACK_TIMEOUT_MS,
  requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
  keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
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
      redirectHosts: e.WEBEX_REDIRECT_HOSTS,
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
    /** One active reconciler among replicas (reconciler/service.ts); null: RECONCILE_LEASE=false. */
    lease: e.RECONCILE_LEASE
      ? {
          topic: e.RECONCILE_LEASE_TOPIC ?? `${e.CDR_TOPIC}.reconciler-lease`,
          groupId: e.RECONCILE_LEASE_GROUP ?? `webex-cdr-kafka-lease-${e.CDR_TOPIC}`,
          sessionTimeoutMs: e.RECONCILE_LEASE_SESSION_TIMEOUT,
        }
      : null,
  };
};

export type ReconcilerConfig = ReturnType<typeof toReconcilerConfig>;

export type ConfigResult<T> = { ok: true; config: T } | { ok: false; problems: string[] };

/** Settings whose values are secret: masked by `config check`, never logged. */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set([
  'WEBHOOK_SECRETS',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SSL_KEY',
  'KAFKA_SSL_KEY_PASSWORD',
  'SCHEMA_REGISTRY_PASSWORD',
  'SCHEMA_REGISTRY_TOKEN',
  'WEBEX_ACCESS_TOKEN',
  'WEBEX_CLIENT_SECRET',
  'WEBEX_REFRESH_TOKEN',
  'PRIVACY_HASH_KEY',
]);

/**
 * Settings that may also be given as `<NAME>_FILE`. WEBEX_ACCESS_TOKEN_FILE and
 * WEBEX_REFRESH_TOKEN_FILE are settings of their own (re-read after a 401,
 * written back on rotation), so those two names are not in this list.
 */
export const FROM_FILE = [
  'WEBHOOK_SECRETS',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SSL_CA',
  'KAFKA_SSL_CERT',
  'KAFKA_SSL_KEY',
  'KAFKA_SSL_KEY_PASSWORD',
  'SCHEMA_REGISTRY_PASSWORD',
  'SCHEMA_REGISTRY_TOKEN',
  'SCHEMA_REGISTRY_CA',
  'WEBEX_CLIENT_SECRET',
  'PRIVACY_HASH_KEY',
] as const;

type RawEnv = Record<string, string>;

/** Where a setting's value came from, for `config check`. */
export type Sources = Record<string, string>;

type Resolved = { values: RawEnv; sources: Sources; problems: string[] };

/**
 * Every setting name the product reads, from the environment or the config
 * file, in any of its processes (a shared environment is not a typo): the
 * keys of the schemas, CONFIG_FILE and the `<NAME>_FILE` twins.
 */
export const SETTINGS: readonly string[] = [
  ...new Set([
    'CONFIG_FILE',
    ...Object.keys(ingressEnv.shape),
    ...Object.keys(reconcilerEnv.shape),
    ...FROM_FILE.map((n) => `${n}_FILE`),
  ]),
].sort();

const KNOWN: ReadonlySet<string> = new Set(SETTINGS);

/** Names once read, refused with what replaced them rather than ignored. */
const RETIRED: Readonly<Record<string, string>> = {
  RECONCILE_MAX_IDS_PER_PASS:
    'no longer used; the ledger is bounded by RECONCILE_WINDOWS_PER_PASS (windows per topic read)',
};

/** Unknown names under the product's prefixes are refused, with the nearest setting. */
export const SETTING_NAMES = createSettingNames({
  known: SETTINGS,
  retired: RETIRED,
  fromFile: FROM_FILE,
  hatch: 'IGNORE_ENV',
});

// `FOO=` in a .env file means "not set", not "the empty string".
const emptyAsUnset = (env: NodeJS.ProcessEnv): RawEnv =>
  Object.fromEntries(
    Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined && kv[1] !== ''),
  );

const fileText = (path: string): { ok: true; text: string } | { ok: false; problem: string } => {
  try {
    return { ok: true, text: readFileSync(path, 'utf8').replace(/\r?\n$/, '') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return { ok: false, problem: `cannot read ${path} (${code})` };
  }
};

/** The settings of the JSON file named by CONFIG_FILE: an object with the names as keys. */
const readConfigFile = (path: string): { values: RawEnv; problems: string[] } => {
  const text = fileText(path);
  if (!text.ok) return { values: {}, problems: [`CONFIG_FILE: ${text.problem}`] };
  let json: unknown;
  try {
    json = JSON.parse(text.text);
  } catch (e) {
    return { values: {}, problems: [`CONFIG_FILE: ${path} is not JSON (${String(e)})`] };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { values: {}, problems: [`CONFIG_FILE: ${path} must hold one JSON object`] };
  }
  const values: RawEnv = {};
  const problems: string[] = [];
  for (const [name, v] of Object.entries(json)) {
    if (!KNOWN.has(name) || name === 'CONFIG_FILE') {
      const hint = name === 'CONFIG_FILE' ? '' : SETTING_NAMES.suggestion(name);
      problems.push(`${name}: not a setting (in CONFIG_FILE ${path})${hint ? `; ${hint}` : ''}`);
    } else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
      values[name] = v.join(',');
    } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      values[name] = String(v);
    } else if (v !== null) {
      problems.push(`${name}: a string, number, boolean or list of strings (in CONFIG_FILE)`);
    }
  }
  return { values: emptyAsUnset(values), problems };
};

/**
 * The settings as one flat map of names to text: the environment over the
 * config file, then every `<NAME>_FILE` replaced by its file's content.
 * For a name and its `_FILE` twin, the environment setting either one hides
 * both in the file.
 */
export const resolveSettings = (env: NodeJS.ProcessEnv): Resolved => {
  const fromEnv = emptyAsUnset(env);
  const file =
    fromEnv.CONFIG_FILE === undefined
      ? { values: {}, problems: [] }
      : readConfigFile(fromEnv.CONFIG_FILE);
  const values: RawEnv = {};
  const sources: Sources = {};
  const pairOf = (name: string) => name.replace(/_FILE$/, '');
  const envPairs = new Set(Object.keys(fromEnv).map(pairOf));
  for (const [name, v] of Object.entries(file.values)) {
    if (envPairs.has(pairOf(name))) continue;
    values[name] = v;
    sources[name] = 'config file';
  }
  for (const [name, v] of Object.entries(fromEnv)) {
    values[name] = v;
    sources[name] = 'environment';
  }
  const ignore = (values.IGNORE_ENV ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  // A setting holding a service link is refused, and not parsed as well (no second problem).
  const links = SETTING_NAMES.serviceLinks(fromEnv);
  for (const link of links) delete values[link.name];
  const problems = [
    ...file.problems,
    ...SETTING_NAMES.unknownProblems(fromEnv, ignore),
    ...links.map((link) => link.problem),
  ];
  for (const name of FROM_FILE) {
    const path = values[`${name}_FILE`];
    if (path === undefined) continue;
    if (values[name] !== undefined) {
      problems.push(`${name}/${name}_FILE: set one of them, not both`);
      continue;
    }
    const read = fileText(path);
    if (!read.ok) {
      problems.push(`${name}_FILE: ${read.problem}`);
    } else if (read.text !== '') {
      values[name] = read.text;
      sources[name] = `${name}_FILE ${path}`;
    }
  }
  return { values, sources, problems };
};

const problemsOf = (error: z.ZodError): string[] =>
  error.issues.map((i) => {
    const message = i.message.endsWith('received undefined') ? 'required, not set' : i.message;
    return `${i.path.join('.') || '(environment)'}: ${message}`;
  });

const parseWith = <S extends z.ZodType, T>(
  schema: S,
  to: (e: z.infer<S>) => T,
  extra: (e: RawEnv) => string[],
  resolved: Resolved,
): ConfigResult<T> => {
  const raw = resolved.values;
  const parsed = schema.safeParse(raw);
  // Cross-variable rules run on the raw values, so every problem is listed at once.
  const problems = [
    ...resolved.problems,
    ...(parsed.success ? [] : problemsOf(parsed.error)),
    ...extra(raw),
  ];
  return problems.length > 0 || !parsed.success
    ? { ok: false, problems }
    : { ok: true, config: to(parsed.data) };
};

const isTrue = (v: string | undefined): boolean =>
  v !== undefined && ['true', '1', 'yes', 'on', 'y', 'enabled'].includes(v.trim().toLowerCase());
const isFalse = (v: string | undefined): boolean =>
  v !== undefined && ['false', '0', 'no', 'off', 'n', 'disabled'].includes(v.trim().toLowerCase());

const kafkaProblems = (e: RawEnv): string[] => [
  ...(e.KAFKA_SASL_MECHANISM !== undefined && (!e.KAFKA_SASL_USERNAME || !e.KAFKA_SASL_PASSWORD)
    ? ['KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD: required when KAFKA_SASL_MECHANISM is set']
    : []),
  ...(e.KAFKA_SASL_MECHANISM === undefined && (e.KAFKA_SASL_USERNAME || e.KAFKA_SASL_PASSWORD)
    ? [
        'KAFKA_SASL_MECHANISM: required with KAFKA_SASL_USERNAME/PASSWORD (plain, scram-sha-256, scram-sha-512)',
      ]
    : []),
  ...(isFalse(e.KAFKA_SSL) && (e.KAFKA_SSL_CA || e.KAFKA_SSL_CERT || e.KAFKA_SSL_KEY)
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
  ...(/^(true|1|yes|on|y|enabled)$/i.test(e.SCHEMA_USE_LATEST ?? '') &&
  !/^(false|0|no|off|n|disabled)$/i.test(e.SCHEMA_AUTO_REGISTER ?? '')
    ? ['SCHEMA_USE_LATEST: only with SCHEMA_AUTO_REGISTER=false (governed registry)']
    : []),
  ...privacyProblems(e),
];

const ingressProblems = (e: RawEnv): string[] => [
  ...kafkaProblems(e),
  ...((e.WEBHOOK_SECRETS ?? '').replaceAll(',', '').trim() === '' &&
  !isTrue(e.WEBHOOK_INSECURE_NO_SIGNATURE)
    ? [
        'WEBHOOK_SECRETS: required (comma-separated secrets); to run without signature checks set WEBHOOK_INSECURE_NO_SIGNATURE=true',
      ]
    : []),
];

export const parseIngressConfig = (env: NodeJS.ProcessEnv): ConfigResult<IngressConfig> =>
  parseWith(ingressEnv, toIngressConfig, ingressProblems, resolveSettings(env));

const webexAuthProblems = (e: RawEnv): string[] => {
  const refresh = e.WEBEX_REFRESH_TOKEN ?? e.WEBEX_REFRESH_TOKEN_FILE;
  const problems = [
    ...(e.WEBEX_REFRESH_TOKEN && e.WEBEX_REFRESH_TOKEN_FILE
      ? ['WEBEX_REFRESH_TOKEN/WEBEX_REFRESH_TOKEN_FILE: set one of them, not both']
      : []),
    ...(e.WEBEX_ACCESS_TOKEN && e.WEBEX_ACCESS_TOKEN_FILE
      ? ['WEBEX_ACCESS_TOKEN/WEBEX_ACCESS_TOKEN_FILE: set one of them, not both']
      : []),
  ];
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
  const resolved = resolveSettings(env);
  const file = resolved.values.WEBEX_REFRESH_TOKEN_FILE;
  const fromFile = file === undefined ? undefined : readRefreshTokenFile(file);
  const parsed = parseWith(
    reconcilerEnv,
    (e) => toReconcilerConfig(e, fromFile?.ok ? fromFile.token : undefined),
    (e) => [
      ...kafkaProblems(e),
      ...webexAuthProblems(e),
      ...(fromFile?.ok === false ? [`WEBEX_REFRESH_TOKEN_FILE: ${fromFile.problem}`] : []),
    ],
    resolved,
  );
  if (!parsed.ok) return parsed;
  // Whatever the Webex client would refuse at start is a configuration problem too.
  try {
    parseClientOptions(parsed.config.webex);
  } catch (e) {
    return { ok: false, problems: [e instanceof Error ? e.message : String(e)] };
  }
  return parsed;
};

const toolEnv = kafkaEnv.extend({ CDR_FEED: z.enum(FEEDS).default('analytics') });

/** Kafka and registry settings alone, for tools that only read topics (CDR_FEED unused there). */
export const parseKafkaConfig = (env: NodeJS.ProcessEnv): ConfigResult<KafkaConfig> =>
  parseWith(toolEnv, toKafkaConfig, kafkaProblems, resolveSettings(env));

export type ConfigReport = {
  ok: boolean;
  problems: string[];
  /** Every setting of the process, in schema order: its effective value (secrets masked) and source. */
  settings: { name: string; value: string; source: string }[];
};

const SCHEMAS = { ingress: ingressEnv, reconcile: reconcilerEnv } as const;

const show = (name: string, value: unknown, unit: unknown): string => {
  if (value === undefined) return '(not set)';
  if (SECRET_SETTINGS.has(name)) return '***';
  if (Array.isArray(value)) return value.join(',');
  return unit === 'ms' ? `${value}ms` : String(value);
};

/**
 * `config check ingress|reconcile`: the effective settings of that process,
 * with secrets shown as `***`, or every problem. Values are shown parsed (a
 * duration in milliseconds), so what is printed is what the process uses.
 */
export const checkConfig = (which: keyof typeof SCHEMAS, env: NodeJS.ProcessEnv): ConfigReport => {
  const result = which === 'ingress' ? parseIngressConfig(env) : parseReconcilerConfig(env);
  const schema = SCHEMAS[which];
  const resolved = resolveSettings(env);
  const parsed = schema.safeParse(resolved.values);
  const data: Record<string, unknown> = parsed.success ? parsed.data : {};
  const settings = Object.entries(schema.shape).map(([name, field]) => {
    const value = parsed.success ? data[name] : resolved.values[name];
    const unit = parsed.success ? (field as z.ZodType).meta()?.unit : undefined;
    const source = resolved.sources[name] ?? (value === undefined ? '' : 'default');
    return { name, value: show(name, value, unit), source };
  });
  return { ok: result.ok, problems: result.ok ? [] : result.problems, settings };
};
