import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../src/duration.ts';
import { isCdrError } from '../../src/errors.ts';

const MIN = 60_000;
const HOUR_MS = 60 * MIN;

describe('parseDuration', () => {
  it('reads ms, s, m, h, d and combinations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('15m'), 15 * MIN);
    assert.equal(parseDuration('12h'), 12 * HOUR_MS);
    assert.equal(parseDuration('30d'), 30 * 24 * HOUR_MS);
    assert.equal(parseDuration('1h30m'), 90 * MIN);
    assert.equal(parseDuration(' 2D '), 2 * 24 * HOUR_MS);
    assert.equal(parseDuration('0s'), 0);
  });

  it('refuses bad input with a config error', () => {
    for (const bad of [
      '',
      '15',
      'm',
      '1.5h',
      '-5m',
      '5 m',
      '5w',
      '30m1h',
      '1h1h',
      'abc',
      '1e3ms',
    ]) {
      assert.throws(
        () => parseDuration(bad),
        (e) => isCdrError(e) && e.code === 'config_invalid' && e.message.includes('duration'),
        bad,
      );
    }
    assert.throws(() => parseDuration('99999999999999999d'), /too large/);
  });
});
