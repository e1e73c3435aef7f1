#!/usr/bin/env -S node --max-semi-space-size=8 --disable-warning=TimeoutNegativeWarning
/**
 * @module cli
 * The `webex-cdr-kafka` command: wires configuration into one entry point.
 *
 *   webex-cdr-kafka ingress              the webhook receiver
 *   webex-cdr-kafka reconcile [--once]   the reconciler
 *   webex-cdr-kafka simulate ...         the Webex stand-in
 *   webex-cdr-kafka stack up|down|status the local Kafka + registry
 *   webex-cdr-kafka tail                 prints a topic's records as JSON lines
 *   webex-cdr-kafka schema               prints the Avro contract
 *   webex-cdr-kafka config check [ingress|reconcile]
 *                                        prints the effective settings, secrets masked
 *
 * `--config <path>` (any command) names a JSON settings file: CONFIG_FILE.
 * Invalid configuration lists every problem and exits with code 2.
 */
import { readCdrSchema } from './cdr/avro-schema.ts';
import { checkConfig, parseIngressConfig } from './config.ts';
import { startIngress } from './ingress/server.ts';
import { createLogger } from './log.ts';

const USAGE = `usage: webex-cdr-kafka <command>

commands:
  ingress                 receive Partner Hub CDR webhooks and publish them to Kafka
  reconcile [--once ...]  backfill records the webhook missed (see README)
  simulate ...            run the Webex stand-in (see README)
  stack up|down|status    local Kafka + schema registry for development and tests
  tail [--topic T] [--since T] [--limit N] [--follow] [--org ID] [--report-id ID]
                          print a topic's records as JSON lines (Avro decoded)
  schema                  print the Avro schema of the CDR topic
  config check [ingress|reconcile]
                          print the effective settings (secrets masked), or every
                          problem (exit 2); both processes when none is named

options:
  --config <path>         a JSON file of settings (same names as the environment
                          variables; the environment wins): sets CONFIG_FILE
`;

export const EXIT_CONFIG = 2;

// kafkajs 2.2.4 schedules negative timeouts on Node >= 22; Node clamps them to
// 1 ms and warns. Harmless: keep every other warning.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') console.warn(`${w.name}: ${w.message}`);
});

const printProblems = (problems: string[]): number => {
  console.error('invalid configuration:');
  for (const p of problems) console.error(`  - ${p}`);
  return EXIT_CONFIG;
};

/** Resolves on SIGTERM/SIGINT. */
const untilSignal = () =>
  new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });

const runIngress = async (): Promise<number> => {
  const parsed = parseIngressConfig(process.env);
  if (!parsed.ok) return printProblems(parsed.problems);
  const logger = createLogger(parsed.config.logLevel, { service: 'ingress' });
  const ingress = await startIngress(parsed.config, logger);
  // Start-up retries until Kafka and the registry are ready; it only fails
  // for good when they refuse our credentials: then exit 1, saying why.
  const failed = ingress.started.then(
    () => new Promise<never>(() => undefined),
    (e: unknown) => e,
  );
  const outcome = await Promise.race([untilSignal(), failed]);
  if (typeof outcome !== 'string') {
    console.error(`cannot start: ${outcome instanceof Error ? outcome.message : String(outcome)}`);
    await ingress.close();
    return 1;
  }
  logger.info('stopping', { signal: outcome, deadlineMs: parsed.config.shutdownTimeoutMs });
  const stopped = await ingress.close(parsed.config.shutdownTimeoutMs);
  return stopped.clean ? 0 : 1;
};

const runConfigCommand = (args: string[]): number => {
  const [verb, which, ...more] = args;
  const processes = which === undefined ? (['ingress', 'reconcile'] as const) : ([which] as const);
  if (
    verb !== 'check' ||
    more.length > 0 ||
    !processes.every((p) => p === 'ingress' || p === 'reconcile')
  ) {
    console.error('usage: webex-cdr-kafka config check [ingress|reconcile]');
    return EXIT_CONFIG;
  }
  let ok = true;
  for (const p of processes as readonly ('ingress' | 'reconcile')[]) {
    const report = checkConfig(p, process.env);
    const width = Math.max(...report.settings.map((s) => s.name.length));
    if (!report.ok) {
      ok = false;
      console.error(`${p}: invalid configuration:`);
      for (const problem of report.problems) console.error(`  - ${problem}`);
      continue;
    }
    console.log(`${p}: valid; effective settings (secrets shown as ***):`);
    for (const s of report.settings) {
      console.log(`  ${s.name.padEnd(width)}  ${s.value}${s.source ? `  (${s.source})` : ''}`);
    }
  }
  return ok ? 0 : EXIT_CONFIG;
};

/** Takes `--config <path>` / `--config=<path>` out of the arguments into CONFIG_FILE. */
const takeConfigFlag = (argv: string[]): string[] | string => {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--config' || a.startsWith('--config=')) {
      const path = a === '--config' ? argv[++i] : a.slice('--config='.length);
      if (path === undefined || path === '') return '--config: needs a file path';
      process.env.CONFIG_FILE = path;
    } else {
      rest.push(a);
    }
  }
  return rest;
};

export const main = async (args: string[]): Promise<number> => {
  const argv = takeConfigFlag(args);
  if (typeof argv === 'string') {
    console.error(argv);
    return EXIT_CONFIG;
  }
  const [command, ...rest] = argv;
  switch (command) {
    case 'ingress':
      return runIngress();
    case 'config':
      return runConfigCommand(rest);
    case 'reconcile': {
      const { runReconcileCommand } = await import('./reconciler/command.ts');
      return runReconcileCommand(rest);
    }
    case 'simulate': {
      const { runSimulateCommand } = await import('./simulator/command.ts');
      return runSimulateCommand(rest);
    }
    case 'stack': {
      const { runStack } = await import('./stack/cli.ts');
      return runStack(rest);
    }
    case 'tail': {
      const { runTailCommand } = await import('./tail.ts');
      return runTailCommand(rest);
    }
    case 'schema':
      process.stdout.write(readCdrSchema().text);
      return 0;
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? EXIT_CONFIG : 0;
    default:
      console.error(`unknown command "${command}"\n`);
      process.stderr.write(USAGE);
      return EXIT_CONFIG;
  }
};

/**
 * Resolves once what was written to `stream` has been handed to the OS: to a
 * pipe, writes are asynchronous, and process.exit() drops what is still queued.
 */
const drained = (stream: NodeJS.WriteStream): Promise<void> =>
  stream.destroyed || stream.writableLength === 0
    ? Promise.resolve()
    : new Promise((resolve) => stream.write('', () => resolve()));

const exit = async (code: number) => {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
};

main(process.argv.slice(2)).then(
  // Everything was closed in order; exit even if a client library leaves a
  // socket or timer behind (kafkajs can, after a failed first connect).
  (code) => exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    return exit(1);
  },
);
