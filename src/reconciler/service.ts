/**
 * @module reconciler/service
 * Wires the reconciler from configuration (sink, Webex client, ledger reader,
 * dead-letter reader, audit writer, refresh-token file) and runs it once or on
 * a schedule: first run at start, then every interval; never two runs at once
 * in one process. stop() aborts first (the run ends between two steps, Webex
 * waits end at once), then closes the sink (so a start-up still retrying
 * against an unreachable Kafka gives up) and waits for the run: it never
 * hangs on Kafka or Webex.
 */
import { randomUUID } from 'node:crypto';
import type { ReconcilerConfig } from '../config.ts';
import { createCdrSink } from '../kafka/cdr-sink.ts';
import { HEADER } from '../kafka/messages.ts';
import { readTopicRange } from '../kafka/read-range.ts';
import type { Logger } from '../log.ts';
import { plannableRange, planWindows, type Window } from './plan.ts';
import { type Progress, type RunSummary, reconcile, summariseRun } from './reconcile.ts';
import { createRefreshTokenStore } from './refresh-token-file.ts';
import { createAuditWriter } from './report.ts';
import { createWebexClient } from './webex-client.ts';

export type Reconciler = {
  runOnce(windows?: Window[], onProgress?: (p: Progress) => void): Promise<RunSummary>;
  /** The windows of [from, to], clipped to what a run started at `now` may ask Webex about. */
  plan(range?: { from?: number; to?: number; now?: number }): Window[];
  /** Runs now and then every interval until stop(). */
  schedule(): void;
  stop(): Promise<void>;
  webexStats(): ReturnType<ReturnType<typeof createWebexClient>['stats']>;
  status(): ReconcilerStatus;
};

export type ReconcilerStatus = {
  ready: boolean;
  running: boolean;
  runs: number;
  backfilledTotal: number;
  /** Sums of every finished run's totals, for the reconciler's counters. */
  sums: RunSummary['totals'];
  lastRun: RunSummary | null;
  /** epoch ms */
  lastFinishedAt: number | null;
};

/** Resolves true once `started` resolves, false if it rejects or `signal` aborts first. */
const readyUnlessAborted = (started: Promise<void>, signal: AbortSignal): Promise<boolean> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = () => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    started.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(!signal.aborted);
      },
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(false);
      },
    );
  });

export const createReconciler = (
  config: ReconcilerConfig,
  logger: Logger,
  deps: { fetch?: typeof fetch; now?: () => number } = {},
): Reconciler => {
  const now = deps.now ?? Date.now;
  const tokenStore = createRefreshTokenStore({ path: config.refreshTokenFile, logger });
  const webex = createWebexClient(
    { ...config.webex, logger, onRefreshTokenRotated: tokenStore.onRotated },
    deps.fetch === undefined ? {} : { fetch: deps.fetch },
  );
  const sink = createCdrSink(config, logger, [config.auditTopic]);
  const writeAudit = createAuditWriter(sink.producer, config.auditTopic, config.publishTimeoutMs);
  const abort = new AbortController();
  let running: Promise<RunSummary> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;

  const plan = (range: { from?: number; to?: number; now?: number } = {}) => {
    const at = range.now ?? now();
    const allowed = plannableRange({
      now: at,
      lookbackMs: config.lookbackMs,
      settleMs: config.settleMs,
    });
    return planWindows({
      now: at,
      lookbackMs: at - allowed.from,
      settleMs: at - allowed.to,
      ...(range.from === undefined ? {} : { from: range.from }),
      ...(range.to === undefined ? {} : { to: range.to }),
    });
  };

  const status = {
    runs: 0,
    backfilledTotal: 0,
    sums: summariseRun('', [], 0, false).totals,
    lastRun: null as RunSummary | null,
    lastFinishedAt: null as number | null,
  };

  const runOnce = async (windows?: Window[], onProgress?: (p: Progress) => void) => {
    if (running !== null) throw new Error('a reconciliation run is already in progress');
    const run = (async () => {
      if (!(await readyUnlessAborted(sink.started, abort.signal))) {
        logger.info('reconciliation run stopped before Kafka was ready');
        return summariseRun(randomUUID(), [], windows?.length ?? 0, true);
      }
      return reconcile(
        {
          webex,
          readTopic: (from, ledger, signal) =>
            readTopicRange(sink.kafka, {
              topic: config.topic,
              fromTimestamp: from,
              onRecord: (r) => ledger.observe(r),
              ...(signal === undefined ? {} : { signal }),
            }),
          readDeadLetterHashes: async (from, signal) => {
            const hashes = new Set<string>();
            await readTopicRange(sink.kafka, {
              topic: config.dlqTopic,
              fromTimestamp: from,
              onRecord: (r) => {
                const hash = r.headers[HEADER.rawSha256];
                if (hash !== undefined) hashes.add(hash);
              },
              ...(signal === undefined ? {} : { signal }),
            });
            return hashes;
          },
          publisher: sink.publisher,
          writeAudit,
          feed: config.feed,
          privacy: config.privacy,
          logger,
          publishTimeoutMs: config.publishTimeoutMs,
          windowsPerPass: config.windowsPerPass,
          clockSkewMs: config.clockSkewMs,
          lookbackMs: config.lookbackMs,
          now,
          signal: abort.signal,
          ...(onProgress === undefined ? {} : { onProgress }),
        },
        windows ?? plan(),
      );
    })();
    running = run;
    try {
      const summary = await run;
      status.runs += 1;
      status.backfilledTotal += summary.totals.backfilled;
      for (const k of Object.keys(status.sums) as (keyof RunSummary['totals'])[]) {
        status.sums[k] += summary.totals[k];
      }
      status.lastRun = summary;
      status.lastFinishedAt = now();
      return summary;
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
        windowsPerPass: config.windowsPerPass,
      });
      void tick();
    },
    stop() {
      stopping ??= (async () => {
        abort.abort();
        clearTimeout(timer);
        const run = running;
        await sink.close().catch((e: unknown) =>
          logger.warn('closing the Kafka client failed', {
            error: e instanceof Error ? e.message : String(e),
          }),
        );
        await run?.catch(() => undefined);
        await tokenStore.flush();
      })();
      return stopping;
    },
    webexStats: () => webex.stats(),
    status: () => ({
      ...status,
      sums: { ...status.sums },
      ready: stopping === undefined && sink.readiness().ready,
      running: running !== null,
    }),
  };
};
