import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rangeProblems } from '../../../src/reconciler/command.ts';

const H = 3_600_000;
const NOW = Date.parse('2024-05-10T12:30:00.000Z');
const ALLOWED = { from: NOW - 48 * H + 10 * 60_000, to: NOW - 15 * 60_000 };

describe('reconcile --from/--to', () => {
  it('accepts a range inside what Webex can be asked about now, or none', () => {
    assert.deepEqual(rangeProblems({}, ALLOWED), []);
    assert.deepEqual(rangeProblems({ from: ALLOWED.from, to: ALLOWED.to }, ALLOWED), []);
    assert.deepEqual(rangeProblems({ from: NOW - 3 * H }, ALLOWED), []);
    assert.deepEqual(rangeProblems({ to: NOW - 3 * H }, ALLOWED), []);
  });

  it('refuses a range outside it instead of clipping, naming the allowed range', () => {
    const early = rangeProblems({ from: NOW - 48 * H, to: NOW - H }, ALLOWED);
    assert.equal(early.length, 1);
    assert.match(early[0] ?? '', /^--from: 2024-05-08T12:30:00.000Z is outside/);
    assert.match(early[0] ?? '', /\[2024-05-08T12:40:00.000Z, 2024-05-10T12:15:00.000Z\]/);
    const late = rangeProblems({ to: NOW - 5 * 60_000 }, ALLOWED);
    assert.match(late[0] ?? '', /^--to: .* is outside/);
    assert.equal(rangeProblems({ from: NOW - 72 * H, to: NOW }, ALLOWED).length, 2);
  });

  it('wants --from before --to', () => {
    const p = rangeProblems({ from: NOW - 2 * H, to: NOW - 3 * H }, ALLOWED);
    assert.equal(p.length, 1);
    assert.match(p[0] ?? '', /must be before --to/);
    assert.equal(rangeProblems({ from: NOW - 2 * H, to: NOW - 2 * H }, ALLOWED).length, 1);
    assert.equal(rangeProblems({ from: ALLOWED.to }, ALLOWED).length, 1);
  });
});
