/**
 * @module demo
 * `npm run demo`: the product on this machine in one command.
 *   1. the local stack (Kafka + Apicurio Registry from Maven Central)
 *   2. the ingress, verifying signatures
 *   3. the Webex stand-in: two hours of signed deliveries for a few orgs, a
 *      quarter of them lost on the way, some repeated; one forged delivery
 *   4. one reconcile run against the stand-in's partner API
 *   5. what is on the topic now, and one record decoded through the registry
 * The stack keeps running afterwards (`npm run stack -- down` stops it).
 */
import { parseIngressConfig, parseReconcilerConfig } from './config.ts';
import { startIngress } from './ingress/server.ts';
import { sign } from './ingress/verify-signature.ts';
import { listen } from './listen.ts';
import { createLogger } from './log.ts';
import { formatSummary } from './reconciler/report.ts';
import { createReconciler } from './reconciler/service.ts';
import { createPartnerApi } from './simulator/partner-api.ts';
import { createWebhookSender } from './simulator/webhook-sender.ts';
import { createWebexWorld } from './simulator/world.ts';
import { stackSettings, up } from './stack/stack.ts';
import { tailTopic } from './tail.ts';

const H = 3_600_000;
const SECRET = 'demo-secret';
const step = (n: number, text: string) => console.log(`\n== ${n}. ${text}`);

const main = async () => {
  const startedAt = Date.now();
  step(1, 'local stack: Apache Kafka (KRaft) + Apicurio Registry, on 127.0.0.1');
  const stack = await up(stackSettings());
  console.log(
    `KAFKA_BROKERS=${stack.KAFKA_BROKERS}\nSCHEMA_REGISTRY_URL=${stack.SCHEMA_REGISTRY_URL}`,
  );

  // A topic of its own per run, so earlier runs (other orgs) do not show up as surplus.
  const runStamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
  const topic = process.env.CDR_TOPIC ?? `webex.calling.cdr.demo-${runStamp}`;
  const env = { ...process.env, ...stack, CDR_TOPIC: topic, CDR_FEED: 'analytics' };
  step(2, `ingress: POST /webhooks/cdr -> topic ${topic}`);
  const ingressConfig = parseIngressConfig({ ...env, WEBHOOK_SECRETS: SECRET, PORT: '0' });
  if (!ingressConfig.ok) throw new Error(ingressConfig.problems.join('; '));
  const logger = createLogger('warn');
  const ingress = await startIngress(ingressConfig.config, logger);
  await ingress.started;
  const webhookUrl = `${ingress.url}${ingressConfig.config.path}`;
  console.log(`listening on ${webhookUrl} (secret "${SECRET}")`);

  step(3, 'Webex stand-in: 2 hours of deliveries for 8 orgs, 25 % lost, 10 % repeated');
  const endMs = Math.floor((Date.now() - 16 * 60_000) / H) * H;
  const world = createWebexWorld({
    seed: `demo-${Date.now()}`, // new records every run
    orgs: 8,
    callsPerHour: 6,
    startMs: endMs - 2 * H,
    endMs,
    dropRate: 0.25,
    repeatRate: 0.1,
    lateRate: 0.05,
  });
  const sent = await createWebhookSender({ url: webhookUrl, secret: SECRET }).send(
    world.deliveries(),
  );
  console.log(
    `${world.records.length} records in ${world.deliveries().length} deliveries: sent ${sent.sent}, lost ${sent.dropped}, repeated ${sent.repeated}, failed ${sent.failed}`,
  );
  const forgedBody = JSON.stringify({ items: world.records.slice(0, 2).map((r) => r.raw) });
  const forged = await fetch(webhookUrl, {
    method: 'POST',
    body: forgedBody,
    headers: { 'content-type': 'application/json', 'x-spark-signature': sign(forgedBody, 'wrong') },
  });
  console.log(`a forged delivery: HTTP ${forged.status} ${await forged.text()}`);

  step(4, 'reconciler: compare Webex counts per org and hour with the topic, backfill the gap');
  const api = createPartnerApi({ world, tokens: ['demo-token'] });
  const apiServer = await listen(api.fetch, { port: 0 });
  const apiUrl = apiServer.url;
  const reconcilerConfig = parseReconcilerConfig({
    ...env,
    WEBEX_API_BASE_URL: apiUrl,
    WEBEX_ACCESS_TOKEN: 'demo-token',
  });
  if (!reconcilerConfig.ok) throw new Error(reconcilerConfig.problems.join('; '));
  const reconciler = createReconciler(reconcilerConfig.config, logger);
  const summary = await reconciler.runOnce(
    reconciler.plan({ from: world.startMs, to: world.endMs }),
  );
  process.stdout.write(formatSummary(summary));
  await reconciler.stop();
  await apiServer.close();
  await ingress.close();

  step(5, `what is on ${topic} now (records of this demo)`);
  const ids = new Set(world.records.map((r) => r.reportId));
  const onTopic = (await tailTopic(env, topic, startedAt - 60_000)).filter((r) =>
    ids.has(r.headers['cdr-report-id'] ?? ''),
  );
  const distinct = new Set(onTopic.map((r) => r.headers['cdr-report-id']));
  const bySource = new Map<string, number>();
  for (const r of onTopic) {
    const s = r.headers['cdr-source'] ?? '?';
    bySource.set(s, (bySource.get(s) ?? 0) + 1);
  }
  console.log(
    `${onTopic.length} records (${[...bySource].map(([s, n]) => `${n} from ${s}`).join(', ')}), ` +
      `${distinct.size} distinct Report IDs of the ${ids.size} Webex has: ${distinct.size === ids.size ? 'complete' : 'INCOMPLETE'}`,
  );
  const sample = onTopic.find((r) => r.headers['cdr-source'] === 'reconciler') ?? onTopic[0];
  if (sample !== undefined) {
    const value = sample.value as Record<string, unknown>;
    const shown = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null));
    console.log('one record: key, headers and the decoded Avro value (null fields left out):');
    console.log(
      JSON.stringify({ key: sample.key, headers: sample.headers, value: shown }, null, 2),
    );
  }
  console.log(`
Next:
  npx webex-cdr-kafka tail --topic ${topic} --since 1h    every record as JSON
  npx webex-cdr-kafka tail --topic ${topic}.reconciliation   the audit trail
  set -a; . .stack/env; set +a; CDR_FEED=analytics WEBHOOK_SECRETS=... npx webex-cdr-kafka ingress
  npm run stack -- down                                   stop Kafka and the registry`);
  return distinct.size === ids.size ? 0 : 1;
};

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exitCode = 1;
  },
);
