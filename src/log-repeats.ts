/**
 * @module log-repeats
 * Warnings that may come once per request (a wrong webhook secret turns every
 * delivery into a 401) without flooding the log: per key (a reason code), the
 * first one is logged at once; repeats within the next `intervalMs` are only
 * counted, and one summary line (`repeated`, `withinSeconds`) follows at the
 * end of that interval, as long as they keep coming. `flush()` writes the
 * pending summaries at once (shutdown).
 */
import type { Logger } from './log.ts';

type Fields = Record<string, unknown>;

export type RepeatedWarnings = {
  warn(key: string, msg: string, fields: Fields): void;
  flush(): void;
};

/** At most one line per key and minute, after the first. */
export const REPEAT_INTERVAL_MS = 60_000;

export const createRepeatedWarnings = (
  logger: Logger,
  intervalMs: number = REPEAT_INTERVAL_MS,
): RepeatedWarnings => {
  type Entry = { msg: string; fields: Fields; repeated: number; timer: NodeJS.Timeout };
  const entries = new Map<string, Entry>();

  const summarise = (key: string) => {
    const e = entries.get(key);
    if (e === undefined) return;
    clearTimeout(e.timer);
    if (e.repeated === 0) {
      entries.delete(key);
      return;
    }
    logger.warn(e.msg, { ...e.fields, repeated: e.repeated, withinSeconds: intervalMs / 1000 });
    e.repeated = 0;
    e.timer = setTimeout(() => summarise(key), intervalMs).unref();
  };

  return {
    warn(key, msg, fields) {
      const e = entries.get(key);
      if (e !== undefined) {
        e.repeated += 1;
        e.fields = fields;
        return;
      }
      logger.warn(msg, fields);
      const timer = setTimeout(() => summarise(key), intervalMs).unref();
      entries.set(key, { msg, fields, repeated: 0, timer });
    },
    flush() {
      for (const key of [...entries.keys()]) {
        summarise(key);
        const e = entries.get(key);
        if (e !== undefined) clearTimeout(e.timer);
        entries.delete(key);
      }
    },
  };
};
