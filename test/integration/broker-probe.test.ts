/**
 * KAFKA_BROKERS wrong in the everyday ways, on the real stack: the ingress
 * says why in `/readyz`, in the 503 it answers and in its warn line (the
 * probe of kafka/probe.ts), with either client; the real broker's ApiVersions
 * and Metadata answers are read as the probe expects (nothing to say when the
 * address is right).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { startIngress } from '../../src/ingress/server.ts';
import { diagnoseBrokers } from '../../src/kafka/probe.ts';
import { createLogger } from '../../src/log.ts';
import { parseIngressConfig } from '../../src/settings.ts';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { uniqueTopic } from './helpers/kafka.ts';
import { freePort } from './helpers/net.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'probe-secret';

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

/** An ingress on `brokers` whose log lines are kept; /readyz polled until it names a diagnosis. */
const ingressOn = async (brokers: string, client: string) => {
  const lines: Record<string, unknown>[] = [];
  const parsed = parseIngressConfig({
    KAFKA_BROKERS: brokers,
    KAFKA_CLIENT: client,
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    CDR_FEED: 'analytics',
    CDR_TOPIC: uniqueTopic('probe'),
    PORT: '0',
    WEBHOOK_SECRETS: SECRET,
    STARTUP_TIMEOUT: '2s',
  });
  assert.ok(parsed.ok);
  const logger = createLogger('info', {}, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const ingress = await startIngress(parsed.config, logger);
  const readyz = async () => {
    const res = await fetch(`${ingress.url}/readyz`);
    const { error, message } = (await res.json()) as { error?: string; message?: string };
    return { status: res.status, error, message };
  };
  return { ingress, lines, readyz };
};

const untilSays = async (
  readyz: () => Promise<{
    status: number;
    error?: string | undefined;
    message?: string | undefined;
  }>,
  words: RegExp,
) => {
  const until = Date.now() + 30_000;
  for (;;) {
    const r = await readyz();
    if (words.test(r.message ?? '')) return r;
    assert.ok(Date.now() < until, `after 30 s /readyz still says ${JSON.stringify(r)}`);
    await setTimeout(200);
  }
};

describe('KAFKA_BROKERS wrong: the ingress says why', () => {
  for (const client of ['platformatic', 'kafkajs']) {
    test(`${client}: the registry HTTP port given as the broker: /readyz, the 503 and the warn line name an HTTP server`, async () => {
      const registry = new URL(stack.registryUrl).host;
      const running = await ingressOn(registry, client);
      try {
        const r = await untilSays(running.readyz, /an HTTP server answers here, not Kafka/);
        assert.equal(r.status, 503);
        assert.equal(r.error, 'kafka_unavailable');
        assert.ok(r.message?.startsWith(`Kafka at ${registry} is not available`), r.message);
        const res = await postDelivery(
          `${running.ingress.url}/webhooks/cdr`,
          signedDelivery([rawCdr(1, 'org-p')], SECRET),
        );
        const body = (await res.json()) as { error?: string; message?: string };
        assert.equal(res.status, 503);
        assert.match(body.message ?? '', /an HTTP server answers here/);
        // the start-up warn line carries it (at the deadline, or after a failed attempt)
        const until = Date.now() + 10_000;
        while (!running.lines.some((l) => l.level === 'warn' && typeof l.diagnosis === 'string')) {
          assert.ok(Date.now() < until, JSON.stringify(running.lines.slice(-5)));
          await setTimeout(100);
        }
        const warned = running.lines.find((l) => typeof l.diagnosis === 'string');
        assert.equal(warned?.waitingFor, `Kafka brokers ${registry}`);
        assert.match(String(warned?.diagnosis), new RegExp(`^${registry}: an HTTP server`));
      } finally {
        await running.ingress.close();
      }
    });
  }

  test('a port nothing listens on: ECONNREFUSED in words', async () => {
    const port = await freePort();
    const running = await ingressOn(`127.0.0.1:${port}`, 'platformatic');
    try {
      const r = await untilSays(running.readyz, /nothing listens on that port \(ECONNREFUSED\)/);
      assert.equal(r.error, 'kafka_unavailable');
    } finally {
      await running.ingress.close();
    }
  });

  test('the real broker: ApiVersions and Metadata read, its advertised address reached, nothing to say', async () => {
    assert.equal(
      await diagnoseBrokers(stack.brokers, { tls: false, sasl: false, timeoutMs: 3000 }),
      null,
    );
    assert.equal(
      await diagnoseBrokers(stack.brokers, { tls: false, sasl: true, timeoutMs: 3000 }),
      null,
    );
  });
});
