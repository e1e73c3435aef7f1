/**
 * @module ingress/options
 * The settings of the webhook receiver: where it listens, which signatures it
 * accepts, its body, memory and time budgets, with the rule that a receiver
 * without a secret must say so. settings.ts composes them with the Kafka and
 * process settings into the ingress's schema.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import type { ProcessOptions } from '../config/process.ts';
import { acrossSettings, bool, DAY, durationWithin, HOUR, int, list } from '../config/schema.ts';
import type { KafkaOptions } from '../kafka/options.ts';

export const ingressEnv = z.object({
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
  INGRESS_WORKERS: z
    .union([z.literal('auto'), z.coerce.number().int().min(0).max(64)])
    .default('auto'),
  INGRESS_WORKERS_MIN_BYTES: int(1024 * 1024, 0),
  DEDUP: bool(true),
  DEDUP_WINDOW: durationWithin('48h', [HOUR, '1h'], [30 * DAY, '30d']),
});

type IngressEnv = z.infer<typeof ingressEnv>;

export const ingressRules = acrossSettings<IngressEnv>((e) =>
  (e.WEBHOOK_SECRETS ?? []).length === 0 && e.WEBHOOK_INSECURE_NO_SIGNATURE !== true
    ? [
        'WEBHOOK_SECRETS: required (comma-separated secrets); to run without signature checks set WEBHOOK_INSECURE_NO_SIGNATURE=true',
      ]
    : [],
);

export const INGRESS_SECRETS = ['WEBHOOK_SECRETS'] as const;
export const INGRESS_FROM_FILE = ['WEBHOOK_SECRETS'] as const;

/**
 * INGRESS_WORKERS=auto: a worker per core, at most MAX_AUTO_WORKERS; none on
 * one core. The main thread keeps HTTP, the signature and the Kafka client
 * (about a quarter of a record's CPU with @platformatic/kafka, whose Produce
 * request is written in one pass; 40 % before), so from two cores the workers take the rest
 * off it (measured on two cores: docs/performance.md#worker-threads); beyond
 * about three workers the main thread is what limits, so more would only hold
 * memory (calculated from the per-record costs, not measured).
 */
export const MAX_AUTO_WORKERS = 4;
export const autoWorkers = (cores: number): number =>
  cores < 2 ? 0 : Math.min(cores, MAX_AUTO_WORKERS);

export const toIngressOptions = (e: IngressEnv) => ({
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
  /** Worker threads encoding large deliveries (0: none, all inline). */
  workers: e.INGRESS_WORKERS === 'auto' ? autoWorkers(availableParallelism()) : e.INGRESS_WORKERS,
  /** Bodies smaller than this are processed inline even with workers (the crossover, docs/performance.md). */
  workersMinBytes: e.INGRESS_WORKERS_MIN_BYTES,
  /** Repeats dropped against the topic's last `dedupWindowMs` (null: DEDUP=false). */
  dedupWindowMs: e.DEDUP ? e.DEDUP_WINDOW : null,
});

/** What `webex-cdr-kafka ingress` runs with (settings.ts `parseIngressConfig`). */
export type IngressConfig = KafkaOptions & ProcessOptions & ReturnType<typeof toIngressOptions>;
