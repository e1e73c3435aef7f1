/**
 * Nothing acknowledged is lost, nothing Webex has stays unseen: the pattern of
 * Kafka's and Jepsen's delivery checks. Webex's stand-in sends several hours of
 * deliveries (10 % dropped, some repeated) and retries what is not answered
 * 2xx. Meanwhile the ingress process is SIGKILLed and restarted, and so is the
 * broker. Afterwards:
 *   lost   = Report IDs of deliveries answered 200 - Report IDs on the topic = {}
 * and after one reconcile run
 *   unseen = Webex's Report IDs of the windows - Report IDs on the topic = {}
 * Every duplicate carries the same key and the same record.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { parseReconcilerConfig } from '../../src/config.ts';
import { listen } from '../../src/listen.ts';
import { silentLogger } from '../../src/log.ts';
import { createReconciler } from '../../src/reconciler/service.ts';
import { createPartnerApi } from '../../src/simulator/partner-api.ts';
import { createWebhookSender } from '../../src/simulator/webhook-sender.ts';
import { createWebexWorld } from '../../src/simulator/world.ts';
import { readTopic, uniqueTopic } from './helpers/kafka.ts';
import { freePort, waitReady } from './helpers/net.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const H = 3_600_000;
const SECRET = 'chaos-secret';

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

test('ingress and broker crashes: nothing acknowledged is lost, nothing Webex has stays unseen', {
  timeout: 600_000,
}, async () => {
  const endMs = Math.floor((Date.now() - 16 * 60_000) / H) * H;
  const startMs = endMs - 3 * H;
  const world = createWebexWorld({
    seed: 'chaos',
    orgs: 30,
    callsPerHour: 6,
    startMs,
    endMs,
    dropRate: 0.1,
    repeatRate: 0.1,
    lateRate: 0.05,
  });
  const topic = uniqueTopic('chaos');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH ?? '',
    KAFKA_BROKERS: stack.brokers.join(','),
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    CDR_TOPIC: topic,
    CDR_FEED: 'analytics',
    WEBHOOK_SECRETS: SECRET,
    PORT: String(port),
    ACK_TIMEOUT_MS: '3000',
    RETRY_AFTER_SECONDS: '1',
    LOG_LEVEL: 'silent',
  };
  const startIngress = () =>
    spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', CLI, 'ingress'], {
      env,
      stdio: 'ignore',
    });
  let ingress = startIngress();
  await waitReady(base);

  // The faults, triggered by delivery progress.
  let answered = 0;
  const faults: Promise<void>[] = [];
  const chaos = async (at: number) => {
    if (at === 8) {
      ingress.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 500));
      ingress = startIngress();
    }
    if (at === 20) {
      await stack.killBroker();
      await new Promise((r) => setTimeout(r, 1000));
      await stack.startBroker();
    }
  };

  try {
    const report = await createWebhookSender({
      url: `${base}/webhooks/cdr`,
      secret: SECRET,
      retries: 10,
      backoffMs: 250,
      timeoutMs: 10_000,
      onDelivery: () => {
        answered += 1;
        faults.push(chaos(answered));
      },
    }).send(world.deliveries());
    await Promise.all(faults);
    assert.equal(report.failed, 0, 'every delivery was answered 200 in the end');
    const retried = report.deliveries.filter((d) => d.attempts > 1);
    assert.ok(retried.length >= 2, `the crashes were felt: ${retried.length} deliveries retried`);

    const acknowledged = new Set<string>();
    const sentDeliveries = world.deliveries().filter((d) => !d.dropped);
    for (const r of report.deliveries) {
      if (r.outcome !== 'sent') continue;
      const d = sentDeliveries.find((x) => x.id === r.id);
      for (const item of d?.items ?? []) acknowledged.add(String(item['Report ID']));
    }
    const onTopic = await readTopic(stack.brokers, topic, acknowledged.size);
    const ids = new Set(onTopic.map((m) => m.headers['cdr-report-id']));
    const lost = [...acknowledged].filter((id) => !ids.has(id));
    assert.deepEqual(lost, [], 'lost = acknowledged - read');

    // The reconciler fills what Webex never delivered.
    const api = createPartnerApi({ world, tokens: ['t'] });
    const server = await listen(api.fetch, { port: 0 });
    try {
      const parsed = parseReconcilerConfig({
        ...env,
        WEBEX_API_BASE_URL: server.url,
        WEBEX_ACCESS_TOKEN: 't',
      });
      assert.ok(parsed.ok);
      const reconciler = createReconciler(parsed.config, silentLogger);
      try {
        const run = await reconciler.runOnce(reconciler.plan({ from: startMs, to: endMs }));
        assert.equal(run.totals.stillMissing, 0);
      } finally {
        await reconciler.stop();
      }
    } finally {
      await server.close();
    }
    const webexIds = world.records
      .filter((r) => r.callEnd >= startMs && r.callEnd < endMs)
      .map((r) => r.reportId);
    const final = await readTopic(stack.brokers, topic, onTopic.length);
    const finalIds = new Set(final.map((m) => m.headers['cdr-report-id']));
    assert.deepEqual(
      webexIds.filter((id) => !finalIds.has(id)),
      [],
      'unseen = Webex - topic',
    );

    // Duplicates (Webex repeats, retried deliveries) carry the same key and record.
    const registry = new SchemaRegistry({ host: stack.registryUrl });
    const firstCopy = new Map<string, string>();
    let duplicates = 0;
    for (const m of final) {
      const { ingest: _ingest, ...record } = (await registry.decode(m.value)) as Record<
        string,
        unknown
      >;
      const copy = JSON.stringify({ key: m.key, record });
      const id = m.headers['cdr-report-id'] ?? '';
      const seen = firstCopy.get(id);
      if (seen === undefined) firstCopy.set(id, copy);
      else {
        duplicates += 1;
        assert.equal(copy, seen, `duplicate ${id} differs`);
      }
    }
    assert.ok(duplicates > 0, 'repeats were delivered and kept as exact duplicates');
  } finally {
    ingress.kill('SIGKILL');
    await stack.startBroker();
  }
});
