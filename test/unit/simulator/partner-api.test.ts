import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  COUNTS_PATH,
  createPartnerApi,
  type PartnerApiOptions,
  RECORDS_PATH,
} from '../../../src/simulator/partner-api.ts';
import { createWebexWorld, type WebexWorld } from '../../../src/simulator/world.ts';

const HOUR = 3_600_000;
const MIN = 60_000;
const END = Date.parse('2026-11-23T12:00:00.000Z');
const TOKEN = 'partner-token';
const AUTH = { Authorization: `Bearer ${TOKEN}` };

const iso = (ms: number) => new Date(ms).toISOString();

const smallWorld = createWebexWorld({ seed: 21, orgs: 12, startMs: END - 4 * HOUR, endMs: END });

/** The API at `now` = END + 10 min: the world's last 4 hours are all queryable. */
const setup = (world: WebexWorld = smallWorld, extra: Partial<PartnerApiOptions> = {}) => {
  const clock = { now: END + 10 * MIN };
  const api = createPartnerApi({ world, tokens: [TOKEN], now: () => clock.now, ...extra });
  const get = (pathAndQuery: string, headers: Record<string, string> = AUTH) =>
    api.app.request(pathAndQuery, { headers });
  return { api, clock, get };
};

const countsUrl = (start: number, end: number, page?: number) =>
  `${COUNTS_PATH}?startTime=${iso(start)}&endTime=${iso(end)}${page === undefined ? '' : `&page=${page}`}`;
const recordsUrl = (org: string, start: number, end: number) =>
  `${RECORDS_PATH}?orgId=${org}&startTime=${iso(start)}&endTime=${iso(end)}`;

type ErrorBody = { message: string; errors: { description: string }[]; trackingId: string };

const assertWebexError = async (res: Response, status: number, pattern: RegExp) => {
  assert.equal(res.status, status);
  const body = (await res.json()) as ErrorBody;
  assert.match(body.message, pattern);
  assert.ok(body.errors.length > 0 && body.errors.every((e) => typeof e.description === 'string'));
  assert.ok(body.trackingId.length > 0);
};

describe('simulator/partner-api', () => {
  it('answers 401 without a valid bearer token', async () => {
    const { get } = setup();
    const url = countsUrl(END - HOUR, END);
    await assertWebexError(await get(url, {}), 401, /access token/);
    await assertWebexError(await get(url, { Authorization: 'Bearer nope' }), 401, /access token/);
    await assertWebexError(await get(url, { Authorization: TOKEN }), 401, /access token/);
    assert.equal((await get(url, { authorization: `bearer ${TOKEN}` })).status, 200);
  });

  it('answers 400 for each time rule, on both endpoints', async () => {
    const { get, clock } = setup();
    const org = smallWorld.orgs[0]?.orgId ?? '';
    const cases: [string, string, RegExp][] = [
      ['', `&endTime=${iso(END)}`, /startTime is required/],
      [`startTime=${iso(END - HOUR)}`, '', /endTime is required/],
      ['startTime=2026-11-23T10:00:00Z', `&endTime=${iso(END)}`, /startTime must be formatted/],
      ['startTime=2026-11-23T10:00:00.000', `&endTime=${iso(END)}`, /formatted/],
      ['startTime=2026-11-23 11:00:00.000Z', `&endTime=${iso(END)}`, /formatted/],
      ['startTime=2026-11-23T11:00:00.000%2B00:00', `&endTime=${iso(END)}`, /formatted/],
      ['startTime=2026-11-31T11:00:00.000Z', `&endTime=${iso(END)}`, /not a valid time/],
      [`startTime=${iso(END)}`, `&endTime=${iso(END)}`, /later than startTime/],
      [`startTime=${iso(END)}`, `&endTime=${iso(END - HOUR)}`, /later than startTime/],
      [`startTime=${iso(END - HOUR - 1)}`, `&endTime=${iso(END)}`, /60 minutes apart/],
      // now is END + 10 min: endTime must be <= END + 5 min
      [
        `startTime=${iso(END - 30 * MIN)}`,
        `&endTime=${iso(END + 5 * MIN + 1)}`,
        /at least 5 minutes ago/,
      ],
      // 48 hours back from now
      [
        `startTime=${iso(clock.now - 48 * HOUR - 1)}`,
        `&endTime=${iso(clock.now - 47 * HOUR)}`,
        /not be more than 48 hours ago/,
      ],
    ];
    for (const [start, end, pattern] of cases) {
      await assertWebexError(await get(`${COUNTS_PATH}?${start}${end}`), 400, pattern);
      await assertWebexError(
        await get(`${RECORDS_PATH}?orgId=${org}&${start}${end}`),
        400,
        pattern,
      );
    }
    // the boundaries themselves are allowed
    assert.equal((await get(countsUrl(END + 5 * MIN - HOUR, END + 5 * MIN))).status, 200);
    assert.equal((await get(countsUrl(clock.now - 48 * HOUR, clock.now - 47 * HOUR))).status, 200);
    await assertWebexError(
      await get(`${RECORDS_PATH}?startTime=${iso(END - HOUR)}&endTime=${iso(END)}`),
      400,
      /orgId is required/,
    );
    await assertWebexError(
      await get(countsUrl(END - HOUR, END, 0)),
      400,
      /page must be a positive integer/,
    );
  });

  it('makes the look-back configurable', async () => {
    const { get } = setup(smallWorld, { retentionMs: 2 * HOUR });
    await assertWebexError(
      await get(countsUrl(END - 3 * HOUR, END - 2 * HOUR)),
      400,
      /2 hours ago/,
    );
    assert.equal((await get(countsUrl(END - HOUR, END))).status, 200);
  });

  it('paginates 283 orgs as 2 pages with page count, total and current page headers', async () => {
    const world = createWebexWorld({
      seed: 'pages',
      orgs: 283,
      callsPerHour: () => 30,
      startMs: END - HOUR,
      endMs: END,
    });
    const { get } = setup(world);
    const seen: { orgId: string; count: number }[] = [];
    for (const page of [undefined, 2]) {
      const res = await get(countsUrl(END - HOUR, END, page));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('X-Page-Count'), '2');
      assert.equal(res.headers.get('X-Total-Org-Count'), '283');
      assert.equal(res.headers.get('X-Current-Page'), String(page ?? 1));
      const body = (await res.json()) as { cdr_counts: { orgId: string; count: number }[] };
      assert.equal(body.cdr_counts.length, page === 2 ? 83 : 200);
      seen.push(...body.cdr_counts);
    }
    assert.deepEqual(seen, world.countsByOrg(END - HOUR, END));
    assert.equal(new Set(seen.map((c) => c.orgId)).size, 283);
    const beyond = await get(countsUrl(END - HOUR, END, 3));
    assert.equal(beyond.headers.get('X-Current-Page'), '3');
    assert.deepEqual(await beyond.json(), { cdr_counts: [] });
  });

  it('uses configured pagination header names, or none', async () => {
    const { get } = setup(smallWorld, {
      pageSize: 5,
      headerNames: { pageCount: 'Total-Pages', totalOrgs: null },
    });
    const res = await get(countsUrl(END - HOUR, END));
    assert.equal(res.headers.get('Total-Pages'), '3');
    assert.equal(res.headers.get('X-Page-Count'), null);
    assert.equal(res.headers.get('X-Total-Org-Count'), null);
    assert.equal(res.headers.get('X-Current-Page'), '1');
  });

  it('returns exactly one org’s records for the window, following Link pages', async () => {
    const { get } = setup(smallWorld, { recordsPageSize: 7 });
    const [busiest] = [...smallWorld.countsByOrg(END - HOUR, END)].sort(
      (a, b) => b.count - a.count,
    );
    assert.ok(busiest !== undefined && busiest.count > 14, 'needs at least 3 pages');
    const expected = smallWorld.records
      .filter((r) => r.orgId === busiest.orgId && r.callEnd >= END - HOUR && r.callEnd < END)
      .map((r) => r.raw);
    const got: unknown[] = [];
    let url: string | undefined = recordsUrl(busiest.orgId, END - HOUR, END);
    let pages = 0;
    while (url !== undefined) {
      const res: Response = await get(url);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { items: unknown[] };
      got.push(...body.items);
      pages++;
      const link = res.headers.get('Link');
      if (link === null) url = undefined;
      else {
        const m = /^<([^>]+)>; rel="next"$/.exec(link);
        assert.ok(m?.[1] !== undefined, link);
        const next = new URL(m[1]);
        assert.equal(next.origin, 'http://localhost', 'same host');
        assert.match(next.search, /cursor=\d+/);
        url = `${next.pathname}${next.search}`;
      }
    }
    assert.equal(pages, Math.ceil(expected.length / 7));
    assert.deepEqual(got, expected);
    const other = await get(recordsUrl('00000000-0000-4000-8000-000000000000', END - HOUR, END));
    assert.deepEqual(await other.json(), { items: [] });
  });

  it('throttles per token beyond the rate with 429 and Retry-After', async () => {
    const { api, clock, get } = setup(smallWorld, {
      tokens: [TOKEN, 'other'],
      rateLimit: { requests: 3, perMs: 60_000 },
    });
    const url = countsUrl(END - HOUR, END);
    for (let i = 0; i < 3; i++) assert.equal((await get(url)).status, 200);
    clock.now += 20_000;
    const throttled = await get(url);
    await assertWebexError(throttled, 429, /Too many requests/);
    assert.equal(throttled.headers.get('Retry-After'), '40');
    assert.equal((await get(url, { Authorization: 'Bearer other' })).status, 200);
    clock.now += 39_999;
    const almost = await get(url);
    assert.equal(almost.status, 429);
    assert.equal(almost.headers.get('Retry-After'), '1', 'whole seconds, at least 1');
    clock.now += 1;
    assert.equal((await get(url)).status, 200);
    const stats = api.stats();
    assert.deepEqual(stats, { requests: 7, throttled: 2, byPath: { [COUNTS_PATH]: 7 } });
    const log = api.requestLog();
    assert.deepEqual(
      log.map((e) => e.status),
      [200, 200, 200, 429, 200, 429, 200],
    );
    assert.ok(
      log.every(
        (e) => e.path === COUNTS_PATH && e.method === 'GET' && e.query.includes('startTime='),
      ),
    );
    api.reset();
    assert.deepEqual(api.stats(), { requests: 0, throttled: 0, byPath: {} });
  });

  it('counts unauthenticated and unknown-path requests, and can fail on demand', async () => {
    const { api, get } = setup();
    await get(countsUrl(END - HOUR, END), {});
    await assertWebexError(await get('/v1/partners/nothing'), 404, /could not be found/);
    api.failNext(2, 503);
    assert.equal((await get(countsUrl(END - HOUR, END))).status, 503);
    assert.equal((await get(countsUrl(END - HOUR, END))).status, 503);
    assert.equal((await get(countsUrl(END - HOUR, END))).status, 200);
    assert.deepEqual(api.stats().byPath, { [COUNTS_PATH]: 4, '/v1/partners/nothing': 1 });
  });

  it('answers 451 naming the region for an org held elsewhere; counts stay partner-wide', async () => {
    const [away, home] = smallWorld.orgs.map((o) => o.orgId);
    assert.ok(away && home);
    const region = 'https://analytics-eu.webexapis.com';
    const regionOf = (org: string) => (org === away ? region : undefined);
    const window = [END - HOUR, END] as const;
    for (const regionAnswer of ['json', 'location', 'message'] as const) {
      const { get } = setup(smallWorld, { regionOf, regionAnswer });
      const res = await get(recordsUrl(away, ...window));
      assert.equal(res.status, 451);
      const body = (await res.clone().json()) as ErrorBody & { location?: string };
      await assertWebexError(res, 451, /another region/);
      assert.equal(body.location, regionAnswer === 'json' ? region : undefined);
      assert.equal(res.headers.get('location'), regionAnswer === 'location' ? region : null);
      assert.equal(body.message.includes(region), regionAnswer !== 'location');
      assert.equal((await get(recordsUrl(home, ...window))).status, 200);
      const counts = (await (await get(countsUrl(...window))).json()) as {
        cdr_counts: { orgId: string }[];
      };
      assert.ok(counts.cdr_counts.some((c) => c.orgId === away));
    }
    // the rules come first: a bad window is still 400, no token still 401
    const { get } = setup(smallWorld, { regionOf });
    assert.equal((await get(recordsUrl(away, END, END))).status, 400);
    assert.equal((await get(recordsUrl(away, ...window), {})).status, 401);
  });
});
