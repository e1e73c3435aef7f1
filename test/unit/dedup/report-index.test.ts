import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
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
      earlier: { version: 1, reportTime: T0 - 1000, hash: H1 },
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
      earlier: { version: 2, reportTime: T0, hash: H2 },
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
      earlier: { version: 1, reportTime: null, hash: null },
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
  it('agrees with a Set<string> on UUIDs and other IDs, through many growths (has, observe)', () => {
    const index = createReportIndex(48 * HOUR, 4);
    const reference = new Set<string>();
    const ids: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const id = i % 7 === 0 ? `other-${i}` : randomUUID();
      assert.equal(index.observe(seen(id, H1)), true, 'a Report ID not held before');
      reference.add(id);
      ids.push(id);
      if (i % 3 === 0) {
        // repeats change nothing, and say they were held
        assert.equal(index.observe(seen(ids[i >> 1] as string, i % 2 === 0 ? H1 : H2)), false);
      }
    }
    assert.equal(index.size, reference.size);
    for (const id of ids) assert.equal(index.has(id), true);
    for (let i = 0; i < 2000; i++) assert.equal(index.has(randomUUID()), false);
  });

  it('gives back every Report time exactly: near its publish second, far from it, or none', () => {
    // held as 32-bit ms after the publish second; beyond 24.8 days either way, in a Map
    const index = createReportIndex(48 * HOUR, 16);
    const DAY = 24 * HOUR;
    const times = [
      T0 - 1,
      T0 + 999,
      T0 - 2 ** 31 + 1,
      T0 + 2 ** 31 - 1,
      T0 - 2 ** 31, // the word that means "none" as an offset: goes to the Map
      T0 - 30 * DAY,
      T0 + 400 * DAY,
      0,
      null,
    ];
    const ids = times.map(() => randomUUID());
    for (const [i, id] of ids.entries())
      index.observe(seen(id, H1, { reportTime: times[i] ?? null }));
    // a growth moves the slots; the far times stay with their IDs
    for (let i = 0; i < 2000; i++) index.observe(seen(randomUUID(), H1));
    for (const [i, id] of ids.entries()) {
      const verdict = index.check(id, H2);
      assert.equal(verdict.kind, 'version');
      assert.equal(
        verdict.kind === 'version' && verdict.earlier.reportTime,
        times[i] ?? null,
        `${i}`,
      );
    }
    // a later write of a near time replaces a far one
    const far = ids[5] as string;
    index.observe(seen(far, H2, { version: 2, reportTime: T0 - 5 }));
    const after = index.check(far, '2222222222222222');
    assert.equal(after.kind === 'version' && after.earlier.reportTime, T0 - 5);
  });

  it('reserve sizes the tables once for what is coming, keeping what is held', () => {
    const index = createReportIndex(48 * HOUR, 16);
    const held = Array.from({ length: 100 }, () => randomUUID());
    for (const id of held) index.observe(seen(id, H1));
    index.reserve(50_000);
    const bytes = index.tableBytes;
    // 3/4 full at most, with the spread between its 16 tables: 1.33 to 1.5 slots of 36 bytes per ID (a spread of 7 % at 3,125 a table)
    assert.ok(bytes >= 50_000 * 36 * (4 / 3) && bytes <= 50_000 * 36 * 1.5, `${bytes}`);
    const ids = Array.from({ length: 49_900 }, () => randomUUID());
    for (const id of ids) index.observe(seen(id, H1));
    assert.equal(index.tableBytes, bytes, 'no table grew');
    assert.equal(index.size, 50_000);
    for (const id of [...held, ...ids]) assert.equal(index.has(id), true);
    index.reserve(10); // never shrinks
    assert.equal(index.tableBytes, bytes);
  });

  it('never takes a UUID for another that differs in one hex digit', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 0, max: 35 }), (id, at) => {
        const lower = id.toLowerCase();
        if (lower[at] === '-') return;
        const digit =
          lower[at] === 'f' ? '0' : (Number.parseInt(lower[at] as string, 16) + 1).toString(16);
        const other = lower.slice(0, at) + digit + lower.slice(at + 1);
        const index = createReportIndex(48 * HOUR);
        index.observe(seen(lower, H1));
        assert.equal(index.has(lower), true);
        assert.equal(index.has(other), false);
        assert.deepEqual(index.check(other, H1), { kind: 'new' });
      }),
      { seed: 4714, numRuns: 3000 },
    );
  });
});
