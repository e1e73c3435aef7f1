/**
 * @module cli
 * The `webex-cdr-kafka` command: wires configuration into one entry point
 * (loaded by bin.ts, the executable, once it has checked the Node version).
 *
 *   webex-cdr-kafka ingress              the webhook receiver
 *   webex-cdr-kafka reconcile [--once]   the reconciler
 *   webex-cdr-kafka simulate ...         the Webex stand-in
 *   webex-cdr-kafka tail                 prints a topic's records as JSON lines
 *   webex-cdr-kafka schema               prints the Avro contract
 *   webex-cdr-kafka config check [ingress|reconcile]
 *                                        prints the effective settings, secrets masked
 *
 * `--config <path>` (any command) names a JSON settings file: CONFIG_FILE.
 * Invalid configuration lists every problem and exits with code 2.
 * `<command> --help` (or `-h`, or `help <command>`) prints that command's
 * usage and starts nothing; `--version` prints the package's version.
 */
import { readFileSync } from 'node:fs';
import { readCdrSchema } from './cdr/avro-schema.ts';
import { startIngress } from './ingress/server.ts';
import { ListenError } from './listen.ts';
import { createLogger } from './log.ts';
import { checkConfig, parseIngressConfig, parseReconcilerConfig } from './settings.ts';

const USAGE = `usage: webex-cdr-kafka <command>

commands:
  ingress                 receive Partner Hub CDR webhooks and publish them to Kafka
  reconcile [--once ...]  backfill records the webhook missed (docs/reconciliation.md)
  simulate ...            run the Webex stand-in (docs/webex-questions.md)
  tail [--topic T] [--since T] [--limit N] [--follow] [--org ID] [--report-id ID]
                          print a topic's records as JSON lines (Avro decoded)
  schema                  print the Avro schema of the CDR topic
  config check [ingress|reconcile]
                          print the effective settings (secrets masked), or every
                          problem (exit 2); both processes when none is named

options:
  --config <path>         a JSON file of settings (same names as the environment
                          variables; the environment wins): sets CONFIG_FILE
  <command> --help, -h    that command's usage (also: help <command>)
  --version               the version of webex-cdr-kafka
`;

const INGRESS_USAGE = `usage: webex-cdr-kafka ingress [--config <path>]

Receives Partner Hub CDR webhooks (POST WEBHOOK_PATH, default /webhooks/cdr)
on HOST:PORT (default 127.0.0.1:8080) and publishes their records to Kafka as
Avro; /healthz, /readyz and /metrics beside. Configured by the environment
(docs/configuration.md): KAFKA_BROKERS, SCHEMA_REGISTRY_URL, CDR_FEED and
WEBHOOK_SECRETS are required. "webex-cdr-kafka config check ingress" shows
the effective settings.

exit codes: 0 stopped cleanly (SIGTERM/SIGINT), 1 could not start (a port in
use, credentials refused) or not drained within SHUTDOWN_TIMEOUT_MS,
2 invalid configuration (every problem listed)
`;

const SCHEMA_USAGE = `usage: webex-cdr-kafka schema

Prints the Avro schema of the CDR topic (schemas/cdr.avsc), the contract with
the topic's consumers.
`;

const CONFIG_USAGE = `usage: webex-cdr-kafka config check [ingress|reconcile] [--config <path>]

Prints the effective settings of the process (secrets as ***) with where each
comes from (environment, config file, <NAME>_FILE, default), or every problem,
unknown setting names included, with exit code 2. Both processes when none is
named.
`;

/** The usage of a command, for `<command> --help`; undefined for an unknown command. */
const usageOf = async (command: string): Promise<string | undefined> => {
  switch (command) {
    case 'ingress':
      return INGRESS_USAGE;
    case 'config':
      return CONFIG_USAGE;
    case 'schema':
      return SCHEMA_USAGE;
    case 'reconcile':
      return (await import('./reconciler/command.ts')).USAGE;
    case 'simulate':
      return (await import('./simulator/command.ts')).USAGE;
    case 'tail':
      return (await import('./tail.ts')).USAGE;
    default:
      return undefined;
  }
};

const packageVersion = (): string => {
  const pkg: unknown = JSON.parse(
    readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
  );
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg ? String(pkg.version) : '';
};

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
  const asked = command === 'help' ? rest[0] : command;
  if (
    asked !== undefined &&
    (command === 'help' || rest.some((a) => a === '--help' || a === '-h'))
  ) {
    const usage = await usageOf(asked);
    if (usage !== undefined) {
      process.stdout.write(usage);
      return 0;
    }
  }
  switch (command) {
    case 'ingress':
      return runIngress();
    case 'config':
      return runConfigCommand(rest);
    case 'reconcile': {
      const { runReconcileCommand } = await import('./reconciler/command.ts');
      return runReconcileCommand(rest, parseReconcilerConfig);
    }
    case 'simulate': {
      const { runSimulateCommand } = await import('./simulator/command.ts');
      return runSimulateCommand(rest);
    }
    case 'tail': {
      const { runTailCommand } = await import('./tail.ts');
      return runTailCommand(rest);
    }
    case 'schema':
      process.stdout.write(readCdrSchema().text);
      return 0;
    case '--version':
      console.log(packageVersion());
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
    // An address that cannot be bound is one line that names the setting to change.
    if (e instanceof ListenError) console.error(e.message);
    else console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    return exit(1);
  },
);
