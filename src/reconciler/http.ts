/**
 * @module reconciler/http
 * The reconciler's own small HTTP face (when RECONCILER_PORT is set), for
 * probes and alerting: `/healthz`, `/readyz` (Kafka, registry and topics
 * ready, the last run did not fail, a run succeeded within twice the
 * interval; 503 with the reasons otherwise), and `/metrics` with the figures
 * of the last run and the lease (`lease_held`: 1 on the active replica, and
 * without a lease; acquisitions and losses counted). Alert on
 * `webex_cdr_reconcile_last_run_still_missing > 0`, on failed windows, on a
 * last success older than twice the interval, and on `sum(lease_held) != 1`.
 */
import { Hono } from 'hono';
import type { ErrorCode } from '../errors.ts';
import { createCounter, createGauge, processMetrics, renderMetrics } from '../metrics.ts';
import type { ReconcilerStatus } from './service.ts';

const P = 'webex_cdr_reconcile';

/** The codes a window or org usually fails with: their series exist from the start, at 0. */
const FAILURE_CODES: readonly ErrorCode[] = [
  'webex_http',
  'webex_auth_failed',
  'webex_invalid_response',
  'window_aged_out',
  'kafka_timeout',
  'kafka_failed',
  'not_ready',
  'startup_timeout',
];

const byCode = (name: string, help: string, counts: Partial<Record<ErrorCode, number>>) => {
  const c = createCounter(`${P}_${name}_total`, help);
  for (const code of FAILURE_CODES) c.add(0, { code });
  for (const [code, n] of Object.entries(counts)) c.add(n, { code });
  return c;
};

/** Counters over all runs, gauges of the last run (absent before the first). */
export const renderReconcilerMetrics = (s: ReconcilerStatus): string => {
  const counter = (name: string, help: string, value: number) => {
    const c = createCounter(`${P}_${name}_total`, help);
    c.add(value);
    return c;
  };
  const gauge = (name: string, help: string, value: number) => {
    const g = createGauge(name, help);
    g.set(value);
    return g;
  };
  const records = createCounter(
    'webex_cdr_records_total',
    'CDRs by source and outcome (published, dead_lettered).',
  );
  records.add(s.sums.backfilled, { source: 'reconciler', outcome: 'published' });
  records.add(s.sums.deadLettered, { source: 'reconciler', outcome: 'dead_lettered' });
  const t = s.lastRun?.totals;
  const last =
    t === undefined || s.lastFinishedAt === null
      ? []
      : [
          gauge(
            `${P}_last_run_finished_seconds`,
            'When the last run finished (Unix time).',
            s.lastFinishedAt / 1000,
          ),
          gauge(`${P}_last_run_windows`, 'Windows the last run covered.', t.windows),
          gauge(`${P}_last_run_webex_records`, 'Records Webex counted.', t.webex),
          gauge(
            `${P}_last_run_missing`,
            'Records found missing from the topic.',
            t.backfilled + t.stillMissing,
          ),
          gauge(`${P}_last_run_backfilled`, 'Records backfilled.', t.backfilled),
          gauge(
            `${P}_last_run_still_missing`,
            'Records Webex has that are still not on the topic (unresolved).',
            t.stillMissing,
          ),
          gauge(`${P}_last_run_surplus`, 'Records on the topic Webex does not count.', t.surplus),
          gauge(`${P}_last_run_errors`, 'Errors of the last run.', t.errors),
          gauge(
            `${P}_last_run_failed_windows`,
            'Windows of the last run that could not be reconciled.',
            t.failedWindows,
          ),
          gauge(
            `${P}_last_run_failed_orgs`,
            'Orgs of the last run that could not be reconciled (summed over windows).',
            t.failedOrgs,
          ),
          gauge(
            `${P}_last_run_aborted`,
            'The last run was stopped early (0/1).',
            s.lastRun?.aborted ? 1 : 0,
          ),
        ];
  return renderMetrics([
    counter('runs', 'Reconciliation runs finished.', s.runs),
    counter('windows', 'Windows reconciled by all runs.', s.sums.windows),
    counter(
      'missing',
      'Records found missing from the topic by all runs.',
      s.sums.backfilled + s.sums.stillMissing,
    ),
    counter('backfilled', 'Records backfilled by all runs.', s.backfilledTotal),
    counter(
      'unresolved',
      'Records left missing at the end of a run, summed over runs.',
      s.sums.stillMissing,
    ),
    counter('errors', 'Errors of all runs.', s.sums.errors),
    byCode(
      'failed_windows',
      'Windows that could not be reconciled, by the error code of their first failure.',
      s.failedByCode.windows,
    ),
    byCode(
      'failed_orgs',
      'Orgs of a window that could not be reconciled, by error code.',
      s.failedByCode.orgs,
    ),
    gauge(
      `${P}_last_success_timestamp_seconds`,
      'When the last run that did not fail finished (Unix time; 0 before the first). Alert when older than twice RECONCILE_INTERVAL.',
      (s.lastSuccessAt ?? 0) / 1000,
    ),
    records,
    gauge(`${P}_running`, 'A run is in progress (0/1).', s.running ? 1 : 0),
    gauge(
      `${P}_lease_held`,
      'This replica holds the reconciler lease and is the active one (0/1; 1 with RECONCILE_LEASE=false).',
      s.lease === null || s.lease.held ? 1 : 0,
    ),
    counter('lease_acquired', 'Times this replica acquired the lease.', s.lease?.acquisitions ?? 0),
    counter(
      'lease_lost',
      'Times this replica lost the lease (its run, if any, stopped).',
      s.lease?.losses ?? 0,
    ),
    ...last,
    processMetrics(),
  ]);
};

export const createReconcilerApp = (status: () => ReconcilerStatus) => {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const s = status();
    return c.json(
      {
        status: s.ready ? 'ready' : 'not ready',
        running: s.running,
        // active (holds the lease, or runs without one), standby, or still joining / failed
        lease: s.lease === null ? 'off' : s.lease.held ? 'held' : s.lease.state,
        reasons: s.reasons,
      },
      s.ready ? 200 : 503,
    );
  });
  app.get('/metrics', (c) =>
    c.text(renderReconcilerMetrics(status()), 200, { 'Content-Type': 'text/plain; version=0.0.4' }),
  );
  return app;
};
