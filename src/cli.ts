#!/usr/bin/env node
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
 *
 * Invalid configuration lists every problem and exits with code 2.
 */
import { readCdrSchema } from './cdr/avro-schema.ts';
import { parseIngressConfig } from './config.ts';
import { startIngress } from './ingress/server.ts';
import { createLogger } from './log.ts';

const USAGE = `usage: webex-cdr-kafka <command>

commands:
  ingress                 receive Partner Hub CDR webhooks and publish them to Kafka
  reconcile [--once ...]  backfill records the webhook missed (see README)
  simulate ...            run the Webex stand-in (see README)
  stack up|down|status    local Kafka + schema registry for development and tests
  tail [--topic T] [--since 1h] [--limit N]
                          print a topic's records as JSON lines (Avro decoded)
  schema                  print the Avro schema of the CDR topic
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
  const signal = await untilSignal();
  logger.info('stopping', { signal, deadlineMs: parsed.config.shutdownTimeoutMs });
  const stopped = await ingress.close(parsed.config.shutdownTimeoutMs);
  return stopped.clean ? 0 : 1;
};

export const main = async (argv: string[]): Promise<number> => {
  const [command, ...rest] = argv;
  switch (command) {
    case 'ingress':
      return runIngress();
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

main(process.argv.slice(2)).then(
  // Everything was closed in order; exit even if a client library leaves a
  // socket or timer behind (kafkajs can, after a failed first connect).
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
