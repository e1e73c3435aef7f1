/**
 * The reconciler when it cannot do its job, on the real broker and registry
 * with the Webex stand-in (issue 12, observations 2 and 3):
 * - a refused Webex token is a failure, never "nothing missing": `reconcile
 *   --once` stops after the first refusal (not 49 windows of 401), says at
 *   `error` on stderr which setting to fix, prints the failed window in its
 *   summary and exits 3; the service's `/readyz` answers 503 and its metrics
 *   count the failed window by code until a run succeeds again;
 * - Kafka or the registry unreachable: `reconcile --once` gives up after
 *   STARTUP_TIMEOUT with exit 3, naming the broker or the registry URL.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createReconcilerApp } from '../../src/reconciler/http.ts';
import { createPartnerApi } from '../../src/simulator/partner-api.ts';
import { createWebexWorld } from '../../src/simulator/world.ts';
import { exitWithin, runCli } from './helpers/cli.ts';
import { readTopic, uniqueTopic } from './helpers/kafka.ts';
import { freePort, serveTest } from './helpers/net.ts';
import { createTestReconciler } from './helpers/reconciler.ts';
import { tempDir } from './helpers/scope.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const H = 3_600_000;
const GOOD = 'partner-token-good';
const WRONG = 'partner-token-expired';

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

/** A `reconcile --once` started at `started` gave up on its dependencies: exit 3 within 30 s. */
const assertGaveUp = async (p: ReturnType<typeof runCli>, started: number) => {
  const code = await exitWithin(p, 60_000);
  const ms = Date.now() - started;
  assert.equal(code, 3, `exit code after ${ms} ms; stderr: ${p.err().slice(-2000)}`);
  assert.ok(ms < 30_000, `gave up after ${ms} ms`);
};

/** `reconcile --once` with KAFKA_BROKERS as given, STARTUP_TIMEOUT 3 s (the Webex API at a closed port: never reached). */
const reconcileOnceAgainst = async (brokers: string) => {
  const closed = await freePort();
  return runCli(['reconcile', '--once'], {
    KAFKA_BROKERS: brokers,
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    CDR_FEED: 'analytics',
    WEBEX_ACCESS_TOKEN: 't',
    WEBEX_API_BASE_URL: `http://127.0.0.1:${closed}`,
    STARTUP_TIMEOUT: '3s',
  });
};

const world = () => {
  const endMs = Date.now();
  return createWebexWorld({
    seed: 'reconciler-failures',
    orgs: 3,
    callsPerHour: 1,
    startMs: endMs - 48 * H,
    endMs,
  });
};

describe('reconciler failures', () => {
  test('reconcile --once with a refused token: stops at the first 401, error on stderr naming the setting, failed in the summary, exit 3', {
    timeout: 120_000,
  }, async (t) => {
    const api = createPartnerApi({ world: world(), tokens: [GOOD] });
    const server = await serveTest(t, api.fetch);
    const p = runCli(['reconcile', '--once'], {
      KAFKA_BROKERS: stack.brokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      CDR_FEED: 'analytics',
      CDR_TOPIC: uniqueTopic('reconcile-401'),
      WEBEX_API_BASE_URL: server.url,
      WEBEX_ACCESS_TOKEN: WRONG,
      LOG_LEVEL: 'warn',
    });
    const code = await exitWithin(p, 100_000);
    assert.equal(code, 3, `exit code; stderr: ${p.err()}`);
    // what the operator sees: a summary that does not say "all is well"
    assert.match(p.out(), /failed windows 1\b/);
    assert.match(p.out(), /not reached [1-9]\d*/);
    assert.match(p.out(), /stopped early: .*401.*WEBEX_ACCESS_TOKEN/);
    assert.match(p.out(), /^outcome: failed/m);
    // and on stderr, with LOG_LEVEL=warn: the failed window and the one reason to stop
    assert.notEqual(p.err().trim(), '', 'stderr is not empty with LOG_LEVEL=warn');
    const lines = p
      .err()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; msg: string; [k: string]: unknown });
    assert.ok(
      lines.some((l) => l.level === 'warn' && l.msg === 'window failed'),
      'the failed window is logged at warn',
    );
    const stops = lines.filter(
      (l) => l.level === 'error' && /WEBEX_ACCESS_TOKEN/.test(String(l.error)),
    );
    assert.equal(stops.length, 1, 'one error line says which setting to fix');
    assert.doesNotMatch(p.out() + p.err(), new RegExp(WRONG), 'the token is never printed');
    // the early stop: Webex was asked once, not once per window of the 48 hours
    const counted = api.requestLog().filter((r) => r.path.endsWith('cdrcountbyorg'));
    assert.ok(counted.length >= 1 && counted.length <= 2, `${counted.length} requests`);
    assert.ok(counted.every((r) => r.status === 401));
  });

  test('the service with a refused token: /readyz 503 and failed windows counted by code, until a run succeeds', {
    timeout: 120_000,
  }, async (t) => {
    const w = world();
    const api = createPartnerApi({ world: w, tokens: [GOOD] });
    const server = await serveTest(t, api.fetch);
    const dir = tempDir(t, 'reconcile-token-');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${WRONG}\n`);
    const topic = uniqueTopic('reconcile-401-service');
    const reconciler = createTestReconciler(t, stack, {
      CDR_TOPIC: topic,
      WEBEX_API_BASE_URL: server.url,
      WEBEX_ACCESS_TOKEN: '',
      WEBEX_ACCESS_TOKEN_FILE: tokenFile,
    });
    const probe = createReconcilerApp(reconciler.status);
    const endMs = Math.floor((Date.now() - 16 * 60_000) / H) * H;
    const windows = reconciler.plan({ from: endMs - 3 * H, to: endMs });
    const failed = await reconciler.runOnce(windows);
    assert.equal(failed.totals.failedWindows, 1);
    assert.equal(failed.totals.stillMissing, 0);
    assert.equal(failed.stoppedBy?.code, 'webex_auth_failed');
    assert.match(failed.stoppedBy?.error ?? '', /WEBEX_ACCESS_TOKEN_FILE/);
    assert.equal(failed.windows.length, 1, 'stopped after the first window');
    // the audit trail says the window failed, and why
    const audit = await readTopic(stack.brokers, `${topic}.reconciliation`, 1);
    assert.deepEqual(
      audit.map((m) => {
        const r = JSON.parse(m.value.toString()) as Record<string, unknown>;
        return [r.orgId, r.failed, r.errorCode];
      }),
      [['*', true, 'webex_auth_failed']],
    );

    const ready = await probe.request('/readyz');
    assert.equal(ready.status, 503);
    const body = (await ready.json()) as { reasons: string[] };
    assert.ok(body.reasons.some((r) => /last run failed.*webex_auth_failed/.test(r)));
    const metrics = await (await probe.request('/metrics')).text();
    assert.match(
      metrics,
      /^webex_cdr_reconcile_failed_windows_total\{code="webex_auth_failed"\} 1$/m,
    );
    assert.match(metrics, /^webex_cdr_reconcile_last_success_timestamp_seconds 0$/m);
    assert.match(metrics, /^webex_cdr_reconcile_last_run_failed_windows 1$/m);

    // the operator fixes the token: the next run succeeds and readiness comes back
    writeFileSync(tokenFile, `${GOOD}\n`);
    const fixed = await reconciler.runOnce(windows);
    assert.equal(fixed.totals.failedWindows, 0);
    assert.equal(fixed.stoppedBy, null);
    assert.equal((await probe.request('/readyz')).status, 200);
    const after = await (await probe.request('/metrics')).text();
    const last = /^webex_cdr_reconcile_last_success_timestamp_seconds (\S+)$/m.exec(after);
    assert.ok(last && Number(last[1]) > Date.now() / 1000 - 600, 'a recent success');
    assert.match(
      after,
      /^webex_cdr_reconcile_failed_windows_total\{code="webex_auth_failed"\} 1$/m,
    );
  });

  test('reconcile --once with Kafka unreachable gives up after STARTUP_TIMEOUT: exit 3 naming the broker', {
    timeout: 90_000,
  }, async () => {
    const port = await freePort();
    const started = Date.now();
    const p = await reconcileOnceAgainst(`127.0.0.1:${port}`);
    await assertGaveUp(p, started);
    assert.match(p.err(), new RegExp(`Kafka brokers 127\\.0\\.0\\.1:${port}.*STARTUP_TIMEOUT`));
    // the probe's words (kafka/probe.ts), not only the client library's
    assert.match(p.err(), /nothing listens on that port \(ECONNREFUSED\)/);
    assert.match(p.out(), new RegExp(`stopped early: .*127\\.0\\.0\\.1:${port}`));
    assert.match(p.out(), /^outcome: failed/m);
  });

  test('reconcile --once with KAFKA_BROKERS at the registry HTTP port: exit 3 saying an HTTP server answers there', {
    timeout: 90_000,
  }, async () => {
    const registry = new URL(stack.registryUrl).host;
    const started = Date.now();
    const p = await reconcileOnceAgainst(registry);
    await assertGaveUp(p, started);
    assert.ok(
      p.err().includes(`${registry}: an HTTP server answers here, not Kafka`),
      p.err().slice(-2000),
    );
  });

  test('reconcile --once with the registry unreachable gives up after STARTUP_TIMEOUT: exit 3 naming the registry URL', {
    timeout: 90_000,
  }, async () => {
    const port = await freePort();
    const registryUrl = `http://127.0.0.1:${port}/apis/ccompat/v7`;
    const started = Date.now();
    const p = runCli(['reconcile', '--once'], {
      KAFKA_BROKERS: stack.brokers.join(','),
      SCHEMA_REGISTRY_URL: registryUrl,
      CDR_FEED: 'analytics',
      CDR_TOPIC: uniqueTopic('reconcile-no-registry'),
      WEBEX_ACCESS_TOKEN: 't',
      WEBEX_API_BASE_URL: `http://127.0.0.1:${port}`,
      STARTUP_TIMEOUT: '3s',
    });
    await assertGaveUp(p, started);
    assert.ok(p.err().includes(`schema registry ${registryUrl}`), p.err().slice(-2000));
    assert.match(p.err(), /STARTUP_TIMEOUT/);
  });
});
