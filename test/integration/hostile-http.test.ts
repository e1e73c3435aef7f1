/**
 * Hostile input that only a real HTTP server can show (the rest of the
 * playbook's catalogue is mapped in test/unit/ingress/hostile-input.test.ts):
 * huge headers, a Content-Length that lies either way, a slow-drip upload, a
 * gzip bomb and an endless body over a real socket. Each gets a 4xx or a
 * closed connection, never 2xx, and nothing reaches the topic.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { sign } from '../../src/ingress/verify-signature.ts';
import { rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { startSuiteIngress, type TestIngress } from './helpers/ingress.ts';
import { topicSize, uniqueTopic } from './helpers/kafka.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'hostile-http-secret';
const REQUEST_TIMEOUT_MS = 3000;

let stack: TestStack;
let ingress: TestIngress;
const topic = uniqueTopic('hostile');

before(async () => {
  stack = await getStack();
  ingress = await startSuiteIngress(stack, {
    CDR_TOPIC: topic,
    WEBHOOK_SECRETS: SECRET,
    MAX_BODY_BYTES: String(1024 * 1024),
    MAX_DECODED_BYTES: String(1024 * 1024),
    REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
  });
});
after(async () => {
  await ingress.close();
  await stack.close();
});

/** Writes raw bytes on a socket; resolves with everything the server sent until it closed. */
const rawExchange = (
  chunks: readonly (Buffer | string)[],
  opts: { dripMs?: number; endAfter?: boolean } = {},
): Promise<{ text: string; closedAfterMs: number; written: number }> =>
  new Promise((resolve) => {
    const started = Date.now();
    const sock = connect({ host: '127.0.0.1', port: ingress.port });
    let text = '';
    let written = 0;
    let closed = false;
    sock.on('data', (b) => {
      text += b.toString();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      resolve({ text, closedAfterMs: Date.now() - started, written });
    });
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (closed) return;
        sock.write(c);
        written += Buffer.byteLength(c);
        if (opts.dripMs !== undefined) await new Promise((r) => setTimeout(r, opts.dripMs));
      }
      if (opts.endAfter !== false) sock.end();
    });
  });

const head = (length: number | string, signature: string, extra = '') =>
  `POST /webhooks/cdr HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Spark-Signature: ${signature}\r\nContent-Length: ${length}\r\n${extra}\r\n`;

const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

describe('hostile HTTP on a real server', () => {
  test('huge headers: 431, nothing produced', async () => {
    const d = signedDelivery([rawCdr(1, 'org-a')], SECRET);
    const { text } = await rawExchange([
      head(
        Buffer.byteLength(d.body),
        d.headers['x-spark-signature'],
        `X-Big: ${'a'.repeat(100_000)}\r\n`,
      ),
      d.body,
    ]);
    assert.equal(statusOf(text), 431);
  });

  test('Content-Length longer than the body: no 2xx once the sender gives up', async () => {
    const d = signedDelivery([rawCdr(2, 'org-a')], SECRET);
    const { text } = await rawExchange([
      head(Buffer.byteLength(d.body) + 100, d.headers['x-spark-signature']),
      d.body,
    ]);
    assert.ok(!/^HTTP\/1\.1 2/.test(text), `no 2xx: ${text.slice(0, 40)}`);
  });

  test('Content-Length shorter than the body: the cut body fails its signature (401) or the leftover bytes break the connection (400); never 2xx', async () => {
    const d = signedDelivery([rawCdr(3, 'org-a')], SECRET);
    const { text } = await rawExchange([
      head(Buffer.byteLength(d.body) - 10, d.headers['x-spark-signature']),
      d.body,
    ]);
    assert.ok([400, 401].includes(statusOf(text)), text.slice(0, 40));
    assert.ok(!/HTTP\/1\.1 2\d\d/.test(text), 'no 2xx for either part');
  });

  test('slow-drip upload: cut off at REQUEST_TIMEOUT_MS, long before the body would end', async () => {
    const d = signedDelivery([rawCdr(4, 'org-a')], SECRET);
    const bytes = [...Buffer.from(d.body)].map((b) => Buffer.from([b]));
    const { text, closedAfterMs, written } = await rawExchange(
      [head(Buffer.byteLength(d.body), d.headers['x-spark-signature']), ...bytes],
      { dripMs: 100 },
    );
    assert.ok(written < Buffer.byteLength(d.body), 'the server hung up before the drip ended');
    assert.ok(!/^HTTP\/1\.1 2/.test(text), `no 2xx: ${text.slice(0, 40)}`);
    // Checked every second by Node: within the timeout + 1 s, + 2 s for a loaded machine.
    assert.ok(closedAfterMs < REQUEST_TIMEOUT_MS + 3000, `closed after ${closedAfterMs} ms`);
  });

  test('gzip bomb (64 MiB of zeros, signed): 413 after at most MAX_DECODED_BYTES, memory bounded', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const rss = process.memoryUsage().rss;
    const res = await fetch(ingress.webhookUrl, {
      method: 'POST',
      body: new Uint8Array(bomb),
      headers: {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'x-spark-signature': sign(bomb, SECRET),
      },
    });
    assert.equal(res.status, 413);
    const growthMb = (process.memoryUsage().rss - rss) / 2 ** 20;
    assert.ok(growthMb < 48, `RSS grew ${growthMb.toFixed(1)} MiB for a 64 MiB bomb`);
  });

  test('an endless chunked body: 413 once past MAX_BODY_BYTES, the rest never read', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const result = await new Promise<{ status: number; sent: number }>((resolve, reject) => {
      let sent = 0;
      const req = request(ingress.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-spark-signature': sign('x', SECRET) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, sent });
        req.destroy();
      });
      req.on('error', (e) => (sent > 0 ? resolve({ status: 0, sent }) : reject(e)));
      const pump = () => {
        while (sent < 512 * 1024 * 1024 && !req.destroyed) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    assert.equal(result.status, 413);
    assert.ok(result.sent < 64 * 1024 * 1024, `sender stopped after ${result.sent} bytes`);
  });

  test('nothing reached the topic', async () => {
    assert.equal(await topicSize(stack.brokers, topic), 0);
  });
});
