/**
 * What operators see, from real deliveries and a real reconcile run on the
 * real broker and registry: `/metrics` of both processes parses as
 * Prometheus text (an npm parser) and its counts move with what happened;
 * the JSON logs hold exactly one line per delivery and one per reconcile
 * window, with their figures, and no secret, token or signature value.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startIngress } from '../../src/ingress/server.ts';
import { createLogger } from '../../src/log.ts';
import { createReconcilerApp } from '../../src/reconciler/http.ts';
import { parseIngressConfig } from '../../src/settings.ts';
import { createPartnerApi } from '../../src/simulator/partner-api.ts';
import { createWebexWorld } from '../../src/simulator/world.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { uniqueTopic } from './helpers/kafka.ts';
import { serveTest } from './helpers/net.ts';
import { createTestReconciler } from './helpers/reconciler.ts';
import { onEnd } from './helpers/scope.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'observability-webhook-secret';
const TOKEN = 'observability-partner-token';
const H = 3_600_000;

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

const kafkaEnv = (topic: string) => ({
  KAFKA_BROKERS: stack.brokers.join(','),
  SCHEMA_REGISTRY_URL: stack.registryUrl,
  CDR_FEED: 'analytics',
  CDR_TOPIC: topic,
});

/** A pino destination that keeps every line, parsed. */
const captureLogs = () => {
  const text: string[] = [];
  return {
    stream: { write: (s: string) => void text.push(s) },
    all: () => text.join(''),
    lines: () => text.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
};

const scrape = async (fetcher: (path: string) => Promise<Response> | Response) => {
  const res = await fetcher('/metrics');
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
};

describe('observability', () => {
  test('ingress: metrics move with real deliveries; one log line per delivery, no secrets', async (t) => {
    const logs = captureLogs();
    const topic = uniqueTopic('observability');
    const parsed = parseIngressConfig({
      ...kafkaEnv(topic),
      CDR_TOPIC_PARTITIONS: '3',
      PORT: '0',
      WEBHOOK_SECRETS: SECRET,
    });
    assert.ok(parsed.ok);
    const ingress = await startIngress(
      parsed.config,
      createLogger('info', { service: 'ingress' }, logs.stream),
    );
    onEnd(t, () => ingress.close());
    await ingress.started;
    const get = (path: string) => fetch(`${ingress.url}${path}`);
    const startedAt = Date.now() / 1000;
    const m0 = await scrape(get);
    const records = [rawCdr(1, 'org-a'), rawCdr(2, 'org-b'), rawCdr(3, 'org-a')];
    const items = [...records, records[0], { 'Org UUID': 'org-a', 'Calling number': '+1' }];
    const d = signedDelivery(items, SECRET);
    const res = await fetch(`${ingress.url}/webhooks/cdr`, {
      method: 'POST',
      body: d.body,
      headers: { ...d.headers, authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 200);
    const { deliveryId } = (await res.json()) as { deliveryId: string };
    const forged = await fetch(`${ingress.url}/webhooks/cdr`, {
      method: 'POST',
      body: d.body,
      headers: { ...d.headers, 'x-spark-signature': 'f'.repeat(40) },
    });
    assert.equal(forged.status, 401);

    const m1 = await scrape(get);
    const moved = (name: string, labels: Record<string, string> = {}) =>
      sampleValue(m1, name, labels) - sampleValue(m0, name, labels);
    const webhook = (outcome: string) => ({ source: 'webhook', outcome });
    assert.equal(
      sampleValue(m1, 'webex_cdr_deliveries_total', { status: '200', outcome: 'accepted' }),
      1,
    );
    assert.equal(
      sampleValue(m1, 'webex_cdr_deliveries_total', { status: '401', outcome: 'refused' }),
      1,
    );
    assert.equal(moved('webex_cdr_records_total', webhook('published')), 3);
    assert.equal(moved('webex_cdr_records_total', webhook('dead_lettered')), 1);
    assert.equal(moved('webex_cdr_records_total', webhook('duplicate_in_batch')), 1);
    assert.equal(moved('webex_cdr_dead_lettered_total', { reason: 'record_missing_report_id' }), 1);
    assert.equal(moved('webex_cdr_duplicates_in_batch_total'), 1);
    assert.equal(moved('webex_cdr_produce_seconds_count'), 1);
    assert.equal(moved('webex_cdr_delivery_seconds_count'), 2);
    assert.equal(moved('webex_cdr_delivery_bytes_count'), 2);
    assert.equal(moved('webex_cdr_delivery_bytes_sum'), 2 * Buffer.byteLength(d.body));
    assert.ok(sampleValue(m1, 'webex_cdr_last_accepted_delivery_seconds') >= Math.floor(startedAt));
    assert.ok(sampleValue(m1, 'process_resident_memory_bytes') > 10_000_000);
    assert.ok(sampleValue(m1, 'process_start_time_seconds') <= startedAt);

    const deliveries = logs.lines().filter((l) => l.msg === 'delivery');
    assert.equal(deliveries.length, 2, logs.all());
    const [ok, refused] = deliveries;
    assert.deepEqual(
      [ok?.status, ok?.deliveryId, ok?.records, ok?.published, ok?.deadLettered, ok?.duplicates],
      [200, deliveryId, 5, 3, 1, 1],
    );
    assert.equal(ok?.bytes, Buffer.byteLength(d.body));
    assert.equal(typeof ok?.ms, 'number');
    assert.deepEqual([refused?.status, refused?.code], [401, 'signature_invalid']);
    for (const value of [SECRET, TOKEN, d.headers['x-spark-signature'], '+1"']) {
      assert.equal(logs.all().includes(value), false, `${value} in the logs`);
    }
  });

  test('reconciler: one log line per window with its figures; metrics count the run', async (t) => {
    const logs = captureLogs();
    const endMs = Math.floor((Date.now() - 16 * 60_000) / H) * H;
    const world = createWebexWorld({
      seed: 'observability',
      orgs: 3,
      // 6 calls an hour for every org, not a random rate around 3: the test needs calls in
      // each hour, and a sum of about 5 an hour left an hour empty in about 1 run of 100
      callsPerHour: () => 6,
      startMs: endMs - 2 * H,
      endMs,
    });
    const api = createPartnerApi({ world, tokens: [TOKEN] });
    const server = await serveTest(t, api.fetch);
    const reconciler = createTestReconciler(
      t,
      stack,
      {
        CDR_TOPIC: uniqueTopic('observability-reconcile'),
        WEBEX_API_BASE_URL: server.url,
        WEBEX_ACCESS_TOKEN: TOKEN,
      },
      createLogger('info', { service: 'reconciler' }, logs.stream),
    );
    const app = createReconcilerApp(reconciler.status);
    const windows = reconciler.plan({ from: endMs - 2 * H, to: endMs });
    assert.equal(windows.length, 2);
    const summary = await reconciler.runOnce(windows);
    const perWindow = windows.map(
      (w) => world.records.filter((r) => r.callEnd >= w.start && r.callEnd < w.end).length,
    );
    assert.ok(perWindow.every((n) => n > 0));

    const lines = logs.lines().filter((l) => l.msg === 'window reconciled');
    assert.equal(lines.length, 2, logs.all());
    lines.forEach((l, i) => {
      const w = windows[i];
      assert.equal(
        l.window,
        `${new Date(w?.start ?? 0).toISOString()}/${new Date(w?.end ?? 0).toISOString()}`,
      );
      assert.deepEqual(
        [l.expected, l.found, l.missing, l.backfilled, l.unresolved],
        [perWindow[i], 0, perWindow[i], perWindow[i], 0],
      );
      assert.equal(l.runId, summary.runId);
    });
    assert.equal(logs.all().includes(TOKEN), false, 'the token is never logged');

    const m = await scrape((path) => app.request(path));
    const total = perWindow.reduce((a, b) => a + b, 0);
    assert.equal(sampleValue(m, 'webex_cdr_reconcile_runs_total'), 1);
    assert.equal(sampleValue(m, 'webex_cdr_reconcile_windows_total'), 2);
    assert.equal(sampleValue(m, 'webex_cdr_reconcile_missing_total'), total);
    assert.equal(sampleValue(m, 'webex_cdr_reconcile_backfilled_total'), total);
    assert.equal(sampleValue(m, 'webex_cdr_reconcile_unresolved_total'), 0);
    assert.equal(sampleValue(m, 'webex_cdr_reconcile_last_run_missing'), total);
    assert.equal(sampleValue(m, 'webex_cdr_reconcile_last_run_still_missing'), 0);
    assert.equal(
      sampleValue(m, 'webex_cdr_records_total', { source: 'reconciler', outcome: 'published' }),
      total,
    );
  });
});
