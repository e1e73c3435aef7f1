/**
 * @module time-arg
 * The one reader of time arguments on the command line (`reconcile --once
 * --from/--to`, `tail --since`). Accepted, and nothing else:
 *   - ISO 8601 with `Z` or an offset: `2026-12-01T10:00:00Z`, `2026-12-01T10:00:00.5+01:00`
 *   - a date alone, as UTC midnight: `2026-12-01`
 *   - `now`, or a time relative to now in the duration syntax of the settings
 *     (`parseDuration`): `-48h`, `-90m`, `-1h30m`
 *   - where the caller allows it (`tail --since`), a bare duration meaning
 *     that long ago: `1h` is `-1h`
 * A time without an offset (`2026-12-01T10:00:00`) and other date shapes
 * (`2026/12/01`) are refused, never read as local time: the same command gives
 * the same range on every machine.
 */
import { parseDuration } from './duration.ts';

export type TimeArg = { ok: true; value: number } | { ok: false; error: string };

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** One example of every accepted form, for the refusal. */
export const TIME_FORMS =
  '2026-12-01T10:00:00Z or 2026-12-01T10:00:00+01:00 (ISO 8601 with Z or an offset), ' +
  '2026-12-01 (a date: UTC midnight), now, -48h / -90m / -1h30m (relative to now)';

const refuse = (text: string, why: string, bareDuration: boolean): TimeArg => ({
  ok: false,
  error: `"${text}" ${why}; use ${TIME_FORMS}${bareDuration ? ', or 1h (a duration: that long ago, the same as -1h)' : ''}`,
});

/** Milliseconds since the epoch of a UTC calendar time, or NaN when a field is out of range. */
const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number => {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d); // not Date.UTC: it reads years 0..99 as 1900..1999
  date.setUTCHours(h, mi, s, ms);
  const same =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  return same ? date.getTime() : Number.NaN;
};

const offsetMs = (zone: string): number => {
  if (zone.toUpperCase() === 'Z') return 0;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (hours > 23 || minutes > 59) return Number.NaN;
  return (zone[0] === '-' ? -1 : 1) * (hours * 60 + minutes) * 60_000;
};

/**
 * Reads `text` as a time (milliseconds since the epoch). `now` anchors the
 * relative forms; `bareDuration` also accepts `1h` as "1 h before now".
 */
export const parseTimeArg = (
  text: string,
  opts: { now: number; bareDuration?: boolean },
): TimeArg => {
  const bare = opts.bareDuration === true;
  const input = text.trim();
  if (input.toLowerCase() === 'now') return { ok: true, value: opts.now };
  const relative = input.startsWith('-')
    ? input.slice(1)
    : bare && /^\d+[a-z]/i.test(input)
      ? input
      : '';
  if (relative !== '') {
    try {
      return { ok: true, value: opts.now - parseDuration(relative) };
    } catch {
      return refuse(text, 'is not a duration (whole numbers with ms, s, m, h, d)', bare);
    }
  }
  const date = DATE.exec(input);
  if (date) {
    const t = utc(Number(date[1]), Number(date[2]), Number(date[3]));
    return Number.isNaN(t) ? refuse(text, 'is not a calendar date', bare) : { ok: true, value: t };
  }
  const m = DATE_TIME.exec(input);
  if (!m) return refuse(text, 'is not a time', bare);
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  if (zone === undefined) {
    return refuse(text, 'has no offset (it would be read as local time)', bare);
  }
  const fraction = Number((frac ?? '').padEnd(3, '0').slice(0, 3)); // milliseconds, cut
  const t =
    utc(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s ?? 0), fraction) -
    offsetMs(zone);
  return Number.isNaN(t) ? refuse(text, 'is not a calendar time', bare) : { ok: true, value: t };
};

/**
 * `--from -48h` as `--from=-48h` for the named flags: `util.parseArgs` takes a
 * value starting with a dash for another option and refuses it.
 */
export const attachRelativeTimes = (
  args: readonly string[],
  flags: readonly string[],
): string[] => {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const next = args[i + 1];
    if (
      a.startsWith('--') &&
      flags.includes(a.slice(2)) &&
      next !== undefined &&
      /^-\d/.test(next)
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
};
