/**
 * @module reconciler/webex/client
 * The two partner reconciliation APIs of Webex Calling, with the partner
 * access token:
 * - `countByOrg(window)`: `GET /v1/partners/cdrcountbyorg`, every page, as
 *   `{ orgId, count }` per customer org;
 * - `recordsByOrg(orgId, window)`: `GET /v1/partners/cdrsbyorg`, following
 *   `Link: <...>; rel="next"` on the same origin only, as raw records. A 451
 *   (the org's data is in another Webex region) is followed to the region it
 *   names when that host is on `redirectHosts` (module region-redirect); the
 *   org's region is remembered for the client's life and logged once. Other
 *   hosts, loops and a 451 naming no host fail the org with the host named.
 *
 * Every body is checked with zod. 429 waits `Retry-After` (up to 15 minutes;
 * 429s do not count as attempts, at most `maxThrottledWaits` of them per
 * request); 5xx, network errors and timeouts are retried with full-jitter
 * exponential back-off, at most `maxAttempts` attempts; other statuses
 * (and a 451 that is not followed) fail at once with a `webex_http`
 * CdrError naming the status and Webex's `trackingId`. A 401 renews the token
 * once (re-reads the token file, or refreshes the OAuth token); a 401 that
 * renewal cannot cure, a refresh Webex refuses, and a 403 on the partner-wide
 * `cdrcountbyorg` are `webex_auth_failed`, naming the settings to fix (no
 * other request can succeed either). The token only ever goes to `baseUrl`'s
 * origin or an allow-listed region host, and is never logged; a warning is
 * logged when it would travel over plain http to a host other than this one.
 *
 * Each call takes an optional `signal` (every wait and request ends at once
 * when it aborts) and `beforeRequest` (called before every request the call
 * sends, each page and each retry; what it throws ends the call).
 *
 * Unknowns (domain notes section 4): the pagination header names of
 * `cdrcountbyorg` are matched tolerantly (`parsePagination`), logged at debug,
 * and a warning is logged when pagination-looking headers are not understood.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { CdrError, describe, isCdrError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { formatWebexTime, MAX_WINDOW_MS, type Window } from '../plan.ts';
import {
  DEFAULT_REDIRECT_HOSTS,
  isAllowedHost,
  parseRedirectHosts,
  rebase,
  regionBaseOf,
  regionCandidates,
} from './region-redirect.ts';

export const DEFAULT_BASE_URL = 'https://analytics.webexapis.com';
export const DEFAULT_TOKEN_URL = 'https://webexapis.com/v1/access_token';
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_ATTEMPTS = 6;
export const DEFAULT_MAX_BACKOFF_MS = 60_000;
export const DEFAULT_MAX_PAGES = 500;
/** `cdrcountbyorg` pages hold up to this many orgs. */
export const COUNT_PAGE_SIZE = 200;
/** 429 answers waited out per request before giving up (they are not attempts). */
export const DEFAULT_MAX_THROTTLED_WAITS = 20;
/** Longest `Retry-After` honoured; longer ones are cut to this. */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;
const BACKOFF_BASE_MS = 500;
const DEFAULT_RETRY_AFTER_MS = 60_000;
/** Refresh an OAuth token this long before it expires (at most half its lifetime). */
const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;
const ERROR_DETAIL_MAX_CHARS = 300;
/** Region redirects followed within one request before it is called a loop. */
const MAX_REGION_HOPS = 3;

export type WebexAuth =
  | { kind: 'static'; token: string }
  /** The file holds the access token; it is re-read once when a request gets 401. */
  | { kind: 'file'; path: string }
  | {
      kind: 'oauth';
      clientId: string;
      clientSecret: string;
      refreshToken: string;
      tokenUrl?: string;
    };

export type WebexClientConfig = {
  baseUrl?: string;
  auth: WebexAuth;
  timeoutMs?: number;
  /** Attempts per request after 5xx, network errors and timeouts (429s not counted). */
  maxAttempts?: number;
  maxBackoffMs?: number;
  /** 429 answers waited out per request before giving up. */
  maxThrottledWaits?: number;
  /** Client-side pacing: at least this long between the starts of two API requests. */
  minIntervalMs?: number;
  /** Upper bound on pages followed for one call (both APIs). */
  maxPages?: number;
  /** Told the new refresh token when Webex rotates it (to persist it). */
  onRefreshTokenRotated?: (refreshToken: string) => void;
  /**
   * Hosts a 451 region redirect may be followed to (and the token sent to):
   * `host`, `*.suffix` (https), or with a scheme and port. Default `*.webexapis.com`.
   */
  redirectHosts?: readonly string[];
  logger: Logger;
};

export type WebexClientDeps = {
  fetch?: typeof fetch;
  /** Rejects when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** In [0, 1): the jitter of the back-off. */
  random?: () => number;
  now?: () => number;
};

export type WebexClientStats = {
  /** API requests sent (each attempt and each page counts; token requests do not). */
  requests: number;
  /** Attempts repeated after a 429, a 5xx, a network error or a timeout. */
  retries: number;
  /** 429 answers received. */
  throttled: number;
  /** Tokens obtained or re-read after the first (OAuth refreshes, token file re-reads). */
  tokenRenewals: number;
};

const orgCountSchema = z.object({
  orgId: z.string().min(1),
  count: z.number().int().nonnegative(),
});
const countPageSchema = z.object({ cdr_counts: z.array(orgCountSchema) });
const recordsPageSchema = z.union([
  z.array(z.unknown()),
  z.object({ items: z.array(z.unknown()) }).transform((body) => body.items),
]);
const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive(),
  refresh_token: z.string().min(1).optional(),
});
const webexErrorSchema = z.object({
  message: z.string().optional(),
  trackingId: z.string().optional(),
  error: z.string().optional(),
  error_description: z.string().optional(),
  errors: z.array(z.object({ description: z.string().optional() })).optional(),
});

export type OrgCount = z.infer<typeof orgCountSchema>;

export type RequestOptions = {
  /** Ends every wait and request of the call at once (rejecting with the abort reason). */
  signal?: AbortSignal | undefined;
  /** Called before every request of the call (each page, each retry); what it throws ends the call. */
  beforeRequest?: (() => void) | undefined;
};

export type WebexClient = {
  countByOrg(window: Window, options?: RequestOptions): Promise<OrgCount[]>;
  recordsByOrg(orgId: string, window: Window, options?: RequestOptions): Promise<unknown[]>;
  stats(): WebexClientStats;
};

// ---------------------------------------------------------------------------
// Header parsing (exported for tests)

export type Pagination = {
  pageCount?: number;
  totalOrgs?: number;
  currentPage?: number;
  /** Header names that look like pagination but were not understood. */
  unrecognised: string[];
};

const normaliseHeaderName = (name: string): string =>
  name
    .toLowerCase()
    .replace(/^x[-_]/, '')
    .replace(/[-_]/g, '');

const PAGE_COUNT_NAMES = new Set([
  'pagecount',
  'pagescount',
  'totalpages',
  'totalpagecount',
  'pagestotal',
  'numberofpages',
  'numpages',
  'pages',
]);
const TOTAL_ORGS_NAMES = new Set([
  'totalorgcount',
  'totalorgscount',
  'totalorgs',
  'totalorganizations',
  'totalorganisations',
  'totalorganizationcount',
  'totalorganisationcount',
  'orgcount',
  'orgscount',
  'organizationcount',
  'totalcount',
  'totalitems',
  'totalresults',
  'total',
]);
const CURRENT_PAGE_NAMES = new Set(['currentpage', 'page', 'pagenumber', 'pagenum', 'curpage']);
const PAGINATION_HINT = /page|pagina|total|count|org|next|link|cursor|offset/;

/**
 * Reads the page count, total orgs and current page of a `cdrcountbyorg`
 * response from headers whose names are not public: compared
 * case-insensitively, ignoring a leading `x-` and every `-` and `_`
 * (`X-Page-Count`, `Total-Pages`, `numberOfPages`, `X-Total-Org-Count`, ...).
 */
export const parsePagination = (
  headers: Headers | Iterable<[string, string]> | Record<string, string>,
): Pagination => {
  const entries =
    headers instanceof Headers || Symbol.iterator in headers
      ? [...(headers as Iterable<[string, string]>)]
      : Object.entries(headers);
  const result: Pagination = { unrecognised: [] };
  for (const [name, value] of entries) {
    const key = normaliseHeaderName(name);
    const trimmed = value.trim();
    const n = /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
    const field = PAGE_COUNT_NAMES.has(key)
      ? 'pageCount'
      : TOTAL_ORGS_NAMES.has(key)
        ? 'totalOrgs'
        : CURRENT_PAGE_NAMES.has(key)
          ? 'currentPage'
          : undefined;
    if (field !== undefined && n !== undefined && Number.isSafeInteger(n)) {
      result[field] = n;
    } else if (PAGINATION_HINT.test(key)) {
      result.unrecognised.push(name);
    }
  }
  return result;
};

/** The `rel="next"` target of a `Link` header, or undefined. */
export const parseNextLink = (link: string | null | undefined): string | undefined => {
  if (!link) return undefined;
  for (const match of link.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const [, target, params = ''] = match;
    for (const param of params.split(';')) {
      const rel = /^\s*rel\s*=\s*"?([^"]*)"?\s*$/i.exec(param);
      if (rel?.[1]?.toLowerCase().split(/\s+/).includes('next')) return target;
    }
  }
  return undefined;
};

/**
 * How long a 429 asks us to wait: `Retry-After` in seconds or as an HTTP date;
 * 60 s when missing or unreadable.
 */
export const parseRetryAfter = (value: string | null | undefined, now: number): number => {
  const text = value?.trim() ?? '';
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (text !== '' && !Number.isNaN(date)) return Math.max(0, date - now);
  return DEFAULT_RETRY_AFTER_MS;
};

// ---------------------------------------------------------------------------
// Tokens

type TokenSource = {
  get(signal?: AbortSignal): Promise<string>;
  /** After a 401 with `rejected`: true when a different token is now worth a try. */
  renew(rejected: string, signal?: AbortSignal): Promise<boolean>;
};

const createTokenSource = (
  auth: WebexAuth,
  ctx: {
    fetch: typeof fetch;
    now: () => number;
    timeoutMs: number;
    logger: Logger;
    stats: WebexClientStats;
    onRefreshTokenRotated?: (refreshToken: string) => void;
  },
): TokenSource => {
  switch (auth.kind) {
    case 'static':
      return { get: async () => auth.token, renew: async () => false };
    case 'file': {
      let current: Promise<string> | undefined;
      const read = async (): Promise<string> => {
        let text: string;
        try {
          text = await readFile(auth.path, 'utf8');
        } catch (e) {
          throw new CdrError(
            'config_invalid',
            `cannot read Webex token file ${auth.path}: ${describe(e)}`,
          );
        }
        const token = text.trim().replace(/^Bearer\s+/i, '');
        if (token === '')
          throw new CdrError('config_invalid', `Webex token file ${auth.path} is empty`);
        return token;
      };
      const start = (): Promise<string> => {
        const p = read();
        current = p;
        p.catch(() => {
          if (current === p) current = undefined;
        });
        return p;
      };
      return {
        get: () => current ?? start(),
        renew: async (rejected) => {
          ctx.stats.tokenRenewals++;
          const token = await start();
          if (token === rejected) {
            ctx.logger.warn('webex token file still holds the rejected token', { path: auth.path });
          }
          return token !== rejected;
        },
      };
    }
    case 'oauth': {
      const tokenUrl = auth.tokenUrl ?? DEFAULT_TOKEN_URL;
      let refreshToken = auth.refreshToken;
      let token: { value: string; refreshAt: number } | undefined;
      let inflight: Promise<string> | undefined;

      const refresh = async (signal?: AbortSignal): Promise<string> => {
        const body = new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: auth.clientId,
          client_secret: auth.clientSecret,
          refresh_token: refreshToken,
        });
        let res: Response;
        let text: string;
        try {
          res = await ctx.fetch(tokenUrl, {
            method: 'POST',
            headers: {
              'Content-Type': 'application/x-www-form-urlencoded',
              Accept: 'application/json',
            },
            body,
            redirect: 'manual',
            signal: withTimeout(ctx.timeoutMs, signal),
          });
          text = await res.text();
        } catch (e) {
          signal?.throwIfAborted();
          throw new CdrError(
            'webex_http',
            `Webex OAuth token refresh failed: ${describeFetchError(e, ctx.timeoutMs)}`,
            {
              cause: e,
            },
          );
        }
        if (!res.ok) {
          const retriable = res.status === 429 || res.status >= 500;
          throw new CdrError(
            retriable ? 'webex_http' : 'webex_auth_failed',
            `Webex OAuth token refresh answered HTTP ${res.status}${errorDetail(text, res.headers)}${retriable ? '' : `: ${REFRESH_REFUSED}`}`,
            { retriable },
          );
        }
        const parsed = tokenResponseSchema.safeParse(parseJson(text));
        if (!parsed.success) {
          throw new CdrError(
            'webex_invalid_response',
            `Webex OAuth token response: ${describeIssues(parsed.error)}`,
          );
        }
        const { access_token, expires_in, refresh_token } = parsed.data;
        const lifetimeMs = expires_in * 1000;
        token = {
          value: access_token,
          refreshAt: ctx.now() + lifetimeMs - Math.min(TOKEN_REFRESH_MARGIN_MS, lifetimeMs / 2),
        };
        if (refresh_token !== undefined && refresh_token !== refreshToken) {
          refreshToken = refresh_token;
          ctx.logger.info('webex oauth refresh token rotated');
          ctx.onRefreshTokenRotated?.(refresh_token);
        }
        ctx.logger.debug('webex oauth access token obtained', { expiresInS: expires_in });
        return access_token;
      };
      const refreshOnce = (signal?: AbortSignal): Promise<string> => {
        inflight ??= refresh(signal).finally(() => {
          inflight = undefined;
        });
        return inflight;
      };
      return {
        get: async (signal) => {
          if (inflight !== undefined) return inflight;
          if (token !== undefined && ctx.now() < token.refreshAt) return token.value;
          if (token !== undefined) ctx.stats.tokenRenewals++;
          return refreshOnce(signal);
        },
        renew: async (rejected, signal) => {
          if (inflight === undefined && token !== undefined && token.value !== rejected)
            return true;
          if (inflight === undefined) ctx.stats.tokenRenewals++;
          await refreshOnce(signal);
          return true;
        },
      };
    }
  }
};

/** What to fix when Webex refuses the token and renewing it did not help. */
const tokenRefused = (auth: WebexAuth): string => {
  switch (auth.kind) {
    case 'static':
      return 'Webex refused WEBEX_ACCESS_TOKEN (wrong or expired): set a valid partner token, or use the OAuth refresh flow (WEBEX_CLIENT_ID, WEBEX_CLIENT_SECRET, WEBEX_REFRESH_TOKEN), which renews it';
    case 'file':
      return `Webex refused the token in WEBEX_ACCESS_TOKEN_FILE (${auth.path}), also after re-reading the file: write a valid partner token into it`;
    case 'oauth':
      return 'Webex refused an access token just obtained by the OAuth refresh flow: check that WEBEX_CLIENT_ID, WEBEX_CLIENT_SECRET and WEBEX_REFRESH_TOKEN belong to a partner administrator';
  }
};
const REFRESH_REFUSED =
  'the OAuth refresh flow is refused: renew WEBEX_REFRESH_TOKEN (or WEBEX_REFRESH_TOKEN_FILE) and check WEBEX_CLIENT_ID and WEBEX_CLIENT_SECRET';
const FORBIDDEN =
  "Webex refused the partner API (403): the token's user needs a partner administrator role and the scope spark-admin:calling_cdr_read (see WEBEX_ACCESS_TOKEN, or the integration of WEBEX_CLIENT_ID)";

// ---------------------------------------------------------------------------
// Helpers

const withTimeout = (timeoutMs: number, signal: AbortSignal | undefined): AbortSignal =>
  signal === undefined
    ? AbortSignal.timeout(timeoutMs)
    : AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]);

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True when a token sent to `url` would cross the network unencrypted. */
export const isPlaintextRemote = (url: URL): boolean =>
  url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname.toLowerCase());

/** `fetch failed` says little: add the cause (`ECONNREFUSED`, ...) and name timeouts. */
const describeFetchError = (e: unknown, timeoutMs: number): string => {
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

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const describeIssues = (error: z.ZodError): string =>
  error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(body)'}: ${issue.message}`)
    .join('; ');

const clip = (s: string): string =>
  s.length > ERROR_DETAIL_MAX_CHARS ? `${s.slice(0, ERROR_DETAIL_MAX_CHARS)}...` : s;

/** `: <message> (trackingId ...)` from a Webex error body or headers; never the request. */
const errorDetail = (text: string, headers: Headers): string => {
  const parsed = webexErrorSchema.safeParse(parseJson(text));
  const body = parsed.success ? parsed.data : {};
  const message =
    body.message ??
    body.errors?.find((e) => e.description)?.description ??
    [body.error, body.error_description].filter(Boolean).join(': ');
  const trackingId = body.trackingId ?? headers.get('trackingid') ?? undefined;
  return `${message ? `: ${clip(message)}` : ''}${trackingId ? ` (trackingId ${clip(trackingId)})` : ''}`;
};

const loggableHeaders = (headers: Headers): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) if (name !== 'set-cookie') out[name] = value;
  return out;
};

const checkWindow = (window: Window): void => {
  const { start, end } = window;
  if (
    !Number.isFinite(start) ||
    !Number.isFinite(end) ||
    end <= start ||
    end - start > MAX_WINDOW_MS
  ) {
    throw new RangeError(
      `Webex windows must be non-empty and at most 60 minutes: [${start}, ${end})`,
    );
  }
};

/** Node cannot wait longer than this (longer timers fire after 1 ms). */
const TIMER_MAX_MS = 2_147_483_647;

const intAtLeast = (name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new CdrError(
      'config_invalid',
      `Webex client: ${name} must be an integer >= ${min}${max < Number.MAX_SAFE_INTEGER ? ` and <= ${max}` : ''}, got ${value}`,
    );
  }
  return value;
};

const httpUrlOf = (name: string, text: string): URL => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CdrError('config_invalid', `Webex client: ${name} is not a URL: ${text}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new CdrError('config_invalid', `Webex client: ${name} must be http(s): ${url.href}`);
  }
  return url;
};

type Reply = { status: number; headers: Headers; text: string; url: URL };

/** ` at <origin>` when a 451 answer names a region host, for the error text. */
const regionNamed = (reply: Reply): string => {
  const named = regionCandidates(reply.text, reply.headers).find(
    (c) => c.origin !== reply.url.origin,
  );
  return named === undefined ? '' : ` at ${named.origin}`;
};

// ---------------------------------------------------------------------------

export const createWebexClient = (
  config: WebexClientConfig,
  deps: WebexClientDeps = {},
): WebexClient => {
  const doFetch = deps.fetch ?? globalThis.fetch;
  const sleep =
    deps.sleep ??
    ((ms: number, signal?: AbortSignal) => delay(ms, undefined, signal ? { signal } : {}));
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;
  const logger = config.logger;

  const base = httpUrlOf('baseUrl', config.baseUrl ?? DEFAULT_BASE_URL);
  const tokenUrl =
    config.auth.kind === 'oauth'
      ? httpUrlOf('tokenUrl', config.auth.tokenUrl ?? DEFAULT_TOKEN_URL)
      : undefined;
  const basePath = base.pathname.replace(/\/+$/, '');
  const timeoutMs = intAtLeast(
    'timeoutMs',
    config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    1,
    TIMER_MAX_MS,
  );
  const maxAttempts = intAtLeast('maxAttempts', config.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, 1);
  const maxBackoffMs = intAtLeast(
    'maxBackoffMs',
    config.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
    0,
    TIMER_MAX_MS,
  );
  const maxThrottledWaits = intAtLeast(
    'maxThrottledWaits',
    config.maxThrottledWaits ?? DEFAULT_MAX_THROTTLED_WAITS,
    0,
  );
  const minIntervalMs = intAtLeast('minIntervalMs', config.minIntervalMs ?? 0, 0, TIMER_MAX_MS);
  const maxPages = intAtLeast('maxPages', config.maxPages ?? DEFAULT_MAX_PAGES, 1);
  const redirectList = config.redirectHosts ?? DEFAULT_REDIRECT_HOSTS;
  const redirectHosts = parseRedirectHosts(redirectList);
  if (!redirectHosts.ok) {
    throw new CdrError(
      'config_invalid',
      `Webex client: redirectHosts: ${redirectHosts.problems.join('; ')}`,
    );
  }

  for (const [name, url] of [
    ['API base URL', base],
    ['OAuth token URL', tokenUrl],
  ] as const) {
    if (url !== undefined && isPlaintextRemote(url)) {
      logger.warn(`webex ${name} is plain http to another host: tokens would travel unencrypted`, {
        url: url.origin,
      });
    }
  }
  for (const p of redirectHosts.patterns) {
    if (p.protocol === 'http:' && !LOOPBACK_HOSTS.has(p.host)) {
      logger.warn(
        'webex redirect host is plain http to another host: tokens would travel unencrypted',
        {
          host: p.text,
        },
      );
    }
  }
  /** Where the token may go: the base URL's origin and the allow-listed region hosts. */
  const trusted = (url: URL): boolean =>
    url.origin === base.origin || isAllowedHost(url, redirectHosts.patterns);
  /** Org -> the base URL of the region that holds its data (after a followed 451). */
  const regionOf = new Map<string, URL>();

  const counters: WebexClientStats = { requests: 0, retries: 0, throttled: 0, tokenRenewals: 0 };
  const tokens = createTokenSource(config.auth, {
    fetch: doFetch,
    now,
    timeoutMs,
    logger,
    stats: counters,
    ...(config.onRefreshTokenRotated
      ? { onRefreshTokenRotated: config.onRefreshTokenRotated }
      : {}),
  });

  let nextSlot = 0;
  /** Reserves the next request slot synchronously, so concurrent callers queue up. */
  const pace = async (signal?: AbortSignal): Promise<void> => {
    if (minIntervalMs === 0) return;
    const t = now();
    const slot = Math.max(t, nextSlot);
    nextSlot = slot + minIntervalMs;
    if (slot > t) await sleep(slot - t, signal);
  };

  const backoff = (attempt: number): number =>
    Math.floor(random() * Math.min(maxBackoffMs, BACKOFF_BASE_MS * 2 ** (attempt - 1)));

  const apiUrl = (path: string, query: Record<string, string>): URL => {
    const url = new URL(base.origin);
    url.pathname = `${basePath}${path}`;
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  };

  const allowListText = () =>
    `WEBEX_REDIRECT_HOSTS (${redirectList.length > 0 ? redirectList.join(',') : 'empty'})`;

  /**
   * After a 451 for `org` from `current`: the URL to ask instead (remembering
   * the org's region), or a `webex_http` CdrError naming the host refused.
   */
  const followRegion = (
    reply: Reply,
    current: URL,
    visited: Set<string>,
    what: string,
    org: string,
  ): URL => {
    const candidates = regionCandidates(reply.text, reply.headers).filter(
      (c) => c.origin !== current.origin,
    );
    const target = candidates.find(trusted);
    const refuse = (why: string): never => {
      regionOf.delete(org);
      throw new CdrError(
        'webex_http',
        `${what}: HTTP 451${errorDetail(reply.text, reply.headers)} (region redirect: ${why})`,
        { retriable: false },
      );
    };
    if (target === undefined) {
      const named = candidates[0];
      return named === undefined
        ? refuse(
            `org ${org} is served by another Webex region, but the answer names no host to follow (body field, Location header or a URL in the message)`,
          )
        : refuse(
            `org ${org} is served by another Webex region at ${named.origin}, which is not in ${allowListText()}: not followed, the token is not sent there. If it is a Webex API host, add it to WEBEX_REDIRECT_HOSTS`,
          );
    }
    if (visited.has(target.origin) || visited.size > MAX_REGION_HOPS) {
      return refuse(
        `redirect loop for org ${org}: ${[...visited, target.origin].join(' -> ')}; not followed`,
      );
    }
    visited.add(target.origin);
    // Back home: the configured base URL, with its path.
    const region = target.origin === base.origin ? base : regionBaseOf(target);
    if (region.origin === base.origin) {
      regionOf.delete(org);
    } else if (regionOf.get(org)?.href !== region.href) {
      regionOf.set(org, region);
      logger.info('webex region redirect: org served by another region, asking it there', {
        orgId: org,
        host: region.origin,
        from: current.origin,
      });
    }
    return rebase(current, region);
  };

  /**
   * One GET with retries; resolves with a 2xx reply (body read), rejects with
   * a CdrError. With `org`, a 451 is followed to the org's region (see above);
   * `partnerWide`: a 403 concerns the token, not one org.
   */
  const get = async (
    first: URL,
    what: string,
    options: RequestOptions = {},
    scope: { org?: string; partnerWide?: boolean } = {},
  ): Promise<Reply> => {
    const { org, partnerWide = false } = scope;
    const { signal, beforeRequest } = options;
    if (!trusted(first)) {
      // Guard for every caller: the bearer token only goes to baseUrl's origin or an allow-listed host.
      throw new CdrError(
        'webex_invalid_response',
        `${what}: refusing to send the token to ${first.origin}`,
      );
    }
    let url = first;
    const visited = new Set([url.origin]);
    let renewed = false;
    let throttledWaits = 0;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      await pace(signal);
      signal?.throwIfAborted();
      beforeRequest?.();
      let token: string;
      try {
        token = await tokens.get(signal);
      } catch (e) {
        signal?.throwIfAborted();
        if (!isCdrError(e) || !e.retriable || attempt >= maxAttempts) throw e;
        const waitMs = backoff(attempt);
        logger.warn('webex token unavailable, retrying', {
          what,
          reason: e.message,
          attempt,
          waitMs,
        });
        counters.retries++;
        await sleep(waitMs, signal);
        continue;
      }
      counters.requests++;
      let reply: Reply;
      try {
        const res = await doFetch(url, {
          method: 'GET',
          headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
          redirect: 'manual',
          signal: withTimeout(timeoutMs, signal),
        });
        reply = { status: res.status, headers: res.headers, text: await res.text(), url };
      } catch (e) {
        signal?.throwIfAborted();
        const reason = describeFetchError(e, timeoutMs);
        if (attempt >= maxAttempts) {
          throw new CdrError(
            'webex_http',
            `${what}: ${reason} (gave up after ${attempt} attempts)`,
            {
              cause: e,
            },
          );
        }
        const waitMs = backoff(attempt);
        logger.warn('webex request failed, retrying', { what, reason, attempt, waitMs });
        counters.retries++;
        await sleep(waitMs, signal);
        continue;
      }
      const { status, headers } = reply;
      if (status >= 200 && status < 300) return reply;

      if (status === 401 && !renewed) {
        renewed = true;
        if (await tokens.renew(token, signal)) {
          logger.info('webex token rejected (401), retrying with a renewed token', { what });
          attempt--;
          continue;
        }
      }
      if (status === 429) {
        // Throttling is not a failure: it does not use up attempts, but is capped on its own.
        counters.throttled++;
        if (throttledWaits >= maxThrottledWaits) {
          throw new CdrError(
            'webex_http',
            `${what}: HTTP 429${errorDetail(reply.text, headers)} (still throttled after waiting ${throttledWaits} times)`,
          );
        }
        throttledWaits++;
        const waitMs = Math.min(
          MAX_RETRY_AFTER_MS,
          parseRetryAfter(headers.get('retry-after'), now()),
        );
        logger.info('webex request throttled, waiting', { what, status, throttledWaits, waitMs });
        counters.retries++;
        await sleep(waitMs, signal);
        attempt--;
        continue;
      }
      if (status >= 500) {
        if (attempt >= maxAttempts) {
          throw new CdrError(
            'webex_http',
            `${what}: HTTP ${status}${errorDetail(reply.text, headers)} (gave up after ${attempt} attempts)`,
          );
        }
        const waitMs = backoff(attempt);
        logger.warn('webex request failed, retrying', { what, status, attempt, waitMs });
        counters.retries++;
        await sleep(waitMs, signal);
        continue;
      }
      if (status === 451 && org !== undefined) {
        url = followRegion(reply, url, visited, what, org);
        attempt--;
        continue;
      }
      if (status === 401 || (status === 403 && partnerWide)) {
        throw new CdrError(
          'webex_auth_failed',
          `${what}: HTTP ${status}${errorDetail(reply.text, headers)}: ${status === 401 ? tokenRefused(config.auth) : FORBIDDEN}`,
          { retriable: false },
        );
      }
      const hint =
        status === 403
          ? ' (forbidden for this org)'
          : status === 451
            ? ` (region redirect: this partner is served by another Webex region${regionNamed(reply)}; set WEBEX_API_BASE_URL to it)`
            : status >= 300 && status < 400
              ? ` (redirect to ${headers.get('location') ?? '?'} not followed; set the base URL to it)`
              : '';
      throw new CdrError(
        'webex_http',
        `${what}: HTTP ${status}${errorDetail(reply.text, headers)}${hint}`,
        { retriable: false },
      );
    }
  };

  const parseBody = <T>(schema: z.ZodType<T>, reply: Reply, what: string, empty: T): T => {
    if (reply.text.trim() === '') {
      logger.debug('webex answered an empty body', { what, status: reply.status });
      return empty;
    }
    const json = parseJson(reply.text);
    if (json === undefined) {
      throw new CdrError('webex_invalid_response', `${what}: body is not JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new CdrError(
        'webex_invalid_response',
        `${what}: unexpected body: ${describeIssues(parsed.error)}`,
      );
    }
    return parsed.data;
  };

  let warnedUnrecognised = false;

  const countByOrg = async (window: Window, options?: RequestOptions): Promise<OrgCount[]> => {
    checkWindow(window);
    const query = {
      startTime: formatWebexTime(window.start),
      endTime: formatWebexTime(window.end),
    };
    const byOrg = new Map<string, OrgCount>();
    let totalOrgs: number | undefined;
    let pages = 0;
    for (let page = 1; ; page++) {
      const url = apiUrl(
        '/v1/partners/cdrcountbyorg',
        page === 1 ? query : { ...query, page: String(page) },
      );
      const what = `cdrcountbyorg ${query.startTime} page ${page}`;
      const reply = await get(url, what, options, { partnerWide: true });
      pages = page;
      const pagination = parsePagination(reply.headers);
      logger.debug('webex cdrcountbyorg page', {
        page,
        headers: loggableHeaders(reply.headers),
        pagination,
      });
      if (pagination.unrecognised.length > 0 && !warnedUnrecognised) {
        warnedUnrecognised = true;
        logger.warn('webex cdrcountbyorg: pagination-looking headers not recognised', {
          headers: pagination.unrecognised,
        });
      }
      if (pagination.currentPage !== undefined && pagination.currentPage !== page) {
        logger.warn('webex cdrcountbyorg: current page header disagrees with the page asked for', {
          asked: page,
          header: pagination.currentPage,
        });
      }
      totalOrgs = pagination.totalOrgs ?? totalOrgs;
      const counts = parseBody(countPageSchema, reply, what, { cdr_counts: [] }).cdr_counts;
      let added = 0;
      for (const c of counts) {
        if (byOrg.has(c.orgId)) continue;
        byOrg.set(c.orgId, c);
        added++;
      }

      const pageCount =
        pagination.pageCount ??
        (totalOrgs !== undefined ? Math.ceil(totalOrgs / COUNT_PAGE_SIZE) : undefined);
      if (counts.length === 0) break;
      if (added === 0) {
        logger.warn('webex cdrcountbyorg: page repeated orgs already seen; stopping', { page });
        break;
      }
      if (pageCount !== undefined && page >= pageCount) break;
      if (counts.length < COUNT_PAGE_SIZE) {
        // Short page: the last one, unless the headers say there are more.
        if (pageCount === undefined) break;
        logger.warn('webex cdrcountbyorg: short page but the headers announce more pages', {
          page,
          orgs: counts.length,
          pageCount,
        });
      }
      if (page >= maxPages) {
        logger.warn('webex cdrcountbyorg: page limit reached, orgs beyond it are not checked', {
          maxPages,
        });
        break;
      }
    }
    if (totalOrgs !== undefined && totalOrgs !== byOrg.size) {
      logger.warn('webex cdrcountbyorg: total orgs header differs from the orgs collected', {
        window: query,
        totalOrgs,
        collected: byOrg.size,
        pages,
      });
    }
    return [...byOrg.values()];
  };

  const recordsByOrg = async (
    orgId: string,
    window: Window,
    options?: RequestOptions,
  ): Promise<unknown[]> => {
    checkWindow(window);
    const startTime = formatWebexTime(window.start);
    const home = apiUrl('/v1/partners/cdrsbyorg', {
      orgId,
      startTime,
      endTime: formatWebexTime(window.end),
    });
    // An org seen behind a 451 before is asked straight at its region.
    const region = regionOf.get(orgId);
    let url: URL | undefined = region === undefined ? home : rebase(home, region);
    const seen = new Set<string>();
    const items: unknown[] = [];
    for (let page = 1; url !== undefined; page++) {
      if (page > maxPages) {
        throw new CdrError(
          'webex_invalid_response',
          `cdrsbyorg ${orgId} ${startTime}: more than ${maxPages} pages`,
        );
      }
      seen.add(url.href);
      const what = `cdrsbyorg ${orgId} ${startTime} page ${page}`;
      const reply = await get(url, what, options, { org: orgId });
      for (const item of parseBody(recordsPageSchema, reply, what, [])) items.push(item);

      const next = parseNextLink(reply.headers.get('link'));
      if (next === undefined) break;
      let nextUrl: URL;
      try {
        nextUrl = new URL(next, reply.url);
      } catch {
        throw new CdrError('webex_invalid_response', `${what}: Link next is not a URL`);
      }
      if (nextUrl.origin !== reply.url.origin) {
        throw new CdrError(
          'webex_invalid_response',
          `${what}: Link next points to another origin (${nextUrl.origin}); not followed`,
        );
      }
      if (seen.has(nextUrl.href)) {
        throw new CdrError(
          'webex_invalid_response',
          `${what}: Link next repeats a page already read`,
        );
      }
      url = nextUrl;
    }
    return items;
  };

  return {
    countByOrg,
    recordsByOrg,
    stats: () => ({ ...counters }),
  };
};
