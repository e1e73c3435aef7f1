/**
 * @module reconciler/http
 * The reconciler's own small HTTP face (when RECONCILER_PORT is set), for
 * probes and alerting: `/healthz`, `/readyz` (Kafka, registry and topics
 * ready), and `/metrics` with the figures of the last run. Alert on
 * `webex_cdr_reconcile_last_run_still_missing > 0`, on errors, and on a last
 * run older than twice the interval.
 */
import { Hono } from 'hono';
import type { ReconcilerStatus } from './service.ts';

export const renderReconcilerMetrics = (s: ReconcilerStatus): string => {
  const t = s.lastRun?.totals;
  const gauge = (name: string, help: string, value: number | undefined) =>
    value === undefined
      ? []
      : [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`];
  const lines = [
    '# HELP webex_cdr_reconcile_runs_total Reconciliation runs finished.',
    '# TYPE webex_cdr_reconcile_runs_total counter',
    `webex_cdr_reconcile_runs_total ${s.runs}`,
    '# HELP webex_cdr_reconcile_backfilled_total Records backfilled by all runs.',
    '# TYPE webex_cdr_reconcile_backfilled_total counter',
    `webex_cdr_reconcile_backfilled_total ${s.backfilledTotal}`,
    ...gauge('webex_cdr_reconcile_running', 'A run is in progress (0/1).', s.running ? 1 : 0),
    ...gauge(
      'webex_cdr_reconcile_last_run_finished_seconds',
      'When the last run finished (Unix time).',
      s.lastFinishedAt === null ? undefined : s.lastFinishedAt / 1000,
    ),
    ...gauge('webex_cdr_reconcile_last_run_webex_records', 'Records Webex counted.', t?.webex),
    ...gauge('webex_cdr_reconcile_last_run_backfilled', 'Records backfilled.', t?.backfilled),
    ...gauge(
      'webex_cdr_reconcile_last_run_still_missing',
      'Records Webex has that are still not on the topic.',
      t?.stillMissing,
    ),
    ...gauge(
      'webex_cdr_reconcile_last_run_surplus',
      'Records on the topic Webex does not count.',
      t?.surplus,
    ),
    ...gauge('webex_cdr_reconcile_last_run_errors', 'Errors of the last run.', t?.errors),
  ];
  return `${lines.join('\n')}\n`;
};

export const createReconcilerApp = (status: () => ReconcilerStatus) => {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const s = status();
    return c.json(
      { status: s.ready ? 'ready' : 'not ready', running: s.running },
      s.ready ? 200 : 503,
    );
  });
  app.get('/metrics', (c) =>
    c.text(renderReconcilerMetrics(status()), 200, { 'Content-Type': 'text/plain; version=0.0.4' }),
  );
  return app;
};
