/**
 * @module tools/stack/cli
 * `npm run stack -- up|down|status`: the local Kafka + registry stack. A
 * developer tool, not part of the shipped CLI or image (it needs Java and Maven).
 */
import { down, saslListener, stackSettings, status, up } from './stack.ts';

export const USAGE = `usage: npm run stack -- up|down|status   (node tools/stack/cli.ts up|down|status)

A local Apache Kafka broker (KRaft) and Apicurio Registry, run from jars under
.stack/ (fetched once from Maven Central; Java 17+ and Maven needed), for
development and the tests. Not part of the product: its STACK_* variables are
not settings of the connector.

  up      start both (idempotent); writes .stack/env (KAFKA_BROKERS, SCHEMA_REGISTRY_URL)
  down    stop both and remove the broker's data
  status  say whether each runs, and the addresses (the default)

  STACK_KAFKA_PORT (19092), STACK_CONTROLLER_PORT (19093), STACK_REGISTRY_PORT
  (18081), STACK_SASL_PORT (the Kafka port + 2), STACK_DIR (.stack)
`;

export const runStack = async (args: string[]): Promise<number> => {
  const [cmd = 'status'] = args;
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const s = stackSettings();
  switch (cmd) {
    case 'up':
      await up(s);
      return 0;
    case 'down':
      await down(s);
      return 0;
    case 'status': {
      const st = await status(s);
      for (const svc of st.services) {
        console.log(
          `${svc.service.padEnd(9)} ${svc.ready ? 'ready' : svc.pid ? 'starting' : 'stopped'}${svc.pid ? ` (pid ${svc.pid})` : ''}`,
        );
      }
      console.log(
        `KAFKA_BROKERS=${st.KAFKA_BROKERS}\nSCHEMA_REGISTRY_URL=${st.SCHEMA_REGISTRY_URL}`,
      );
      const sasl = saslListener(s);
      console.log(
        `SASL listener (SCRAM-SHA-256/512, PLAIN; ACLs enforced): ${sasl.brokers.join(',')}, users ${Object.keys(sasl.users).join(', ')}`,
      );
      return st.services.every((x) => x.ready) ? 0 : 1;
    }
    default:
      console.error(`unknown stack command "${cmd}": use up, down or status (--help)`);
      return 2;
  }
};

if (import.meta.url === `file://${process.argv[1]}`) {
  runStack(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
