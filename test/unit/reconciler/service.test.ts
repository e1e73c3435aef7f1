/**
 * The service's stop() with Kafka unreachable: the run waits for the sink's
 * start-up, which never succeeds; stop() must end it within seconds, in the
 * scheduled service and in a single run alike. STARTUP_TIMEOUT: a one-shot
 * run gives up, naming the brokers; the service keeps trying, says so once
 * at the deadline and then at a bounded rate, and is not ready.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../src/log.ts';
import { runOutcome } from '../../../src/reconciler/rules.ts';
import { createReconciler } from '../../../src/reconciler/service.ts';
import { parseReconcilerConfig } from '../../../src/settings.ts';
import { type LogLine, recordingLogger } from '../../helpers/logger.ts';

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

type Line = LogLine;

/** A logger that keeps its lines; `until` resolves with the first line matching. */
const capture = () => {
  const waiting: { match: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  const { logger, lines } = recordingLogger((line) => {
    for (const w of waiting.filter((x) => x.match(line))) w.resolve(line);
  });
  const until = (match: (l: Line) => boolean) =>
    new Promise<Line>((resolve) => {
      const seen = lines.find(match);
      if (seen !== undefined) resolve(seen);
      else waiting.push({ match, resolve });
    });
  return { logger, lines, until };
};

describe('reconciler service: STARTUP_TIMEOUT', () => {
  it('one-shot: gives up after STARTUP_TIMEOUT with a failed run naming the brokers', async () => {
    const reconciler = createReconciler({ ...unreachable(), startupTimeoutMs: 300 }, silentLogger, {
      oneShot: true,
    });
    try {
      const windows = reconciler.plan({ now: Date.now() }).slice(0, 2);
      const summary = await within(5_000, reconciler.runOnce(windows), 'the run');
      assert.equal(summary.stoppedBy?.code, 'startup_timeout');
      assert.match(
        summary.stoppedBy?.error ?? '',
        /^Kafka brokers 127\.0\.0\.1:1 not reached within 0\.3s \(STARTUP_TIMEOUT; 1 attempt\); last error: .+/,
      );
      assert.equal(summary.totals.windows, 2);
      assert.equal(runOutcome(summary), 'failed');
    } finally {
      await reconciler.stop();
    }
  });

  it('a service keeps retrying past STARTUP_TIMEOUT: warns at the deadline naming the brokers, not ready', async () => {
    const { logger, lines, until } = capture();
    // a single replica without the lease (RECONCILE_LEASE=false): its run starts at once
    const reconciler = createReconciler(
      { ...unreachable(), lease: null, startupTimeoutMs: 300 },
      logger,
    );
    try {
      reconciler.schedule();
      const overdue = await within(
        5_000,
        until((l) => l.msg === 'not ready after STARTUP_TIMEOUT, still retrying'),
        'the warning',
      );
      assert.equal(overdue.level, 'warn');
      assert.equal(overdue.fields?.waitingFor, 'Kafka brokers 127.0.0.1:1');
      assert.match(String(overdue.fields?.error), /.+/);
      const status = reconciler.status();
      assert.equal(status.ready, false);
      assert.equal(status.running, true, 'the run still waits for Kafka');
      assert.ok(status.reasons.some((r) => /Kafka or the registry not ready/.test(r)));
      // bounded: within the first 30 s, one line before the deadline and one at it (kafkajs' own
      // connection errors likewise at most one)
      const warns = (component?: string) =>
        lines.filter((l) => l.level === 'warn' && l.fields?.component === component).length;
      assert.ok(warns() <= 2, `${warns()} warnings`);
      assert.ok(warns('kafkajs') <= 1, `${warns('kafkajs')} kafkajs warnings`);
    } finally {
      await within(5_000, reconciler.stop(), 'stop()');
    }
  });
});

describe('reconciler service: the lease', () => {
  it('with the lease, a service that cannot reach Kafka runs nothing and is not ready while joining', async () => {
    const { logger, until } = capture();
    const reconciler = createReconciler({ ...unreachable(), startupTimeoutMs: 300 }, logger);
    try {
      reconciler.schedule();
      await within(
        5_000,
        until((l) => l.msg === 'not ready after STARTUP_TIMEOUT, still retrying'),
        'the warning',
      );
      const status = reconciler.status();
      assert.equal(status.running, false, 'no run without the lease');
      assert.equal(status.lease?.state, 'starting');
      assert.equal(status.lease?.held, false);
      assert.equal(status.ready, false);
      assert.ok(
        status.reasons.some((r) => /^lease: joining the group webex-cdr-kafka-lease-/.test(r)),
      );
    } finally {
      await within(5_000, reconciler.stop(), 'stop()');
    }
  });
});

describe('reconciler service: health', () => {
  it('is stale, not ready, when no run has succeeded for twice RECONCILE_INTERVAL', async () => {
    const config = unreachable();
    let t = Date.now();
    const reconciler = createReconciler(config, silentLogger, { now: () => t });
    try {
      const stale = () => reconciler.status().reasons.filter((r) => r.startsWith('stale'));
      assert.deepEqual(stale(), []);
      t += 2 * config.intervalMs + 60_000;
      assert.match(
        stale()[0] ?? '',
        /^stale: no successful run for \d+ min \(more than twice RECONCILE_INTERVAL\)$/,
      );
      assert.equal(reconciler.status().ready, false);
    } finally {
      await reconciler.stop();
    }
  });
});

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
