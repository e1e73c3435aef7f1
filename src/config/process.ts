/**
 * @module config/process
 * The settings every process has that belong to no one component: the feed
 * the records come from, logging, the shutdown and start-up deadlines,
 * IGNORE_ENV (read by config/sources.ts), and the privacy settings with their
 * rules (cdr/privacy.ts).
 */
import { z } from 'zod';
import { FEEDS } from '../cdr/normalise.ts';
import { privacyEnv, privacyRules, toPrivacy } from '../cdr/privacy-env.ts';
import type { LogLevel } from '../log.ts';
import { acrossSettings, durationWithin, HOUR, int, list, SECOND } from './schema.ts';

export const processEnv = z.object({
  CDR_FEED: z.enum(FEEDS, { message: `one of ${FEEDS.join(', ')} (the Partner Hub feed type)` }),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: int(25_000, 100),
  /** Environment variables under the product's prefixes that are not its settings: names or `PREFIX*`. */
  IGNORE_ENV: list.optional(),
  STARTUP_TIMEOUT: durationWithin('60s', [SECOND, '1s'], [HOUR, '1h']),
  ...privacyEnv.shape,
});

type ProcessEnv = z.infer<typeof processEnv>;

/** CDR_FEED for tools that only read topics, where it is unused. */
export const TOOL_FEED = z.enum(FEEDS).default('analytics');

/** The privacy rules judge the privacy settings once they are parsed. */
export const processRules = acrossSettings<ProcessEnv>(
  (e) => privacyRules(e as ProcessEnv),
  Object.keys(privacyEnv.shape),
);

export const PROCESS_SECRETS = ['PRIVACY_HASH_KEY'] as const;
export const PROCESS_FROM_FILE = ['PRIVACY_HASH_KEY'] as const;

export const toProcessOptions = (e: ProcessEnv) => ({
  feed: e.CDR_FEED,
  logLevel: e.LOG_LEVEL satisfies LogLevel,
  shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  /** How long a start may try to reach Kafka and the registry: one-shot commands then give up. */
  startupTimeoutMs: e.STARTUP_TIMEOUT,
  privacy: toPrivacy(e),
});

export type ProcessOptions = ReturnType<typeof toProcessOptions>;
