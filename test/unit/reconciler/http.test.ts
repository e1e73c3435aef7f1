import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createReconcilerApp } from '../../../src/reconciler/http.ts';
import type { ReconcilerStatus } from '../../../src/reconciler/service.ts';

const idle: ReconcilerStatus = {
  ready: false,
  running: false,
  runs: 0,
  backfilledTotal: 0,
  lastRun: null,
  lastFinishedAt: null,
};

const afterRun: ReconcilerStatus = {
  ready: true,
  running: false,
  runs: 3,
  backfilledTotal: 42,
  lastFinishedAt: Date.UTC(2026, 10, 23, 12, 0, 0),
  lastRun: {
    runId: 'r',
    windows: [],
    aborted: false,
    totals: {
      windows: 48,
      webex: 1000,
      topicBefore: 990,
      backfilled: 7,
      deadLettered: 0,
      unpublishable: 0,
      stillMissing: 3,
      surplus: 0,
      errors: 1,
    },
  },
};

describe('reconciler HTTP', () => {
  it('is not ready before Kafka is, and has no last-run figures before a run', async () => {
    const app = createReconcilerApp(() => idle);
    assert.equal((await app.request('/healthz')).status, 200);
    assert.equal((await app.request('/readyz')).status, 503);
    const text = await (await app.request('/metrics')).text();
    assert.match(text, /^webex_cdr_reconcile_runs_total 0$/m);
    assert.doesNotMatch(text, /last_run_still_missing/);
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
  });
});
