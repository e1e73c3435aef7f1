import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatWebexTime,
  HOUR_MS,
  isWindowAlive,
  MAX_LOOKBACK_MS,
  MIN_SETTLE_MS,
  plannableRange,
  planWindows,
  type Window,
} from '../../../src/reconciler/plan.ts';

const MIN = 60_000;
const t = (iso: string) => Date.parse(iso);

/** Invariants every plan must satisfy. */
const assertWellFormed = (windows: Window[], lo: number, hi: number) => {
  for (const [i, w] of windows.entries()) {
    assert.ok(w.end > w.start, `window ${i} is empty`);
    assert.ok(w.end - w.start <= HOUR_MS, `window ${i} is longer than 60 minutes`);
    assert.ok(w.start >= lo && w.end <= hi, `window ${i} is outside the allowed range`);
    if (i > 0) assert.equal(w.start, windows[i - 1]?.end, `window ${i} does not follow on`);
    if (i > 0) assert.equal(w.start % HOUR_MS, 0, `window ${i} does not start on the hour`);
    if (i < windows.length - 1) assert.equal(w.end % HOUR_MS, 0, `window ${i} ends mid-hour`);
  }
};

describe('planWindows', () => {
  it('cuts the default range (48 h back, 15 min settle) into hour-aligned windows', () => {
    const now = t('2024-05-10T12:30:00.000Z');
    const windows = planWindows({ now, lookbackMs: 48 * HOUR_MS, settleMs: 15 * MIN });
    assert.equal(windows.length, 49);
    assert.deepEqual(windows[0], {
      start: t('2024-05-08T12:30:00.000Z'),
      end: t('2024-05-08T13:00:00.000Z'),
    });
    assert.deepEqual(windows[1], {
      start: t('2024-05-08T13:00:00.000Z'),
      end: t('2024-05-08T14:00:00.000Z'),
    });
    assert.deepEqual(windows.at(-1), {
      start: t('2024-05-10T12:00:00.000Z'),
      end: t('2024-05-10T12:15:00.000Z'),
    });
    assertWellFormed(windows, now - 48 * HOUR_MS, now - 15 * MIN);
    assert.deepEqual(planWindows({ now }), windows, 'defaults are 48 h and 15 min');
  });

  it('gives 48 windows for 48 h when the partial first and last fit in one hour', () => {
    for (const iso of ['2024-05-10T12:00:00.000Z', '2024-05-10T12:10:00.000Z']) {
      const now = t(iso);
      const windows = planWindows({ now, lookbackMs: 48 * HOUR_MS, settleMs: 15 * MIN });
      assert.equal(windows.length, 48, iso);
      assertWellFormed(windows, now - 48 * HOUR_MS, now - 15 * MIN);
    }
  });

  it('starts exactly at now - lookback and ends exactly at now - settle', () => {
    const now = t('2024-05-10T12:34:56.789Z');
    const windows = planWindows({ now, lookbackMs: 3 * HOUR_MS, settleMs: 7 * MIN });
    assert.equal(windows[0]?.start, now - 3 * HOUR_MS);
    assert.equal(windows.at(-1)?.end, now - 7 * MIN);
    assert.equal(windows.length, 4);
    assertWellFormed(windows, now - 3 * HOUR_MS, now - 7 * MIN);
  });

  it('is well formed for many instants and lookbacks', () => {
    for (let i = 0; i < 200; i++) {
      const now = t('2024-01-01T00:00:00.000Z') + i * 7_919_123;
      const lookbackMs = (1 + (i % 72)) * 17 * MIN;
      const windows = planWindows({ now, lookbackMs, settleMs: 15 * MIN });
      assertWellFormed(windows, now - lookbackMs, now - 15 * MIN);
      if (lookbackMs > 15 * MIN) {
        assert.equal(windows[0]?.start, now - lookbackMs);
        assert.equal(windows.at(-1)?.end, now - 15 * MIN);
      }
    }
  });

  it('clips from/to to the allowed range', () => {
    const now = t('2024-05-10T12:30:00.000Z');
    const inside = planWindows({
      now,
      from: t('2024-05-10T08:20:00.000Z'),
      to: t('2024-05-10T10:00:00.000Z'),
    });
    assert.deepEqual(inside, [
      { start: t('2024-05-10T08:20:00.000Z'), end: t('2024-05-10T09:00:00.000Z') },
      { start: t('2024-05-10T09:00:00.000Z'), end: t('2024-05-10T10:00:00.000Z') },
    ]);

    const outside = planWindows({
      now,
      lookbackMs: 2 * HOUR_MS,
      from: t('2024-05-01T00:00:00.000Z'),
      to: t('2024-05-11T00:00:00.000Z'),
    });
    assert.equal(outside[0]?.start, now - 2 * HOUR_MS);
    assert.equal(outside.at(-1)?.end, now - 15 * MIN);

    assert.deepEqual(planWindows({ now, from: now - 10 * MIN }), [], 'from inside the settle time');
    assert.deepEqual(planWindows({ now, to: now - 49 * HOUR_MS }), [], 'to before the lookback');
    assert.deepEqual(planWindows({ now, from: now - 3 * HOUR_MS, to: now - 3 * HOUR_MS }), []);
  });

  it('never lets a window end less than 5 minutes ago', () => {
    const now = t('2024-05-10T12:30:00.000Z');
    for (const settleMs of [0, 1, 4 * MIN]) {
      assert.equal(planWindows({ now, settleMs }).at(-1)?.end, now - MIN_SETTLE_MS);
    }
    assert.equal(planWindows({ now, to: now }).at(-1)?.end, now - 15 * MIN);
  });

  it('caps the lookback at 30 days', () => {
    const now = t('2024-05-10T12:00:00.000Z');
    const windows = planWindows({ now, lookbackMs: 90 * 24 * HOUR_MS });
    assert.equal(windows[0]?.start, now - MAX_LOOKBACK_MS);
    assert.equal(windows.length, 30 * 24);
  });

  it('refuses nonsense input', () => {
    const now = Date.now();
    assert.throws(() => planWindows({ now: Number.NaN }), RangeError);
    assert.throws(() => planWindows({ now, lookbackMs: 0 }), RangeError);
    assert.throws(() => planWindows({ now, settleMs: -1 }), RangeError);
    assert.throws(() => planWindows({ now, from: Number.POSITIVE_INFINITY }), RangeError);
  });
});

describe('formatWebexTime', () => {
  it('writes YYYY-MM-DDTHH:MM:SS.mmmZ in UTC', () => {
    assert.equal(formatWebexTime(t('2024-03-05T07:08:09.012Z')), '2024-03-05T07:08:09.012Z');
    assert.equal(formatWebexTime(0), '1970-01-01T00:00:00.000Z');
    assert.match(formatWebexTime(Date.now()), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('refuses times it cannot write in that format', () => {
    assert.throws(() => formatWebexTime(Number.NaN), RangeError);
    assert.throws(() => formatWebexTime(t('+010000-01-01T00:00:00.000Z')), RangeError);
  });
});

describe('plannableRange and isWindowAlive', () => {
  it('a run covers [now - lookback + 10 min, now - settle]', () => {
    const now = t('2024-05-10T12:30:00.000Z');
    assert.deepEqual(plannableRange({ now, lookbackMs: 48 * HOUR_MS, settleMs: 15 * MIN }), {
      from: t('2024-05-08T12:40:00.000Z'),
      to: t('2024-05-10T12:15:00.000Z'),
    });
    // never under 1 h, never over 30 days, settle never under 5 min
    assert.equal(plannableRange({ now, lookbackMs: HOUR_MS, settleMs: 0 }).from, now - HOUR_MS);
    assert.equal(plannableRange({ now, lookbackMs: HOUR_MS, settleMs: 0 }).to, now - 5 * MIN);
    assert.equal(
      plannableRange({ now, lookbackMs: 40 * 24 * HOUR_MS, settleMs: 0 }).from,
      now - MAX_LOOKBACK_MS + 10 * MIN,
    );
  });

  it('a window is alive while it starts within the lookback and ended 5 minutes ago', () => {
    const w = { start: t('2024-05-08T12:00:00.000Z'), end: t('2024-05-08T13:00:00.000Z') };
    const o = (iso: string) => ({ now: t(iso), lookbackMs: 48 * HOUR_MS });
    assert.equal(isWindowAlive(w, o('2024-05-10T12:00:00.000Z')), true);
    assert.equal(isWindowAlive(w, o('2024-05-10T12:00:00.001Z')), false);
    assert.equal(isWindowAlive(w, o('2024-05-08T13:05:00.000Z')), true);
    assert.equal(isWindowAlive(w, o('2024-05-08T13:04:59.999Z')), false);
  });
});
