import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CdrError, isCdrError } from '../../../../src/errors.ts';
import { silentLogger } from '../../../../src/log.ts';
import {
  classifyFetchError,
  classifyReply,
  classifyTokenError,
  fullJitterBackoff,
  type Outcome,
  type Policy,
  type Reply,
  type ReplyScope,
  requestWithPolicy,
} from '../../../../src/reconciler/webex/request.ts';

const URL_A = new URL('https://analytics.webexapis.com/v1/partners/cdrsbyorg?orgId=o1');
const NOW = Date.parse('2024-05-11T00:00:00.000Z');
const SCOPE: ReplyScope = { what: 'cdrsbyorg o1', tokenRefused: 'fix WEBEX_ACCESS_TOKEN' };

const reply = (status: number, body = '', headers: Record<string, string> = {}): Reply => ({
  status,
  headers: new Headers(headers),
  text: body,
  url: URL_A,
});

const classify = (r: Reply, scope: Partial<ReplyScope> = {}) =>
  classifyReply(r, 'tok', { ...SCOPE, ...scope }, NOW);

const errorOf = (o: Outcome): CdrError => {
  assert.ok(o.kind === 'fail' || o.kind === 'renew', `expected fail or renew, got ${o.kind}`);
  assert.ok(isCdrError(o.error));
  return o.error;
};

describe('webex request: classifying one attempt', () => {
  it('2xx is ok, with the reply', () => {
    const r = reply(200, '{}');
    assert.deepEqual(classify(r), { kind: 'ok', reply: r });
    assert.equal(classify(reply(204)).kind, 'ok');
  });

  it('401 asks for a renewed token, carrying the error to fail with if that does not help', () => {
    const o = classify(reply(401, JSON.stringify({ message: 'expired', trackingId: 'T1' })));
    assert.equal(o.kind, 'renew');
    assert.equal(o.kind === 'renew' && o.token, 'tok');
    const e = errorOf(o);
    assert.equal(e.code, 'webex_auth_failed');
    assert.equal(e.retriable, false);
    assert.match(
      e.message,
      /^cdrsbyorg o1: HTTP 401: expired \(trackingId T1\): fix WEBEX_ACCESS_TOKEN$/,
    );
  });

  it('429 is throttled, waiting Retry-After (60 s without one, at most 15 minutes)', () => {
    const wait = (headers: Record<string, string>) => {
      const o = classify(reply(429, '', headers));
      assert.equal(o.kind, 'throttled');
      return o.kind === 'throttled' ? o.waitMs : undefined;
    };
    assert.equal(wait({ 'Retry-After': '7' }), 7_000);
    assert.equal(wait({ 'Retry-After': 'Sat, 11 May 2024 00:00:42 GMT' }), 42_000);
    assert.equal(wait({}), 60_000);
    assert.equal(wait({ 'Retry-After': '3600' }), 15 * 60_000);
  });

  it('5xx is worth another attempt; the message to give up with names status and trackingId', () => {
    const o = classify(reply(503, JSON.stringify({ message: 'down', trackingId: 'T-503' })));
    assert.deepEqual(o, {
      kind: 'retry',
      log: 'webex request failed, retrying',
      detail: { status: 503 },
      exhausted: { message: 'cdrsbyorg o1: HTTP 503: down (trackingId T-503)' },
    });
  });

  it('451 for an org is a region to follow; without one, a failure naming the setting', () => {
    const r = reply(451, JSON.stringify({ message: 'see https://analytics-eu.webexapis.com' }));
    assert.deepEqual(classify(r, { org: 'o1' }), { kind: 'region', reply: r, org: 'o1' });
    const e = errorOf(classify(r));
    assert.equal(e.code, 'webex_http');
    assert.equal(e.retriable, false);
    assert.match(e.message, /at https:\/\/analytics-eu\.webexapis\.com; set WEBEX_API_BASE_URL/);
  });

  it('403 fails: the token when partner-wide, the org otherwise', () => {
    const partner = errorOf(classify(reply(403), { partnerWide: true }));
    assert.equal(partner.code, 'webex_auth_failed');
    assert.match(partner.message, /spark-admin:calling_cdr_read/);
    const org = errorOf(classify(reply(403), { org: 'o1' }));
    assert.equal(org.code, 'webex_http');
    assert.match(org.message, /forbidden for this org/);
  });

  it('other statuses fail at once, a redirect with its target named', () => {
    const moved = errorOf(classify(reply(302, '', { Location: 'https://elsewhere.example/x' })));
    assert.match(
      moved.message,
      /HTTP 302 \(redirect to https:\/\/elsewhere\.example\/x not followed/,
    );
    for (const status of [400, 404, 409]) {
      const e = errorOf(classify(reply(status)));
      assert.equal(e.code, 'webex_http');
      assert.equal(e.retriable, false);
      assert.equal(e.message, `cdrsbyorg o1: HTTP ${status}`);
    }
  });

  it('a network error or timeout is worth another attempt, keeping the cause', () => {
    const timeout = new DOMException('The operation timed out', 'TimeoutError');
    assert.deepEqual(classifyFetchError(timeout, 'what', 1_234), {
      kind: 'retry',
      log: 'webex request failed, retrying',
      detail: { reason: 'timed out after 1234 ms' },
      exhausted: { message: 'what: timed out after 1234 ms', cause: timeout },
    });
    const reset = new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
    const o = classifyFetchError(reset, 'what', 1);
    assert.equal(
      o.kind === 'retry' && 'reason' in o.detail && o.detail.reason,
      'fetch failed (ECONNRESET)',
    );
  });

  it('a token error is retried only when it is a retriable CdrError', () => {
    const flaky = new CdrError('webex_http', 'token endpoint 503');
    assert.deepEqual(classifyTokenError(flaky), {
      kind: 'retry',
      log: 'webex token unavailable, retrying',
      detail: { reason: 'token endpoint 503' },
      exhausted: { error: flaky },
    });
    const refused = new CdrError('webex_auth_failed', 'refused');
    assert.deepEqual(classifyTokenError(refused), { kind: 'fail', error: refused });
    const bug = new TypeError('boom');
    assert.deepEqual(classifyTokenError(bug), { kind: 'fail', error: bug });
  });
});

// ---------------------------------------------------------------------------

const OK: Outcome = { kind: 'ok', reply: reply(200, '[]') };
const RETRY: Outcome = classifyReply(reply(502), 'tok', SCOPE, NOW);
const THROTTLED: Outcome = { kind: 'throttled', waitMs: 1_000, message: 'what: HTTP 429' };

/** The policy loop over a script of outcomes (the last one repeats), recording what it does. */
const run = async (
  script: Outcome[],
  policy: Partial<Policy> = {},
  options: { renew?: boolean; follow?: (current: URL) => URL } = {},
) => {
  const urls: string[] = [];
  const sleeps: number[] = [];
  const renewals: string[] = [];
  const counters = { retries: 0, throttled: 0 };
  const attempt = async (url: URL): Promise<Outcome> => {
    urls.push(url.href);
    return script[Math.min(urls.length, script.length) - 1] as Outcome;
  };
  const result = requestWithPolicy(
    attempt,
    URL_A,
    'what',
    { maxAttempts: 3, maxThrottledWaits: 2, backoff: (n) => n * 100, ...policy },
    {
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      renew: async (rejected) => {
        renewals.push(rejected);
        return options.renew ?? true;
      },
      follow: (_reply, current) => options.follow?.(current) ?? current,
      logger: silentLogger,
      counters,
    },
  ).then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return { result: await result, urls, sleeps, renewals, counters };
};

const failedWith = (r: { ok: boolean; error?: unknown }): CdrError => {
  assert.equal(r.ok, false);
  assert.ok(isCdrError(r.error), String(r.error));
  return r.error;
};

describe('webex request: the retry policy loop', () => {
  it('returns the first ok reply', async () => {
    const { result, urls, sleeps } = await run([OK]);
    assert.deepEqual(result, { ok: true, value: (OK as { reply: Reply }).reply });
    assert.equal(urls.length, 1);
    assert.deepEqual(sleeps, []);
  });

  it('retries with back-off by failures counted, and gives up after maxAttempts', async () => {
    const saved = await run([RETRY, RETRY, OK]);
    assert.equal(saved.result.ok, true);
    assert.deepEqual(saved.sleeps, [100, 200]);
    assert.deepEqual(saved.counters, { retries: 2, throttled: 0 });

    const lost = await run([RETRY]);
    const e = failedWith(lost.result);
    assert.equal(e.code, 'webex_http');
    assert.equal(e.retriable, true);
    assert.equal(e.message, 'cdrsbyorg o1: HTTP 502 (gave up after 3 attempts)');
    assert.equal(lost.urls.length, 3);
    assert.deepEqual(lost.sleeps, [100, 200]);
  });

  it('gives up on a network error with its cause, on a token error with that error', async () => {
    const cause = new TypeError('fetch failed');
    const network = await run([classifyFetchError(cause, 'what', 1)], { maxAttempts: 1 });
    assert.equal(failedWith(network.result).cause, cause);

    const flaky = new CdrError('webex_http', 'token endpoint 503');
    const token = await run([classifyTokenError(flaky)], { maxAttempts: 2 });
    assert.equal(token.result.ok === false && token.result.error, flaky);
    assert.equal(token.urls.length, 2);
  });

  it('waits out throttling without counting attempts, within its own budget', async () => {
    const saved = await run([THROTTLED, THROTTLED, RETRY, OK], { maxAttempts: 2 });
    assert.equal(saved.result.ok, true);
    assert.deepEqual(saved.sleeps, [1_000, 1_000, 100]);
    assert.deepEqual(saved.counters, { retries: 3, throttled: 2 });

    const lost = await run([THROTTLED], { maxAttempts: 1 });
    assert.equal(
      failedWith(lost.result).message,
      'what: HTTP 429 (still throttled after waiting 2 times)',
    );
    assert.equal(lost.urls.length, 3, 'the first answer and 2 waited out');
    assert.deepEqual(lost.counters, { retries: 2, throttled: 3 });
  });

  it('renews the token once per request, without counting an attempt', async () => {
    const renew = classifyReply(reply(401), 'old-token', SCOPE, NOW);
    const saved = await run([renew, OK], { maxAttempts: 1 });
    assert.equal(saved.result.ok, true);
    assert.deepEqual(saved.renewals, ['old-token']);
    assert.deepEqual(saved.sleeps, []);

    const twice = await run([renew]);
    assert.equal(failedWith(twice.result).code, 'webex_auth_failed');
    assert.equal(twice.urls.length, 2);
    assert.equal(twice.renewals.length, 1);

    const same = await run([renew, OK], {}, { renew: false });
    assert.equal(failedWith(same.result).code, 'webex_auth_failed');
    assert.equal(same.urls.length, 1, 'no retry when the token source has nothing new');
  });

  it('asks where a region redirect leads, without counting an attempt', async () => {
    const region: Outcome = { kind: 'region', reply: reply(451), org: 'o1' };
    const eu = new URL('https://analytics-eu.webexapis.com/v1/partners/cdrsbyorg?orgId=o1');
    const { result, urls } = await run([region, OK], { maxAttempts: 1 }, { follow: () => eu });
    assert.equal(result.ok, true);
    assert.deepEqual(urls, [URL_A.href, eu.href]);

    const refused = new CdrError('webex_http', 'not followed');
    const stopped = await run(
      [region],
      {},
      {
        follow: () => {
          throw refused;
        },
      },
    );
    assert.equal(stopped.result.ok === false && stopped.result.error, refused);
  });

  it('fails at once on a failure, without waiting', async () => {
    const error = new CdrError('webex_http', 'HTTP 400', { retriable: false });
    const { result, urls, sleeps } = await run([{ kind: 'fail', error }]);
    assert.equal(result.ok === false && result.error, error);
    assert.equal(urls.length, 1);
    assert.deepEqual(sleeps, []);
  });

  it('draws full-jitter back-off below the doubling cap', () => {
    const half = fullJitterBackoff(5_000, () => 0.5);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(half), [250, 500, 1_000, 2_000, 2_500, 2_500]);
    assert.deepEqual([1, 2].map(fullJitterBackoff(60_000, () => 0.999)), [499, 999]);
    assert.equal(fullJitterBackoff(60_000, () => 0)(10), 0);
  });
});
