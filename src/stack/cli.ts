/** `npm run stack -- up|down|status`: the local Kafka + registry stack. */
import { down, saslListener, stackSettings, status, up } from './stack.ts';

export const runStack = async (args: string[]): Promise<number> => {
  const [cmd = 'status'] = args;
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
      console.error(`unknown stack command "${cmd}": use up, down or status`);
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
