/**
 * The service's stop() with Kafka unreachable: the run waits for the sink's
 * start-up, which never succeeds; stop() must end it within seconds, in the
 * scheduled service and in a single run alike.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseReconcilerConfig } from '../../../src/config.ts';
import { silentLogger } from '../../../src/log.ts';
import { createReconciler } from '../../../src/reconciler/service.ts';

const unreachable = () => {
  const parsed = parseReconcilerConfig({
    KAFKA_BROKERS: '127.0.0.1:1',
    SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1',
    CDR_FEED: 'analytics',
    WEBEX_ACCESS_TOKEN: 't',
    WEBEX_API_BASE_URL: 'http://127.0.0.1:1',
  });
  assert.ok(parsed.ok);
  return parsed.config;
};

const within = async <T>(ms: number, p: Promise<T>, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

describe('reconciler service: stop', () => {
  it('stops within seconds while Kafka is unreachable (scheduled service)', async () => {
    const reconciler = createReconciler(unreachable(), silentLogger);
    reconciler.schedule();
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    await within(5_000, reconciler.stop(), 'stop()');
    assert.ok(Date.now() - started < 5_000);
    await within(1_000, reconciler.stop(), 'a second stop()');
  });

  it('a single run ends as stopped early, with a summary', async () => {
    const reconciler = createReconciler(unreachable(), silentLogger);
    const windows = reconciler.plan({ now: Date.now() }).slice(0, 2);
    const run = reconciler.runOnce(windows);
    await new Promise((r) => setTimeout(r, 300));
    await within(5_000, reconciler.stop(), 'stop()');
    const summary = await within(1_000, run, 'the run');
    assert.equal(summary.aborted, true);
    assert.equal(summary.totals.windows, 2);
  });
});
