/**
 * @module duration
 * The duration syntax of the settings and the command line: `500ms`, `90s`,
 * `15m`, `12h`, `30d`, or a combination from largest to smallest unit
 * (`1h30m`). Whole numbers only; a bare number is refused (its unit would be a
 * guess). Used by the configuration schemas (config/schema.ts) and by time
 * arguments (time-arg.ts); it knows no stage.
 */
import { CdrError } from './errors.ts';

const HOUR_MS = 3_600_000;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: HOUR_MS, d: 24 * HOUR_MS } as const;
const DURATION = /^(?:\d+(?:ms|s|m|h|d))+$/;
const PART = /(\d+)(ms|s|m|h|d)/g;

/** Milliseconds, or a `config_invalid` CdrError saying what is wrong with the text. */
export const parseDuration = (text: string): number => {
  const input = text.trim().toLowerCase();
  if (!DURATION.test(input)) {
    throw new CdrError(
      'config_invalid',
      `invalid duration "${text}": expected a whole number with a unit (ms, s, m, h, d), e.g. 15m, 12h, 30d, 1h30m`,
    );
  }
  let total = 0;
  let lastUnitMs = Infinity;
  for (const [, amount, unit] of input.matchAll(PART)) {
    const unitMs = UNIT_MS[unit as keyof typeof UNIT_MS];
    if (unitMs >= lastUnitMs) {
      throw new CdrError(
        'config_invalid',
        `invalid duration "${text}": units must go from largest to smallest, each once`,
      );
    }
    lastUnitMs = unitMs;
    total += Number(amount) * unitMs;
  }
  if (!Number.isSafeInteger(total)) {
    throw new CdrError('config_invalid', `invalid duration "${text}": too large`);
  }
  return total;
};
