import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandom, hashSeed } from '../../../src/simulator/random.ts';

const draw = (seed: number | string, n = 50) => {
  const rng = createRandom(seed);
  return Array.from({ length: n }, () => rng.uint32());
};

describe('simulator/random', () => {
  it('is a pure function of the seed', () => {
    assert.deepEqual(draw(42), draw(42));
    assert.deepEqual(draw(7), draw('7'));
    assert.notDeepEqual(draw(42), draw(43));
    assert.equal(hashSeed('a', 1), hashSeed('a', 1));
  });

  it('forks streams that do not depend on draws from the parent', () => {
    const a = createRandom(1);
    const b = createRandom(1);
    for (let i = 0; i < 10; i++) b.next();
    assert.equal(a.fork('x').uuid(), b.fork('x').uuid());
    assert.notEqual(a.fork('x').uuid(), a.fork('y').uuid());
  });

  it('keeps helpers in range', () => {
    const rng = createRandom(3);
    for (let i = 0; i < 2000; i++) {
      const f = rng.next();
      assert.ok(f >= 0 && f < 1);
      const n = rng.int(-2, 3);
      assert.ok(Number.isInteger(n) && n >= -2 && n <= 3);
    }
    assert.match(
      rng.uuid(),
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.match(rng.hex(13), /^[0-9a-f]{13}$/);
    assert.match(rng.digits(24), /^\d{24}$/);
    assert.throws(() => rng.pick([]), RangeError);
  });

  it('follows the weights and probabilities roughly', () => {
    const rng = createRandom(9);
    let a = 0;
    let hits = 0;
    for (let i = 0; i < 20_000; i++) {
      if (
        rng.weighted([
          ['a', 3],
          ['b', 1],
        ] as const) === 'a'
      )
        a++;
      if (rng.chance(0.2)) hits++;
    }
    assert.ok(Math.abs(a / 20_000 - 0.75) < 0.02, `a share ${a / 20_000}`);
    assert.ok(Math.abs(hits / 20_000 - 0.2) < 0.02, `chance share ${hits / 20_000}`);
    assert.equal(rng.chance(0), false);
  });
});
