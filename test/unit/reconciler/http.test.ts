import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createReconcilerApp } from '../../../src/reconciler/http.ts';
import type { ReconcilerStatus } from '../../../src/reconciler/service.ts';
import { IDLE_RECONCILER } from '../../helpers/fixtures.ts';
import { parsePrometheusText } from '../../helpers/prometheus.ts';

const idle = IDLE_RECONCILER;

const afterRun: ReconcilerStatus = {
  ready: true,
  reasons: [],
  running: false,
  runs: 3,
  backfilledTotal: 42,
  sums: {
    windows: 96,
    webex: 2000,
    topicBefore: 1980,
    backfilled: 42,
    versions: 0,
    deadLettered: 2,
    unpublishable: 2,
    stillMissing: 5,
    surplus: 0,
    errors: 1,
    failedWindows: 1,
    failedOrgs: 1,
  },
  failedByCode: { windows: { kafka_timeout: 1 }, orgs: { kafka_timeout: 1 } },
  lastFinishedAt: Date.UTC(2026, 10, 23, 12, 0, 0),
  lastSuccessAt: Date.UTC(2026, 10, 23, 0, 0, 0),
  lease: null,
  lastRun: {
    runId: 'r',
    windows: [],
    aborted: false,
    stoppedBy: null,
    failedByCode: { windows: {}, orgs: {} },
    totals: {
      windows: 48,
      webex: 1000,
      topicBefore: 990,
      backfilled: 7,
      versions: 0,
      deadLettered: 0,
      unpublishable: 0,
      stillMissing: 3,
      surplus: 0,
      errors: 1,
      failedWindows: 0,
      failedOrgs: 0,
    },
  },
};

describe('reconciler HTTP', () => {
  it('is not ready before Kafka is, and has no last-run figures before a run', async () => {
    const app = createReconcilerApp(() => idle);
    assert.equal((await app.request('/healthz')).status, 200);
    const ready = await app.request('/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(((await ready.json()) as { reasons: string[] }).reasons, idle.reasons);
    const text = await (await app.request('/metrics')).text();
    assert.match(text, /^webex_cdr_reconcile_runs_total 0$/m);
    assert.doesNotMatch(text, /last_run_still_missing/);
    assert.match(text, /^webex_cdr_reconcile_last_success_timestamp_seconds 0$/m);
    assert.match(
      text,
      /^webex_cdr_reconcile_failed_windows_total\{code="webex_auth_failed"\} 0$/m,
      'the series exist before the first failure',
    );
    parsePrometheusText(text);
  });

  it('exposes the last run for alerting', async () => {
    const app = createReconcilerApp(() => afterRun);
    assert.equal((await app.request('/readyz')).status, 200);
    const text = await (await app.request('/metrics')).text();
    assert.match(text, /^webex_cdr_reconcile_runs_total 3$/m);
    assert.match(text, /^webex_cdr_reconcile_backfilled_total 42$/m);
    assert.match(text, /^webex_cdr_reconcile_last_run_still_missing 3$/m);
    assert.match(text, /^webex_cdr_reconcile_last_run_errors 1$/m);
    assert.match(text, /^webex_cdr_reconcile_last_run_finished_seconds 1795435200$/m);
    parsePrometheusText(text);
    assert.match(text, /^webex_cdr_reconcile_last_run_windows 48$/m);
    assert.match(text, /^webex_cdr_reconcile_last_run_missing 10$/m);
    assert.match(text, /^webex_cdr_reconcile_windows_total 96$/m);
    assert.match(text, /^webex_cdr_reconcile_missing_total 47$/m);
    assert.match(text, /^webex_cdr_reconcile_unresolved_total 5$/m);
    assert.match(text, /^webex_cdr_records_total\{source="reconciler",outcome="published"\} 42$/m);
    assert.match(
      text,
      /^webex_cdr_records_total\{source="reconciler",outcome="dead_lettered"\} 2$/m,
    );
    assert.match(text, /^process_start_time_seconds \d+(\.\d+)?$/m);
    assert.match(text, /^webex_cdr_reconcile_failed_windows_total\{code="kafka_timeout"\} 1$/m);
    assert.match(text, /^webex_cdr_reconcile_failed_orgs_total\{code="kafka_timeout"\} 1$/m);
    assert.match(text, /^webex_cdr_reconcile_failed_windows_total\{code="webex_http"\} 0$/m);
    assert.match(text, /^webex_cdr_reconcile_last_run_failed_windows 0$/m);
    assert.match(text, /^webex_cdr_reconcile_last_success_timestamp_seconds 1795392000$/m);
  });
});
