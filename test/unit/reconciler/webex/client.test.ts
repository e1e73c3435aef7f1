import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type CdrError, isCdrError } from '../../../../src/errors.ts';
import type { Window } from '../../../../src/reconciler/plan.ts';
import {
  createWebexClient,
  type WebexClientConfig,
} from '../../../../src/reconciler/webex/client.ts';
import { recordingLogger } from '../../../helpers/logger.ts';
import { suiteTempDir } from '../../../helpers/temp.ts';

// ---------------------------------------------------------------------------
// Fakes

type Call = {
  url: URL;
  method: string;
  headers: Headers;
  body: string | undefined;
  signal: unknown;
};
type Handler = (req: Call, n: number) => Response | Promise<Response>;

const fakeFetch = (handler: Handler) => {
  const calls: Call[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const call: Call = {
      url: new URL(String(input)),
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      body: init?.body === undefined || init.body === null ? undefined : String(init.body),
      signal: init?.signal,
    };
    calls.push(call);
    return handler(call, calls.length);
  };
  return { fetch, calls };
};

const START = Date.parse('2024-05-10T10:00:00.000Z');
const WINDOW: Window = { start: START, end: START + 3_600_000 };
const BASE = 'https://analytics.webexapis.com';
const TOKEN = 'static-token-abc123';

/** A client over a fake fetch, a fake clock that sleeps advance, and a fixed random. */
const setup = (handler: Handler, config: Partial<WebexClientConfig> = {}, random = 0.5) => {
  const { fetch, calls } = fakeFetch(handler);
  const log = recordingLogger();
  const sleeps: number[] = [];
  let clock = Date.parse('2024-05-11T00:00:00.000Z');
  const client = createWebexClient(
    { auth: { kind: 'static', token: TOKEN }, logger: log.logger, ...config },
    {
      fetch,
      random: () => random,
      now: () => clock,
      sleep: async (ms, signal) => {
        signal?.throwIfAborted();
        sleeps.push(ms);
        clock += ms;
      },
    },
  );
  return {
    client,
    calls,
    sleeps,
    log,
    advance: (ms: number) => {
      clock += ms;
    },
  };
};

const json = (body: unknown, init: ResponseInit = {}) =>
  new Response(JSON.stringify(body), {
    ...init,
    headers: { 'Content-Type': 'application/json', ...(init.headers as Record<string, string>) },
  });

const orgs = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ orgId: `org-${from + i}`, count: from + i }));

const pageOf = (call: Call) => Number(call.url.searchParams.get('page') ?? '1');

/** Serves `total` orgs 200 per page, with the given headers per page. */
const countServer =
  (total: number, headers: (page: number) => Record<string, string> = () => ({})): Handler =>
  (call) => {
    const page = pageOf(call);
    const from = (page - 1) * 200;
    return json(
      { cdr_counts: orgs(from, Math.max(0, Math.min(200, total - from))) },
      { headers: headers(page) },
    );
  };

const rejectsWith = async (
  promise: Promise<unknown>,
  code: string,
  check: (e: CdrError) => void = () => {},
) => {
  await assert.rejects(promise, (e) => {
    assert.ok(isCdrError(e), `expected a CdrError, got ${e}`);
    assert.equal(e.code, code, e.message);
    check(e);
    return true;
  });
};

// ---------------------------------------------------------------------------

describe('webex client: requests', () => {
  it('sends the bearer token, Accept and the window in Webex format, with a timeout', async () => {
    const { client, calls } = setup(() => json({ cdr_counts: [{ orgId: 'o1', count: 3 }] }));
    assert.deepEqual(await client.countByOrg(WINDOW), [{ orgId: 'o1', count: 3 }]);
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.ok(call);
    assert.equal(call.method, 'GET');
    assert.equal(call.url.origin + call.url.pathname, `${BASE}/v1/partners/cdrcountbyorg`);
    assert.equal(call.url.searchParams.get('startTime'), '2024-05-10T10:00:00.000Z');
    assert.equal(call.url.searchParams.get('endTime'), '2024-05-10T11:00:00.000Z');
    assert.equal(call.url.searchParams.has('page'), false);
    assert.equal(call.headers.get('authorization'), `Bearer ${TOKEN}`);
    assert.equal(call.headers.get('accept'), 'application/json');
    assert.ok(call.signal instanceof AbortSignal);
  });

  it('keeps a path prefix of baseUrl and refuses windows Webex would refuse', async () => {
    const { client, calls } = setup(() => json({ items: [] }), {
      baseUrl: 'http://localhost:9999/webex/',
    });
    await client.recordsByOrg('org 1', WINDOW);
    assert.equal(calls[0]?.url.pathname, '/webex/v1/partners/cdrsbyorg');
    assert.equal(calls[0]?.url.searchParams.get('orgId'), 'org 1');
    await assert.rejects(client.countByOrg({ start: START, end: START + 3_600_001 }), RangeError);
    await assert.rejects(client.countByOrg({ start: START, end: START }), RangeError);
  });

  it('refuses an invalid configuration', () => {
    const { logger } = recordingLogger();
    const auth = { kind: 'static', token: 't' } as const;
    for (const bad of [
      { baseUrl: 'not a url' },
      { baseUrl: 'ftp://example.com' },
      { maxAttempts: 0 },
      { timeoutMs: 1.5 },
      { timeoutMs: 2 ** 31 }, // Node would fire such a timer after 1 ms
      { minIntervalMs: 30 * 24 * 3_600_000 },
      {
        auth: {
          kind: 'oauth',
          clientId: 'c',
          clientSecret: 's',
          refreshToken: 'r',
          tokenUrl: 'nope',
        },
      },
    ] as Partial<WebexClientConfig>[]) {
      assert.throws(
        () => createWebexClient({ auth, logger, ...bad }),
        (e) => isCdrError(e) && e.code === 'config_invalid',
      );
    }
  });

  it('paces requests when minIntervalMs is set', async () => {
    const { client, sleeps, calls } = setup(countServer(450), { minIntervalMs: 60_000 });
    assert.equal((await client.countByOrg(WINDOW)).length, 450);
    assert.equal(calls.length, 3);
    assert.deepEqual(sleeps, [60_000, 60_000]);
  });
});

describe('webex client: cdrcountbyorg pagination', () => {
  const spellings: Record<string, (page: number) => Record<string, string>> = {
    'X-Page-Count / X-Total-Org-Count / X-Current-Page': (p) => ({
      'X-Page-Count': '2',
      'X-Total-Org-Count': '283',
      'X-Current-Page': String(p),
    }),
    'Total-Pages / Total-Orgs / Current-Page': (p) => ({
      'Total-Pages': '2',
      'Total-Orgs': '283',
      'Current-Page': String(p),
    }),
    'numberOfPages / totalOrganizations / page': (p) => ({
      numberOfPages: '2',
      totalOrganizations: '283',
      page: String(p),
    }),
    'pages / x_total_org_count': () => ({ pages: '2', x_total_org_count: '283' }),
    'total orgs only': () => ({ 'X-Total-Orgs': '283' }),
    'no headers at all': () => ({}),
  };
  for (const [name, headers] of Object.entries(spellings)) {
    it(`fetches 283 orgs in 2 pages (${name})`, async () => {
      const { client, calls, log } = setup(countServer(283, headers));
      const result = await client.countByOrg(WINDOW);
      assert.equal(result.length, 283);
      assert.deepEqual(result.at(-1), { orgId: 'org-282', count: 282 });
      assert.deepEqual(
        calls.map((c) => c.url.searchParams.get('page')),
        [null, '2'],
      );
      assert.deepEqual(log.warnings(), []);
      const debug = log.lines.filter((l) => l.msg === 'webex cdrcountbyorg page');
      assert.equal(debug.length, 2, 'headers of every page are logged at debug');
    });
  }

  it('follows the page count while pages are full', async () => {
    const { client, calls } = setup(countServer(600, () => ({ 'X-Page-Count': '3' })));
    assert.equal((await client.countByOrg(WINDOW)).length, 600);
    assert.equal(calls.length, 3);
  });

  it('stops on a short page or an empty page when no page count is given', async () => {
    const short = setup(countServer(150));
    assert.equal((await short.client.countByOrg(WINDOW)).length, 150);
    assert.equal(short.calls.length, 1);

    const exact = setup(countServer(400));
    assert.equal((await exact.client.countByOrg(WINDOW)).length, 400);
    assert.equal(exact.calls.length, 3, 'two full pages, then an empty one');

    const none = setup(countServer(0));
    assert.deepEqual(await none.client.countByOrg(WINDOW), []);
    assert.equal(none.calls.length, 1);
  });

  it('stops when a page only repeats orgs (page parameter ignored)', async () => {
    const { client, calls, log } = setup(() => json({ cdr_counts: orgs(0, 200) }));
    assert.equal((await client.countByOrg(WINDOW)).length, 200);
    assert.equal(calls.length, 2);
    assert.equal(log.warnings().length, 1);
  });

  it('warns once about pagination-looking headers it does not understand', async () => {
    const { client, log } = setup(
      countServer(283, (p) => ({ 'X-Pagination-Cursor': `c${p}`, 'X-Next-Token': 'n' })),
    );
    assert.equal((await client.countByOrg(WINDOW)).length, 283);
    await client.countByOrg(WINDOW);
    const warnings = log.warnings();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]?.msg ?? '', /not recognised/);
    assert.deepEqual(warnings[0]?.fields?.headers, ['x-next-token', 'x-pagination-cursor']);
    const debug = log.lines.find((l) => l.msg === 'webex cdrcountbyorg page');
    const headers = (debug?.fields?.headers ?? {}) as Record<string, string>;
    assert.equal(headers['x-pagination-cursor'], 'c1');
  });

  it('warns when the total orgs header differs from what was collected', async () => {
    const { client, log } = setup(
      countServer(150, () => ({ 'X-Total-Org-Count': '150', 'X-Page-Count': '1' })),
    );
    await client.countByOrg(WINDOW);
    assert.deepEqual(log.warnings(), []);

    const off = setup(
      countServer(150, () => ({ 'X-Total-Org-Count': '151', 'X-Page-Count': '1' })),
    );
    assert.equal((await off.client.countByOrg(WINDOW)).length, 150);
    assert.equal(off.log.warnings().length, 1);
    assert.equal(off.log.warnings()[0]?.fields?.totalOrgs, 151);
  });

  it('stops at maxPages with a warning', async () => {
    const { client, calls, log } = setup(countServer(10_000), { maxPages: 3 });
    assert.equal((await client.countByOrg(WINDOW)).length, 600);
    assert.equal(calls.length, 3);
    assert.ok(log.warnings().some((w) => /page limit/.test(w.msg)));
  });

  it('rejects a malformed body with a clear error', async () => {
    const bad = setup(() => json({ cdr_counts: [{ orgId: 'o1', count: '12' }] }));
    await rejectsWith(bad.client.countByOrg(WINDOW), 'webex_invalid_response', (e) => {
      assert.match(e.message, /cdrcountbyorg/);
      assert.match(e.message, /cdr_counts\.0\.count/);
      assert.equal(e.retriable, false);
    });

    const missing = setup(() => json({ counts: [] }));
    await rejectsWith(missing.client.countByOrg(WINDOW), 'webex_invalid_response', (e) =>
      assert.match(e.message, /cdr_counts/),
    );
    const negative = setup(() => json({ cdr_counts: [{ orgId: 'o1', count: -1 }] }));
    await rejectsWith(negative.client.countByOrg(WINDOW), 'webex_invalid_response');
    const html = setup(() => new Response('<html>oops</html>'));
    await rejectsWith(html.client.countByOrg(WINDOW), 'webex_invalid_response', (e) =>
      assert.match(e.message, /not JSON/),
    );
  });

  it('tolerates extra keys in the body', async () => {
    const { client } = setup(() =>
      json({ cdr_counts: [{ orgId: 'o1', count: 1, orgName: 'Acme' }], totalPages: 1 }),
    );
    assert.deepEqual(await client.countByOrg(WINDOW), [{ orgId: 'o1', count: 1 }]);
  });
});

describe('webex client: retries', () => {
  it('honours Retry-After on 429 (seconds and HTTP date)', async () => {
    const { client, sleeps, calls, log } = setup((_, n) =>
      n === 1
        ? json({ message: 'slow down' }, { status: 429, headers: { 'Retry-After': '7' } })
        : json({ cdr_counts: [] }),
    );
    await client.countByOrg(WINDOW);
    assert.deepEqual(sleeps, [7_000]);
    assert.equal(calls.length, 2);
    assert.deepEqual(client.stats(), { requests: 2, retries: 1, throttled: 1, tokenRenewals: 0 });
    assert.ok(log.lines.some((l) => l.msg.includes('throttled')));

    const dated = setup((_, n) =>
      n === 1
        ? new Response('', {
            status: 429,
            headers: { 'Retry-After': 'Sat, 11 May 2024 00:00:42 GMT' },
          })
        : json({ cdr_counts: [] }),
    );
    await dated.client.countByOrg(WINDOW);
    assert.deepEqual(dated.sleeps, [42_000]);
  });

  it('waits 60 s on 429 without Retry-After; honours a long Retry-After up to 15 minutes, whatever maxBackoffMs', async () => {
    const plain = setup((_, n) =>
      n === 1 ? new Response('', { status: 429 }) : json({ items: [] }),
    );
    await plain.client.recordsByOrg('o1', WINDOW);
    assert.deepEqual(plain.sleeps, [60_000]);

    const long = setup(
      (_, n) =>
        n === 1
          ? new Response('', { status: 429, headers: { 'Retry-After': '300' } })
          : json({ items: [] }),
      { maxBackoffMs: 10_000 },
    );
    await long.client.recordsByOrg('o1', WINDOW);
    assert.deepEqual(long.sleeps, [300_000], 'not cut to maxBackoffMs');

    const capped = setup((_, n) =>
      n === 1
        ? new Response('', { status: 429, headers: { 'Retry-After': '3600' } })
        : json({ items: [] }),
    );
    await capped.client.recordsByOrg('o1', WINDOW);
    assert.deepEqual(capped.sleeps, [15 * 60_000]);
  });

  it('does not count 429s as attempts, but gives up after maxThrottledWaits of them', async () => {
    // 3 throttled answers, then a 503, then success: with maxAttempts 2 that still succeeds
    const mixed = setup(
      (_, n) =>
        n <= 3
          ? new Response('', { status: 429, headers: { 'Retry-After': '1' } })
          : n === 4
            ? new Response('', { status: 503 })
            : json({ items: [] }),
      { maxAttempts: 2 },
    );
    await mixed.client.recordsByOrg('o1', WINDOW);
    assert.equal(mixed.calls.length, 5);
    assert.equal(mixed.client.stats().throttled, 3);

    const always = setup(() => new Response('', { status: 429, headers: { 'Retry-After': '2' } }), {
      maxAttempts: 1,
    });
    await rejectsWith(always.client.countByOrg(WINDOW), 'webex_http', (e) => {
      assert.match(e.message, /HTTP 429/);
      assert.match(e.message, /20 times/);
      assert.equal(e.retriable, true);
    });
    assert.equal(always.calls.length, 21, 'the first answer and 20 waited out');
    assert.equal(always.sleeps.length, 20);

    const few = setup(() => new Response('', { status: 429 }), { maxThrottledWaits: 2 });
    await rejectsWith(few.client.countByOrg(WINDOW), 'webex_http');
    assert.equal(few.calls.length, 3);
  });

  it('retries 5xx with full-jitter exponential back-off, capped, and gives up after maxAttempts', async () => {
    const { client, sleeps, calls } = setup(
      () => json({ message: 'down', trackingId: 'T-503' }, { status: 503 }),
      { maxAttempts: 6, maxBackoffMs: 5_000 },
      0.5,
    );
    await rejectsWith(client.countByOrg(WINDOW), 'webex_http', (e) => {
      assert.match(e.message, /503/);
      assert.match(e.message, /T-503/);
      assert.match(e.message, /6 attempts/);
      assert.equal(e.retriable, true);
    });
    assert.equal(calls.length, 6);
    // random 0.5 x min(cap, 500 * 2^(attempt-1))
    assert.deepEqual(sleeps, [250, 500, 1_000, 2_000, 2_500]);
    assert.deepEqual(client.stats(), { requests: 6, retries: 5, throttled: 0, tokenRenewals: 0 });
  });

  it('draws the back-off from [0, cap) with the random source', async () => {
    const zero = setup(
      (_, n) => (n < 3 ? new Response('', { status: 502 }) : json({ items: [] })),
      {},
      0,
    );
    await zero.client.recordsByOrg('o', WINDOW);
    assert.deepEqual(zero.sleeps, [0, 0]);
    const high = setup(
      (_, n) => (n < 3 ? new Response('', { status: 504 }) : json({ items: [] })),
      {},
      0.999,
    );
    await high.client.recordsByOrg('o', WINDOW);
    assert.deepEqual(high.sleeps, [499, 999]);
  });

  it('retries network errors and timeouts', async () => {
    const { client, calls, sleeps } = setup((_, n) => {
      if (n === 1) throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
      if (n === 2) throw new DOMException('The operation timed out', 'TimeoutError');
      return json({ items: [{ 'Report ID': 'r1' }] });
    });
    assert.deepEqual(await client.recordsByOrg('o1', WINDOW), [{ 'Report ID': 'r1' }]);
    assert.equal(calls.length, 3);
    assert.equal(sleeps.length, 2);

    const dead = setup(
      () => {
        throw new DOMException('The operation timed out', 'TimeoutError');
      },
      { maxAttempts: 2, timeoutMs: 1_234 },
    );
    await rejectsWith(dead.client.recordsByOrg('o1', WINDOW), 'webex_http', (e) =>
      assert.match(e.message, /timed out after 1234 ms/),
    );
    assert.equal(dead.calls.length, 2);
  });

  for (const status of [400, 404, 451]) {
    it(`fails at once on ${status}, with Webex's message and trackingId but never the token`, async () => {
      const { client, calls, sleeps } = setup(() =>
        json(
          { message: `Webex says ${status}`, trackingId: `ROUTER_${status}`, errors: [] },
          { status },
        ),
      );
      await rejectsWith(client.countByOrg(WINDOW), 'webex_http', (e) => {
        assert.match(e.message, new RegExp(`HTTP ${status}`));
        assert.match(e.message, new RegExp(`Webex says ${status}`));
        assert.match(e.message, new RegExp(`ROUTER_${status}`));
        assert.ok(!e.message.includes(TOKEN));
        assert.equal(e.retriable, false);
        if (status === 451) assert.match(e.message, /region/);
      });
      assert.equal(calls.length, 1);
      assert.deepEqual(sleeps, []);
    });
  }

  it('takes the trackingId from the header when the body has none', async () => {
    const { client } = setup(
      () => new Response('bad', { status: 400, headers: { TrackingID: 'HDR_1' } }),
    );
    await rejectsWith(client.countByOrg(WINDOW), 'webex_http', (e) =>
      assert.match(e.message, /HDR_1/),
    );
  });

  it('does not follow redirects (the token must stay on baseUrl)', async () => {
    const { client, calls } = setup(
      () => new Response('', { status: 302, headers: { Location: 'https://evil.example/x' } }),
    );
    await rejectsWith(client.countByOrg(WINDOW), 'webex_http', (e) =>
      assert.match(e.message, /302.*not followed/),
    );
    assert.equal(calls.length, 1);
  });

  it('fails at once on 401 with a static token: webex_auth_failed, naming the setting to fix', async () => {
    const { client, calls } = setup(() => json({ message: 'unauthorized' }, { status: 401 }));
    await rejectsWith(client.countByOrg(WINDOW), 'webex_auth_failed', (e) => {
      assert.match(e.message, /401/);
      assert.match(e.message, /WEBEX_ACCESS_TOKEN .*OAuth refresh flow/);
      assert.equal(e.retriable, false);
      assert.ok(!e.message.includes(TOKEN));
    });
    assert.equal(calls.length, 1);
  });

  it('a 403 on cdrcountbyorg concerns the token (webex_auth_failed); on cdrsbyorg only that org (webex_http)', async () => {
    const forbidden = () =>
      json({ message: 'forbidden', trackingId: 'ROUTER_403', errors: [] }, { status: 403 });
    const partner = setup(forbidden);
    await rejectsWith(partner.client.countByOrg(WINDOW), 'webex_auth_failed', (e) => {
      assert.match(e.message, /HTTP 403.*ROUTER_403/);
      assert.match(e.message, /spark-admin:calling_cdr_read/);
      assert.ok(!e.message.includes(TOKEN));
    });
    const org = setup(forbidden);
    await rejectsWith(org.client.recordsByOrg('o1', WINDOW), 'webex_http', (e) => {
      assert.match(e.message, /HTTP 403.*forbidden for this org/);
      assert.equal(e.retriable, false);
    });
    assert.equal(org.calls.length, 1);
  });
});

describe('webex client: cdrsbyorg', () => {
  it('returns raw items from {items} and bare arrays, following Link next on the same origin', async () => {
    const { client, calls } = setup((call) => {
      const cursor = call.url.searchParams.get('cursor');
      if (cursor === null) {
        return json(
          { items: [{ 'Report ID': 'a' }, { 'Report ID': 'b' }], extra: true },
          { headers: { Link: '</v1/partners/cdrsbyorg?orgId=o1&cursor=2>; rel="next"' } },
        );
      }
      if (cursor === '2') {
        return json([{ 'Report ID': 'c' }], {
          headers: {
            Link: `<${BASE}/v1/partners/cdrsbyorg?orgId=o1&cursor=3>; rel=next, <${BASE}/first>; rel="first"`,
          },
        });
      }
      return json({ items: [{ 'Report ID': 'd', odd: 1 }] });
    });
    assert.deepEqual(await client.recordsByOrg('o1', WINDOW), [
      { 'Report ID': 'a' },
      { 'Report ID': 'b' },
      { 'Report ID': 'c' },
      { 'Report ID': 'd', odd: 1 },
    ]);
    assert.equal(calls.length, 3);
    assert.equal(calls[0]?.url.searchParams.get('startTime'), '2024-05-10T10:00:00.000Z');
    for (const call of calls) {
      assert.equal(call.url.origin, BASE);
      assert.equal(call.headers.get('authorization'), `Bearer ${TOKEN}`);
    }
  });

  it('refuses a Link next on another host and never sends the token there', async () => {
    for (const foreign of [
      'https://evil.example.com/v1/partners/cdrsbyorg?page=2',
      'http://analytics.webexapis.com/v1/partners/cdrsbyorg?page=2',
      'https://analytics.webexapis.com:8443/v1/partners/cdrsbyorg?page=2',
    ]) {
      const { client, calls } = setup(() =>
        json({ items: [{ id: 1 }] }, { headers: { Link: `<${foreign}>; rel="next"` } }),
      );
      await rejectsWith(client.recordsByOrg('o1', WINDOW), 'webex_invalid_response', (e) =>
        assert.match(e.message, /another origin/),
      );
      assert.equal(calls.length, 1, foreign);
      assert.ok(calls.every((c) => c.url.origin === BASE));
    }
  });

  it('refuses a Link loop and a body of the wrong shape', async () => {
    const loop = setup(() =>
      json({ items: [] }, { headers: { Link: '</v1/partners/cdrsbyorg?cursor=x>; rel="next"' } }),
    );
    await rejectsWith(loop.client.recordsByOrg('o1', WINDOW), 'webex_invalid_response', (e) =>
      assert.match(e.message, /repeats/),
    );
    assert.equal(loop.calls.length, 2);

    const wrong = setup(() => json({ records: [] }));
    await rejectsWith(wrong.client.recordsByOrg('o1', WINDOW), 'webex_invalid_response');
  });

  it('treats an empty body as no records', async () => {
    const { client } = setup(() => new Response(null, { status: 204 }));
    assert.deepEqual(await client.recordsByOrg('o1', WINDOW), []);
  });
});

describe('webex client: stopping and guarding a call', () => {
  it('an aborted signal ends a call waiting out a 429 at once, without another request', async () => {
    const ac = new AbortController();
    const { fetch, calls } = fakeFetch(
      () => new Response('', { status: 429, headers: { 'Retry-After': '900' } }),
    );
    const client = createWebexClient(
      { auth: { kind: 'static', token: TOKEN }, logger: recordingLogger().logger },
      { fetch },
    );
    const started = Date.now();
    const call = client.countByOrg(WINDOW, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(call, (e) => e instanceof Error && e.name === 'AbortError');
    assert.ok(Date.now() - started < 5_000, 'not after the 15 minute Retry-After');
    assert.equal(calls.length, 1);
  });

  it('an aborted signal ends a request in flight and a pacing wait', async () => {
    const ac = new AbortController();
    const { fetch } = fakeFetch(
      (call) =>
        new Promise<Response>((_, reject) => {
          const signal = call.signal as AbortSignal;
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
    );
    const client = createWebexClient(
      { auth: { kind: 'static', token: TOKEN }, logger: recordingLogger().logger },
      { fetch },
    );
    const inFlight = client.recordsByOrg('o', WINDOW, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(inFlight, (e) => e instanceof Error && e.name === 'AbortError');

    const paced = createWebexClient(
      {
        auth: { kind: 'static', token: TOKEN },
        logger: recordingLogger().logger,
        minIntervalMs: 3_600_000,
      },
      { fetch: fakeFetch(() => json({ items: [] })).fetch },
    );
    await paced.recordsByOrg('o', WINDOW); // takes the first slot
    const stop = new AbortController();
    const waiting = paced.recordsByOrg('o', WINDOW, { signal: stop.signal });
    setTimeout(() => stop.abort(), 20);
    await assert.rejects(waiting, (e) => e instanceof Error && e.name === 'AbortError');
  });

  it('calls beforeRequest before every request (pages and retries); what it throws ends the call', async () => {
    const { client, calls } = setup((_, n) =>
      n === 1 ? new Response('', { status: 503 }) : countServer(450)(_, n),
    );
    let checks = 0;
    assert.equal(
      (await client.countByOrg(WINDOW, { beforeRequest: () => void checks++ })).length,
      450,
    );
    assert.equal(calls.length, 4);
    assert.equal(checks, 4);

    const guarded = setup(countServer(450));
    let allowed = 2;
    await assert.rejects(
      guarded.client.countByOrg(WINDOW, {
        beforeRequest: () => {
          if (allowed-- <= 0) throw new Error('window aged out');
        },
      }),
      /window aged out/,
    );
    assert.equal(guarded.calls.length, 2, 'no third page');
  });

  it('warns when a token would travel over plain http to another host', () => {
    const warnedFor = (config: Partial<WebexClientConfig>) => {
      const log = recordingLogger();
      createWebexClient({ auth: { kind: 'static', token: 't' }, logger: log.logger, ...config });
      return log.warnings().map((w) => `${w.msg} ${JSON.stringify(w.fields)}`);
    };
    assert.deepEqual(warnedFor({}), []);
    assert.deepEqual(warnedFor({ baseUrl: 'http://127.0.0.1:9999' }), []);
    assert.deepEqual(warnedFor({ baseUrl: 'http://localhost:9999' }), []);
    assert.deepEqual(warnedFor({ baseUrl: 'http://[::1]:9999' }), []);
    const remote = warnedFor({ baseUrl: 'http://webex-proxy.example:8080' });
    assert.equal(remote.length, 1);
    assert.match(remote[0] ?? '', /plain http.*unencrypted.*webex-proxy\.example/);
    const oauth = warnedFor({
      auth: {
        kind: 'oauth',
        clientId: 'c',
        clientSecret: 'secret',
        refreshToken: 'refresh',
        tokenUrl: 'http://tokens.example/v1/access_token',
      },
    });
    assert.equal(oauth.length, 1);
    assert.match(oauth[0] ?? '', /token URL.*tokens\.example/);
    assert.ok(!oauth[0]?.includes('secret') && !oauth[0]?.includes('refresh'));
  });
});

describe('webex client: OAuth', () => {
  const TOKEN_URL = 'https://webexapis.com/v1/access_token';
  const oauth = {
    kind: 'oauth',
    clientId: 'cid',
    clientSecret: 'csecret',
    refreshToken: 'refresh-1',
  } as const;

  /** Token endpoint issuing access-N; the API accepts only the newest token. */
  const server = (opts: { rotate?: boolean; expiresIn?: number } = {}) => {
    let issued = 0;
    const handler: Handler = (call) => {
      if (call.url.href === TOKEN_URL) {
        issued++;
        return json({
          access_token: `access-${issued}`,
          expires_in: opts.expiresIn ?? 3600,
          token_type: 'Bearer',
          ...(opts.rotate ? { refresh_token: `refresh-${issued + 1}` } : {}),
        });
      }
      if (call.headers.get('authorization') !== `Bearer access-${issued}`) {
        return json({ message: 'expired' }, { status: 401 });
      }
      return json({ cdr_counts: [] });
    };
    return { handler, revoke: () => issued++ };
  };

  it('obtains a token with the refresh-token grant and reuses it until near expiry', async () => {
    const { handler } = server();
    const { client, calls, advance } = setup(handler, { auth: oauth });
    await client.countByOrg(WINDOW);
    await client.countByOrg(WINDOW);
    assert.equal(calls.length, 3);
    const [tokenCall, api] = calls;
    assert.equal(tokenCall?.url.href, TOKEN_URL);
    assert.equal(tokenCall?.method, 'POST');
    assert.equal(tokenCall?.headers.get('content-type'), 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(tokenCall?.body)), {
      grant_type: 'refresh_token',
      client_id: 'cid',
      client_secret: 'csecret',
      refresh_token: 'refresh-1',
    });
    assert.equal(api?.headers.get('authorization'), 'Bearer access-1');

    advance(3600_000 - 5 * 60_000); // inside the refresh margin
    await client.countByOrg(WINDOW);
    assert.equal(calls.length, 5);
    assert.equal(calls[3]?.url.href, TOKEN_URL);
    assert.equal(calls[4]?.headers.get('authorization'), 'Bearer access-2');
    assert.equal(client.stats().tokenRenewals, 1);
  });

  it('refreshes after a 401 once, and keeps a rotated refresh token', async () => {
    const { handler, revoke } = server({ rotate: true });
    const rotated: string[] = [];
    const { client, calls } = setup(handler, {
      auth: { ...oauth, tokenUrl: TOKEN_URL },
      onRefreshTokenRotated: (t) => rotated.push(t),
    });
    await client.countByOrg(WINDOW);
    revoke(); // the API no longer accepts access-1
    await client.countByOrg(WINDOW);
    const tokenCalls = calls.filter((c) => c.url.href === TOKEN_URL);
    assert.equal(tokenCalls.length, 2);
    assert.equal(new URLSearchParams(tokenCalls[1]?.body).get('refresh_token'), 'refresh-2');
    assert.deepEqual(rotated, ['refresh-2', 'refresh-4']);
    assert.deepEqual(
      calls.map((c) => (c.url.href === TOKEN_URL ? 'token' : c.headers.get('authorization'))),
      ['token', 'Bearer access-1', 'Bearer access-1', 'token', 'Bearer access-3'],
    );
  });

  it('gives up when the API still answers 401 after the refresh', async () => {
    const { client, calls } = setup(
      (call) =>
        call.url.href === TOKEN_URL
          ? json({ access_token: 'a', expires_in: 3600 })
          : new Response('', { status: 401 }),
      { auth: oauth },
    );
    await rejectsWith(client.countByOrg(WINDOW), 'webex_auth_failed', (e) => {
      assert.match(e.message, /401/);
      assert.match(e.message, /WEBEX_CLIENT_ID, WEBEX_CLIENT_SECRET and WEBEX_REFRESH_TOKEN/);
      assert.equal(e.retriable, false);
    });
    assert.deepEqual(
      calls.map((c) => c.url.origin),
      ['https://webexapis.com', BASE, 'https://webexapis.com', BASE],
    );
  });

  it('shares one refresh between concurrent requests', async () => {
    const { handler } = server();
    const { client, calls } = setup(handler, { auth: oauth });
    await Promise.all([
      client.countByOrg(WINDOW),
      client.recordsByOrg('o', WINDOW).catch(() => []),
    ]);
    assert.equal(calls.filter((c) => c.url.href === TOKEN_URL).length, 1);
  });

  it('reports a refused refresh token and a malformed token response clearly, without secrets', async () => {
    const refused = setup(
      () =>
        json(
          { error: 'invalid_grant', error_description: 'refresh token expired' },
          { status: 400 },
        ),
      { auth: oauth },
    );
    await rejectsWith(refused.client.countByOrg(WINDOW), 'webex_auth_failed', (e) => {
      assert.match(e.message, /OAuth.*400.*invalid_grant/);
      assert.match(e.message, /renew WEBEX_REFRESH_TOKEN/);
      assert.ok(!e.message.includes('csecret') && !e.message.includes('refresh-1'));
      assert.equal(e.retriable, false);
    });
    assert.equal(refused.calls.length, 1);

    const malformed = setup(() => json({ token: 'x' }), { auth: oauth });
    await rejectsWith(malformed.client.countByOrg(WINDOW), 'webex_invalid_response', (e) =>
      assert.match(e.message, /access_token/),
    );
  });

  it('retries a token endpoint that answers 5xx', async () => {
    const { handler } = server();
    const { client, calls } = setup(
      (call, n) => (n === 1 ? new Response('', { status: 503 }) : handler(call, n)),
      { auth: oauth },
    );
    await client.countByOrg(WINDOW);
    assert.deepEqual(
      calls.map((c) => c.url.origin),
      ['https://webexapis.com', 'https://webexapis.com', BASE],
    );
  });
});

describe('webex client: token file', () => {
  const dir = suiteTempDir('webex-token-');

  it('reads the token from the file and re-reads it once after a 401', async () => {
    const path = join(dir, 'token');
    await writeFile(path, 'file-token-1\n');
    let accepted = 'file-token-1';
    const { client, calls } = setup(
      (call) =>
        call.headers.get('authorization') === `Bearer ${accepted}`
          ? json({ cdr_counts: [] })
          : new Response('', { status: 401 }),
      { auth: { kind: 'file', path } },
    );
    await client.countByOrg(WINDOW);
    assert.equal(calls[0]?.headers.get('authorization'), 'Bearer file-token-1');

    accepted = 'file-token-2';
    await writeFile(path, 'file-token-2');
    await client.countByOrg(WINDOW);
    assert.deepEqual(
      calls.map((c) => c.headers.get('authorization')),
      ['Bearer file-token-1', 'Bearer file-token-1', 'Bearer file-token-2'],
    );
    assert.equal(client.stats().tokenRenewals, 1);

    accepted = 'nobody';
    await rejectsWith(client.countByOrg(WINDOW), 'webex_auth_failed', (e) => {
      assert.match(e.message, /401/);
      assert.ok(e.message.includes(`WEBEX_ACCESS_TOKEN_FILE (${path})`));
      assert.ok(!e.message.includes('file-token'));
    });
    assert.equal(calls.length, 4, 'unchanged file: no second attempt');
  });

  it('reports a missing or empty token file as a configuration problem', async () => {
    const missing = setup(() => json({ cdr_counts: [] }), {
      auth: { kind: 'file', path: join(dir, 'nope') },
    });
    await rejectsWith(missing.client.countByOrg(WINDOW), 'config_invalid');
    const emptyPath = join(dir, 'empty');
    await writeFile(emptyPath, '  \n');
    const empty = setup(() => json({ cdr_counts: [] }), {
      auth: { kind: 'file', path: emptyPath },
    });
    await rejectsWith(empty.client.countByOrg(WINDOW), 'config_invalid', (e) =>
      assert.match(e.message, /empty/),
    );
    assert.equal(empty.calls.length, 0);
  });
});

describe('webex client: region redirect (451)', () => {
  const EU = 'https://analytics-eu.webexapis.com';
  const moved = (where: Record<string, unknown> = { location: EU }, headers = {}) =>
    json(
      { message: 'Org is in another region', trackingId: 'ROUTER_451', ...where },
      { status: 451, headers },
    );
  /** o1 lives in EU: the home region answers 451, EU serves it (two pages). */
  const regions: Handler = (call) => {
    if (call.url.origin === BASE) {
      if (call.url.pathname.endsWith('cdrcountbyorg')) return json({ cdr_counts: [] });
      return call.url.searchParams.get('orgId') === 'o1'
        ? moved()
        : json({ items: [{ id: 'home' }] });
    }
    if (call.url.searchParams.get('cursor') === null) {
      return json(
        { items: [{ id: 'eu-1' }] },
        { headers: { Link: `<${EU}/v1/partners/cdrsbyorg?orgId=o1&cursor=1>; rel="next"` } },
      );
    }
    return json({ items: [{ id: 'eu-2' }] });
  };

  it('follows it to an allow-listed region, remembers the org there, and logs it once', async () => {
    const { client, calls, log, sleeps } = setup(regions);
    assert.deepEqual(await client.recordsByOrg('o1', WINDOW), [{ id: 'eu-1' }, { id: 'eu-2' }]);
    assert.deepEqual(
      calls.map((c) => `${c.url.origin} ${c.url.searchParams.get('cursor') ?? '-'}`),
      [`${BASE} -`, `${EU} -`, `${EU} 1`],
    );
    const [home, eu] = calls;
    assert.equal(eu?.url.pathname, '/v1/partners/cdrsbyorg');
    assert.equal(eu?.url.search, home?.url.search, 'same org and window');
    assert.ok(calls.every((c) => c.headers.get('authorization') === `Bearer ${TOKEN}`));
    assert.deepEqual(sleeps, [], 'a redirect is not a retry');

    // the next window goes straight to the region; other orgs stay at home
    const next = { start: WINDOW.end, end: WINDOW.end + 3_600_000 };
    assert.deepEqual(await client.recordsByOrg('o1', next), [{ id: 'eu-1' }, { id: 'eu-2' }]);
    assert.equal(calls[3]?.url.origin, EU);
    assert.deepEqual(await client.recordsByOrg('o2', WINDOW), [{ id: 'home' }]);
    assert.equal(calls.at(-1)?.url.origin, BASE);
    const logged = log.lines.filter((l) => /region redirect/.test(l.msg));
    assert.equal(logged.length, 1);
    assert.deepEqual(logged[0]?.fields, { orgId: 'o1', host: EU, from: BASE });
  });

  it('finds the region in a Location header or the message', async () => {
    for (const answer of [
      () => moved({}, { Location: `${EU}/v1/partners/cdrsbyorg` }),
      () => moved({ message: `Use ${EU} for this organization` }),
      () => new Response(`moved to ${EU}`, { status: 451 }),
    ]) {
      const { client, calls } = setup((call) =>
        call.url.origin === BASE ? answer() : json({ items: [{ id: 'eu' }] }),
      );
      assert.deepEqual(await client.recordsByOrg('o1', WINDOW), [{ id: 'eu' }]);
      assert.deepEqual(
        calls.map((c) => c.url.origin),
        [BASE, EU],
      );
    }
  });

  it('refuses a host off the allow-list, naming it and the setting; the token never goes there', async () => {
    const { client, calls } = setup(() => moved({ location: 'https://webex-eu.evil.example' }));
    await rejectsWith(client.recordsByOrg('o1', WINDOW), 'webex_http', (e) => {
      assert.match(e.message, /HTTP 451/);
      assert.match(e.message, /ROUTER_451/);
      assert.match(e.message, /https:\/\/webex-eu\.evil\.example/);
      assert.match(e.message, /not in WEBEX_REDIRECT_HOSTS \(\*\.webexapis\.com\)/);
      assert.equal(e.retriable, false);
    });
    assert.deepEqual(
      calls.map((c) => c.url.origin),
      [BASE],
    );
    // plain http to a Webex host is refused too
    const plain = setup(() => moved({ location: 'http://analytics-eu.webexapis.com' }));
    await rejectsWith(plain.client.recordsByOrg('o1', WINDOW), 'webex_http', (e) =>
      assert.match(e.message, /http:\/\/analytics-eu\.webexapis\.com, which is not in/),
    );
    assert.equal(plain.calls.length, 1);
  });

  it('refuses a 451 that names no host, and a redirect loop', async () => {
    const none = setup(() => moved({}));
    await rejectsWith(none.client.recordsByOrg('o1', WINDOW), 'webex_http', (e) =>
      assert.match(e.message, /names no host to follow/),
    );
    assert.equal(none.calls.length, 1);

    const loop = setup((call) =>
      moved({ location: call.url.origin === BASE ? EU : `${BASE}/v1/partners/cdrsbyorg` }),
    );
    await rejectsWith(loop.client.recordsByOrg('o1', WINDOW), 'webex_http', (e) =>
      assert.match(e.message, /redirect loop for org o1/),
    );
    assert.deepEqual(
      loop.calls.map((c) => c.url.origin),
      [BASE, EU],
    );
  });

  it('follows an org back home when its region answers 451 naming the base URL', async () => {
    let inEu = true;
    const { client, calls } = setup((call) => {
      const here = call.url.origin === BASE ? 'home' : 'eu';
      if ((here === 'home') === inEu) {
        return moved({ location: here === 'home' ? EU : BASE });
      }
      return json({ items: [{ id: here }] });
    });
    assert.deepEqual(await client.recordsByOrg('o1', WINDOW), [{ id: 'eu' }]);
    inEu = false;
    assert.deepEqual(await client.recordsByOrg('o1', WINDOW), [{ id: 'home' }]);
    assert.deepEqual(await client.recordsByOrg('o1', WINDOW), [{ id: 'home' }]);
    assert.deepEqual(
      calls.map((c) => c.url.origin),
      [BASE, EU, EU, BASE, BASE],
    );
  });

  it('takes the allow-list from redirectHosts (tests allow a loopback port), and refuses a bad one', async () => {
    const region = 'http://127.0.0.1:9001';
    const { client, calls, log } = setup(
      (call) => (call.url.origin === BASE ? moved({ location: region }) : json({ items: [] })),
      { redirectHosts: [region] },
    );
    assert.deepEqual(await client.recordsByOrg('o1', WINDOW), []);
    assert.deepEqual(
      calls.map((c) => c.url.origin),
      [BASE, region],
    );
    assert.deepEqual(log.warnings(), [], 'loopback http is not warned about');
    const remote = setup(() => json({ items: [] }), {
      redirectHosts: ['http://region.example:80'],
    });
    assert.match(remote.log.warnings()[0]?.msg ?? '', /plain http/);
    assert.throws(
      () => setup(() => json({}), { redirectHosts: ['*.com'] }),
      (e) => isCdrError(e) && e.code === 'config_invalid' && /redirectHosts/.test(e.message),
    );
  });

  it('does not follow a 451 for cdrcountbyorg (partner-wide) but names the region in the hint', async () => {
    const { client, calls } = setup(() => moved());
    await rejectsWith(client.countByOrg(WINDOW), 'webex_http', (e) =>
      assert.match(
        e.message,
        /another Webex region at https:\/\/analytics-eu\.webexapis\.com; set WEBEX_API_BASE_URL/,
      ),
    );
    assert.equal(calls.length, 1);
  });
});
