/**
 * @module dedup/topic-index
 * The dedup memory is the CDR topic itself: at start the index
 * (dedup/report-index.ts) is built from the headers of every record published
 * within DEDUP_WINDOW (`cdr-report-id`, `cdr-content-hash`, `cdr-version`,
 * `cdr-report-time`; values are never decoded), read through the Kafka port;
 * then the topic is tailed, so the index learns what other replicas and the
 * reconciler publish, and a restarted process knows what was published before
 * it. What this process publishes is added as soon as Kafka acknowledged it.
 *
 * While the first read runs the index is warming: `problem()` is the
 * not_ready error a delivery gets (503 with Retry-After: Webex sends it
 * again), and `/readyz` fails; nothing is published against an incomplete
 * index. The tail starts a little before the first read did (records
 * published meanwhile are seen twice, which changes nothing); if it fails it
 * is started again. Two replicas that receive the same record within the tail
 * lag (`lagMs`) can both publish it: docs/reliability.md.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CdrError, describe } from '../errors.ts';
import type { KafkaClient, KeyAndHeaders } from '../kafka/port.ts';
import type { Logger } from '../log.ts';
import { isContentHash } from './content-hash.ts';
import { createReportIndex, type Seen, type Verdict } from './report-index.ts';

/** The tail starts this long before the first read did (clocks of the brokers and this host). */
export const TAIL_OVERLAP_MS = 60_000;
const RETRY_MS = 1_000;

export type DedupStats = {
  warm: boolean;
  /** Report IDs held. */
  size: number;
  tableBytes: number;
  /** Records read by the first read, and how long it took (null while warming). */
  warmRecords: number;
  warmMs: number | null;
  /** Records read by the tail since. */
  tailRecords: number;
  /** Age of the last record the tail saw when it saw it (null before the first). */
  lagMs: number | null;
  repeats: number;
  versions: number;
};

/** What the publisher asks of the index (kafka/publish-cdrs.ts). */
export type DedupIndex = {
  /** not_ready while warming; null once the index is complete. */
  problem(): CdrError | null;
  check(reportId: string, hash: string): Verdict;
  /** Records Kafka acknowledged, and the repeats dropped / versions marked with them. */
  published(seen: Seen[], counts: { repeats: number; versions: number }): void;
};

export type TopicIndex = DedupIndex & {
  /** Reads the window and starts the tail; resolves when warm (rejects if the first read fails for good). */
  start(): Promise<void>;
  stats(): DedupStats;
  /** Stops the tail (and a first read still running); resolves once their consumers have left. */
  close(): Promise<void>;
};

/** The record as the index keeps it, from its headers; null when it has no Report ID. */
export const seenFromHeaders = (r: Pick<KeyAndHeaders, 'headers' | 'timestamp'>): Seen | null => {
  const reportId = r.headers['cdr-report-id'];
  if (reportId === undefined || reportId === '') return null;
  const hash = r.headers['cdr-content-hash'];
  const version = Number.parseInt(r.headers['cdr-version'] ?? '1', 10);
  const time = Date.parse(r.headers['cdr-report-time'] ?? '');
  return {
    reportId,
    hash: isContentHash(hash) ? hash : null,
    version: Number.isSafeInteger(version) && version > 0 ? version : 1,
    reportTime: Number.isNaN(time) ? null : time,
    publishedAt: r.timestamp,
  };
};

export const createTopicIndex = (deps: {
  kafka: Pick<KafkaClient, 'readRange'>;
  topic: string;
  windowMs: number;
  logger: Logger;
  now?: () => number;
  /** How often what left the window is dropped (default: a quarter of the window, at most 1 h). */
  pruneEveryMs?: number;
  startTimeoutMs?: number;
}): TopicIndex => {
  const now = deps.now ?? Date.now;
  const { topic, windowMs, logger } = deps;
  const index = createReportIndex(windowMs);
  const stopping = new AbortController();
  let warm = false;
  let warmRecords = 0;
  let warmMs: number | null = null;
  let tailRecords = 0;
  let lagMs: number | null = null;
  let repeats = 0;
  let versions = 0;
  /** The reads running (the first one, then the tail), awaited by close(). */
  const reads = new Set<Promise<unknown>>();
  const running = <T>(p: Promise<T>): Promise<T> => {
    reads.add(p);
    void p.finally(() => reads.delete(p)).catch(() => undefined);
    return p;
  };
  const observe = (r: KeyAndHeaders) => {
    const seen = seenFromHeaders(r);
    if (seen !== null) index.observe(seen);
  };
  const pruneEvery = deps.pruneEveryMs ?? Math.max(1_000, Math.min(3_600_000, windowMs / 4));
  const pruner = setInterval(() => {
    const dropped = index.prune(now());
    if (dropped > 0) logger.debug('dedup index pruned', { dropped, size: index.size });
  }, pruneEvery);
  pruner.unref();

  const tail = async (from: number) => {
    for (;;) {
      try {
        await running(
          deps.kafka.readRange({
            topic,
            fromTimestamp: from,
            follow: true,
            signal: stopping.signal,
            ...(deps.startTimeoutMs === undefined ? {} : { startTimeoutMs: deps.startTimeoutMs }),
            onRecord: (r) => {
              tailRecords += 1;
              lagMs = Math.max(0, now() - r.timestamp);
              observe(r);
            },
          }),
        );
        if (stopping.signal.aborted) return;
      } catch (e) {
        if (stopping.signal.aborted) return;
        logger.warn('dedup index: the topic tail failed, starting it again', {
          topic,
          error: describe(e),
          retryInMs: RETRY_MS,
        });
      }
      await sleep(RETRY_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
      if (stopping.signal.aborted) return;
      from = now() - TAIL_OVERLAP_MS;
    }
  };

  return {
    async start() {
      const started = now();
      for (;;) {
        try {
          const stats = await running(
            deps.kafka.readRange({
              topic,
              fromTimestamp: started - windowMs,
              onStart: (records) => index.reserve(records),
              onRecord: observe,
              signal: stopping.signal,
              ...(deps.startTimeoutMs === undefined ? {} : { startTimeoutMs: deps.startTimeoutMs }),
            }),
          );
          warmRecords = stats.records;
          break;
        } catch (e) {
          stopping.signal.throwIfAborted();
          logger.warn('dedup index: reading the topic failed, retrying', {
            topic,
            error: describe(e),
            retryInMs: RETRY_MS,
          });
          await sleep(RETRY_MS, undefined, { signal: stopping.signal });
        }
      }
      warmMs = now() - started;
      warm = true;
      logger.info('dedup index warm', {
        topic,
        windowMs,
        records: warmRecords,
        reportIds: index.size,
        ms: warmMs,
      });
      void running(tail(started - TAIL_OVERLAP_MS));
    },
    problem: () =>
      warm
        ? null
        : new CdrError(
            'not_ready',
            `starting: the dedup index is reading ${topic} (DEDUP_WINDOW ${windowMs / 3_600_000} h)`,
          ),
    check: (reportId, hash) => index.check(reportId, hash),
    published(seen, counts) {
      for (const s of seen) index.observe(s);
      repeats += counts.repeats;
      versions += counts.versions;
    },
    stats: () => ({
      warm,
      size: index.size,
      tableBytes: index.tableBytes,
      warmRecords,
      warmMs,
      tailRecords,
      lagMs,
      repeats,
      versions,
    }),
    async close() {
      clearInterval(pruner);
      stopping.abort(new Error('stopped'));
      await Promise.allSettled([...reads]);
    },
  };
};
