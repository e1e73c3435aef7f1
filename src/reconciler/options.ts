/**
 * @module reconciler/options
 * The settings of the reconciler: the Webex API and its credentials (a token,
 * a token file, or the OAuth refresh flow, with the rules that one of them be
 * complete), the windows it reconciles, its probes port and its lease. settings.ts
 * composes them with the Kafka and process settings into the reconciler's schema.
 */
import { z } from 'zod';
import type { ProcessOptions } from '../config/process.ts';
import {
  acrossSettings,
  bool,
  DAY,
  duration,
  durationWithin,
  HOUR,
  httpUrl,
  int,
  list,
  MINUTE,
  SECOND,
  topicName,
  whole,
} from '../config/schema.ts';
import type { KafkaOptions } from '../kafka/options.ts';
import { parseClientOptions } from './webex/options.ts';
import { readRefreshTokenFile } from './webex/refresh-token-file.ts';
import { DEFAULT_REDIRECT_HOSTS, parseRedirectHosts } from './webex/region-redirect.ts';

export const reconcilerEnv = z.object({
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
  RECONCILER_PORT: whole(0, 65535).optional(),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLISH_TIMEOUT: durationWithin('60s', [SECOND, '1s'], [HOUR, '1h']),
  RECONCILE_LEASE: bool(true),
  RECONCILE_LEASE_TOPIC: topicName.optional(),
  RECONCILE_LEASE_GROUP: z.string().min(1).max(255).optional(),
  // Brokers accept 6s to 30m unless configured otherwise (group.min/max.session.timeout.ms).
  RECONCILE_LEASE_SESSION_TIMEOUT: durationWithin('30s', [6 * SECOND, '6s'], [30 * MINUTE, '30m']),
});

type ReconcilerEnv = z.infer<typeof reconcilerEnv>;

/** One complete way to get an access token; a value and its file, never both. */
export const reconcilerRules = acrossSettings<ReconcilerEnv>((e) => {
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
});

export const RECONCILER_SECRETS = [
  'WEBEX_ACCESS_TOKEN',
  'WEBEX_CLIENT_SECRET',
  'WEBEX_REFRESH_TOKEN',
] as const;

/**
 * WEBEX_ACCESS_TOKEN_FILE and WEBEX_REFRESH_TOKEN_FILE are settings of their
 * own (re-read after a 401, written back on rotation), not `<NAME>_FILE` twins.
 */
export const RECONCILER_FROM_FILE = ['WEBEX_CLIENT_SECRET'] as const;

/** Names once read, refused with what replaced them rather than ignored. */
export const RECONCILER_RETIRED: Readonly<Record<string, string>> = {
  RECONCILE_MAX_IDS_PER_PASS:
    'no longer used; the ledger is bounded by RECONCILE_WINDOWS_PER_PASS (windows per topic read)',
};

/**
 * WEBEX_REFRESH_TOKEN_FILE's token, read at start (and checked writable for the
 * rotated one): the token, a problem, or nothing when the setting is not set.
 */
export const readRefreshToken = (
  values: Readonly<Record<string, string>>,
): { token?: string; problems: string[] } => {
  const path = values.WEBEX_REFRESH_TOKEN_FILE;
  if (path === undefined) return { problems: [] };
  const read = readRefreshTokenFile(path);
  return read.ok
    ? { token: read.token, problems: [] }
    : { problems: [`WEBEX_REFRESH_TOKEN_FILE: ${read.problem}`] };
};

/** `refreshTokenFromFile`: the content of WEBEX_REFRESH_TOKEN_FILE, read at start. */
export const toReconcilerOptions = (
  e: ReconcilerEnv & { CDR_TOPIC: string },
  refreshTokenFromFile: string | undefined,
) => {
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

type ReconcilerOptions = ReturnType<typeof toReconcilerOptions>;

/** Whatever the Webex client would refuse at start is a configuration problem too. */
export const webexClientProblems = (options: ReconcilerOptions): string[] => {
  try {
    parseClientOptions(options.webex);
    return [];
  } catch (e) {
    return [e instanceof Error ? e.message : String(e)];
  }
};

/** What `webex-cdr-kafka reconcile` runs with (settings.ts `parseReconcilerConfig`). */
export type ReconcilerConfig = KafkaOptions & ProcessOptions & ReconcilerOptions;
