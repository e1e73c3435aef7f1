import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWebexWorld, TICK_MS, type WorldOptions } from '../../../src/simulator/world.ts';

const HOUR = 3_600_000;
const MIN = 60_000;
const END = Date.parse('2026-11-23T12:00:00.000Z');

const base: WorldOptions = { seed: 11, orgs: 15, startMs: END - 3 * HOUR, endMs: END };

/** Report ID -> call end, for the items of deliveries. */
const callEnds = (world: ReturnType<typeof createWebexWorld>) =>
  new Map(world.records.map((r) => [r.reportId, r.callEnd]));

const reportId = (item: Record<string, string | number>) => String(item['Report ID']);

describe('simulator/world', () => {
  it('is deterministic from the seed, records and delivery plan', () => {
    const opts = { ...base, dropRate: 0.2, repeatRate: 0.1, lateRate: 0.1 };
    const a = createWebexWorld(opts);
    const b = createWebexWorld(opts);
    assert.deepEqual(b.records, a.records);
    assert.deepEqual(b.deliveries(), a.deliveries());
    assert.equal(a.deliveries(), a.deliveries(), 'the plan is computed once');
    // fault knobs do not change Webex's records
    assert.deepEqual(createWebexWorld(base).records, a.records);
  });

  it('delivers every record once, at T, when its call ended in [T-10min, T-5min)', () => {
    const world = createWebexWorld(base);
    const ends = callEnds(world);
    const seen = new Set<string>();
    let previous = 0;
    for (const d of world.deliveries()) {
      assert.ok(d.at > previous, 'ordered by time, one per tick');
      previous = d.at;
      assert.equal(d.at % TICK_MS, 0, 'on a 5-minute mark');
      assert.equal(d.dropped, false);
      assert.equal(d.repeatOf, undefined);
      assert.deepEqual(d.window, { startMs: d.at - 10 * MIN, endMs: d.at - 5 * MIN });
      assert.ok(d.items.length > 0, 'no empty deliveries');
      for (const item of d.items) {
        const end = ends.get(reportId(item));
        assert.ok(end !== undefined && end >= d.at - 10 * MIN && end < d.at - 5 * MIN);
        assert.ok(!seen.has(reportId(item)));
        seen.add(reportId(item));
      }
    }
    assert.equal(seen.size, world.records.length);
  });

  it('moves late records 1-6 ticks later, and only those break the window', () => {
    const world = createWebexWorld({ ...base, lateRate: 0.1 });
    const ends = callEnds(world);
    let late = 0;
    for (const d of world.deliveries()) {
      const lateIds = new Set(d.lateReportIds);
      for (const item of d.items) {
        const end = ends.get(reportId(item)) ?? Number.NaN;
        if (lateIds.has(reportId(item))) {
          late++;
          const ticks = Math.round(
            (d.window.startMs - Math.floor(end / TICK_MS) * TICK_MS) / TICK_MS,
          );
          assert.ok(ticks >= 1 && ticks <= 6, `late by ${ticks} ticks`);
        } else {
          assert.ok(end >= d.window.startMs && end < d.window.endMs);
        }
      }
    }
    const delivered = world.deliveries().reduce((n, d) => n + d.items.length, 0);
    assert.equal(delivered, world.records.length);
    assert.ok(late > 0);
  });

  it('drops, repeats and delays about the configured shares on a large world', () => {
    const world = createWebexWorld({
      seed: 'large',
      orgs: 5,
      callsPerHour: 30,
      startMs: END - 48 * HOUR,
      endMs: END,
      dropRate: 0.2,
      repeatRate: 0.1,
      lateRate: 0.05,
    });
    const deliveries = world.deliveries();
    const originals = deliveries.filter((d) => d.repeatOf === undefined);
    const repeats = deliveries.filter((d) => d.repeatOf !== undefined);
    assert.ok(originals.length > 500, `${originals.length} deliveries`);
    const dropShare = originals.filter((d) => d.dropped).length / originals.length;
    const sent = originals.filter((d) => !d.dropped);
    const repeatShare = repeats.length / sent.length;
    const lateShare =
      deliveries
        .filter((d) => d.repeatOf === undefined)
        .reduce((n, d) => n + d.lateReportIds.length, 0) / world.records.length;
    assert.ok(Math.abs(dropShare - 0.2) < 0.06, `drop share ${dropShare}`);
    assert.ok(Math.abs(repeatShare - 0.1) < 0.05, `repeat share ${repeatShare}`);
    assert.ok(Math.abs(lateShare - 0.05) < 0.01, `late share ${lateShare}`);
    const byId = new Map(deliveries.map((d) => [d.id, d]));
    for (const r of repeats) {
      const original = byId.get(r.repeatOf ?? '');
      assert.ok(original !== undefined && !original.dropped, 'repeats only what was sent');
      assert.ok(r.at > original.at, 'the repeat comes later');
      assert.equal(r.items, original.items);
      assert.equal(r.dropped, false);
    }
  });

  it('counts records per org by call end, sorted by org, non-zero unless asked', () => {
    const world = createWebexWorld(base);
    const from = END - 2 * HOUR + 7 * MIN;
    const to = from + HOUR;
    const counts = world.countsByOrg(from, to);
    const expected = new Map<string, number>();
    for (const r of world.records) {
      if (r.callEnd >= from && r.callEnd < to)
        expected.set(r.orgId, (expected.get(r.orgId) ?? 0) + 1);
    }
    assert.deepEqual(new Map(counts.map((c) => [c.orgId, c.count])), expected);
    assert.deepEqual(
      counts.map((c) => c.orgId),
      [...expected.keys()].sort(),
    );
    assert.ok(counts.every((c) => c.count > 0));
    assert.deepEqual(world.countsByOrg(END + HOUR, END + 2 * HOUR), []);
    const all = createWebexWorld({ ...base, countEmptyOrgs: true });
    assert.equal(all.countsByOrg(END + HOUR, END + 2 * HOUR).length, base.orgs);
  });

  it('looks up one org’s records in a window', () => {
    const world = createWebexWorld(base);
    const org = world.orgs[3]?.orgId ?? '';
    const from = END - 90 * MIN;
    const to = END - 30 * MIN;
    const expected = world.records.filter(
      (r) => r.orgId === org && r.callEnd >= from && r.callEnd < to,
    );
    assert.ok(expected.length > 0);
    assert.deepEqual(world.recordsOf(org, from, to), expected);
    assert.deepEqual(world.recordsOf('no-such-org', from, to), []);
  });

  it('refuses bad options', () => {
    assert.throws(() => createWebexWorld({ ...base, endMs: base.startMs }), RangeError);
    assert.throws(() => createWebexWorld({ ...base, dropRate: 1.5 }), RangeError);
    assert.throws(() => createWebexWorld({ ...base, maxLateTicks: 0 }), RangeError);
  });
});
