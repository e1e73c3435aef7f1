/**
 * Security checks on real processes and real sockets:
 * - a real ingress process at debug level: whatever it prints (stdout and
 *   stderr) holds no webhook secret (current or rotated), no signature sent,
 *   no value of the request's headers; the records it wrote carry none of the
 *   request's headers either (only the contract's `cdr-*` headers);
 * - the reconciler's Webex client, against real HTTP servers, never follows a
 *   `Link` or a redirect to another host, so its token never leaves the origin.
 * (The chaos run greps the logs of every process of a run the same way; gzip
 * and size bombs are in hostile-http.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { listen } from '../../src/listen.ts';
import { silentLogger } from '../../src/log.ts';
import { createWebexClient } from '../../src/reconciler/webex/client.ts';
import { rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { readTopic, uniqueTopic } from './helpers/kafka.ts';
import { freePort, waitReady } from './helpers/net.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const CONTRACT_HEADERS = /^cdr-[a-z0-9-]+$/;

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

describe('secrets stay out of logs and out of Kafka', () => {
  test('an ingress process at debug level prints no secret, signature or header value, and copies no request header into Kafka', {
    timeout: 120_000,
  }, async () => {
    const current = `current-secret-${Date.now()}`;
    const rotated = `rotated-secret-${Date.now()}`;
    const canary = `canary-${Math.random().toString(36).slice(2)}`;
    const topic = uniqueTopic('security');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const child = spawn(
      process.execPath,
      ['--disable-warning=TimeoutNegativeWarning', CLI, 'ingress'],
      {
        env: {
          PATH: process.env.PATH ?? '',
          KAFKA_BROKERS: stack.brokers.join(','),
          SCHEMA_REGISTRY_URL: stack.registryUrl,
          CDR_TOPIC: topic,
          CDR_FEED: 'analytics',
          CDR_TOPIC_PARTITIONS: '1',
          WEBHOOK_SECRETS: `${current},${rotated}`,
          PORT: String(port),
          LOG_LEVEL: 'debug',
          MAX_DECODED_BYTES: String(1024 * 1024),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let printed = '';
    child.stdout.on('data', (b: Buffer) => {
      printed += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      printed += b.toString();
    });
    const signatures: string[] = [];
    try {
      await waitReady(base);
      const post = async (
        body: string | Buffer,
        signature: string,
        extra: Record<string, string> = {},
      ) => {
        signatures.push(signature);
        const res = await fetch(`${base}/webhooks/cdr`, {
          method: 'POST',
          body: new Uint8Array(Buffer.from(body)),
          headers: {
            'content-type': 'application/json',
            'x-spark-signature': signature,
            authorization: `Bearer ${canary}`,
            cookie: `session=${canary}`,
            'x-forwarded-for': canary,
            'x-canary': canary,
            ...extra,
          },
        });
        await res.arrayBuffer();
        return res.status;
      };
      const good = signedDelivery([rawCdr(1, 'org-a'), rawCdr(2, 'org-b')], current);
      const sig = good.headers['x-spark-signature'];
      assert.equal(await post(good.body, sig), 200);
      const old = signedDelivery([rawCdr(3, 'org-a')], rotated);
      assert.equal(await post(old.body, old.headers['x-spark-signature']), 200);
      // Refused deliveries log their reason: still nothing secret.
      assert.equal(await post(`${good.body} `, sig), 401);
      assert.equal(await post(good.body, sig.toUpperCase()), 401);
      const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
      const bombSig = signedDelivery([], current).headers['x-spark-signature'];
      assert.equal(
        await post(
          bomb,
          bombSig.replace(/.$/, (c) => (c === '0' ? '1' : '0')),
          {
            'content-encoding': 'gzip',
          },
        ),
        401,
      );

      const records = await readTopic(stack.brokers, topic, 3);
      assert.equal(records.length, 3);
      for (const r of records) {
        for (const [k, v] of Object.entries(r.headers)) {
          assert.match(k, CONTRACT_HEADERS, `only the contract's headers: ${k}`);
          assert.ok(!v.includes(canary), `header ${k} carries a request header value`);
        }
        assert.ok(!r.value.includes(canary), 'the value carries a request header value');
        assert.ok(!r.value.includes(current) && !r.value.includes(sig));
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    assert.match(
      printed,
      /"status":200,"deliveryId".*"msg":"delivery"/,
      'the process did log (the grep means something)',
    );
    for (const secret of [
      current,
      rotated,
      canary,
      ...signatures,
      ...signatures.map((s) => s.toLowerCase()),
    ]) {
      assert.ok(!printed.includes(secret), `logs hold ${secret.slice(0, 12)}...`);
    }
  });
});

describe('the reconciler never follows a link to another host', () => {
  test('Link next and redirects to another origin are refused; the other host gets no request and no token', async () => {
    const token = `token-${Date.now()}`;
    const seenByOther: Request[] = [];
    const other = await listen(
      (req) => {
        seenByOther.push(req);
        return Response.json({ items: [{ 'Report ID': 'stolen' }] });
      },
      { port: 0 },
    );
    let mode: 'link' | 'redirect' | 'link-localhost' = 'link';
    let apiRequests = 0;
    const api = await listen(
      (req) => {
        apiRequests++;
        const url = new URL(req.url);
        const next = `${other.url}${url.pathname}?page=2`;
        if (mode === 'redirect')
          return new Response(null, { status: 302, headers: { location: next } });
        // The same port under another host name is another origin too.
        const link = mode === 'link' ? next : `http://localhost:${url.port}${url.pathname}?page=2`;
        return Response.json(
          { items: [{ 'Report ID': 'r1' }] },
          { headers: { link: `<${link}>; rel="next"` } },
        );
      },
      { port: 0 },
    );
    try {
      const client = createWebexClient({
        baseUrl: api.url,
        auth: { kind: 'static', token },
        logger: silentLogger,
        maxAttempts: 1,
      });
      const t = Date.now();
      const window = { start: t - 3 * 3_600_000, end: t - 2 * 3_600_000 };
      for (const m of ['link', 'redirect', 'link-localhost'] as const) {
        mode = m;
        await assert.rejects(client.recordsByOrg('org-1', window), (e: Error) => {
          assert.match(e.message, /another origin|not followed|redirect/, m);
          return true;
        });
      }
      assert.equal(seenByOther.length, 0, 'the other host was never asked');
      assert.equal(apiRequests, 3, 'one request per case: nothing followed');
    } finally {
      await api.close(true);
      await other.close(true);
    }
  });
});
