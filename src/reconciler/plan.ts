/**
 * @module reconciler/plan
 * Which windows to ask Webex about. The reconciliation APIs accept a window of
 * at most 60 minutes that ends at least 5 minutes ago and starts no earlier
 * than the retention (48 h, configurable up to 30 days). `planWindows` cuts
 * the allowed range [now - lookback, now - settle] (optionally narrowed to
 * [from, to]) into hour-aligned windows [start, end): the first may start
 * mid-hour, the last may end mid-hour, none is empty, oldest first.
 */

/** Epoch milliseconds, half-open: [start, end). */
export type Window = { start: number; end: number };

export type PlanOptions = {
  /** Epoch ms; the instant the plan is made for. */
  now: number;
  /** How far back to reconcile. Default 48 h, at most 30 days. */
  lookbackMs?: number;
  /** How long to leave recent calls alone. Default 15 min, never below 5 min. */
  settleMs?: number;
  /** Narrow the range (epoch ms); clipped to [now - lookback, now - settle]. */
  from?: number;
  to?: number;
};

export const HOUR_MS = 3_600_000;
export const MAX_WINDOW_MS = HOUR_MS;
export const DEFAULT_LOOKBACK_MS = 48 * HOUR_MS;
export const MAX_LOOKBACK_MS = 30 * 24 * HOUR_MS;
export const DEFAULT_SETTLE_MS = 15 * 60_000;
/** Webex refuses windows that end less than 5 minutes ago. */
export const MIN_SETTLE_MS = 5 * 60_000;

const requireFinite = (name: string, value: number): void => {
  if (!Number.isFinite(value))
    throw new RangeError(`${name} must be a finite number, got ${value}`);
};

/**
 * The windows to reconcile, oldest first. A lookback above 30 days is cut to
 * 30 days and a settle time below 5 minutes is raised to 5 minutes: both only
 * ever narrow the range to what Webex accepts. Returns [] when nothing is left.
 */
export const planWindows = (options: PlanOptions): Window[] => {
  const { now, from, to } = options;
  const lookbackMs = options.lookbackMs ?? DEFAULT_LOOKBACK_MS;
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  requireFinite('now', now);
  requireFinite('lookbackMs', lookbackMs);
  requireFinite('settleMs', settleMs);
  if (from !== undefined) requireFinite('from', from);
  if (to !== undefined) requireFinite('to', to);
  if (lookbackMs <= 0) throw new RangeError(`lookbackMs must be positive, got ${lookbackMs}`);
  if (settleMs < 0) throw new RangeError(`settleMs must not be negative, got ${settleMs}`);

  const lo = Math.max(now - Math.min(lookbackMs, MAX_LOOKBACK_MS), from ?? -Infinity);
  const hi = Math.min(now - Math.max(settleMs, MIN_SETTLE_MS), to ?? Infinity);

  const windows: Window[] = [];
  for (let start = lo; start < hi; ) {
    const nextHour = Math.floor(start / HOUR_MS) * HOUR_MS + HOUR_MS;
    const end = Math.min(nextHour, hi);
    windows.push({ start, end });
    start = end;
  }
  return windows;
};

/** A run leaves the oldest minutes of the look-back out, so no request is older than Webex allows when it goes out. */
export const LOOKBACK_MARGIN_MS = 10 * 60_000;

/**
 * The range a run started at `now` covers: [now - (lookback - 10 min), now -
 * settle], with the lookback capped at 30 days (and never under 1 h) and the
 * settle time raised to 5 minutes, like `planWindows`.
 */
export const plannableRange = (o: {
  now: number;
  lookbackMs: number;
  settleMs: number;
}): { from: number; to: number } => ({
  from: o.now - Math.max(HOUR_MS, Math.min(o.lookbackMs, MAX_LOOKBACK_MS) - LOOKBACK_MARGIN_MS),
  to: o.now - Math.max(o.settleMs, MIN_SETTLE_MS),
});

/**
 * Whether Webex still accepts requests for `window` at `now`: it starts no
 * earlier than now - lookback (the configured retention) and ends at least 5
 * minutes ago.
 */
export const isWindowAlive = (window: Window, o: { now: number; lookbackMs: number }): boolean =>
  window.start >= o.now - o.lookbackMs && window.end <= o.now - MIN_SETTLE_MS;

/** `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC, the format of `startTime`/`endTime`. */
export const formatWebexTime = (ms: number): string => {
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  if (Number.isNaN(date.getTime()) || year < 0 || year > 9999) {
    throw new RangeError(`not a representable time: ${ms}`);
  }
  return date.toISOString();
};
