/**
 * @module reconciler/webex/options
 * The Webex client's options as one zod schema, with their defaults and
 * bounds: URLs must be http(s), waits must fit a Node timer, counts are
 * integers. `parseClientOptions` refuses what the schema refuses with a
 * `config_invalid` CdrError listing every problem. (The reconciler's settings
 * reach it already checked by the configuration schema; tests and other
 * callers build options by hand.)
 */
import { z } from 'zod';
import { CdrError } from '../../errors.ts';
import { DEFAULT_REDIRECT_HOSTS, parseRedirectHosts } from './region-redirect.ts';
import { describeIssues } from './schemas.ts';

export const DEFAULT_BASE_URL = 'https://analytics.webexapis.com';
export const DEFAULT_TOKEN_URL = 'https://webexapis.com/v1/access_token';
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_ATTEMPTS = 6;
export const DEFAULT_MAX_BACKOFF_MS = 60_000;
export const DEFAULT_MAX_PAGES = 500;
/** 429 answers waited out per request before giving up (they are not attempts). */
export const DEFAULT_MAX_THROTTLED_WAITS = 20;

/** Node cannot wait longer than this (longer timers fire after 1 ms). */
const TIMER_MAX_MS = 2_147_483_647;

const httpUrl = z.url({ protocol: /^https?$/, error: 'an http(s) URL' });
const count = (min: number) => z.number().int().min(min);
const wait = (min: number) => z.number().int().min(min).max(TIMER_MAX_MS);

const webexAuth = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('static'), token: z.string() }),
  /** The file holds the access token; it is re-read once when a request gets 401. */
  z.object({ kind: z.literal('file'), path: z.string() }),
  z.object({
    kind: z.literal('oauth'),
    clientId: z.string(),
    clientSecret: z.string(),
    refreshToken: z.string(),
    tokenUrl: httpUrl.default(DEFAULT_TOKEN_URL),
  }),
]);

export const webexClientOptions = z.object({
  baseUrl: httpUrl.default(DEFAULT_BASE_URL),
  auth: webexAuth,
  timeoutMs: wait(1).default(DEFAULT_TIMEOUT_MS),
  /** Attempts per request after 5xx, network errors and timeouts (429s not counted). */
  maxAttempts: count(1).default(DEFAULT_MAX_ATTEMPTS),
  maxBackoffMs: wait(0).default(DEFAULT_MAX_BACKOFF_MS),
  /** 429 answers waited out per request before giving up. */
  maxThrottledWaits: count(0).default(DEFAULT_MAX_THROTTLED_WAITS),
  /** Client-side pacing: at least this long between the starts of two API requests. */
  minIntervalMs: wait(0).default(0),
  /** Upper bound on pages followed for one call (both APIs). */
  maxPages: count(1).default(DEFAULT_MAX_PAGES),
  /**
   * Hosts a 451 region redirect may be followed to (and the token sent to):
   * `host`, `*.suffix` (https), or with a scheme and port. Default `*.webexapis.com`.
   */
  redirectHosts: z
    .array(z.string())
    .readonly()
    .default(DEFAULT_REDIRECT_HOSTS)
    .transform((list, ctx) => {
      const parsed = parseRedirectHosts(list);
      if (parsed.ok) return { list, patterns: parsed.patterns };
      ctx.addIssue({ code: 'custom', message: parsed.problems.join('; ') });
      return z.NEVER;
    }),
});

export type WebexAuth = z.input<typeof webexAuth>;
export type WebexClientOptionsInput = z.input<typeof webexClientOptions>;
export type WebexClientOptions = z.output<typeof webexClientOptions>;

/** The options with their defaults, or a `config_invalid` CdrError naming each problem. */
export const parseClientOptions = (input: WebexClientOptionsInput): WebexClientOptions => {
  const parsed = webexClientOptions.safeParse(input);
  if (!parsed.success) {
    throw new CdrError('config_invalid', `Webex client: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
};
