/**
 * @module reconciler/webex/request
 * One Webex GET with one retry policy, in two parts:
 *
 * - `sendOnce` is one attempt: pacing, `beforeRequest`, the token, the GET
 *   (no redirects followed, with a timeout), and its outcome classified once
 *   by the pure `classifyReply`, `classifyFetchError` and `classifyTokenError`:
 *
 *   | answer                                   | outcome                      |
 *   | ---------------------------------------- | ---------------------------- |
 *   | 2xx                                      | ok                           |
 *   | 5xx, network error, timeout, retriable token error | retry (an attempt) |
 *   | 429                                      | throttled (`Retry-After`, at most 15 min) |
 *   | 401                                      | renew the token              |
 *   | 451 for an org                           | region (follow the redirect) |
 *   | 403 partner-wide                         | fail, `webex_auth_failed`    |
 *   | anything else                            | fail, `webex_http` with a hint |
 *
 * - `requestWithPolicy` is the loop that applies the policy to outcomes:
 *   `maxAttempts` counts retries only; throttled answers have their own
 *   budget, `maxThrottledWaits`; a token is renewed once per request; region
 *   redirects go to the caller's `follow`. Only `retry` and `throttled` wait.
 *
 * An abort ends every wait and request at once, with the abort reason.
 */
import { CdrError, describe, isCdrError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { parseRetryAfter } from './headers.ts';
import { regionCandidates } from './region-redirect.ts';
import { errorDetail } from './schemas.ts';

/** Longest `Retry-After` honoured; longer ones are cut to this. */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;
const BACKOFF_BASE_MS = 500;

const FORBIDDEN =
  "Webex refused the partner API (403): the token's user needs a partner administrator role and the scope spark-admin:calling_cdr_read (see WEBEX_ACCESS_TOKEN, or the integration of WEBEX_CLIENT_ID)";

export type Reply = { status: number; headers: Headers; text: string; url: URL };

/** What one attempt came to. The policy loop alone decides what happens next. */
export type Outcome =
  | { kind: 'ok'; reply: Reply }
  /** Worth another attempt; counts as one. `exhausted`: what to fail with when none is left. */
  | {
      kind: 'retry';
      log: string;
      detail: { reason: string } | { status: number };
      exhausted: { error: unknown } | { message: string; cause?: unknown };
    }
  /** A 429: wait `waitMs`; not an attempt, but there is a budget of them. */
  | { kind: 'throttled'; waitMs: number; message: string }
  /** A 401 for `token`: worth one retry if a renewed token differs; else `error`. */
  | { kind: 'renew'; token: string; error: CdrError }
  /** A 451 for `org`: its data is in another region, which `reply` may name. */
  | { kind: 'region'; reply: Reply; org: string }
  | { kind: 'fail'; error: unknown };

export type ReplyScope = {
  what: string;
  /** With an org, a 451 is a region redirect to follow. */
  org?: string | undefined;
  /** A 403 concerns the token (the partner-wide API), not one org. */
  partnerWide?: boolean | undefined;
  /** What to fix when Webex refuses the token after a renewal. */
  tokenRefused: string;
};

/** ` at <origin>` when a 451 answer names a region host, for the error text. */
const regionNamed = (reply: Reply): string => {
  const named = regionCandidates(reply.text, reply.headers).find(
    (c) => c.origin !== reply.url.origin,
  );
  return named === undefined ? '' : ` at ${named.origin}`;
};

/** The outcome of an answer to `token`, received at `now`. */
export const classifyReply = (
  reply: Reply,
  token: string,
  scope: ReplyScope,
  now: number,
): Outcome => {
  const { status, headers, text } = reply;
  const { what, org } = scope;
  if (status >= 200 && status < 300) return { kind: 'ok', reply };
  const failure = `${what}: HTTP ${status}${errorDetail(text, headers)}`;
  if (status === 401) {
    const error = new CdrError('webex_auth_failed', `${failure}: ${scope.tokenRefused}`, {
      retriable: false,
    });
    return { kind: 'renew', token, error };
  }
  if (status === 429) {
    const waitMs = Math.min(MAX_RETRY_AFTER_MS, parseRetryAfter(headers.get('retry-after'), now));
    return { kind: 'throttled', waitMs, message: failure };
  }
  if (status >= 500) {
    return { kind: 'retry', log: RETRYING, detail: { status }, exhausted: { message: failure } };
  }
  if (status === 451 && org !== undefined) return { kind: 'region', reply, org };
  if (status === 403 && scope.partnerWide === true) {
    const error = new CdrError('webex_auth_failed', `${failure}: ${FORBIDDEN}`, {
      retriable: false,
    });
    return { kind: 'fail', error };
  }
  const hint =
    status === 403
      ? ' (forbidden for this org)'
      : status === 451
        ? ` (region redirect: this partner is served by another Webex region${regionNamed(reply)}; set WEBEX_API_BASE_URL to it)`
        : status >= 300 && status < 400
          ? ` (redirect to ${headers.get('location') ?? '?'} not followed; set the base URL to it)`
          : '';
  return {
    kind: 'fail',
    error: new CdrError('webex_http', `${failure}${hint}`, { retriable: false }),
  };
};

const RETRYING = 'webex request failed, retrying';

/** A GET that did not get an answer (network error, timeout): worth another attempt. */
export const classifyFetchError = (e: unknown, what: string, timeoutMs: number): Outcome => {
  const reason = describeFetchError(e, timeoutMs);
  return {
    kind: 'retry',
    log: RETRYING,
    detail: { reason },
    exhausted: { message: `${what}: ${reason}`, cause: e },
  };
};

/** No token to send: a retriable CdrError is worth another attempt, anything else fails. */
export const classifyTokenError = (e: unknown): Outcome =>
  isCdrError(e) && e.retriable
    ? {
        kind: 'retry',
        log: 'webex token unavailable, retrying',
        detail: { reason: e.message },
        exhausted: { error: e },
      }
    : { kind: 'fail', error: e };

export const withTimeout = (timeoutMs: number, signal: AbortSignal | undefined): AbortSignal =>
  signal === undefined
    ? AbortSignal.timeout(timeoutMs)
    : AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]);

/** `fetch failed` says little: add the cause (`ECONNREFUSED`, ...) and name timeouts. */
export const describeFetchError = (e: unknown, timeoutMs: number): string => {
  if (e instanceof Error && e.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  const cause =
    e instanceof Error ? (e.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const detail =
    typeof cause?.code === 'string'
      ? cause.code
      : typeof cause?.message === 'string'
        ? cause.message
        : '';
  return detail === '' ? describe(e) : `${describe(e)} (${detail})`;
};

export type AttemptContext = {
  fetch: typeof fetch;
  timeoutMs: number;
  now: () => number;
  /** Waits for the request's slot (client-side pacing). */
  pace(signal?: AbortSignal): Promise<void>;
  token(signal?: AbortSignal): Promise<string>;
  counters: { requests: number };
  scope: ReplyScope;
  signal?: AbortSignal | undefined;
  /** Called before the request; what it throws ends the call. */
  beforeRequest?: (() => void) | undefined;
};

/** One attempt at `url`, classified. Throws only for an abort and what `beforeRequest` throws. */
export const sendOnce = async (url: URL, ctx: AttemptContext): Promise<Outcome> => {
  const { signal } = ctx;
  signal?.throwIfAborted();
  await ctx.pace(signal);
  signal?.throwIfAborted();
  ctx.beforeRequest?.();
  let token: string;
  try {
    token = await ctx.token(signal);
  } catch (e) {
    signal?.throwIfAborted();
    return classifyTokenError(e);
  }
  ctx.counters.requests++;
  let reply: Reply;
  try {
    const res = await ctx.fetch(url, {
      method: 'GET',
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      redirect: 'manual',
      signal: withTimeout(ctx.timeoutMs, signal),
    });
    reply = { status: res.status, headers: res.headers, text: await res.text(), url };
  } catch (e) {
    signal?.throwIfAborted();
    return classifyFetchError(e, ctx.scope.what, ctx.timeoutMs);
  }
  return classifyReply(reply, token, ctx.scope, ctx.now());
};

export type Policy = {
  /** Attempts per request: `retry` outcomes count, the others do not. */
  maxAttempts: number;
  /** `throttled` outcomes waited out per request before giving up. */
  maxThrottledWaits: number;
  /** The wait after `failures` counted attempts. */
  backoff(failures: number): number;
};

export type PolicyHooks = {
  /** Rejects when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** After a 401 with `rejected`: true when a different token is now worth a try. */
  renew(rejected: string, signal?: AbortSignal): Promise<boolean>;
  /** After a `region` outcome: the URL to ask instead; throws when it is not followed. */
  follow(reply: Reply, current: URL, org: string): URL;
  logger: Logger;
  counters: { retries: number; throttled: number };
};

/** Full-jitter exponential back-off: uniform in [0, min(cap, 500 ms * 2^(failures - 1))). */
export const fullJitterBackoff =
  (maxBackoffMs: number, random: () => number) =>
  (failures: number): number =>
    Math.floor(random() * Math.min(maxBackoffMs, BACKOFF_BASE_MS * 2 ** (failures - 1)));

/** Attempts `first` (and where a region redirect leads) until the policy says stop. */
export const requestWithPolicy = async (
  attempt: (url: URL) => Promise<Outcome>,
  first: URL,
  what: string,
  policy: Policy,
  hooks: PolicyHooks,
  signal?: AbortSignal,
): Promise<Reply> => {
  const { logger, counters } = hooks;
  let url = first;
  let failures = 0;
  let throttledWaits = 0;
  let renewed = false;
  for (;;) {
    const outcome = await attempt(url);
    switch (outcome.kind) {
      case 'ok':
        return outcome.reply;
      case 'fail':
        throw outcome.error;
      case 'renew': {
        if (renewed) throw outcome.error;
        renewed = true;
        if (!(await hooks.renew(outcome.token, signal))) throw outcome.error;
        logger.info('webex token rejected (401), retrying with a renewed token', { what });
        break;
      }
      case 'region':
        url = hooks.follow(outcome.reply, url, outcome.org);
        break;
      case 'throttled': {
        // Throttling is not a failure: it does not use up attempts, but is capped on its own.
        counters.throttled++;
        if (throttledWaits >= policy.maxThrottledWaits) {
          throw new CdrError(
            'webex_http',
            `${outcome.message} (still throttled after waiting ${throttledWaits} times)`,
          );
        }
        throttledWaits++;
        const { waitMs } = outcome;
        logger.info('webex request throttled, waiting', {
          what,
          status: 429,
          throttledWaits,
          waitMs,
        });
        counters.retries++;
        await hooks.sleep(waitMs, signal);
        break;
      }
      case 'retry': {
        failures++;
        const { exhausted } = outcome;
        if (failures >= policy.maxAttempts) {
          if ('error' in exhausted) throw exhausted.error;
          throw new CdrError(
            'webex_http',
            `${exhausted.message} (gave up after ${failures} attempts)`,
            exhausted.cause === undefined ? undefined : { cause: exhausted.cause },
          );
        }
        const waitMs = policy.backoff(failures);
        logger.warn(outcome.log, { what, ...outcome.detail, attempt: failures, waitMs });
        counters.retries++;
        await hooks.sleep(waitMs, signal);
        break;
      }
    }
  }
};
