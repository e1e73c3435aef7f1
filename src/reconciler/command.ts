/**
 * @module reconciler/command
 * `webex-cdr-kafka reconcile`: the long-running service (first run at start,
 * then every RECONCILE_INTERVAL), or `--once [--from ISO] [--to ISO]` for
 * operators: progress on a terminal, a summary, exit code 0 only if nothing
 * is left missing and nothing failed.
 */
import { parseArgs } from 'node:util';
import { parseReconcilerConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { formatSummary } from './report.ts';
import { createReconciler } from './service.ts';

const EXIT_CONFIG = 2;

const parseTime = (flag: string, v: string | undefined): number | undefined | string => {
  if (v === undefined) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? `--${flag}: not an ISO 8601 time: "${v}"` : ms;
};

export const runReconcileCommand = async (args: string[]): Promise<number> => {
  let flags: { once?: boolean; from?: string; to?: string };
  try {
    ({ values: flags } = parseArgs({
      args,
      options: { once: { type: 'boolean' }, from: { type: 'string' }, to: { type: 'string' } },
      strict: true,
    }));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return EXIT_CONFIG;
  }
  const problems: string[] = [];
  const from = parseTime('from', flags.from);
  const to = parseTime('to', flags.to);
  for (const t of [from, to]) if (typeof t === 'string') problems.push(t);
  if (!flags.once && (flags.from !== undefined || flags.to !== undefined)) {
    problems.push('--from/--to: only with --once');
  }
  const parsed = parseReconcilerConfig(process.env);
  if (!parsed.ok) problems.push(...parsed.problems);
  if (problems.length > 0 || !parsed.ok) {
    console.error('invalid configuration:');
    for (const p of problems) console.error(`  - ${p}`);
    return EXIT_CONFIG;
  }
  const config = parsed.config;
  const logger = createLogger(config.logLevel, { service: 'reconciler' });
  const reconciler = createReconciler(config, logger);

  const stopOnSignal = new Promise<void>((resolve) => {
    const stop = () => {
      logger.info('stop requested: finishing the current org, then stopping');
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

  if (!flags.once) {
    reconciler.schedule();
    await stopOnSignal;
    await reconciler.stop();
    return 0;
  }

  const windows = reconciler.plan({
    ...(typeof from === 'number' ? { from } : {}),
    ...(typeof to === 'number' ? { to } : {}),
  });
  if (windows.length === 0) {
    console.error('nothing to reconcile: the range is outside [now - lookback, now - settle]');
    await reconciler.stop();
    return 1;
  }
  const tty = process.stderr.isTTY === true;
  void stopOnSignal.then(() => reconciler.stop());
  const summary = await reconciler.runOnce(windows, (p) => {
    if (tty) {
      process.stderr.write(`\rwindow ${p.window}/${p.windows}  org ${p.org}/${p.orgs}   `);
    }
  });
  if (tty) process.stderr.write('\n');
  process.stdout.write(formatSummary(summary));
  await reconciler.stop();
  const clean =
    summary.totals.stillMissing === 0 && summary.totals.errors === 0 && !summary.aborted;
  return clean ? 0 : 1;
};
