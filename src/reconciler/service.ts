/**
 * @module reconciler/service
 * Wires the reconciler from configuration (sink, Webex client, ledger reader,
 * dead-letter reader, audit writer, refresh-token file) and runs it once or on
 * a schedule: first run at start, then every interval; never two runs at once
 * in one process. stop() aborts first (the run ends between two steps, Webex
 * waits end at once), then closes the sink (so a start-up still retrying
 * against an unreachable Kafka gives up) and waits for the run: it never
 * hangs on Kafka or Webex. `oneShot` (`reconcile --once`): a start that has
 * not reached Kafka and the registry within STARTUP_TIMEOUT gives up, and the
 * run is a failed one naming what was not reached.
 *
 * One active reconciler among replicas (RECONCILE_LEASE, kafka/lease.ts): the
 * scheduled service runs only while it holds the lease. A member that
 * acquires it runs at once (it cannot know how far the last holder got),
 * unless its own last complete run is younger than RECONCILE_INTERVAL; one
 * that loses it aborts its run at once (the run ends between two steps, its
 * current window unfinished and without an audit record). `oneShot` joins the
 * group too: the run waits for the lease up to STARTUP_TIMEOUT once Kafka and
 * the registry are ready, and fails (`lease_unavailable`) if another member
 * keeps it. A run cut short by a lost lease counts in the totals but does not
 * become the last run. stop() leaves the group after the run has ended, so a
 * standby takes over without waiting for the session timeout.
 *
 * Health (for `/readyz`): not ready while Kafka or the registry is not, while
 * stopping, while the lease group cannot be joined; and, while this member is
 * the active one, when the last run failed (a window or org failed, or it
 * stopped early), and when no run has succeeded for twice RECONCILE_INTERVAL
 * (since the last success, or since it became active). A standby is ready: it
 * can take over.
 */
import { randomUUID } from 'node:crypto';
import { CdrError, describe } from '../errors.ts';
import { createCdrSink } from '../kafka/cdr-sink.ts';
import { HEADER } from '../kafka/messages.ts';
import type { Lease, LeaseStatus } from '../kafka/port.ts';
import type { Logger } from '../log.ts';
import type { ReconcilerConfig } from './options.ts';
import { plannableRange, planWindows, type Window } from './plan.ts';
import { codeOf, failedRun, type Progress, reconcile } from './reconcile.ts';
import { createAuditWriter } from './report.ts';
import { type RunSummary, runOutcome, summariseRun } from './rules.ts';
import { createWebexClient } from './webex/client.ts';
import { createRefreshTokenStore } from './webex/refresh-token-file.ts';

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
  /** Why it is not ready; empty when ready. */
  reasons: string[];
  running: boolean;
  runs: number;
  backfilledTotal: number;
  /** Sums of every finished run's totals, for the reconciler's counters. */
  sums: RunSummary['totals'];
  /** Sums of every finished run's failed windows and orgs by error code. */
  failedByCode: RunSummary['failedByCode'];
  lastRun: RunSummary | null;
  /** epoch ms */
  lastFinishedAt: number | null;
  /** When the last run that did not fail finished (epoch ms), or null. */
  lastSuccessAt: number | null;
  /** The lease among replicas; null when this process takes no part (RECONCILE_LEASE=false). */
  lease: (LeaseStatus & { held: boolean }) | null;
};

/** 'ready' once `started` resolves; 'stopped' if `signal` aborts first; else why it failed. */
const startOutcome = (
  started: Promise<void>,
  signal: AbortSignal,
): Promise<'ready' | 'stopped' | { error: unknown }> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve('stopped');
    const onAbort = () => resolve('stopped');
    signal.addEventListener('abort', onAbort, { once: true });
    started.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(signal.aborted ? 'stopped' : 'ready');
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        resolve(signal.aborted ? 'stopped' : { error });
      },
    );
  });

const addCounts = <K extends string>(
  into: Partial<Record<K, number>>,
  from: Partial<Record<K, number>>,
) => {
  for (const [k, n] of Object.entries(from) as [K, number][]) into[k] = (into[k] ?? 0) + n;
};

/** The codes a run failed with, for a readiness reason. */
const failureCodes = (s: RunSummary): string[] => [
  ...new Set([
    ...(s.stoppedBy === null ? [] : [s.stoppedBy.code]),
    ...Object.keys(s.failedByCode.windows),
    ...Object.keys(s.failedByCode.orgs),
  ]),
];

export const createReconciler = (
  config: ReconcilerConfig,
  logger: Logger,
  deps: {
    fetch?: typeof fetch;
    now?: () => number;
    /**
     * `reconcile --once`: give up on Kafka and the registry after STARTUP_TIMEOUT,
     * and take the lease (waiting for it up to STARTUP_TIMEOUT) before the run.
     */
    oneShot?: boolean;
  } = {},
): Reconciler => {
  const now = deps.now ?? Date.now;
  const createdAt = now();
  const tokenStore = createRefreshTokenStore({ path: config.refreshTokenFile, logger });
  const webex = createWebexClient(
    { ...config.webex, logger, onRefreshTokenRotated: tokenStore.onRotated },
    deps.fetch === undefined ? {} : { fetch: deps.fetch },
  );
  const sink = createCdrSink(config, logger, [config.auditTopic], {
    giveUpAfterStartupTimeout: deps.oneShot === true,
  });
  const writeAudit = createAuditWriter(sink.producer, config.auditTopic, config.publishTimeoutMs);
  const abort = new AbortController();
  let running: Promise<RunSummary> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;
  let scheduled = false;

  // The lease: `holding` aborts when it is lost; `acquiredAt` (now()) when it was last acquired.
  let lease: Lease | undefined;
  let holding = new AbortController();
  let acquiredAt: number | null = null;
  const waiters = new Set<() => void>();
  const startLease = () => {
    if (config.lease === null || lease !== undefined) return;
    lease = sink.kafka.lease({
      ...config.lease,
      createTopic: config.createTopics,
      replicationFactor: config.replicationFactor,
      logger: logger.child({ component: 'lease' }),
      onAcquired: () => {
        holding = new AbortController();
        acquiredAt = now();
        for (const w of waiters) w();
        if (scheduled && running === null && !abort.signal.aborted) {
          clearTimeout(timer);
          timer = setTimeout(tick, dueInMs());
        }
      },
      onLost: (reason) =>
        holding.abort(
          new CdrError('lease_unavailable', `the reconciler lease was lost: ${reason}`),
        ),
    });
  };
  const holds = () => lease === undefined || lease.held();

  /** Waits until the lease is held, at most `ms`: why not, or null. */
  const waitForLease = async (ms: number, signal: AbortSignal): Promise<CdrError | null> => {
    const l = lease;
    if (l === undefined || l.held()) return null;
    let wake: () => void = () => undefined;
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    waiters.add(wake);
    const timeout = AbortSignal.timeout(ms);
    const onEnd = () => wake();
    for (const s of [signal, timeout]) s.addEventListener('abort', onEnd, { once: true });
    try {
      await woken;
    } finally {
      waiters.delete(wake);
      for (const s of [signal, timeout]) s.removeEventListener('abort', onEnd);
    }
    if (l.held() || signal.aborted) return null;
    const { problem } = l.status();
    return new CdrError(
      'lease_unavailable',
      `the reconciler lease (group ${config.lease?.groupId}, topic ${config.lease?.topic}) was not acquired within ${ms / 1000}s (STARTUP_TIMEOUT): ${problem ?? 'another reconciler holds it (a service, or another --once); to run beside it anyway, set RECONCILE_LEASE=false'}`,
    );
  };
  if (deps.oneShot === true) startLease();

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
    failedByCode: { windows: {}, orgs: {} } as RunSummary['failedByCode'],
    lastRun: null as RunSummary | null,
    lastFinishedAt: null as number | null,
    lastSuccessAt: null as number | null,
  };

  const notReadyReasons = (): string[] => {
    const reasons: string[] = [];
    if (stopping !== undefined) reasons.push('stopping');
    const sinkState = sink.readiness();
    if (!sinkState.ready) {
      // The sink says what start-up waits for (Kafka, the registry, the producer id) and why.
      reasons.push(`Kafka or the registry not ready: ${sinkState.problem?.message ?? 'starting'}`);
    }
    const leased = lease?.status();
    if (leased?.state === 'failed') reasons.push(`lease: ${leased.problem}`);
    if (leased?.state === 'starting') {
      const why = leased.problem === null ? '' : `: ${leased.problem}`;
      reasons.push(`lease: joining the group ${config.lease?.groupId}${why}`);
    }
    // A standby is not responsible for runs: it is ready to take over.
    if (!holds()) return reasons;
    const last = status.lastRun;
    if (last !== null && runOutcome(last) === 'failed') {
      reasons.push(`last run failed: ${failureCodes(last).join(', ') || 'stopped early'}`);
    }
    const staleAfterMs = 2 * config.intervalMs;
    const since = Math.max(status.lastSuccessAt ?? createdAt, acquiredAt ?? createdAt);
    if (now() - since > staleAfterMs) {
      reasons.push(
        `stale: no successful run for ${Math.round((now() - since) / 60_000)} min (more than twice RECONCILE_INTERVAL)`,
      );
    }
    return reasons;
  };

  const runOnce = async (windows?: Window[], onProgress?: (p: Progress) => void) => {
    if (running !== null) throw new Error('a reconciliation run is already in progress');
    // The service's run ends when the lease is lost; a one-shot run's once it holds it.
    const service = lease !== undefined && deps.oneShot !== true;
    let signal = service ? AbortSignal.any([abort.signal, holding.signal]) : abort.signal;
    const run = (async () => {
      const start = await startOutcome(sink.started, signal);
      if (start === 'stopped') {
        logger.info('reconciliation run stopped before Kafka was ready');
        return summariseRun(randomUUID(), [], windows?.length ?? 0, true);
      }
      if (start !== 'ready') {
        return failedRun(
          windows ?? plan(),
          codeOf(start.error, 'not_ready'),
          describe(start.error),
        );
      }
      const missing =
        lease === undefined || lease.held()
          ? null
          : service
            ? new CdrError('lease_unavailable', 'this reconciler does not hold the lease')
            : await waitForLease(config.startupTimeoutMs, abort.signal);
      if (abort.signal.aborted) return summariseRun(randomUUID(), [], windows?.length ?? 0, true);
      if (missing !== null) {
        logger.error('reconciliation run not started', { error: missing.message });
        return failedRun(windows ?? plan(), missing.code, missing.message);
      }
      if (lease !== undefined) signal = AbortSignal.any([abort.signal, holding.signal]);
      return reconcile(
        {
          webex,
          // a fresh cluster's group coordinator may still be loading at the first read
          topicReadAttempts: 3,
          readTopic: (from, ledger, signal) =>
            sink.kafka.readRange({
              topic: config.topic,
              fromTimestamp: from,
              onStart: (records) => ledger.reserve(records),
              onRecord: (r) => ledger.observe(r),
              ...(signal === undefined ? {} : { signal }),
            }),
          readDeadLetterHashes: async (from, signal) => {
            const hashes = new Set<string>();
            await sink.kafka.readRange({
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
          signal,
          ...(onProgress === undefined ? {} : { onProgress }),
        },
        windows ?? plan(),
      );
    })();
    running = run;
    try {
      let summary = await run;
      // Cut short by the loss of the lease (not by stop()): say so, but keep the last run.
      const lost = signal.aborted && !abort.signal.aborted ? (signal.reason as CdrError) : null;
      if (lost !== null) {
        summary = {
          ...summary,
          aborted: true,
          stoppedBy: { code: lost.code, error: lost.message },
        };
      }
      status.runs += 1;
      status.backfilledTotal += summary.totals.backfilled;
      for (const k of Object.keys(status.sums) as (keyof RunSummary['totals'])[]) {
        status.sums[k] += summary.totals[k];
      }
      addCounts(status.failedByCode.windows, summary.failedByCode.windows);
      addCounts(status.failedByCode.orgs, summary.failedByCode.orgs);
      if (lost !== null) return summary;
      status.lastRun = summary;
      status.lastFinishedAt = now();
      if (runOutcome(summary) !== 'failed') status.lastSuccessAt = status.lastFinishedAt;
      return summary;
    } finally {
      running = null;
    }
  };

  /** Until the next run is due: RECONCILE_INTERVAL after the last complete run, or now. */
  const dueInMs = () =>
    status.lastFinishedAt === null
      ? 0
      : Math.max(0, status.lastFinishedAt + config.intervalMs - now());

  // A standby does not run; acquiring the lease schedules the next run.
  function tick() {
    timer = undefined;
    if (abort.signal.aborted || !holds()) return;
    if (running !== null) {
      logger.warn('previous run still in progress: skipping this one');
      timer = setTimeout(tick, config.intervalMs);
      return;
    }
    void runOnce()
      .catch((e: unknown) => {
        logger.error('reconciliation run failed', {
          error: e instanceof Error ? e.message : String(e),
        });
      })
      .finally(() => {
        if (abort.signal.aborted || !holds()) return;
        clearTimeout(timer);
        timer = setTimeout(tick, dueInMs());
      });
  }

  return {
    runOnce,
    plan,
    schedule: () => {
      logger.info('reconciler scheduled', {
        intervalMs: config.intervalMs,
        lookbackMs: config.lookbackMs,
        settleMs: config.settleMs,
        windowsPerPass: config.windowsPerPass,
        lease:
          config.lease === null
            ? 'off (RECONCILE_LEASE=false)'
            : `${config.lease.groupId} on ${config.lease.topic}`,
      });
      scheduled = true;
      startLease();
      tick();
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
        // the run has ended: leaving the group hands the lease to a standby at once
        await lease?.stop();
        await tokenStore.flush();
      })();
      return stopping;
    },
    webexStats: () => webex.stats(),
    status: () => {
      const reasons = notReadyReasons();
      return {
        ...status,
        sums: { ...status.sums },
        failedByCode: {
          windows: { ...status.failedByCode.windows },
          orgs: { ...status.failedByCode.orgs },
        },
        ready: reasons.length === 0,
        reasons,
        running: running !== null,
        lease: lease === undefined ? null : { ...lease.status(), held: lease.held() },
      };
    },
  };
};
