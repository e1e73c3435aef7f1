/**
 * Why a delivery gets 503, on the real stack: with the broker stopped at
 * start-up the answer, `/readyz`, the warn line and the metric all say Kafka
 * (kafka_unavailable), not "schema not registered yet"; with the registry not
 * answering they say the registry (registry_unavailable); before a step has
 * failed they say what start-up waits for (not_ready). Once the dependency is
 * back the same delivery gets 200.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { startIngress } from '../../src/ingress/server.ts';
import { createLogger } from '../../src/log.ts';
import { parseIngressConfig } from '../../src/settings.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { topicSize, uniqueTopic } from './helpers/kafka.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'unavailable-secret';

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

type Answer = { status: number; error?: string; message?: string | undefined };

/** An ingress on the stack whose log lines are kept, parsed. */
const startCaptured = async (topic: string) => {
  const lines: Record<string, unknown>[] = [];
  const parsed = parseIngressConfig({
    KAFKA_BROKERS: stack.brokers.join(','),
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    CDR_FEED: 'analytics',
    CDR_TOPIC: topic,
    CDR_TOPIC_PARTITIONS: '1',
    PORT: '0',
    WEBHOOK_SECRETS: SECRET,
    ACK_TIMEOUT_MS: '2000',
  });
  assert.ok(parsed.ok);
  const logger = createLogger('info', {}, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const ingress = await startIngress(parsed.config, logger);
  const readyz = async (): Promise<Answer> => {
    const res = await fetch(`${ingress.url}/readyz`);
    const { error, message } = (await res.json()) as { error?: string; message?: string };
    return { status: res.status, ...(error === undefined ? {} : { error }), message };
  };
  /** Polls /readyz until `ok` holds for its answer. */
  const until = async (ok: (r: Answer) => boolean, ms: number): Promise<Answer> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = await readyz();
      if (ok(r)) return r;
      assert.ok(Date.now() < deadline, `still ${JSON.stringify(r)} after ${ms} ms`);
      await setTimeout(100);
    }
  };
  /** Until its error is not `not_ready` (the first attempt of the step failed). */
  const untilFailed = (ms: number) => until((r) => r.status === 503 && r.error !== 'not_ready', ms);
  /** Until its message says `words`. */
  const untilSays = (words: RegExp, ms: number) => until((r) => words.test(r.message ?? ''), ms);
  const post = async (): Promise<Answer & { text: string }> => {
    const res = await postDelivery(
      `${ingress.url}/webhooks/cdr`,
      signedDelivery([rawCdr(1, 'org-u')], SECRET),
    );
    const text = await res.text();
    const { error, message } = JSON.parse(text) as { error?: string; message?: string };
    return { status: res.status, text, ...(error === undefined ? {} : { error }), message };
  };
  const errorsMetric = async (reason: string) =>
    sampleValue(
      parsePrometheusText(await (await fetch(`${ingress.url}/metrics`)).text()),
      'webex_cdr_delivery_errors_total',
      { status: '503', reason },
    );
  return { ingress, lines, readyz, untilFailed, untilSays, post, errorsMetric };
};

describe('accurate 503 reasons', () => {
  test('broker stopped at start-up: the 503 names Kafka (body, /readyz, warn line, metric)', async () => {
    const topic = uniqueTopic('kafka-down');
    await stack.stopBroker();
    let running: Awaited<ReturnType<typeof startCaptured>> | undefined;
    try {
      running = await startCaptured(topic);
      const early = await running.readyz();
      assert.equal(early.status, 503);
      assert.match(early.message ?? '', /Kafka/, 'even before a failure it says what it waits for');
      const ready = await running.untilFailed(60_000);
      assert.equal(ready.error, 'kafka_unavailable');
      const refused = await running.post();
      assert.equal(refused.status, 503);
      assert.equal(refused.error, 'kafka_unavailable', refused.text);
      assert.match(refused.message ?? '', /Kafka at 127\.0\.0\.1:\d+ is not available/);
      // the probe's words (kafka/probe.ts) once it has looked; gone once Kafka is back (200 below)
      const probed = await running.untilSays(
        /nothing listens on that port \(ECONNREFUSED\)/,
        30_000,
      );
      assert.equal(probed.error, 'kafka_unavailable');
      assert.doesNotMatch(refused.text, /schema/i);
      const warned = running.lines.filter(
        (l) => l.level === 'warn' && l.msg === 'delivery refused',
      );
      assert.deepEqual(
        warned.map((l) => [l.status, l.code]),
        [[503, 'kafka_unavailable']],
      );
      assert.equal(await running.errorsMetric('kafka_unavailable'), 1);
      await stack.startBroker();
      await running.ingress.started;
      assert.equal((await running.post()).status, 200);
      assert.equal(await topicSize(stack.brokers, topic), 1);
    } finally {
      await stack.startBroker();
      await running?.ingress.close();
    }
  });

  test('registry not answering at start-up: the 503 names the registry', async () => {
    const topic = uniqueTopic('registry-down');
    await stack.pauseRegistry();
    let running: Awaited<ReturnType<typeof startCaptured>> | undefined;
    try {
      running = await startCaptured(topic);
      const ready = await running.untilFailed(60_000);
      assert.equal(ready.error, 'registry_unavailable');
      const refused = await running.post();
      assert.equal(refused.status, 503);
      assert.equal(refused.error, 'registry_unavailable', refused.text);
      assert.match(refused.message ?? '', /schema registry/);
      assert.equal(await running.errorsMetric('registry_unavailable'), 1);
      await stack.resumeRegistry();
      await running.ingress.started;
      assert.equal((await running.post()).status, 200);
    } finally {
      await stack.resumeRegistry();
      await running?.ingress.close();
    }
  });
});
