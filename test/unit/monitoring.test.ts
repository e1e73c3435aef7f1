/**
 * The Grafana dashboard and the Prometheus alert rules as files: the
 * dashboard's JSON shape (every panel on the Prometheus data source variable,
 * a valid grid, unique ids), every query and rule expression parsed with
 * Prometheus's grammar, label values that the code can produce, legends and
 * annotations that only name labels the query keeps, a runbook section in the
 * docs/monitoring.md for each alert, and promtool test cases where each alert fires and
 * where it must not. That the metric names exist is checked against the real
 * /metrics in test/integration/monitoring.test.ts; promtool itself runs in
 * .ci/prom-check.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_CODES } from '../../src/errors.ts';
import {
  ALERTS_PATH,
  ALERTS_TEST_PATH,
  DASHBOARD_PATH,
  DATASOURCE,
  dashboardAsRules,
  dashboardQueries,
  headingAnchors,
  type Panel,
  parsePromql,
  readAlertRules,
  readAlertTests,
  readDashboard,
  readText,
  ruleQueries,
  withoutGrafanaVariables,
} from '../helpers/monitoring.ts';

const dashboard = readDashboard();
const rules = readAlertRules();
const RUNBOOK = 'docs/monitoring.md';
const runbook = readText(RUNBOOK);

/** The values each label can take in the code (src/metrics.ts, src/reconciler/http.ts). */
const LABEL_VALUES: Record<string, readonly string[]> = {
  outcome: [
    'accepted',
    'refused',
    'unavailable',
    'published',
    'dead_lettered',
    'duplicate_in_batch',
  ],
  source: ['webhook', 'reconciler'],
  reason: [...ERROR_CODES, 'internal'],
  code: ERROR_CODES,
  // The statuses the ingress answers (docs/openapi.yaml).
  status: ['200', '400', '401', '404', '408', '413', '415', '422', '500', '503'],
};

const checkMatchers = (where: string, expr: string) => {
  for (const s of parsePromql(withoutGrafanaVariables(expr)).selectors) {
    for (const m of s.matchers) {
      const values = LABEL_VALUES[m.label];
      assert.ok(values, `${where}: label ${m.label} is not one the connector writes`);
      const re = new RegExp(`^(?:${m.value})$`);
      const hit =
        m.op === '=~' || m.op === '!~' ? values.some((v) => re.test(v)) : values.includes(m.value);
      assert.ok(hit, `${where}: ${m.label}${m.op}"${m.value}" matches no value the code writes`);
    }
  }
};

const queryPanels = dashboard.panels.filter(
  (p): p is Exclude<Panel, { type: 'row' }> => p.type !== 'row',
);

describe(DASHBOARD_PATH, () => {
  it('has the expected shape, every panel on the Prometheus data source variable', () => {
    // readDashboard() parsed it strictly; the variable the panels name is the one defined.
    assert.equal(dashboard.templating.list[0]?.name, 'datasource');
    for (const p of queryPanels) {
      assert.deepEqual(p.datasource, DATASOURCE, p.title);
      for (const t of p.targets)
        assert.deepEqual(t.datasource, p.datasource, `${p.title} ${t.refId}`);
    }
  });

  it('unique panel ids and titles; unique refIds per panel', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    const titles = dashboard.panels.map((p) => p.title);
    assert.equal(new Set(titles).size, titles.length);
    for (const p of queryPanels) {
      const refs = p.targets.map((t) => t.refId);
      assert.equal(new Set(refs).size, refs.length, p.title);
    }
  });

  it('panels fit the 24-column grid and do not overlap', () => {
    const boxes = dashboard.panels.map((p) => ({ title: p.title, ...p.gridPos }));
    for (const b of boxes) assert.ok(b.x + b.w <= 24, `${b.title} is wider than the grid`);
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
        assert.ok(apart, `${a.title} overlaps ${b.title}`);
      }
    }
  });

  it('covers what operators watch', () => {
    const metrics = new Set(
      dashboardQueries(dashboard).flatMap((q) =>
        parsePromql(withoutGrafanaVariables(q.expr)).selectors.map((s) => s.metric),
      ),
    );
    for (const m of [
      'webex_cdr_deliveries_total',
      'webex_cdr_records_total',
      'webex_cdr_dead_lettered_total',
      'webex_cdr_delivery_errors_total',
      'webex_cdr_produce_seconds_bucket',
      'webex_cdr_last_accepted_delivery_seconds',
      'webex_cdr_reconcile_last_success_timestamp_seconds',
      'webex_cdr_reconcile_last_run_still_missing',
      'webex_cdr_reconcile_failed_windows_total',
    ]) {
      assert.ok(metrics.has(m), `no panel shows ${m}`);
    }
  });

  it('every query parses as PromQL, with label values the code writes', () => {
    for (const q of dashboardQueries(dashboard)) {
      assert.doesNotThrow(() => parsePromql(withoutGrafanaVariables(q.expr)), q.where);
      checkMatchers(q.where, q.expr);
    }
  });

  it('legends name only labels the query keeps (by ...)', () => {
    for (const p of queryPanels) {
      for (const t of p.targets) {
        const kept = parsePromql(withoutGrafanaVariables(t.expr)).grouping;
        for (const [, label] of t.legendFormat.matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
          assert.ok(kept.has(label ?? ''), `${p.title} ${t.refId}: {{${label}}} is not kept`);
        }
      }
    }
  });

  it('histogram_quantile over _bucket series, aggregated by le', () => {
    for (const q of dashboardQueries(dashboard)) {
      const parsed = parsePromql(withoutGrafanaVariables(q.expr));
      for (const s of parsed.selectors.filter((s) => s.quantiled)) {
        assert.match(s.metric, /_bucket$/, q.where);
        assert.ok(parsed.grouping.has('le'), `${q.where}: sum by (le)`);
      }
    }
  });

  it('as recording rules for promtool (.ci/prom-check): one per query', () => {
    const doc = JSON.parse(dashboardAsRules(dashboard)) as {
      groups: { rules: { record: string; expr: string }[] }[];
    };
    const recorded = doc.groups[0]?.rules ?? [];
    assert.equal(recorded.length, dashboardQueries(dashboard).length);
    for (const r of recorded) {
      assert.match(r.record, /^dashboard:panel_\d+_[A-Z]$/);
      assert.equal(r.expr.includes('$'), false, r.expr);
    }
  });

  it('is linked from docs/monitoring.md', () => {
    assert.ok(
      runbook.includes(`](../${DASHBOARD_PATH})`),
      'docs/monitoring.md links the dashboard',
    );
  });
});

describe(ALERTS_PATH, () => {
  it('unique alert names; every expression parses, with label values the code writes', () => {
    assert.equal(new Set(rules.map((r) => r.alert)).size, rules.length);
    for (const q of ruleQueries(rules)) {
      assert.doesNotThrow(() => parsePromql(q.expr), q.where);
      checkMatchers(q.where, q.expr);
    }
  });

  it('covers what the issue asks for', () => {
    const used = (metric: string, label?: string) =>
      rules.some((r) =>
        parsePromql(r.expr).selectors.some(
          (s) =>
            s.metric === metric &&
            (label === undefined || s.matchers.some((m) => `${m.label}=${m.value}` === label)),
        ),
      );
    assert.ok(used('webex_cdr_last_accepted_delivery_seconds'), 'no delivery for N minutes');
    assert.ok(used('webex_cdr_delivery_errors_total', 'status=401'), '401s');
    assert.ok(used('webex_cdr_delivery_errors_total', 'status=5..'), '503s');
    assert.ok(used('webex_cdr_dead_lettered_total'), 'dead letters');
    assert.ok(used('webex_cdr_reconcile_last_run_failed_windows'), 'reconcile failed');
    assert.ok(used('webex_cdr_reconcile_last_success_timestamp_seconds'), 'reconcile stale');
    assert.ok(used('webex_cdr_reconcile_last_run_still_missing'), 'records still missing');
  });

  it('annotations: a summary, a description, a runbook section of docs/monitoring.md', () => {
    const anchors = headingAnchors(runbook);
    for (const r of rules) {
      const anchor = r.annotations.runbook_url.replace(`${RUNBOOK}#`, '');
      assert.ok(anchors.has(anchor), `${r.alert}: ${RUNBOOK} has no section #${anchor}`);
      assert.equal(anchor, r.alert.toLowerCase(), `${r.alert}: its runbook section is its name`);
      assert.ok(r.annotations.description.length > 80, `${r.alert}: a description naming causes`);
    }
  });

  it('annotations name only labels the alert has', () => {
    for (const r of rules) {
      const kept = parsePromql(r.expr).grouping;
      for (const text of Object.values(r.annotations)) {
        for (const [, label] of text.matchAll(/\{\{\s*\$labels\.(\w+)\s*\}\}/g)) {
          assert.ok(kept.has(label ?? ''), `${r.alert}: $labels.${label} is not kept by the query`);
        }
        assert.equal(/\{\{(?!\s*\$labels\.\w+\s*\}\})/.test(text), false, `${r.alert}: template`);
      }
    }
  });

  it('promtool tests: each alert fires in a case and is shown not to fire in another', () => {
    const tests = readAlertTests();
    assert.deepEqual(tests.rule_files, ['alerts.yml']);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test);
    const names = new Set(rules.map((r) => r.alert));
    for (const c of cases) assert.ok(names.has(c.alertname), `a test of an unknown ${c.alertname}`);
    for (const r of rules) {
      const mine = cases.filter((c) => c.alertname === r.alert);
      assert.ok(
        mine.some((c) => c.exp_alerts.length > 0),
        `${r.alert} never fires in a test`,
      );
      assert.ok(
        mine.some((c) => c.exp_alerts.length === 0),
        `${r.alert}: no case where it must not fire`,
      );
      for (const c of mine) {
        for (const a of c.exp_alerts) {
          assert.deepEqual(
            { severity: a.exp_labels.severity, component: a.exp_labels.component },
            r.labels,
            `${r.alert} at ${c.eval_time}: its labels`,
          );
        }
      }
    }
  });

  it('is linked from docs/monitoring.md', () => {
    assert.ok(runbook.includes(`](../${ALERTS_PATH})`), 'docs/monitoring.md links the alert rules');
  });
});

describe('.ci/prom-check', () => {
  it('is run by .ci/run, and checks and tests these files with promtool', () => {
    assert.ok(readText('.ci/run').split('\n').includes('.ci/prom-check'));
    const script = readText('.ci/prom-check');
    assert.match(script, /\.ci\/go-tool .* github\.com\/prometheus\/prometheus .* cmd\/promtool/);
    assert.ok(script.includes(`check rules ${ALERTS_PATH}`));
    assert.ok(script.includes(`test rules ${ALERTS_TEST_PATH}`));
    assert.ok(script.includes('dashboardAsRules()'));
  });
});

describe('the PromQL reader', () => {
  it('refuses what Prometheus refuses', () => {
    for (const bad of ['sum(rate(x[5m])', 'rate(x[5m]', 'x{a="b"', 'sum by (a (x)', 'x +']) {
      assert.throws(() => parsePromql(bad), /syntax error/, bad);
    }
    assert.throws(() => withoutGrafanaVariables('rate(x[$window])'), /Grafana variable/);
  });

  it('finds selectors, matchers and what they are inside of', () => {
    const q = parsePromql(
      'histogram_quantile(0.9, sum by (le) (rate(a_bucket{s="1"}[5m]))) / on (job) b > bool c',
    );
    assert.deepEqual(
      q.selectors.map((s) => [s.metric, s.matchers, s.rated, s.quantiled]),
      [
        ['a_bucket', [{ label: 's', op: '=', value: '1' }], true, true],
        ['b', [], false, false],
        ['c', [], false, false],
      ],
    );
    assert.deepEqual([...q.grouping], ['le', 'job']);
  });
});
