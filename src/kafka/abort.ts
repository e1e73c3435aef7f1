/**
 * @module kafka/abort
 * What both adapters' reads share: waiting on a client call that a signal
 * may cut short (a stop request, the start deadline), the start deadline
 * itself, and the read's figures.
 */
import { CdrError } from '../errors.ts';
import type { RangeStats, ReadRangeOptions } from './port.ts';

/** Rejects with `signal`'s reason as soon as it aborts, else settles as `p` does. */
export const unlessAborted = <T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> => {
  if (signal === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
};

/**
 * A read begun (rejects at once when `signal` has aborted): the signal of
 * its start (reaching the cluster, finding offsets, joining), which aborts
 * with `kafka_timeout` after `startTimeoutMs` or with `signal`; `started()`
 * once under way; and its figures, the time counted from now.
 */
export const beginRead = ({ signal, startTimeoutMs }: ReadRangeOptions) => {
  signal?.throwIfAborted();
  const began = Date.now();
  const deadline = new AbortController();
  const timer =
    startTimeoutMs === undefined
      ? undefined
      : setTimeout(
          () =>
            deadline.abort(
              new CdrError('kafka_timeout', `Kafka did not answer within ${startTimeoutMs} ms`),
            ),
          startTimeoutMs,
        );
  return {
    starting: signal === undefined ? deadline.signal : AbortSignal.any([signal, deadline.signal]),
    started: () => clearTimeout(timer),
    stats: (exists: boolean, partitions = 0, records = 0): RangeStats => ({
      exists,
      partitions,
      records,
      ms: Date.now() - began,
    }),
  };
};

/** A bounded read that no record reached for `stallMs` while partitions remain. */
export const stalled = (topic: string, unread: number, stallMs: number): CdrError =>
  new CdrError(
    'kafka_timeout',
    `reading ${topic} stalled: ${unread} partition(s) unread after ${stallMs} ms`,
  );
