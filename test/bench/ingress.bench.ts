/**
 * Ingress benchmark on the real local stack: the design point from the domain
 * notes, one delivery of 100 000 records (~245 MB of JSON, all 83 fields),
 * signed, POSTed to an ingress running as its own process. Prints the figures
 * and checks them against the targets:
 *   - acknowledged (every record on Kafka) within 60 s
 *   - the ingress process' peak RSS under 2 GiB
 *   - GET /healthz, polled during the delivery, never slower than 5 s (the
 *     event loop is not stalled for long: a liveness probe would not fail)
 * Also times the in-process stages (parse, normalise, encode) for 100 000 records.
 *
 *   npm run bench            (BENCH_RECORDS=20000 npm run bench for a quick look)
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readCdrSchema } from '../../src/cdr/avro-schema.ts';
import { prepareBatch } from '../../src/cdr/batch.ts';
import { parseRecords } from '../../src/ingress/parse-body.ts';
import { sign } from '../../src/ingress/verify-signature.ts';
import { createRegistryClient } from '../../src/kafka/registry.ts';
import { stackSettings, up } from '../../src/stack/stack.ts';
import { topicSize, uniqueTopic } from '../integration/helpers/kafka.ts';
import { fullRawCdr } from '../unit/fixtures.ts';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000);
const TARGET_ACK_MS = 60_000;
const TARGET_RSS_BYTES = 2 * 1024 ** 3;
const TARGET_HEALTH_MS = 5000;
const SECRET = 'bench-secret';

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

const peakRss = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
};

const main = async () => {
  const env = await up(stackSettings());
  const items = Array.from({ length: RECORDS }, (_, i) =>
    fullRawCdr({ 'Report ID': randomUUID(), 'Org UUID': `org-${i % 250}` }),
  );
  const body = Buffer.from(JSON.stringify({ items }));
  console.log(
    `records: ${RECORDS}, body: ${mb(body.length)} (${Math.round(body.length / RECORDS)} B/record)`,
  );

  // In-process stages
  let t = process.hrtime.bigint();
  const parsed = parseRecords(body);
  if (!parsed.ok) throw parsed.error;
  const tParse = ms(t);
  t = process.hrtime.bigint();
  const ingest = {
    feed: 'analytics',
    source: 'webhook',
    received_at: Date.now(),
    delivery_id: 'b',
  } as const;
  const batch = prepareBatch(parsed.value, ingest);
  const tNormalise = ms(t);
  const topic = uniqueTopic('bench');
  const encoder = await createRegistryClient({ url: env.SCHEMA_REGISTRY_URL }).registerEncoder(
    `${topic}-value`,
    readCdrSchema().text,
  );
  t = process.hrtime.bigint();
  let avroBytes = 0;
  for (const r of batch.records) avroBytes += encoder.encode(r.record).length;
  const tEncode = ms(t);
  console.log(
    `stages: parse ${tParse.toFixed(0)} ms, normalise+dedup ${tNormalise.toFixed(0)} ms, encode ${tEncode.toFixed(0)} ms ` +
      `(${Math.round(RECORDS / ((tParse + tNormalise + tEncode) / 1000))} records/s); Avro ${mb(avroBytes)} (${Math.round(avroBytes / RECORDS)} B/record)`,
  );

  // End to end through a separate ingress process
  const port = 18000 + Math.floor(Math.random() * 1000);
  const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--disable-warning=TimeoutNegativeWarning', cli, 'ingress'],
    {
      env: {
        ...process.env,
        ...env,
        CDR_TOPIC: topic,
        CDR_FEED: 'analytics',
        WEBHOOK_SECRETS: SECRET,
        PORT: String(port),
        ACK_TIMEOUT_MS: String(TARGET_ACK_MS),
        CDR_TOPIC_PARTITIONS: '6',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  try {
    const until = Date.now() + 60_000;
    for (;;) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > until) throw new Error('ingress not ready');
      await new Promise((r) => setTimeout(r, 200));
    }
    const rssBefore = peakRss(child.pid ?? 0);
    let polling = true;
    let slowestHealth = 0;
    const poll = (async () => {
      while (polling) {
        const h0 = Date.now();
        await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        slowestHealth = Math.max(slowestHealth, Date.now() - h0);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    t = process.hrtime.bigint();
    const res = await fetch(`http://127.0.0.1:${port}/webhooks/cdr`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-spark-signature': sign(body, SECRET) },
    });
    const answer = await res.text();
    const ackMs = ms(t);
    polling = false;
    await poll;
    const rss = peakRss(child.pid ?? 0);
    const onTopic = await topicSize(env.KAFKA_BROKERS.split(','), topic);
    console.log(`HTTP ${res.status} ${answer}`);
    console.log(
      `end to end: ${ackMs.toFixed(0)} ms to 200 (${Math.round(RECORDS / (ackMs / 1000))} records/s, ${mb(body.length / (ackMs / 1000))}/s); ` +
        `records on topic ${onTopic}; ingress peak RSS ${mb(rss)} (idle ${mb(rssBefore)}); slowest /healthz meanwhile ${slowestHealth} ms`,
    );
    const checks = [
      ['HTTP 200', res.status === 200],
      [`every record on the topic (${onTopic}/${RECORDS})`, onTopic === RECORDS],
      [`acknowledged within ${TARGET_ACK_MS / 1000} s`, ackMs < TARGET_ACK_MS],
      [`peak RSS under ${mb(TARGET_RSS_BYTES)}`, rss < TARGET_RSS_BYTES],
      [
        `/healthz answered within ${TARGET_HEALTH_MS} ms throughout`,
        slowestHealth < TARGET_HEALTH_MS,
      ],
    ] as const;
    for (const [what, ok] of checks) console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
    process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    child.kill('SIGTERM');
  }
};

await main();
