import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createReportIndex, type Seen } from '../../../src/dedup/report-index.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 1, 12);
const H1 = '0123456789abcdef';
const H2 = 'fedcba9876543210';

const seen = (reportId: string, hash: string | null, over: Partial<Seen> = {}): Seen => ({
  reportId,
  hash,
  version: 1,
  reportTime: T0 - 1000,
  publishedAt: T0,
  ...over,
});

describe('report index', () => {
  it('answers new, repeat and version with the earlier version and Report time', () => {
    const index = createReportIndex(48 * HOUR);
    const id = randomUUID();
    assert.deepEqual(index.check(id, H1), { kind: 'new' });
    index.observe(seen(id, H1));
    assert.deepEqual(index.check(id, H1), { kind: 'repeat', version: 1 });
    assert.deepEqual(index.check(id, H2), {
      kind: 'version',
      version: 2,
      earlier: { version: 1, reportTime: T0 - 1000 },
    });
    index.observe(seen(id, H2, { version: 2, reportTime: T0 }));
    // both versions are on the topic: either one again is a repeat
    assert.deepEqual(index.check(id, H2), { kind: 'repeat', version: 2 });
    assert.deepEqual(index.check(id, H1), { kind: 'repeat', version: 2 });
    assert.equal(index.size, 1);
  });

  it('keeps the highest version whatever order the tail sees them in', () => {
    const index = createReportIndex(48 * HOUR);
    const id = randomUUID();
    index.observe(seen(id, H2, { version: 2, reportTime: T0 }));
    index.observe(seen(id, H1, { version: 1 }));
    const third = '1111111111111111';
    assert.deepEqual(index.check(id, third), {
      kind: 'version',
      version: 3,
      earlier: { version: 2, reportTime: T0 },
    });
    assert.deepEqual(index.check(id, H1), { kind: 'repeat', version: 2 });
  });

  it('takes a record published without a hash (before dedup) as present with unknown content', () => {
    const index = createReportIndex(48 * HOUR);
    const id = randomUUID();
    index.observe(seen(id, null, { reportTime: null }));
    assert.deepEqual(index.check(id, H1), {
      kind: 'version',
      version: 2,
      earlier: { version: 1, reportTime: null },
    });
  });

  it('holds Report IDs that are not lowercase UUIDs as well', () => {
    const index = createReportIndex(48 * HOUR);
    for (const id of [
      'ABC-1',
      randomUUID().toUpperCase(),
      '00000000-0000-0000-0000-000000000000',
    ]) {
      index.observe(seen(id, H1));
      assert.deepEqual(index.check(id, H1), { kind: 'repeat', version: 1 }, id);
    }
    assert.equal(index.size, 3);
  });

  it('grows past its first table and finds every ID again', () => {
    const index = createReportIndex(48 * HOUR, 16);
    const ids = Array.from({ length: 5000 }, () => randomUUID());
    for (const [i, id] of ids.entries()) index.observe(seen(id, H1, { version: 1 + (i % 3) }));
    assert.equal(index.size, ids.length);
    for (const [i, id] of ids.entries()) {
      assert.deepEqual(index.check(id, H1), { kind: 'repeat', version: 1 + (i % 3) });
    }
    assert.deepEqual(index.check(randomUUID(), H1), { kind: 'new' });
  });

  it('forgets what was published before the window', () => {
    const index = createReportIndex(48 * HOUR);
    const old = randomUUID();
    const recent = randomUUID();
    index.observe(seen(old, H1, { publishedAt: T0 - 49 * HOUR }));
    index.observe(seen('not-a-uuid', H1, { publishedAt: T0 - 49 * HOUR }));
    index.observe(seen(recent, H1, { publishedAt: T0 - 47 * HOUR }));
    assert.equal(index.prune(T0), 2);
    assert.equal(index.size, 1);
    assert.deepEqual(index.check(old, H1), { kind: 'new' });
    assert.deepEqual(index.check('not-a-uuid', H1), { kind: 'new' });
    assert.deepEqual(index.check(recent, H1), { kind: 'repeat', version: 1 });
  });
});
