/**
 * @module simulator/random
 * A small seeded pseudo-random generator (sfc32, seeded through splitmix32)
 * with the helpers the simulator needs. Everything the simulator produces is a
 * pure function of its seed: `fork(label)` derives an independent stream, so
 * one part (say the delivery plan) can change without shifting the numbers of
 * another (the records). Not for cryptography.
 */

export type Seed = number | string;

export type Random = {
  /** A float in [0, 1). */
  next(): number;
  /** An unsigned 32-bit integer. */
  uint32(): number;
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Picks by relative weight: `[['a', 3], ['b', 1]]` gives 'a' three times as often. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T;
  /** Exponentially distributed with the given mean (gaps of a Poisson process). */
  exponential(mean: number): number;
  /** `length` lowercase hex characters. */
  hex(length: number): string;
  /** `length` decimal digits (may start with 0). */
  digits(length: number): string;
  /** A version-4-shaped UUID. */
  uuid(): string;
  /** An independent stream derived from this one's seed and `label`. */
  fork(label: Seed): Random;
};

/** 32-bit FNV-1a over the text of the seed parts: stable across runs and platforms. */
export const hashSeed = (...parts: readonly Seed[]): number => {
  let h = 0x811c9dc5;
  const text = parts.map(String).join('\u0000');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
};

const splitmix32 = (seed: number) => {
  let s = seed >>> 0;
  return (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
};

const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).padStart(2, '0'),
);

export const createRandom = (seed: Seed): Random => {
  const seed32 = hashSeed(seed);
  const init = splitmix32(seed32);
  let a = init();
  let b = init();
  let c = init();
  let d = init();

  const uint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // discard the first outputs: sfc32 needs a few rounds to mix its state
  for (let i = 0; i < 12; i++) uint32();

  const next = (): number => uint32() / 4294967296;

  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));

  const hex = (length: number): string => {
    let out = '';
    while (out.length < length) {
      const x = uint32();
      out +=
        (HEX_BYTES[x >>> 24] ?? '') +
        (HEX_BYTES[(x >>> 16) & 255] ?? '') +
        (HEX_BYTES[(x >>> 8) & 255] ?? '') +
        (HEX_BYTES[x & 255] ?? '');
    }
    return out.length === length ? out : out.slice(0, length);
  };

  const random: Random = {
    next,
    uint32,
    int,
    chance: (p) => p > 0 && next() < p,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[Math.floor(next() * items.length)] as T;
    },
    weighted<T>(choices: readonly (readonly [T, number])[]): T {
      let total = 0;
      for (const [, w] of choices) total += w;
      let r = next() * total;
      for (const [value, w] of choices) {
        r -= w;
        if (r < 0) return value;
      }
      const last = choices[choices.length - 1];
      if (last === undefined) throw new RangeError('weighted pick from an empty list');
      return last[0];
    },
    exponential: (mean) => -Math.log(1 - next()) * mean,
    hex,
    digits(length: number): string {
      let out = '';
      while (out.length < length) out += String(uint32() % 1_000_000_000).padStart(9, '0');
      return out.slice(0, length);
    },
    uuid(): string {
      const h = hex(32);
      const variant = '89ab'[uint32() & 3] ?? '8';
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
    },
    fork: (label) => createRandom(`${seed32}/${String(label)}`),
  };
  return random;
};
