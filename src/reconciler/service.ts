/**
 * @module reconciler/service
 * Wires the reconciler from configuration (sink, Webex client, ledger reader,
 * audit writer) and runs it once or on a schedule: first run at start, then
 * every interval; never two runs at once in one process; a stop request ends
 * the current run between two orgs and waits for it.
 */
import type { ReconcilerConfig } from '../config.ts';
import { createCdrSink } from '../kafka/cdr-sink.ts';
import { readTopicRange } from '../kafka/read-range.ts';
import type { Logger } from '../log.ts';
import { planWindows, type Window } from './plan.ts';
import { type Progress, type RunSummary, reconcile } from './reconcile.ts';
import { createAuditWriter } from './report.ts';
import { createWebexClient } from './webex-client.ts';

/** Leave the oldest minutes out, so no request is older than Webex allows when it goes out. */
export const LOOKBACK_MARGIN_MS = 10 * 60_000;

export type Reconciler = {
  runOnce(windows?: Window[], onProgress?: (p: Progress) => void): Promise<RunSummary>;
  plan(range?: { from?: number; to?: number }): Window[];
  /** Runs now and then every interval until stop(). */
  schedule(): void;
  stop(): Promise<void>;
  webexStats(): ReturnType<ReturnType<typeof createWebexClient>['stats']>;
};

export const createReconciler = (
  config: ReconcilerConfig,
  logger: Logger,
  deps: { fetch?: typeof fetch; now?: () => number } = {},
): Reconciler => {
  const now = deps.now ?? Date.now;
  const sink = createCdrSink(config, logger, [config.auditTopic]);
  const webex = createWebexClient(
    { ...config.webex, logger },
    deps.fetch === undefined ? {} : { fetch: deps.fetch },
  );
  const writeAudit = createAuditWriter(sink.producer, config.auditTopic, config.publishTimeoutMs);
  const abort = new AbortController();
  let running: Promise<RunSummary> | null = null;
  let timer: NodeJS.Timeout | undefined;

  const plan = (range: { from?: number; to?: number } = {}) =>
    planWindows({
      now: now(),
      lookbackMs: Math.max(60 * 60_000, config.lookbackMs - LOOKBACK_MARGIN_MS),
      settleMs: config.settleMs,
      ...(range.from === undefined ? {} : { from: range.from }),
      ...(range.to === undefined ? {} : { to: range.to }),
    });

  const runOnce = async (windows?: Window[], onProgress?: (p: Progress) => void) => {
    if (running !== null) throw new Error('a reconciliation run is already in progress');
    const run = (async () => {
      await sink.started;
      return reconcile(
        {
          webex,
          readTopic: (from, ledger) =>
            readTopicRange(sink.kafka, {
              topic: config.topic,
              fromTimestamp: from,
              onRecord: (r) => ledger.observe(r),
            }),
          publisher: sink.publisher,
          writeAudit,
          feed: config.feed,
          logger,
          publishTimeoutMs: config.publishTimeoutMs,
          maxIdsPerPass: config.maxIdsPerPass,
          clockSkewMs: config.clockSkewMs,
          now,
          signal: abort.signal,
          ...(onProgress === undefined ? {} : { onProgress }),
        },
        windows ?? plan(),
      );
    })();
    running = run;
    try {
      return await run;
    } finally {
      running = null;
    }
  };

  const tick = async () => {
    if (abort.signal.aborted) return;
    try {
      if (running === null) await runOnce();
      else logger.warn('previous run still in progress: skipping this one');
    } catch (e) {
      logger.error('reconciliation run failed', {
        error: e instanceof Error ? e.message : String(e),
      });
    }
    if (!abort.signal.aborted) timer = setTimeout(tick, config.intervalMs);
  };

  return {
    runOnce,
    plan,
    schedule: () => {
      logger.info('reconciler scheduled', {
        intervalMs: config.intervalMs,
        lookbackMs: config.lookbackMs,
        settleMs: config.settleMs,
      });
      void tick();
    },
    async stop() {
      abort.abort();
      clearTimeout(timer);
      await running?.catch(() => undefined);
      await sink.close();
    },
    webexStats: () => webex.stats(),
  };
};
