import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  loggableHeaders,
  parseNextLink,
  parsePagination,
  parseRetryAfter,
} from '../../../../src/reconciler/webex/headers.ts';

describe('webex headers', () => {
  it('parses header names tolerantly', () => {
    assert.deepEqual(
      parsePagination(
        new Headers({ 'X-PAGE-COUNT': '4', 'x-total-org-count': '700', 'X-Current-Page': '1' }),
      ),
      { pageCount: 4, totalOrgs: 700, currentPage: 1, unrecognised: [] },
    );
    assert.deepEqual(parsePagination({ total_pages: '3', TotalOrganisations: '401' }), {
      pageCount: 3,
      totalOrgs: 401,
      unrecognised: [],
    });
    assert.deepEqual(
      parsePagination({
        'Content-Type': 'application/json',
        TrackingID: 'x',
        'X-Page-Cursor': 'abc',
      }),
      { unrecognised: ['X-Page-Cursor'] },
    );
    assert.deepEqual(parsePagination({ 'X-Page-Count': 'two' }), {
      unrecognised: ['X-Page-Count'],
    });
  });

  it('parses Link headers', () => {
    assert.equal(parseNextLink('<https://a/b?c=1>; rel="next"'), 'https://a/b?c=1');
    assert.equal(
      parseNextLink('<https://a/p>; rel="prev", <https://a/n>; rel=next'),
      'https://a/n',
    );
    assert.equal(parseNextLink('<https://a/n>; title="x"; rel="next last"'), 'https://a/n');
    assert.equal(parseNextLink('<https://a/p>; rel="prev"'), undefined);
    assert.equal(parseNextLink(null), undefined);
    assert.equal(parseNextLink('garbage'), undefined);
  });

  it('parses Retry-After', () => {
    const now = Date.parse('2024-05-11T00:00:00.000Z');
    assert.equal(parseRetryAfter('5', now), 5_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Sat, 11 May 2024 00:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Fri, 10 May 2024 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter(null, now), 60_000);
    assert.equal(parseRetryAfter('soon', now), 60_000);
  });

  it('leaves cookies out of the headers it logs', () => {
    assert.deepEqual(
      loggableHeaders(new Headers({ 'Set-Cookie': 'session=secret', 'X-Page-Count': '2' })),
      { 'x-page-count': '2' },
    );
  });
});
