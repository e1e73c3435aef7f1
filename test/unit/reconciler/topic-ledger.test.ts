import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLedger } from '../../../src/reconciler/topic-ledger.ts';

const H = 3_600_000;
const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);
const windows = [
  { start: T0, end: T0 + H },
  { start: T0 + H, end: T0 + 2 * H },
  { start: T0 + 2 * H, end: T0 + 2 * H + 30 * 60_000 },
];
const H1 = '0123456789abcdef';
const H2 = 'fedcba9876543210';
const published = (reportId: string, hash: string | null = H1, version = 1) => ({
  reportId,
  hash,
  version,
  reportTime: T0,
  publishedAt: T0 + 3 * H,
});
const rec = (
  id: string | undefined,
  org: string | null,
  callEnd: number | string | undefined,
  more: Record<string, string> = {},
) => ({
  key: org,
  timestamp: T0 + 3 * H,
  headers: {
    ...more,
    ...(id === undefined ? {} : { 'cdr-report-id': id }),
    ...(callEnd === undefined
      ? {}
      : {
          'cdr-call-end': typeof callEnd === 'number' ? new Date(callEnd).toISOString() : callEnd,
        }),
  },
});

describe('topic ledger', () => {
  test('counts a Report ID once, in the window where it is first seen', () => {
    const l = createLedger(windows);
    l.observe(rec('a', 'o1', T0 + 5));
    l.observe(rec('a', 'o1', T0 + H + 5)); // a later version with another call end
    l.add(T0 + 10, 'o1', published('a', H1, 2)); // published again by a backfill (a version)
    l.add(T0 + 10, 'o1', published('b'));
    assert.equal(l.distinct(0, 'o1'), 2);
    assert.equal(l.distinct(1, 'o1'), 0);
    assert.equal(l.stats().kept, 2);
  });

  test('counts distinct Report IDs per window and org, by cdr-call-end', () => {
    const l = createLedger(windows);
    l.observe(rec('a', 'o1', T0 + 5));
    l.observe(rec('a', 'o1', T0 + 5)); // duplicate on the topic
    l.observe(rec('b', 'o1', T0 + H - 1));
    l.observe(rec('c', 'o2', T0 + H)); // boundary: belongs to the second window
    l.observe(rec('d', 'o1', T0 + 2 * H + 29 * 60_000));
    assert.equal(l.distinct(0, 'o1'), 2);
    assert.equal(l.distinct(0, 'o2'), 0);
    assert.equal(l.distinct(1, 'o2'), 1);
    assert.equal(l.distinct(2, 'o1'), 1);
    assert.deepEqual(l.orgs(0), ['o1']);
    assert.equal(l.stats().records, 5);
    assert.equal(l.stats().kept, 4);
  });

  test('keeps only records whose call ended within the pass span plus the margin', () => {
    const l = createLedger(windows); // span [T0, T0 + 2.5 h), margin 1 h
    l.observe(rec('early-in-margin', 'o1', T0 - H));
    l.observe(rec('late-in-margin', 'o1', T0 + 3.5 * H - 1));
    l.observe(rec('too-early', 'o1', T0 - H - 1));
    l.observe(rec('too-late', 'o1', T0 + 3.5 * H));
    l.observe(rec('noend', 'o1', undefined));
    l.observe(rec('badend', 'o1', 'yesterday'));
    l.observe(rec(undefined, 'o1', T0 + 5));
    for (const id of ['early-in-margin', 'late-in-margin']) assert.ok(l.has(id), id);
    for (const id of ['too-early', 'too-late', 'noend', 'badend']) assert.ok(!l.has(id), id);
    assert.equal(l.distinct(0, 'o1'), 0);
    assert.deepEqual(l.stats(), {
      records: 7,
      kept: 2,
      withoutId: 1,
      withoutCallEnd: 2,
      outsideSpan: 2,
      outsideWindows: 2,
    });
  });

  test('memory is bounded by the span, however much of the topic is read', () => {
    const l = createLedger([windows[0] as (typeof windows)[number]], H);
    // a day of records after the pass (the topic is read to its end): none kept
    for (let i = 0; i < 10_000; i++) l.observe(rec(`later-${i}`, 'o1', T0 + 3 * H + i * 8_000));
    l.observe(rec('in', 'o1', T0 + 1));
    assert.equal(l.stats().kept, 1);
    assert.equal(l.stats().outsideSpan, 10_000);
  });

  test('add() records what the reconciler published, in the window of its call end', () => {
    const l = createLedger(windows);
    l.add(T0 + H + 10, 'o3', published('x'));
    assert.equal(l.distinct(1, 'o3'), 1);
    assert.ok(l.has('x'));
    l.add(null, 'o3', published('y')); // published without a call end: still known
    assert.ok(l.has('y'));
    assert.equal(l.windowOf(T0 - 1), -1);
    assert.equal(l.windowOf(T0 + 2 * H + 30 * 60_000), -1);
    assert.equal(l.windowOf(T0 + 2 * H), 2);
  });
  test('check() answers by the ingress rules: repeat, version, new; no hash on the topic is a repeat', () => {
    const l = createLedger(windows);
    l.observe(rec('same', 'o1', T0 + 5, { 'cdr-content-hash': H1 }));
    l.observe(
      rec('v2', 'o1', T0 + 6, {
        'cdr-content-hash': H2,
        'cdr-version': '2',
        'cdr-report-time': new Date(T0 + 60_000).toISOString(),
      }),
    );
    l.observe(rec('v2', 'o1', T0 + 6, { 'cdr-content-hash': H1 }));
    l.observe(rec('old', 'o1', T0 + 7)); // published before dedup: no cdr-content-hash
    assert.deepEqual(l.check('same', H1), { kind: 'repeat', version: 1 });
    assert.deepEqual(l.check('same', H2), {
      kind: 'version',
      version: 2,
      earlier: { version: 1, reportTime: null, hash: H1 },
    });
    assert.deepEqual(l.check('v2', H1), { kind: 'repeat', version: 2 }, 'an earlier version');
    assert.equal(l.check('v2', '1111111111111111').kind, 'version');
    assert.deepEqual(l.check('old', H2), { kind: 'repeat', version: 1 });
    assert.deepEqual(l.check('absent', H1), { kind: 'new' });
    assert.equal(l.distinct(0, 'o1'), 3, 'versions count once');
    l.add(T0 + 8, 'o1', published('same', H2, 2));
    assert.deepEqual(l.check('same', H2), { kind: 'repeat', version: 2 });
  });
});
