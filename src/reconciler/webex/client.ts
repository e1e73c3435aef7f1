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
 *
 * The parts, by concern: `options.ts` (the options' schema), `schemas.ts`
 * (bodies), `headers.ts` (pagination, `Link`, `Retry-After`), `tokens.ts`
 * (token sources), `request.ts` (one attempt classified once, and the loop
 * that applies the retry policy), `region-redirect.ts` (the 451 allow-list).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { z } from 'zod';
import { CdrError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { formatWebexTime, MAX_WINDOW_MS, type Window } from '../plan.ts';
import { loggableHeaders, parseNextLink, parsePagination } from './headers.ts';
import { parseClientOptions, type WebexClientOptionsInput } from './options.ts';
import { isAllowedHost, rebase, regionBaseOf, regionCandidates } from './region-redirect.ts';
import {
  fullJitterBackoff,
  type Reply,
  type ReplyScope,
  requestWithPolicy,
  sendOnce,
} from './request.ts';
import {
  countPageSchema,
  errorDetail,
  type OrgCount,
  parseBody,
  recordsPageSchema,
} from './schemas.ts';
import { createTokenSource, tokenRefused } from './tokens.ts';

/** `cdrcountbyorg` pages hold up to this many orgs. */
export const COUNT_PAGE_SIZE = 200;
/** Region redirects followed within one request before it is called a loop. */
const MAX_REGION_HOPS = 3;

/** The options of `webex/options.ts`, plus what cannot be checked: the logger and a callback. */
export type WebexClientConfig = WebexClientOptionsInput & {
  /** Told the new refresh token when Webex rotates it (to persist it). */
  onRefreshTokenRotated?: (refreshToken: string) => void;
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

export type { OrgCount };

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

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True when a token sent to `url` would cross the network unencrypted. */
export const isPlaintextRemote = (url: URL): boolean =>
  url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname.toLowerCase());

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

  const options = parseClientOptions(config);
  const { timeoutMs, minIntervalMs, maxPages, auth } = options;
  const base = new URL(options.baseUrl);
  const tokenUrl = auth.kind === 'oauth' ? new URL(auth.tokenUrl) : undefined;
  const basePath = base.pathname.replace(/\/+$/, '');
  const { list: redirectList, patterns: redirectPatterns } = options.redirectHosts;

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
  for (const p of redirectPatterns) {
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
    url.origin === base.origin || isAllowedHost(url, redirectPatterns);
  /** Org -> the base URL of the region that holds its data (after a followed 451). */
  const regionOf = new Map<string, URL>();

  const counters: WebexClientStats = { requests: 0, retries: 0, throttled: 0, tokenRenewals: 0 };
  const tokens = createTokenSource(auth, {
    fetch: doFetch,
    now,
    timeoutMs,
    logger,
    stats: counters,
    ...(config.onRefreshTokenRotated
      ? { onRefreshTokenRotated: config.onRefreshTokenRotated }
      : {}),
  });
  const policy = {
    maxAttempts: options.maxAttempts,
    maxThrottledWaits: options.maxThrottledWaits,
    backoff: fullJitterBackoff(options.maxBackoffMs, random),
  };
  const refused = tokenRefused(config.auth);

  let nextSlot = 0;
  /** Reserves the next request slot synchronously, so concurrent callers queue up. */
  const pace = async (signal?: AbortSignal): Promise<void> => {
    if (minIntervalMs === 0) return;
    const t = now();
    const slot = Math.max(t, nextSlot);
    nextSlot = slot + minIntervalMs;
    if (slot > t) await sleep(slot - t, signal);
  };

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
   * One GET with the retry policy; resolves with a 2xx reply (body read),
   * rejects with a CdrError. With `org`, a 451 is followed to the org's region
   * (see above); `partnerWide`: a 403 concerns the token, not one org.
   */
  const get = async (
    first: URL,
    what: string,
    options: RequestOptions = {},
    scope: Omit<ReplyScope, 'what' | 'tokenRefused'> = {},
  ): Promise<Reply> => {
    const { signal, beforeRequest } = options;
    if (!trusted(first)) {
      // Guard for every caller: the bearer token only goes to baseUrl's origin or an allow-listed host.
      throw new CdrError(
        'webex_invalid_response',
        `${what}: refusing to send the token to ${first.origin}`,
      );
    }
    const visited = new Set([first.origin]);
    const attempt = (url: URL) =>
      sendOnce(url, {
        fetch: doFetch,
        timeoutMs,
        now,
        pace,
        token: (s) => tokens.get(s),
        counters,
        scope: { ...scope, what, tokenRefused: refused },
        signal,
        beforeRequest,
      });
    return requestWithPolicy(
      attempt,
      first,
      what,
      policy,
      {
        sleep,
        renew: (rejected, s) => tokens.renew(rejected, s),
        follow: (reply, current, org) => followRegion(reply, current, visited, what, org),
        logger,
        counters,
      },
      signal,
    );
  };

  const readBody = <T>(schema: z.ZodType<T>, reply: Reply, what: string, empty: T): T => {
    const body = parseBody(schema, reply.text, what, empty);
    if (body.empty) logger.debug('webex answered an empty body', { what, status: reply.status });
    return body.value;
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
      const counts = readBody(countPageSchema, reply, what, { cdr_counts: [] }).cdr_counts;
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
      for (const item of readBody(recordsPageSchema, reply, what, [])) items.push(item);

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
