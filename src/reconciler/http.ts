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
import {
  createRegistry,
  type Labels,
  type Registry,
  readCounter,
  readGauge,
  scrape,
} from '../metrics.ts';
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

const byCode = (counts: Partial<Record<ErrorCode, number>>): [Labels, number][] => [
  ...FAILURE_CODES.map((code): [Labels, number] => [{ code }, 0]),
  ...Object.entries(counts).map(([code, n]): [Labels, number] => [{ code }, n]),
];

type Totals = NonNullable<ReconcilerStatus['lastRun']>['totals'];

/** The last run's gauges, `webex_cdr_reconcile_last_run_<name>`. */
const LAST_RUN: readonly [string, string, (t: Totals, s: ReconcilerStatus) => number][] = [
  [
    'finished_seconds',
    'When the last run finished (Unix time).',
    (_, s) => (s.lastFinishedAt ?? 0) / 1000,
  ],
  ['windows', 'Windows the last run covered.', (t) => t.windows],
  ['webex_records', 'Records Webex counted.', (t) => t.webex],
  ['missing', 'Records found missing from the topic.', (t) => t.backfilled + t.stillMissing],
  ['backfilled', 'Records backfilled.', (t) => t.backfilled],
  [
    'still_missing',
    'Records Webex has that are still not on the topic (unresolved).',
    (t) => t.stillMissing,
  ],
  ['surplus', 'Records on the topic Webex does not count.', (t) => t.surplus],
  ['errors', 'Errors of the last run.', (t) => t.errors],
  [
    'failed_windows',
    'Windows of the last run that could not be reconciled.',
    (t) => t.failedWindows,
  ],
  [
    'failed_orgs',
    'Orgs of the last run that could not be reconciled (summed over windows).',
    (t) => t.failedOrgs,
  ],
  ['aborted', 'The last run was stopped early (0/1).', (_, s) => (s.lastRun?.aborted ? 1 : 0)],
];

/**
 * The reconciler's registry: counters over all runs and gauges of the last
 * run, each read by its collect callback from one status snapshot per scrape.
 * A new figure is one more line: `gauge(name, help, (s) => value)` (or `counter`).
 */
export const createReconcilerMetrics = (
  status: () => ReconcilerStatus,
  registry: Registry = createRegistry(),
) => {
  let snapshot = status();
  type Read<T> = (s: ReconcilerStatus) => T;
  const r = [registry];
  const counter = (name: string, help: string, value: Read<number>) =>
    readCounter(r, `${P}_${name}_total`, help, () => value(snapshot));
  const byCodeCounter = (
    name: string,
    help: string,
    counts: Read<Partial<Record<ErrorCode, number>>>,
  ) => readCounter(r, `${P}_${name}_total`, help, () => byCode(counts(snapshot)), ['code']);
  const gauge = (name: string, help: string, value: Read<number>) =>
    readGauge(r, `${P}_${name}`, help, () => value(snapshot));

  counter('runs', 'Reconciliation runs finished.', (s) => s.runs);
  counter('windows', 'Windows reconciled by all runs.', (s) => s.sums.windows);
  counter(
    'missing',
    'Records found missing from the topic by all runs.',
    (s) => s.sums.backfilled + s.sums.stillMissing,
  );
  counter('backfilled', 'Records backfilled by all runs.', (s) => s.backfilledTotal);
  counter(
    'unresolved',
    'Records left missing at the end of a run, summed over runs.',
    (s) => s.sums.stillMissing,
  );
  counter('errors', 'Errors of all runs.', (s) => s.sums.errors);
  byCodeCounter(
    'failed_windows',
    'Windows that could not be reconciled, by the error code of their first failure.',
    (s) => s.failedByCode.windows,
  );
  byCodeCounter(
    'failed_orgs',
    'Orgs of a window that could not be reconciled, by error code.',
    (s) => s.failedByCode.orgs,
  );
  gauge(
    'last_success_timestamp_seconds',
    'When the last run that did not fail finished (Unix time; 0 before the first). Alert when older than twice RECONCILE_INTERVAL.',
    (s) => (s.lastSuccessAt ?? 0) / 1000,
  );
  readCounter(
    r,
    'webex_cdr_records_total',
    'CDRs by source and outcome (published, dead_lettered).',
    () => [
      [{ source: 'reconciler', outcome: 'published' }, snapshot.sums.backfilled],
      [{ source: 'reconciler', outcome: 'dead_lettered' }, snapshot.sums.deadLettered],
    ],
    ['source', 'outcome'],
  );
  gauge('running', 'A run is in progress (0/1).', (s) => (s.running ? 1 : 0));
  gauge(
    'lease_held',
    'This replica holds the reconciler lease and is the active one (0/1; 1 with RECONCILE_LEASE=false).',
    (s) => (s.lease === null || s.lease.held ? 1 : 0),
  );
  counter(
    'lease_acquired',
    'Times this replica acquired the lease.',
    (s) => s.lease?.acquisitions ?? 0,
  );
  counter(
    'lease_lost',
    'Times this replica lost the lease (its run, if any, stopped).',
    (s) => s.lease?.losses ?? 0,
  );
  // not registered until a run has finished: absent before the first
  const lastRun = LAST_RUN.map(([name, help, value]) =>
    readGauge([], `${P}_last_run_${name}`, help, () => {
      const t = snapshot.lastRun?.totals;
      return t === undefined ? undefined : value(t, snapshot);
    }),
  );
  return {
    registry,
    /** Takes the status snapshot the collect callbacks read, then renders. */
    render: (): Promise<string> => {
      snapshot = status();
      if (snapshot.lastRun !== null && snapshot.lastFinishedAt !== null) {
        for (const g of lastRun) registry.registerMetric(g);
      }
      return registry.metrics();
    },
  };
};

export const createReconcilerApp = (status: () => ReconcilerStatus) => {
  const metrics = createReconcilerMetrics(status);
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
  app.get('/metrics', () => scrape(metrics));
  return app;
};
