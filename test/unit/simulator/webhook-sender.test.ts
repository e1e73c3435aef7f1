import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, describe, it } from 'node:test';
import {
  createWebhookSender,
  type SendableDelivery,
} from '../../../src/simulator/webhook-sender.ts';
import { createWebexWorld } from '../../../src/simulator/world.ts';
import { startReceiver } from '../../helpers/receiver.ts';

const END = Date.parse('2026-11-23T12:00:00.000Z');
const SECRET = 'shh-secret';

const world = createWebexWorld({
  seed: 'sender',
  orgs: 4,
  startMs: END - 3_600_000,
  endMs: END,
  dropRate: 0.25,
  repeatRate: 0.25,
});

const hmac = (alg: 'sha1' | 'sha256', body: Buffer) =>
  createHmac(alg, SECRET).update(body).digest('hex');

const tiny = (n: number, over: Partial<SendableDelivery> = {}): SendableDelivery => ({
  id: `d${n}`,
  at: n * 300_000,
  items: [{ 'Report ID': `r${n}`, Duration: n }],
  dropped: false,
  ...over,
});

describe('simulator/webhook-sender', () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const close of closers) await close();
  });

  it('POSTs every delivery not dropped, signed over the exact bytes', async () => {
    const rx = await startReceiver();
    closers.push(rx.close);
    const deliveries = world.deliveries();
    const planned = deliveries.filter((d) => !d.dropped);
    assert.ok(
      deliveries.some((d) => d.dropped) && deliveries.some((d) => d.repeatOf !== undefined),
    );
    const seen: string[] = [];
    const sender = createWebhookSender({
      url: rx.url,
      secret: SECRET,
      sha256: true,
      onDelivery: (r) => seen.push(r.id),
    });
    const report = await sender.send(deliveries);

    assert.equal(rx.received.length, planned.length);
    rx.received.forEach((r, i) => {
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['x-spark-signature'], hmac('sha1', r.body));
      assert.equal(r.headers['x-webex-signature'], hmac('sha256', r.body));
      const doc = JSON.parse(r.body.toString('utf8')) as { items: unknown[] };
      assert.deepEqual(Object.keys(doc), ['items']);
      assert.deepEqual(doc.items, planned[i]?.items);
    });
    assert.deepEqual(
      seen,
      deliveries.map((d) => d.id),
    );
    assert.equal(report.sent, planned.length);
    assert.equal(report.dropped, deliveries.length - planned.length);
    assert.equal(report.repeated, deliveries.filter((d) => d.repeatOf !== undefined).length);
    assert.equal(report.failed, 0);
    assert.equal(report.aborted, false);
    assert.equal(
      report.recordsSent,
      planned.reduce((n, d) => n + d.items.length, 0),
    );
    for (const r of report.deliveries) {
      assert.equal(r.status, r.outcome === 'dropped' ? null : 200);
      assert.equal(r.attempts, r.outcome === 'dropped' ? 0 : 1);
    }
  });

  it('does not sign without a secret', async () => {
    const rx = await startReceiver();
    closers.push(rx.close);
    await createWebhookSender({ url: rx.url }).send([tiny(1)]);
    assert.equal(rx.received[0]?.headers['x-spark-signature'], undefined);
  });

  it('retries non-2xx answers with back-off, like Webex retrying', async () => {
    const rx = await startReceiver((n) => (n <= 2 ? 503 : 200));
    closers.push(rx.close);
    const sleeps: number[] = [];
    const sender = createWebhookSender({
      url: rx.url,
      secret: SECRET,
      retries: 3,
      backoffMs: 100,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    const report = await sender.send([tiny(1)]);
    assert.deepEqual(sleeps, [100, 200]);
    assert.equal(report.sent, 1);
    assert.deepEqual(
      report.deliveries.map((r) => [r.status, r.attempts]),
      [[200, 3]],
    );
    const bodies = rx.received.map((r) => r.body.toString('utf8'));
    assert.equal(new Set(bodies).size, 1, 'the retry sends the same bytes');
  });

  it('reports failures: the last status, or none on a network error', async () => {
    const rx = await startReceiver(() => 500);
    closers.push(rx.close);
    const report = await createWebhookSender({ url: rx.url, secret: SECRET }).send([
      tiny(1),
      tiny(2, { dropped: true }),
    ]);
    assert.deepEqual(
      { sent: report.sent, failed: report.failed, dropped: report.dropped },
      { sent: 0, failed: 1, dropped: 1 },
    );
    assert.equal(report.deliveries[0]?.status, 500);
    const closed = await startReceiver();
    await closed.close();
    const unreachable = await createWebhookSender({ url: closed.url, timeoutMs: 2000 }).send([
      tiny(1),
    ]);
    assert.equal(unreachable.failed, 1);
    assert.equal(unreachable.deliveries[0]?.status, null);
    assert.ok(unreachable.deliveries[0]?.error);
  });

  it('compresses the 5-minute cadence by the speedup', async () => {
    const rx = await startReceiver();
    closers.push(rx.close);
    let clock = 0;
    const sleeps: number[] = [];
    const sender = createWebhookSender({
      url: rx.url,
      speedup: 60,
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += Math.max(0, ms);
      },
    });
    await sender.send([tiny(0), tiny(1), tiny(2, { dropped: true }), tiny(4)]);
    // 5 min / 60 = 5 s between ticks; the dropped one is not waited for
    assert.deepEqual(sleeps, [0, 5000, 15000]);
  });

  it('stops when aborted', async () => {
    const rx = await startReceiver();
    closers.push(rx.close);
    const stop = new AbortController();
    const sender = createWebhookSender({
      url: rx.url,
      onDelivery: () => stop.abort(),
    });
    const report = await sender.send([tiny(1), tiny(2), tiny(3)], stop.signal);
    assert.equal(report.aborted, true);
    assert.equal(report.deliveries.length, 1);
    assert.equal(rx.received.length, 1);
  });
});
