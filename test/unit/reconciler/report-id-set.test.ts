import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createReportIdSet } from '../../../src/reconciler/report-id-set.ts';

describe('report ID set', () => {
  it('agrees with a Set<string> on UUIDs and other IDs, through many growths', () => {
    const ids = createReportIdSet(4);
    const reference = new Set<string>();
    const seen: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const id = i % 7 === 0 ? `other-${i}` : randomUUID();
      ids.add(id);
      reference.add(id);
      seen.push(id);
      if (i % 3 === 0) ids.add(seen[i >> 1] as string); // repeats change nothing
    }
    assert.equal(ids.size, reference.size);
    for (const id of seen) assert.equal(ids.has(id), true);
    for (let i = 0; i < 2000; i++) assert.equal(ids.has(randomUUID()), false);
  });

  it('is exact for forms that are not canonical UUIDs', () => {
    const ids = createReportIdSet();
    const uuid = 'a1b2c3d4-e5f6-4789-8abc-def012345678';
    ids.add(uuid);
    assert.equal(ids.has(uuid.toUpperCase()), false, 'case matters, as for the header');
    assert.equal(ids.has(uuid.replaceAll('-', '')), false);
    ids.add('00000000-0000-0000-0000-000000000000');
    assert.equal(ids.has('00000000-0000-0000-0000-000000000000'), true);
    assert.equal(ids.has('00000000-0000-0000-0000-000000000001'), false);
    assert.equal(ids.size, 2);
  });

  it('never takes a UUID for another that differs in one hex digit', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 0, max: 35 }), (id, at) => {
        const lower = id.toLowerCase();
        if (lower[at] === '-') return;
        const digit =
          lower[at] === 'f' ? '0' : (Number.parseInt(lower[at] as string, 16) + 1).toString(16);
        const other = lower.slice(0, at) + digit + lower.slice(at + 1);
        const ids = createReportIdSet();
        ids.add(lower);
        assert.equal(ids.has(lower), true);
        assert.equal(ids.has(other), false);
      }),
      { seed: 4714, numRuns: 3000 },
    );
  });
});
