import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { registerDedupMetrics } from '../../src/dedup/metrics.ts';
import { createMetrics, type Registry } from '../../src/metrics.ts';
import { createReconcilerMetrics } from '../../src/reconciler/http.ts';
import { summariseRun } from '../../src/reconciler/rules.ts';
import type { ReconcilerStatus } from '../../src/reconciler/service.ts';
import { parsePrometheusText } from '../helpers/prometheus.ts';

/** One series' value from prom-client's own JSON of a registry (`metricName` for histogram parts). */
const seriesValue = async (
  registry: Registry,
  name: string,
  labels: Record<string, unknown> = {},
) => {
  for (const m of await registry.getMetricsAsJSON()) {
    for (const v of m.values as { value: number; labels: object; metricName?: string }[]) {
      const sameLabels =
        Object.keys(v.labels).length === Object.keys(labels).length &&
        Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x);
      if ((v.metricName ?? m.name) === name && sameLabels) return v.value;
    }
  }
  throw new Error(`no series ${name}${JSON.stringify(labels)}`);
};

const ranRun: ReconcilerStatus = {
  ready: true,
  reasons: [],
  running: false,
  runs: 1,
  backfilledTotal: 4,
  sums: { ...summariseRun('', [], 0, false).totals, windows: 2, backfilled: 4, deadLettered: 1 },
  failedByCode: { windows: { webex_http: 1 }, orgs: {} },
  lastRun: summariseRun('r', [], 0, false),
  lastFinishedAt: 1_700_000_000_000,
  lastSuccessAt: 1_700_000_000_000,
  lease: null,
};

/** The Metrics table of docs/monitoring.md: metric name -> type, labels, process ({a,b} after `_` expanded). */
const documented = () => {
  const page = readFileSync(new URL('../../docs/monitoring.md', import.meta.url), 'utf8');
  // From the table to the page's end (the dashboard and alerts), as when it was the README's section.
  const section = page.slice(page.indexOf('## Metrics and logs'));
  const rows = new Map<string, { type: string; labels: string[]; process: string }>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (!line.startsWith('| `')) continue;
    const [, names = '', type = '', process = ''] = cells;
    for (const [, spec = ''] of names.matchAll(/`([^`]+)`/g)) {
      const labels = /[a-z0-9]\{([a-z_,]+)\}$/.exec(spec);
      const base = labels === null ? spec : spec.slice(0, -(labels[1] ?? '').length - 2);
      const expansion = /_\{([a-z0-9_,]+)\}/.exec(base);
      const names = expansion
        ? (expansion[1] ?? '').split(',').map((w) => base.replace(expansion[0], `_${w}`))
        : [base];
      for (const name of names) {
        rows.set(name, { type, labels: labels?.[1]?.split(',') ?? [], process });
      }
    }
  }
  return rows;
};

describe('metrics (prom-client)', () => {
  it('counts what the ingress records, with the documented buckets', async () => {
    const m = createMetrics();
    m.delivery(200, 0.3);
    m.delivery(401, 0.001);
    m.delivery(503, 12);
    m.refused(401, 'signature_invalid');
    m.records('webhook', 'published', 5);
    m.records('webhook', 'published', 2);
    m.records('webhook', 'duplicate_in_batch', 2);
    m.deadLettered('record_missing_org_uuid', 1);
    m.produced(0.2);
    m.onWorkers('whole');
    m.onWorkers('whole');
    m.onWorkers('chunks');
    m.payload(3000);
    m.inFlight(1);
    m.inFlight(1);
    m.inFlight(-1);
    const r = m.registry;
    const deliveries = (status: string, outcome: string) =>
      seriesValue(r, 'webex_cdr_deliveries_total', { status, outcome });
    assert.equal(await deliveries('200', 'accepted'), 1);
    assert.equal(await deliveries('401', 'refused'), 1);
    assert.equal(await deliveries('503', 'unavailable'), 1);
    assert.equal(
      await seriesValue(r, 'webex_cdr_delivery_errors_total', {
        status: '401',
        reason: 'signature_invalid',
      }),
      1,
    );
    const records = (source: string, outcome: string) =>
      seriesValue(r, 'webex_cdr_records_total', { source, outcome });
    assert.equal(await records('webhook', 'published'), 7);
    assert.equal(await records('webhook', 'dead_lettered'), 0, 'present at 0 from the start');
    assert.equal(await records('reconciler', 'published'), 0);
    assert.equal(await seriesValue(r, 'webex_cdr_duplicates_in_batch_total'), 2);
    const dead = (reason: string) => seriesValue(r, 'webex_cdr_dead_lettered_total', { reason });
    assert.equal(await dead('record_missing_org_uuid'), 1);
    assert.equal(await dead('record_encode_failed'), 0);
    assert.equal(await seriesValue(r, 'webex_cdr_deliveries_in_flight'), 1);
    const onWorkers = (mode: string) =>
      seriesValue(r, 'webex_cdr_worker_deliveries_total', { mode });
    assert.equal(await onWorkers('whole'), 2);
    assert.equal(await onWorkers('chunks'), 1);
    const bucket = (name: string, le: number) => seriesValue(r, `${name}_bucket`, { le });
    assert.equal(await seriesValue(r, 'webex_cdr_delivery_seconds_count'), 3);
    assert.equal(await seriesValue(r, 'webex_cdr_delivery_seconds_sum'), 12.301);
    assert.equal(await bucket('webex_cdr_delivery_seconds', 0.005), 1);
    assert.equal(await bucket('webex_cdr_delivery_seconds', 0.5), 2);
    assert.equal(await bucket('webex_cdr_delivery_seconds', 120), 3);
    assert.equal(await bucket('webex_cdr_delivery_bytes', 1024), 0);
    assert.equal(await bucket('webex_cdr_delivery_bytes', 4096), 1);
    const bounds = async (name: string) =>
      (await r.getMetricsAsJSON())
        .find((x) => x.name === name)
        ?.values.map((v) => (v.labels as { le?: number | string }).le)
        .filter((le) => le !== undefined);
    const latency = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, '+Inf'];
    assert.deepEqual(await bounds('webex_cdr_delivery_seconds'), latency);
    assert.deepEqual(await bounds('webex_cdr_produce_seconds'), latency);
    assert.deepEqual(await bounds('webex_cdr_delivery_bytes'), [
      ...Array.from({ length: 10 }, (_, i) => 1024 * 4 ** i),
      '+Inf',
    ]);
  });

  it('has no last-accepted sample before the first 2xx', async () => {
    const m = createMetrics();
    await assert.rejects(seriesValue(m.registry, 'webex_cdr_last_accepted_delivery_seconds'));
    m.accepted(1_700_000_000_500);
    assert.equal(
      await seriesValue(m.registry, 'webex_cdr_last_accepted_delivery_seconds'),
      1_700_000_000.5,
    );
  });

  it('one registry per service: two in one process count apart, the global one stays empty', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.records('webhook', 'published', 3);
    const published = { source: 'webhook', outcome: 'published' };
    assert.equal(await seriesValue(a.registry, 'webex_cdr_records_total', published), 3);
    assert.equal(await seriesValue(b.registry, 'webex_cdr_records_total', published), 0);
    assert.equal(globalRegistry.getMetricsAsArray().length, 0);
    // the default Node metrics are the same objects in both: one set per process
    assert.equal(
      a.registry.getSingleMetric('nodejs_gc_duration_seconds'),
      b.registry.getSingleMetric('nodejs_gc_duration_seconds'),
    );
  });

  it("includes prom-client's default Node metrics under their standard names", async () => {
    const r = createMetrics().registry;
    const types = new Map((await r.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
    for (const [name, type] of [
      ['process_cpu_seconds_total', 'counter'],
      ['process_resident_memory_bytes', 'gauge'],
      ['process_heap_bytes', 'gauge'],
      ['process_start_time_seconds', 'gauge'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
      ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
      ['nodejs_gc_duration_seconds', 'histogram'],
    ]) {
      assert.equal(types.get(name ?? ''), type, name);
    }
    assert.ok((await seriesValue(r, 'process_resident_memory_bytes')) > 10_000_000);
    assert.ok((await seriesValue(r, 'process_start_time_seconds')) <= Date.now() / 1000 + 1);
  });

  it('reads the reconciler figures from one status snapshot per scrape', async () => {
    let status: ReconcilerStatus = { ...ranRun, lastRun: null, lastFinishedAt: null, runs: 0 };
    const m = createReconcilerMetrics(() => status);
    const before = await m.render();
    assert.match(before, /^webex_cdr_reconcile_runs_total 0$/m);
    assert.doesNotMatch(before, /last_run/, 'no last-run figures before a run');
    status = ranRun;
    const after = await m.render();
    assert.match(after, /^webex_cdr_reconcile_runs_total 1$/m);
    assert.match(after, /^webex_cdr_reconcile_last_run_finished_seconds 1700000000$/m);
    assert.match(after, /^webex_cdr_reconcile_failed_windows_total\{code="webex_http"\} 1$/m);
    assert.match(after, /^webex_cdr_reconcile_failed_windows_total\{code="kafka_failed"\} 0$/m);
    assert.match(after, /^webex_cdr_records_total\{source="reconciler",outcome="published"\} 4$/m);
    assert.match(after, /^nodejs_eventloop_lag_seconds /m);
  });

  it('renders text a Prometheus parser reads: every family typed and described, histograms whole', async () => {
    const ingress = createMetrics();
    ingress.delivery(200, 0.02);
    ingress.payload(5000);
    const reconciler = createReconcilerMetrics(() => ranRun);
    for (const text of [await ingress.render(), await reconciler.render()]) {
      const families = parsePrometheusText(text);
      assert.ok(families.size > 40, `${families.size} families`);
      for (const f of families.values()) {
        assert.notEqual(f.type, 'UNTYPED', f.name);
        assert.ok(f.help.length > 0, f.name);
        for (const s of f.type === 'HISTOGRAM' ? f.metrics : []) {
          assert.equal(s.buckets?.['+Inf'], s.count, `${f.name}: +Inf is the count`);
        }
      }
    }
  });

  it('exports what docs/monitoring.md documents, with its types, labels and processes', async () => {
    const docs = documented();
    const ingress = createMetrics();
    // with DEDUP on (the default), ingress/server.ts adds the dedup index's figures
    registerDedupMetrics(ingress.registry, () => ({
      warm: true,
      size: 3,
      tableBytes: 160,
      warmRecords: 3,
      warmMs: 5,
      tailRecords: 0,
      lagMs: 250,
      repeats: 1,
      versions: 1,
    }));
    const reconciler = createReconcilerMetrics(() => ranRun);
    await reconciler.render(); // registers the last-run gauges
    const exported = new Map<string, { type: string; labels: Set<string>; process: Set<string> }>();
    for (const [process, registry] of [
      ['ingress', ingress.registry],
      ['reconciler', reconciler.registry],
    ] as const) {
      for (const metric of registry.getMetricsAsArray()) {
        const e = exported.get(metric.name) ?? {
          type: String(metric.type),
          labels: new Set((metric as { labelNames?: string[] }).labelNames ?? []),
          process: new Set(),
        };
        e.process.add(process);
        exported.set(metric.name, e);
      }
    }
    for (const [name, doc] of docs) {
      const e = exported.get(name);
      assert.ok(e, `${name} is documented but not exported`);
      if (doc.type !== '') assert.equal(e.type, doc.type, `the type of ${name}`);
      if (name.startsWith('webex_cdr_')) {
        assert.deepEqual([...e.labels].sort(), [...doc.labels].sort(), `the labels of ${name}`);
        const where = doc.process === 'both' ? ['ingress', 'reconciler'] : [doc.process];
        assert.deepEqual([...e.process].sort(), where, `the process of ${name}`);
      }
    }
    const undocumented = [...exported.keys()].filter(
      (n) => n.startsWith('webex_cdr_') && !docs.has(n),
    );
    assert.deepEqual(undocumented, [], 'every webex_cdr_ metric is in docs/monitoring.md');
  });
});
