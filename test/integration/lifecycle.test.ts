/**
 * Stopping the ingress for real: the CLI as a child process against the real
 * broker and registry. SIGTERM in the middle of a slow upload: the delivery
 * in flight is answered 200 and its records are on the topic, a new delivery
 * during the drain gets 503 with Retry-After, /readyz fails at once, and the
 * process exits 0 well before its deadline. With the broker stopped, the
 * delivery in flight cannot be acknowledged: the process gives up at
 * SHUTDOWN_TIMEOUT_MS, says what it abandoned and exits 1 (never 2xx).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listen } from '../../src/listen.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { readTopic, topicSize, uniqueTopic } from './helpers/kafka.ts';
import { freePort, waitReady } from './helpers/net.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const SECRET = 'lifecycle-secret';

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

/** `webex-cdr-kafka <command>` as a child process; resolves once `port` answers /readyz. */
const startCli = async (command: string, env: Record<string, string>, probePort?: number) => {
  const port = probePort ?? (await freePort());
  const topic = uniqueTopic('lifecycle');
  const child = spawn(
    process.execPath,
    ['--disable-warning=TimeoutNegativeWarning', CLI, command],
    {
      env: {
        PATH: process.env.PATH ?? '',
        KAFKA_BROKERS: stack.brokers.join(','),
        SCHEMA_REGISTRY_URL: stack.registryUrl,
        CDR_TOPIC: topic,
        CDR_TOPIC_PARTITIONS: '3',
        CDR_FEED: 'analytics',
        WEBHOOK_SECRETS: SECRET,
        PORT: String(port),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, at: Date.now() })),
  );
  const base = `http://127.0.0.1:${port}`;
  await waitReady(base);
  return { child, exited, base, port, topic, output: () => output };
};

const startIngress = (env: Record<string, string>) => startCli('ingress', env);

/** Polls /metrics until `deliveries in flight` is `n`. */
const untilInFlight = async (base: string, n: number) => {
  for (const until = Date.now() + 30_000; Date.now() < until; ) {
    const text = await (await fetch(`${base}/metrics`)).text();
    if (sampleValue(parsePrometheusText(text), 'webex_cdr_deliveries_in_flight') === n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never ${n} deliveries in flight`);
};

/** A POST whose body is sent in two halves, the second when `finish()` is called. */
const slowUpload = (port: number, body: string, headers: Record<string, string>) => {
  const bytes = Buffer.from(body);
  const req = request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/webhooks/cdr',
    headers: { ...headers, 'content-length': String(bytes.length) },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.once('response', (res) => {
      let text = '';
      res.on('data', (d) => {
        text += d;
      });
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.once('error', reject);
  });
  req.write(bytes.subarray(0, bytes.length >> 1));
  return { answer, finish: () => req.end(bytes.subarray(bytes.length >> 1)) };
};

describe('ingress shutdown', () => {
  test('SIGTERM mid-delivery: the delivery in flight gets 200 and lands, new ones get 503, exit 0', async () => {
    const ingress = await startIngress({ SHUTDOWN_TIMEOUT_MS: '20000' });
    try {
      const records = Array.from({ length: 300 }, (_, i) => rawCdr(i, `org-${i % 7}`));
      const d = signedDelivery(records, SECRET);
      const upload = slowUpload(ingress.port, d.body, d.headers);
      await untilInFlight(ingress.base, 1);

      const signalledAt = Date.now();
      ingress.child.kill('SIGTERM');
      // the drain starts at once: readiness fails, new deliveries are refused
      for (const until = Date.now() + 5_000; Date.now() < until; ) {
        if ((await fetch(`${ingress.base}/readyz`)).status === 503) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal((await fetch(`${ingress.base}/readyz`)).status, 503);
      const late = signedDelivery([rawCdr(1000, 'org-late')], SECRET);
      const refused = await postDelivery(`${ingress.base}/webhooks/cdr`, late);
      assert.equal(refused.status, 503);
      assert.ok(Number(refused.headers.get('retry-after')) > 0);

      upload.finish();
      const answer = await upload.answer;
      assert.equal(answer.status, 200, answer.body);
      assert.equal((JSON.parse(answer.body) as { accepted: number }).accepted, 300);
      const { code, at } = await ingress.exited;
      assert.equal(code, 0, ingress.output());
      assert.ok(at - signalledAt < 20_000, `exited ${at - signalledAt} ms after SIGTERM`);

      const onTopic = await readTopic(stack.brokers, ingress.topic, 300);
      const ids = new Set(onTopic.map((m) => m.headers['cdr-report-id']));
      assert.ok(
        records.every((r) => ids.has(r['Report ID'])),
        'every record of the delivery',
      );
      assert.equal(
        onTopic.some((m) => m.key === 'org-late'),
        false,
        'nothing of the refused delivery',
      );
      assert.match(ingress.output(), /"msg":"draining: new deliveries get 503"/);
      assert.match(ingress.output(), /"msg":"stopped"/);
    } finally {
      ingress.child.kill('SIGKILL');
    }
  });

  test('broker stopped: the delivery cannot be acknowledged, exit 1 at the deadline, never 2xx', {
    timeout: 180_000,
  }, async () => {
    const ingress = await startIngress({ SHUTDOWN_TIMEOUT_MS: '3000', ACK_TIMEOUT_MS: '60000' });
    try {
      await stack.stopBroker();
      const d = signedDelivery([rawCdr(1, 'org-1'), rawCdr(2, 'org-2')], SECRET);
      const answer = postDelivery(`${ingress.base}/webhooks/cdr`, d).then(
        (r) => r.status,
        () => 'no answer' as const,
      );
      await untilInFlight(ingress.base, 1);
      const signalledAt = Date.now();
      ingress.child.kill('SIGTERM');
      const { code, at } = await ingress.exited;
      const took = at - signalledAt;
      assert.equal(code, 1, ingress.output());
      assert.ok(took >= 2_900 && took < 8_000, `exited ${took} ms after SIGTERM`);
      const status = await answer;
      assert.ok(status === 'no answer' || status >= 500, `answered ${status}`);
      assert.match(
        ingress.output(),
        /"abandonedDeliveries":1,.*"msg":"shutdown deadline passed: abandoning"/,
      );
    } finally {
      ingress.child.kill('SIGKILL');
      await stack.startBroker();
    }
  });
});

describe('reconciler shutdown', () => {
  test('SIGTERM while Webex hangs mid-window: the run is abandoned at once, exit 0', async () => {
    // a partner API that never answers: the run sits in its first window's count
    let asked = 0;
    const webex = await listen(
      () => {
        asked += 1;
        return new Promise<Response>(() => undefined);
      },
      { port: 0 },
    );
    const port = await freePort();
    const reconciler = await startCli(
      'reconcile',
      {
        WEBEX_API_BASE_URL: webex.url,
        WEBEX_ACCESS_TOKEN: 'token',
        WEBEX_TIMEOUT: '10m',
        RECONCILER_PORT: String(port),
        SHUTDOWN_TIMEOUT_MS: '10000',
      },
      port,
    );
    try {
      for (const until = Date.now() + 30_000; asked === 0 && Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const text = await (await fetch(`${reconciler.base}/metrics`)).text();
      assert.equal(sampleValue(parsePrometheusText(text), 'webex_cdr_reconcile_running'), 1);
      const signalledAt = Date.now();
      reconciler.child.kill('SIGTERM');
      const { code, at } = await reconciler.exited;
      assert.equal(code, 0, reconciler.output());
      assert.ok(at - signalledAt < 5_000, `exited ${at - signalledAt} ms after SIGTERM`);
      assert.match(reconciler.output(), /"msg":"stop requested: stopping after the current step"/);
      assert.match(reconciler.output(), /"aborted":true/);
      assert.equal(
        await topicSize(stack.brokers, `${reconciler.topic}.reconciliation`),
        0,
        'no audit record of the unfinished window',
      );
    } finally {
      reconciler.child.kill('SIGKILL');
      await webex.close(true);
    }
  });
});
