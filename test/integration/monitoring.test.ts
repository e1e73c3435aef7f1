/**
 * The dashboard and the alert rules query what the code exports: the real
 * `webex-cdr-kafka ingress` and `webex-cdr-kafka reconcile` (the service, with
 * RECONCILER_PORT) run as child processes against the real broker and
 * registry and a Webex stand-in; after a delivery, a forged one and a
 * reconcile run, both /metrics are scraped. Every metric name any dashboard
 * query or rule expression selects must be exported (a histogram as its
 * `_bucket`, `_sum` and `_count`), rate() and increase() must be over
 * counters or histogram series, histogram_quantile() over a histogram's
 * buckets, every label a selector matches on must be on that metric, and an
 * alert's metrics must come from the process its `component` label names.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listen } from '../../src/listen.ts';
import { createPartnerApi } from '../../src/simulator/partner-api.ts';
import { createWebexWorld } from '../../src/simulator/world.ts';
import {
  dashboardQueries,
  parsePromql,
  readAlertRules,
  ruleQueries,
  withoutGrafanaVariables,
} from '../helpers/monitoring.ts';
import { rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { type CliRun, exitWithin, runCli } from './helpers/cli.ts';
import { uniqueTopic } from './helpers/kafka.ts';
import { freePort, waitReady } from './helpers/net.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'monitoring-webhook-secret';
const TOKEN = 'monitoring-partner-token';
const H = 3_600_000;

/** What one /metrics answer exports: families with their type, and samples with their labels. */
type Exported = { types: Map<string, string>; samples: Map<string, Set<string>> };

const readExposition = (text: string): Exported => {
  const types = new Map<string, string>();
  const samples = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/.exec(line);
    if (type?.[1] && type[2]) types.set(type[1], type[2]);
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? \S+/.exec(line);
    if (sample?.[1]) {
      const labels = samples.get(sample[1]) ?? new Set<string>();
      for (const [, l] of (sample[2] ?? '').matchAll(/([a-zA-Z_]\w*)="/g)) labels.add(l ?? '');
      samples.set(sample[1], labels);
    }
  }
  return { types, samples };
};

const HISTOGRAM_PARTS = ['_bucket', '_sum', '_count'] as const;

/** The type of the family a series name belongs to: a histogram's `_bucket` is 'histogram'. */
const typeOf = (e: Exported, name: string): string | undefined => {
  const direct = e.types.get(name);
  if (direct !== undefined) return direct;
  const part = HISTOGRAM_PARTS.find((p) => name.endsWith(p));
  const family = part === undefined ? undefined : e.types.get(name.slice(0, -part.length));
  return family === 'histogram' ? 'histogram' : undefined;
};

const isExported = (e: Exported, name: string) =>
  e.samples.has(name) || typeOf(e, name) !== undefined;

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

const stopped = async (p: CliRun) => {
  p.child.kill('SIGTERM');
  return exitWithin(p, 30_000);
};

describe('monitoring', () => {
  test('every metric the dashboard and the alert rules query is exported by the real processes', async () => {
    const topic = uniqueTopic('monitoring');
    const kafka = {
      KAFKA_BROKERS: stack.brokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      CDR_FEED: 'analytics',
      CDR_TOPIC: topic,
      CDR_TOPIC_PARTITIONS: '1',
    };
    const endMs = Math.floor((Date.now() - 16 * 60_000) / H) * H;
    const world = createWebexWorld({
      seed: 'monitoring',
      orgs: 2,
      callsPerHour: 3,
      startMs: endMs - 2 * H,
      endMs,
    });
    const webex = await listen(createPartnerApi({ world, tokens: [TOKEN] }).fetch, { port: 0 });
    const ingressPort = await freePort();
    const ingress = runCli(['ingress'], {
      ...kafka,
      PORT: String(ingressPort),
      HOST: '127.0.0.1',
      WEBHOOK_SECRETS: SECRET,
      LOG_LEVEL: 'warn',
    });
    const reconcilerPort = await freePort();
    const reconciler = runCli(['reconcile'], {
      ...kafka,
      WEBEX_API_BASE_URL: webex.url,
      WEBEX_ACCESS_TOKEN: TOKEN,
      RECONCILER_PORT: String(reconcilerPort),
      HOST: '127.0.0.1',
      RECONCILE_LOOKBACK: '3h',
    });
    try {
      const ingressUrl = `http://127.0.0.1:${ingressPort}`;
      await waitReady(ingressUrl, 120_000).catch((e: unknown) => {
        throw new Error(`${e}; the ingress's stderr: ${ingress.err()}`);
      });
      // A delivery with a dead letter, and a forged one: the labelled series then exist.
      const d = signedDelivery([rawCdr(1, 'org-a'), { 'Org UUID': 'org-a' }], SECRET);
      const post = (headers: Record<string, string>) =>
        fetch(`${ingressUrl}/webhooks/cdr`, { method: 'POST', body: d.body, headers });
      assert.equal((await post(d.headers)).status, 200);
      assert.equal((await post({ ...d.headers, 'x-spark-signature': '0'.repeat(40) })).status, 401);
      await reconciler.until(/reconciliation run finished/);

      const scrape = async (url: string) => {
        const res = await fetch(`${url}/metrics`);
        assert.equal(res.status, 200);
        return readExposition(await res.text());
      };
      const exported = {
        ingress: await scrape(ingressUrl),
        reconciler: await scrape(`http://127.0.0.1:${reconcilerPort}`),
      };
      // The scrapes are what they claim: the ingress's and the reconciler's own families.
      assert.ok(exported.ingress.samples.has('webex_cdr_produce_seconds_bucket'));
      assert.ok(exported.reconciler.samples.has('webex_cdr_reconcile_last_run_still_missing'));

      const checkQuery = (where: string, expr: string, from: Exported[]) => {
        for (const s of parsePromql(withoutGrafanaVariables(expr)).selectors) {
          const by = from.filter((e) => isExported(e, s.metric));
          assert.ok(by.length > 0, `${where}: ${s.metric} is not exported`);
          const types = new Set(by.map((e) => typeOf(e, s.metric) ?? 'untyped'));
          if (s.rated) {
            const ok = [...types].every((t) => t === 'counter' || t === 'histogram');
            assert.ok(ok, `${where}: rate/increase over ${s.metric}, a ${[...types]}`);
          }
          if (s.quantiled) {
            assert.ok(
              s.metric.endsWith('_bucket') && types.has('histogram'),
              `${where}: ${s.metric}`,
            );
          }
          for (const m of s.matchers) {
            const labelled = by.some((e) => e.samples.get(s.metric)?.has(m.label));
            assert.ok(labelled, `${where}: ${s.metric} has no label ${m.label}`);
          }
        }
      };
      const both = [exported.ingress, exported.reconciler];
      const queries = dashboardQueries();
      assert.ok(queries.length > 20);
      for (const q of queries) checkQuery(q.where, q.expr, both);
      const rules = readAlertRules();
      for (const [i, q] of ruleQueries(rules).entries()) {
        const component = rules[i]?.labels.component;
        assert.ok(component);
        checkQuery(q.where, q.expr, [exported[component]]);
      }

      assert.equal(await stopped(reconciler), 0, reconciler.err());
      assert.equal(await stopped(ingress), 0, ingress.err());
    } finally {
      for (const p of [reconciler, ingress]) if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await webex.close();
    }
  });
});
