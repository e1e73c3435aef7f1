import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_REDIRECT_HOSTS,
  isAllowedHost,
  parseRedirectHosts,
  rebase,
  regionBaseOf,
  regionCandidates,
} from '../../../../src/reconciler/webex/region-redirect.ts';

const patterns = (entries: readonly string[]) => {
  const parsed = parseRedirectHosts(entries);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('; '));
  return parsed.patterns;
};
const allowed = (entries: readonly string[], url: string) =>
  isAllowedHost(new URL(url), patterns(entries));
const origins = (text: string, headers: Record<string, string> = {}) =>
  regionCandidates(text, new Headers(headers)).map((u) => u.origin);

describe('region redirect: the allow-list', () => {
  it('by default allows Webex API hosts over https only', () => {
    for (const url of [
      'https://analytics.webexapis.com',
      'https://analytics-calling-gov.webexapis.com/v1/partners/cdrsbyorg',
      'https://ANALYTICS-EU.WebexAPIs.com',
    ]) {
      assert.ok(allowed(DEFAULT_REDIRECT_HOSTS, url), url);
    }
    for (const url of [
      'http://analytics-eu.webexapis.com', // plain http
      'https://analytics-eu.webexapis.com:8443', // another port
      'https://webexapis.com', // the apex is not a subdomain
      'https://webexapis.com.evil.example',
      'https://evilwebexapis.com',
      'https://analytics.webex.com',
      'https://127.0.0.1',
    ]) {
      assert.ok(!allowed(DEFAULT_REDIRECT_HOSTS, url), url);
    }
  });

  it('takes exact hosts, *. suffixes, and explicit schemes and ports', () => {
    const list = [
      'analytics-eu.example.com',
      '*.region.example',
      'http://127.0.0.1:9001',
      'https://[::1]:8443/',
    ];
    assert.ok(allowed(list, 'https://analytics-eu.example.com/x'));
    assert.ok(!allowed(list, 'https://other.example.com'));
    assert.ok(allowed(list, 'https://a.b.region.example'));
    assert.ok(allowed(list, 'http://127.0.0.1:9001/v1/partners/cdrsbyorg'));
    assert.ok(!allowed(list, 'http://127.0.0.1:9002'));
    assert.ok(!allowed(list, 'https://127.0.0.1:9001'));
    assert.ok(allowed(list, 'https://[::1]:8443'));
    assert.deepEqual(patterns([]), []);
    assert.deepEqual(patterns([' ', '']), []);
  });

  it('refuses entries that are not a host pattern, naming each', () => {
    const parsed = parseRedirectHosts([
      'ftp://x.example.com',
      '*.com',
      'a.*.example.com',
      'https://x.example.com/path',
      '*.127.0.0.1',
      'https://user@x.example.com',
      '*',
    ]);
    assert.ok(!parsed.ok);
    assert.equal(parsed.problems.length, 7);
    assert.match(parsed.problems[0] ?? '', /"ftp:\/\/x.example.com": only https/);
    assert.match(parsed.problems[1] ?? '', /two labels/);
    assert.match(parsed.problems[3] ?? '', /without path/);
  });
});

describe('region redirect: reading the 451 answer', () => {
  it('finds the region in a JSON field, at any depth, whatever the field is called', () => {
    for (const body of [
      { message: 'moved', location: 'https://analytics-eu.webexapis.com' },
      { url: 'https://analytics-eu.webexapis.com/v1/partners/cdrsbyorg?orgId=o1' },
      { regionHost: 'analytics-eu.webexapis.com' },
      { data: { siteFullUrl: 'analytics-eu.webexapis.com' } },
      { errors: [{ description: 'Use https://analytics-eu.webexapis.com for this org.' }] },
      { message: 'Data for this organization is in analytics-eu.webexapis.com.' },
    ]) {
      assert.deepEqual(
        origins(JSON.stringify(body)),
        ['https://analytics-eu.webexapis.com'],
        JSON.stringify(body),
      );
    }
  });

  it('takes the Location header first, then the body, then text that is not JSON', () => {
    assert.deepEqual(
      origins(JSON.stringify({ location: 'https://b.webexapis.com' }), {
        Location: 'https://a.webexapis.com/v1/partners/cdrsbyorg',
      }),
      ['https://a.webexapis.com', 'https://b.webexapis.com'],
    );
    assert.deepEqual(origins('', { 'cisco-location': 'https://c.webexapis.com' }), [
      'https://c.webexapis.com',
    ]);
    assert.deepEqual(origins('Moved to <a href="https://d.webexapis.com/v1/">here</a>'), [
      'https://d.webexapis.com',
    ]);
  });

  it('offers nothing when the answer names no host, and never a URL with credentials', () => {
    assert.deepEqual(origins(''), []);
    assert.deepEqual(origins(JSON.stringify({ message: 'Unavailable For Legal Reasons' })), []);
    assert.deepEqual(origins(JSON.stringify({ region: 'EU', trackingId: 'ROUTER_1' })), []);
    assert.deepEqual(origins(JSON.stringify({ url: 'https://user:pw@x.webexapis.com' })), []);
    assert.deepEqual(origins('not json at all'), []);
  });

  it('lists each origin once, most explicit first (the caller picks the first allowed one)', () => {
    const text = JSON.stringify({
      message: 'See https://developer.webex.com/docs and analytics-eu.webexapis.com',
      location: 'https://analytics-eu.webexapis.com',
    });
    assert.deepEqual(origins(text), [
      'https://analytics-eu.webexapis.com',
      'https://developer.webex.com',
    ]);
  });

  it('takes the region base from an API URL and moves a request onto it, query kept', () => {
    assert.equal(
      regionBaseOf(new URL('https://eu.webexapis.com/v1/partners/cdrsbyorg?orgId=o')).href,
      'https://eu.webexapis.com/',
    );
    assert.equal(
      regionBaseOf(new URL('https://eu.example.com/api/v1/partners/x')).href,
      'https://eu.example.com/api',
    );
    assert.equal(
      regionBaseOf(new URL('https://eu.webexapis.com/docs')).href,
      'https://eu.webexapis.com/',
    );
    const request = new URL('http://127.0.0.1:1/prefix/v1/partners/cdrsbyorg?orgId=o1&cursor=5');
    assert.equal(
      rebase(request, new URL('https://eu.webexapis.com/')).href,
      'https://eu.webexapis.com/v1/partners/cdrsbyorg?orgId=o1&cursor=5',
    );
  });
});
