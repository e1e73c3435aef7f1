/**
 * A second, freshly formatted KRaft broker of its own (empty data dir, free
 * ports), for tests of what a brand-new cluster does: its producer-id blocks
 * and coordinators are not there yet. It uses the stack's jars (linked into a
 * temporary stack directory) and is stopped and deleted by `close()`.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureKafkaJars,
  KAFKA_VERSION,
  signalService,
  stackSettings,
  startKafka,
} from '../../../tools/stack/stack.ts';
import { freePort } from './net.ts';

export type FreshBroker = { brokers: string[]; close(): Promise<void> };

export const startFreshBroker = async (): Promise<FreshBroker> => {
  const lib = await ensureKafkaJars(stackSettings());
  const dir = mkdtempSync(join(tmpdir(), 'webex-cdr-fresh-broker-'));
  mkdirSync(join(dir, 'kafka'), { recursive: true });
  symlinkSync(lib, join(dir, 'kafka', `lib-${KAFKA_VERSION}`));
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await freePort());
  const [kafkaPort = 0, controllerPort = 0, saslPort = 0] = [...ports];
  const s = { dir, kafkaPort, controllerPort, saslPort, registryPort: 0 };
  try {
    await startKafka(s);
  } catch (e) {
    await signalService('kafka', 'SIGKILL', s);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    brokers: [`127.0.0.1:${kafkaPort}`],
    async close() {
      await signalService('kafka', 'SIGTERM', s);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
