/**
 * @module simulator/partner-api
 * The two Webex reconciliation endpoints, answered from a simulated world and
 * held to the documented rules (Partner Hub article):
 *
 *   GET /v1/partners/cdrcountbyorg?startTime=&endTime=[&page=N]
 *       {"cdr_counts":[{"orgId","count"}]} sorted by orgId, `pageSize` orgs a
 *       page (1-based; past the last page: an empty list); headers carry the
 *       page count, the total number of orgs and the current page.
 *   GET /v1/partners/cdrsbyorg?orgId=&startTime=&endTime=[&cursor=N]
 *       {"items":[raw records]}; more than `recordsPageSize` records: a
 *       `Link: <same host ...&cursor=N>; rel="next"` header.
 *
 * Rules: `Authorization: Bearer <token>` (else 401); times exactly
 * `YYYY-MM-DDTHH:MM:SS.mmmZ`, endTime > startTime, at most 60 min apart, both
 * between 5 min and 48 h (`retentionMs`) before `now()` (else 400 with a
 * Webex-style error body); per token at most `rateLimit.requests` requests in
 * any `rateLimit.perMs` window (else 429 + `Retry-After` in whole seconds).
 * The pagination header names are not public at Webex: configurable, or
 * omitted with `null`, so a client can be tested for tolerance. Unknown org
 * ids answer an empty list (Webex's answer is not documented).
 *
 * Regions (`regionOf`): an org whose data another region holds answers
 * cdrsbyorg with **451** naming that region's base URL, as Webex does (domain
 * notes, "Region"). Where the URL goes is not public, so `regionAnswer` picks
 * it: a JSON field `location` (default), a `Location` header, or only the
 * message text. A second instance of this stand-in plays the other region.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import type { WebexWorld } from './world.ts';

export type PaginationHeaderNames = {
  /** Number of pages. */
  readonly pageCount: string | null;
  /** Total number of orgs over all pages. */
  readonly totalOrgs: string | null;
  /** The page this response is. */
  readonly currentPage: string | null;
};

export const DEFAULT_HEADER_NAMES: PaginationHeaderNames = {
  pageCount: 'X-Page-Count',
  totalOrgs: 'X-Total-Org-Count',
  currentPage: 'X-Current-Page',
};

export const COUNTS_PATH = '/v1/partners/cdrcountbyorg';
export const RECORDS_PATH = '/v1/partners/cdrsbyorg';

export type PartnerApiOptions = {
  readonly world: Pick<WebexWorld, 'countsByOrg' | 'recordsOf'>;
  /** Accepted bearer tokens. */
  readonly tokens: readonly string[];
  readonly now?: () => number;
  /** Per token; none: no limit. */
  readonly rateLimit?: { readonly requests: number; readonly perMs: number };
  /** Orgs per cdrcountbyorg page. Default 200. */
  readonly pageSize?: number;
  /** Records per cdrsbyorg page. Default 500. */
  readonly recordsPageSize?: number;
  readonly headerNames?: Partial<PaginationHeaderNames>;
  /** How far back records are served. Default 48 h. */
  readonly retentionMs?: number;
  /** How recent endTime may be. Default 5 min. */
  readonly minAgeMs?: number;
  /** Longest window. Default 60 min. */
  readonly maxWindowMs?: number;
  /** The base URL of the region holding an org's data, when it is not this one. */
  readonly regionOf?: (orgId: string) => string | undefined;
  /** Where a 451 names the region. Default `json`. */
  readonly regionAnswer?: 'json' | 'location' | 'message';
};

export type PartnerApiStats = {
  /** Every request answered, whatever the status. */
  readonly requests: number;
  /** Requests answered 429. */
  readonly throttled: number;
  readonly byPath: Readonly<Record<string, number>>;
};

export type RequestLogEntry = {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  /** The query string without `?` (no secrets: the token is a header). */
  readonly query: string;
  readonly status: number;
};

export type PartnerApi = {
  readonly app: Hono;
  readonly fetch: Hono['fetch'];
  stats(): PartnerApiStats;
  requestLog(): readonly RequestLogEntry[];
  /** The next `count` authenticated requests answer `status` (default 503): for retry tests. */
  failNext(count: number, status?: number): void;
  /** Clears stats, the request log and the rate-limit windows. */
  reset(): void;
};

const HOUR_MS = 3_600_000;
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TIME_FORMAT = 'YYYY-MM-DDTHH:MM:SS.mmmZ';

const timeParam = (name: string) =>
  z.string({ error: `${name} is required` }).superRefine((s, ctx) => {
    if (!TIME_RE.test(s)) {
      ctx.addIssue({ code: 'custom', message: `${name} must be formatted as ${TIME_FORMAT}` });
    } else if (new Date(Date.parse(s)).toISOString() !== s) {
      ctx.addIssue({ code: 'custom', message: `${name} is not a valid time` });
    }
  });

const windowQuery = z.object({ startTime: timeParam('startTime'), endTime: timeParam('endTime') });
const countsQuery = windowQuery.extend({
  page: z
    .string()
    .regex(/^[1-9]\d{0,8}$/, 'page must be a positive integer')
    .optional(),
});
const recordsQuery = windowQuery.extend({
  orgId: z.string({ error: 'orgId is required' }).min(1, 'orgId is required'),
  cursor: z
    .string()
    .regex(/^\d{1,9}$/, 'cursor must be a non-negative integer')
    .optional(),
});

type WebexErrorBody = {
  message: string;
  errors: { description: string }[];
  trackingId: string;
};

const errorBody = (descriptions: readonly string[], trackingId: string): WebexErrorBody => ({
  message: descriptions.join('; '),
  errors: descriptions.map((description) => ({ description })),
  trackingId,
});

const formatMinutes = (ms: number) =>
  ms >= 2 * HOUR_MS && ms % HOUR_MS === 0
    ? `${ms / HOUR_MS} hours`
    : `${Math.round(ms / 60_000)} minutes`;

export const createPartnerApi = (opts: PartnerApiOptions): PartnerApi => {
  const now = opts.now ?? Date.now;
  const pageSize = opts.pageSize ?? 200;
  const recordsPageSize = opts.recordsPageSize ?? 500;
  const retentionMs = opts.retentionMs ?? 48 * HOUR_MS;
  const minAgeMs = opts.minAgeMs ?? 5 * 60_000;
  const maxWindowMs = opts.maxWindowMs ?? HOUR_MS;
  const headerNames = { ...DEFAULT_HEADER_NAMES, ...opts.headerNames };
  const tokens = new Set(opts.tokens);
  if (!(pageSize >= 1 && recordsPageSize >= 1)) throw new RangeError('page sizes must be >= 1');
  const limit = opts.rateLimit;
  if (limit !== undefined && !(limit.requests >= 1 && limit.perMs > 0)) {
    throw new RangeError('rateLimit needs requests >= 1 and perMs > 0');
  }

  let requests = 0;
  let throttled = 0;
  let byPath: Record<string, number> = {};
  let log: RequestLogEntry[] = [];
  let windows = new Map<string, number[]>();
  let failures: { count: number; status: number } = { count: 0, status: 503 };
  let trackingSeq = 0;

  const trackingId = () => `SIMULATOR_${randomUUID()}_${++trackingSeq}`;

  const fail = (c: Context, status: 400 | 401 | 404 | 429, descriptions: readonly string[]) => {
    const id = trackingId();
    c.header('TrackingID', id);
    return c.json(errorBody(descriptions, id), status);
  };

  /** Relative time rules, all problems at once. */
  const checkWindow = (startTime: string, endTime: string): string[] => {
    const start = Date.parse(startTime);
    const end = Date.parse(endTime);
    const t = now();
    const problems: string[] = [];
    if (!(end > start)) problems.push('endTime must be later than startTime');
    if (end - start > maxWindowMs) {
      problems.push(
        `startTime and endTime must not be more than ${formatMinutes(maxWindowMs)} apart`,
      );
    }
    for (const [name, ms] of [
      ['startTime', start],
      ['endTime', end],
    ] as const) {
      if (ms > t - minAgeMs)
        problems.push(`${name} must be at least ${formatMinutes(minAgeMs)} ago`);
      if (ms < t - retentionMs) {
        problems.push(`${name} must not be more than ${formatMinutes(retentionMs)} ago`);
      }
    }
    return problems;
  };

  const app = new Hono();

  app.use('*', async (c, next) => {
    const at = now();
    await next();
    const path = c.req.path;
    const status = c.res.status;
    requests++;
    if (status === 429) throttled++;
    byPath[path] = (byPath[path] ?? 0) + 1;
    const url = c.req.url;
    const q = url.indexOf('?');
    log.push({ at, method: c.req.method, path, query: q < 0 ? '' : url.slice(q + 1), status });
  });

  app.use('*', async (c, next) => {
    const auth = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    const token = m?.[1];
    if (token === undefined || !tokens.has(token)) {
      return fail(c, 401, [
        'The request requires a valid access token set in the Authorization request header.',
      ]);
    }
    if (limit !== undefined) {
      const t = now();
      const recent = (windows.get(token) ?? []).filter((s) => s > t - limit.perMs);
      windows.set(token, recent);
      const oldest = recent[0];
      if (recent.length >= limit.requests && oldest !== undefined) {
        const retryAfter = Math.max(1, Math.ceil((oldest + limit.perMs - t) / 1000));
        c.header('Retry-After', String(retryAfter));
        return fail(c, 429, [`Too many requests: retry after ${retryAfter} seconds`]);
      }
      recent.push(t);
    }
    if (failures.count > 0) {
      failures.count--;
      const id = trackingId();
      c.header('TrackingID', id);
      return c.json(errorBody(['Simulated failure'], id), failures.status as ContentfulStatusCode);
    }
    await next();
  });

  /** The query's shape, then Webex's time rules: every problem at once. */
  const parseWindowQuery = <T extends { startTime: string; endTime: string }>(
    schema: z.ZodType<T>,
    query: Record<string, string>,
  ): { ok: true; value: T } | { ok: false; problems: string[] } => {
    const q = schema.safeParse(query);
    if (!q.success) return { ok: false, problems: q.error.issues.map((i) => i.message) };
    const problems = checkWindow(q.data.startTime, q.data.endTime);
    return problems.length > 0 ? { ok: false, problems } : { ok: true, value: q.data };
  };

  app.get(COUNTS_PATH, (c) => {
    const q = parseWindowQuery(countsQuery, c.req.query());
    if (!q.ok) return fail(c, 400, q.problems);
    const counts = opts.world.countsByOrg(
      Date.parse(q.value.startTime),
      Date.parse(q.value.endTime),
    );
    const page = Number(q.value.page ?? '1');
    const pages = Math.max(1, Math.ceil(counts.length / pageSize));
    const slice = counts.slice((page - 1) * pageSize, page * pageSize);
    if (headerNames.pageCount !== null) c.header(headerNames.pageCount, String(pages));
    if (headerNames.totalOrgs !== null) c.header(headerNames.totalOrgs, String(counts.length));
    if (headerNames.currentPage !== null) c.header(headerNames.currentPage, String(page));
    c.header('TrackingID', trackingId());
    return c.json({ cdr_counts: slice.map((e) => ({ orgId: e.orgId, count: e.count })) });
  });

  app.get(RECORDS_PATH, (c) => {
    const q = parseWindowQuery(recordsQuery, c.req.query());
    if (!q.ok) return fail(c, 400, q.problems);
    const region = opts.regionOf?.(q.value.orgId);
    if (region !== undefined) {
      const id = trackingId();
      const answer = opts.regionAnswer ?? 'json';
      const message = `The data of organization ${q.value.orgId} is held in another region${answer === 'location' ? '' : `: ${region}`}`;
      c.header('TrackingID', id);
      if (answer === 'location') c.header('Location', region);
      const body = errorBody([message], id);
      return c.json(answer === 'json' ? { ...body, location: region } : body, 451);
    }
    const records = opts.world.recordsOf(
      q.value.orgId,
      Date.parse(q.value.startTime),
      Date.parse(q.value.endTime),
    );
    const from = Number(q.value.cursor ?? '0');
    const to = from + recordsPageSize;
    if (to < records.length) {
      const next = new URL(c.req.url);
      next.searchParams.set('cursor', String(to));
      c.header('Link', `<${next.href}>; rel="next"`);
    }
    c.header('TrackingID', trackingId());
    return c.json({ items: records.slice(from, to).map((r) => r.raw) });
  });

  app.notFound((c) => fail(c, 404, [`The requested resource ${c.req.path} could not be found.`]));

  return {
    app,
    fetch: app.fetch,
    stats: () => ({ requests, throttled, byPath: { ...byPath } }),
    requestLog: () => [...log],
    failNext(count, status = 503) {
      if (!(Number.isInteger(status) && status >= 400 && status <= 599)) {
        throw new RangeError('failNext status must be 400..599');
      }
      failures = { count, status };
    },
    reset() {
      requests = 0;
      throttled = 0;
      byPath = {};
      log = [];
      windows = new Map();
      failures = { count: 0, status: 503 };
    },
  };
};
