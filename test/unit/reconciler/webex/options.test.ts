import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCdrError } from '../../../../src/errors.ts';
import { parseClientOptions } from '../../../../src/reconciler/webex/options.ts';

describe('webex client options', () => {
  it('fills in the defaults', () => {
    const o = parseClientOptions({
      auth: { kind: 'oauth', clientId: 'c', clientSecret: 's', refreshToken: 'r' },
    });
    assert.equal(o.baseUrl, 'https://analytics.webexapis.com');
    assert.equal(
      o.auth.kind === 'oauth' && o.auth.tokenUrl,
      'https://webexapis.com/v1/access_token',
    );
    assert.deepEqual(
      [
        o.timeoutMs,
        o.maxAttempts,
        o.maxBackoffMs,
        o.maxThrottledWaits,
        o.minIntervalMs,
        o.maxPages,
      ],
      [30_000, 6, 60_000, 20, 0, 500],
    );
    assert.deepEqual(o.redirectHosts.list, ['*.webexapis.com']);
    assert.equal(o.redirectHosts.patterns[0]?.host, 'webexapis.com');
  });

  it('lists every problem at once, naming the option', () => {
    assert.throws(
      () =>
        parseClientOptions({
          auth: { kind: 'static', token: 't' },
          baseUrl: 'ftp://example.com',
          maxPages: 0,
          redirectHosts: ['*.com'],
        }),
      (e) => {
        assert.ok(isCdrError(e));
        assert.equal(e.code, 'config_invalid');
        assert.match(e.message, /^Webex client: /);
        for (const name of ['baseUrl', 'maxPages', 'redirectHosts']) {
          assert.match(e.message, new RegExp(`${name}: `));
        }
        return true;
      },
    );
  });
});
