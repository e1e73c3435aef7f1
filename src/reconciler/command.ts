/**
 * @module reconciler/command
 * `webex-cdr-kafka reconcile`: the long-running service (first run at start,
 * then every RECONCILE_INTERVAL), or `--once [--from T] [--to T]` (src/time-arg.ts) for
 * operators: progress on a terminal, a summary (always, even when stopped or
 * failed), and an exit code: 0 complete (nothing missing, nothing failed),
 * 1 records still missing, 3 failed or stopped early (a window or org failed,
 * Webex refused the credentials, Kafka or the registry not reached within
 * STARTUP_TIMEOUT, the reconciler lease held elsewhere for STARTUP_TIMEOUT,
 * a stop request), 2 bad configuration. A range outside what
 * Webex can be asked about now is a configuration problem (exit 2), never
 * clipped silently.
 */
import { parseArgs } from 'node:util';
import type { ConfigResult } from '../config/schema.ts';
import { describe } from '../errors.ts';
import { listen } from '../listen.ts';
import { createLogger } from '../log.ts';
import { attachRelativeTimes, parseTimeArg } from '../time-arg.ts';
import { createReconcilerApp } from './http.ts';
import type { ReconcilerConfig } from './options.ts';
import { plannableRange, type Window } from './plan.ts';
import { codeOf, failedRun } from './reconcile.ts';
import { formatSummary } from './report.ts';
import { type RunOutcome, type RunSummary, runOutcome } from './rules.ts';
import { createReconciler, type Reconciler } from './service.ts';

const EXIT_CONFIG = 2;
/** `reconcile --once` exit codes by outcome. */
export const EXIT_CODES: Record<RunOutcome, number> = { complete: 0, missing: 1, failed: 3 };

/** Printed by `webex-cdr-kafka reconcile --help` (cli.ts). */
export const USAGE = `usage: webex-cdr-kafka reconcile [--once [--from <time>] [--to <time>]] [--config <path>]

Backfills the records the webhook missed, from the Webex partner APIs
(docs/reconciliation.md). Without --once: a service that runs at start and then every
RECONCILE_INTERVAL, with /healthz, /readyz and /metrics on RECONCILER_PORT
when that is set. "webex-cdr-kafka config check reconcile" shows the settings.

  --once         one run over the last RECONCILE_LOOKBACK (or --from/--to), then
                 a summary and an exit code (docs/reconciliation.md); it takes
                 the reconciler lease first, waiting up to STARTUP_TIMEOUT while
                 another reconciler holds it (RECONCILE_LEASE=false: run anyway)
  --from <time>  start of the range, 2026-11-22T00:00:00Z, 2026-11-22 (UTC
                 midnight), now or -48h (with --once)
  --to <time>    end of the range (with --once)
  -h, --help     this text
`;

const parseTime = (
  flag: string,
  v: string | undefined,
  now: number,
): number | undefined | string => {
  if (v === undefined) return undefined;
  const t = parseTimeArg(v, { now });
  return t.ok ? t.value : `--${flag}: ${t.error}`;
};

const iso = (ms: number) => new Date(ms).toISOString();

/** Problems with --from/--to against the range a run may ask Webex about now. */
export const rangeProblems = (
  range: { from?: number | undefined; to?: number | undefined },
  allowed: { from: number; to: number },
): string[] => {
  const problems: string[] = [];
  const span = `[${iso(allowed.from)}, ${iso(allowed.to)}] (now - RECONCILE_LOOKBACK + 10m .. now - RECONCILE_SETTLE)`;
  for (const flag of ['from', 'to'] as const) {
    const t = range[flag];
    if (t !== undefined && (t < allowed.from || t > allowed.to)) {
      problems.push(
        `--${flag}: ${iso(t)} is outside the range Webex can be asked about now: ${span}`,
      );
    }
  }
  const from = range.from ?? allowed.from;
  const to = range.to ?? allowed.to;
  if (problems.length === 0 && from >= to) {
    problems.push(`--from/--to: --from (${iso(from)}) must be before --to (${iso(to)})`);
  }
  return problems;
};

/** `parseConfig`: settings.ts `parseReconcilerConfig` (the CLI composes the settings; this stage does not). */
export const runReconcileCommand = async (
  args: string[],
  parseConfig: (env: NodeJS.ProcessEnv) => ConfigResult<ReconcilerConfig>,
): Promise<number> => {
  let flags: { once?: boolean; from?: string; to?: string };
  try {
    ({ values: flags } = parseArgs({
      args: attachRelativeTimes(args, ['from', 'to']),
      options: { once: { type: 'boolean' }, from: { type: 'string' }, to: { type: 'string' } },
      strict: true,
    }));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return EXIT_CONFIG;
  }
  const problems: string[] = [];
  const now = Date.now();
  const from = parseTime('from', flags.from, now);
  const to = parseTime('to', flags.to, now);
  for (const t of [from, to]) if (typeof t === 'string') problems.push(t);
  if (!flags.once && (flags.from !== undefined || flags.to !== undefined)) {
    problems.push('--from/--to: only with --once');
  }
  const parsed = parseConfig(process.env);
  if (!parsed.ok) problems.push(...parsed.problems);
  const range = {
    from: typeof from === 'number' ? from : undefined,
    to: typeof to === 'number' ? to : undefined,
  };
  if (parsed.ok && flags.once) {
    problems.push(...rangeProblems(range, plannableRange({ now, ...parsed.config })));
  }
  if (problems.length > 0 || !parsed.ok) {
    console.error('invalid configuration:');
    for (const p of problems) console.error(`  - ${p}`);
    return EXIT_CONFIG;
  }
  const config = parsed.config;
  const logger = createLogger(config.logLevel, { service: 'reconciler' });
  let reconciler: Reconciler;
  try {
    reconciler = createReconciler(config, logger, { oneShot: flags.once === true });
  } catch (e) {
    console.error('invalid configuration:');
    console.error(`  - ${describe(e)}`);
    return EXIT_CONFIG;
  }

  const stopOnSignal = new Promise<void>((resolve) => {
    const stop = () => {
      logger.info('stop requested: stopping after the current step', {
        deadlineMs: config.shutdownTimeoutMs,
      });
      // The current window is abandoned at the next step; the next run redoes it.
      setTimeout(() => {
        logger.error('shutdown deadline passed: abandoning the current run', {
          deadlineMs: config.shutdownTimeoutMs,
          running: reconciler.status().running,
        });
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

  if (!flags.once) {
    const http =
      config.port === undefined
        ? undefined
        : await listen(createReconcilerApp(reconciler.status).fetch, {
            port: config.port,
            hostname: config.host,
            settings: { port: 'RECONCILER_PORT', host: 'HOST' },
          });
    if (http !== undefined) logger.info('reconciler probes and metrics', { url: http.url });
    reconciler.schedule();
    await stopOnSignal;
    await http?.close(true);
    await reconciler.stop();
    return 0;
  }

  const windows: Window[] = reconciler.plan({
    now,
    ...(range.from === undefined ? {} : { from: range.from }),
    ...(range.to === undefined ? {} : { to: range.to }),
  });
  const tty = process.stderr.isTTY === true;
  void stopOnSignal.then(() => reconciler.stop());
  let summary: RunSummary;
  try {
    summary = await reconciler.runOnce(windows, (p) => {
      if (tty) {
        process.stderr.write(`\rwindow ${p.window}/${p.windows}  org ${p.org}/${p.orgs}   `);
      }
    });
  } catch (e) {
    logger.error('reconciliation run failed', { error: describe(e) });
    summary = failedRun(windows, codeOf(e, 'kafka_failed'), `run failed: ${describe(e)}`);
  } finally {
    if (tty) process.stderr.write('\n');
    await reconciler.stop();
  }
  process.stdout.write(formatSummary(summary));
  return EXIT_CODES[runOutcome(summary)];
};
