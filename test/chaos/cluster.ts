/**
 * The chaos harness's Kafka: 1 or 3 KRaft nodes (combined broker + controller)
 * from the jars of `tools/stack/stack.ts`, `-Xmx512m` each, data under
 * `.stack/chaos/`. Each node has an INTERNAL listener (between brokers) and an
 * EXTERNAL one for clients, which is advertised at the port of a TCP proxy in
 * front of it: a client reaches a broker only through its proxy, so the proxy
 * can cut the client off (blackhole) while the brokers still see each other.
 * With 3 nodes: RF=3 defaults and min.insync.replicas=2.
 *
 * Ports: node 1 uses STACK_KAFKA_PORT / STACK_CONTROLLER_PORT (the stack's own
 * broker is stopped first), everything else CHAOS_PORT_BASE + 0..9.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ensureKafkaJars,
  java,
  LOG4J,
  portOpen,
  type StackSettings,
  waitFor,
} from '../../tools/stack/stack.ts';
import { startTcpProxy, type TcpProxy } from './proxy.ts';

const run = promisify(execFile);
const CLUSTER_ID = 'Y2hhb3MtY2x1c3Rlci0wMQ';

export type ClusterNode = {
  readonly id: number;
  readonly internalPort: number;
  readonly controllerPort: number;
  readonly externalPort: number;
  readonly proxy: TcpProxy;
  pid(): number | null;
};

export type Cluster = {
  readonly nodes: readonly ClusterNode[];
  /** The proxies' addresses: what clients bootstrap from. */
  readonly brokers: string[];
  start(id: number): Promise<void>;
  signal(id: number, signal: NodeJS.Signals): Promise<void>;
  /** Every node and proxy stopped, data removed. */
  close(): Promise<void>;
};

export const clusterPorts = (s: StackSettings, size: 1 | 3, base: number) => {
  const internal = [s.kafkaPort, base, base + 1];
  const controller = [s.controllerPort, base + 2, base + 3];
  return Array.from({ length: size }, (_, i) => ({
    id: i + 1,
    internalPort: internal[i] as number,
    controllerPort: controller[i] as number,
    externalPort: base + 4 + i,
    proxyPort: base + 7 + i,
  }));
};

type Ports = ReturnType<typeof clusterPorts>[number];

const properties = (n: Ports, all: Ports[], dataDir: string) => {
  const rf = all.length;
  const isr = rf === 3 ? 2 : 1;
  return `${[
    'process.roles=broker,controller',
    `node.id=${n.id}`,
    `controller.quorum.voters=${all.map((x) => `${x.id}@127.0.0.1:${x.controllerPort}`).join(',')}`,
    'controller.listener.names=CONTROLLER',
    `listeners=INTERNAL://127.0.0.1:${n.internalPort},EXTERNAL://127.0.0.1:${n.externalPort},CONTROLLER://127.0.0.1:${n.controllerPort}`,
    `advertised.listeners=INTERNAL://127.0.0.1:${n.internalPort},EXTERNAL://127.0.0.1:${n.proxyPort}`,
    'listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=INTERNAL',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    `default.replication.factor=${rf}`,
    `min.insync.replicas=${isr}`,
    `offsets.topic.replication.factor=${rf}`,
    'offsets.topic.num.partitions=1',
    `transaction.state.log.replication.factor=${rf}`,
    `transaction.state.log.min.isr=${isr}`,
    'transaction.state.log.num.partitions=1',
    `share.coordinator.state.topic.replication.factor=${rf}`,
    `share.coordinator.state.topic.min.isr=${isr}`,
    'share.coordinator.state.topic.num.partitions=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'unclean.leader.election.enable=false',
    'num.network.threads=2',
    'num.io.threads=2',
    'num.recovery.threads.per.data.dir=1',
    'background.threads=2',
  ].join('\n')}\n`;
};

export const startCluster = async (
  s: StackSettings,
  size: 1 | 3,
  base: number,
): Promise<Cluster> => {
  const lib = await ensureKafkaJars(s);
  const root = join(s.dir, 'chaos');
  rmSync(root, { recursive: true, force: true });
  const all = clusterPorts(s, size, base);
  const children = new Map<number, ChildProcess>();
  const home = (id: number) => join(root, `node-${id}`);
  const jvm = (id: number) => [
    `-Dlog4j2.configurationFile=${join(home(id), 'log4j2.properties')}`,
    '-cp',
    `${lib}/*`,
  ];

  for (const n of all) {
    for (const p of [n.internalPort, n.controllerPort, n.externalPort, n.proxyPort]) {
      if (await portOpen(p)) throw new Error(`port ${p} is taken (set CHAOS_PORT_BASE)`);
    }
    const dir = home(n.id);
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'server.properties'), properties(n, all, join(dir, 'data')));
    writeFileSync(join(dir, 'log4j2.properties'), LOG4J);
    await run(java(), [
      '-Xmx256m',
      ...jvm(n.id),
      'kafka.tools.StorageTool',
      'format',
      '--ignore-formatted',
      '-t',
      CLUSTER_ID,
      '-c',
      join(dir, 'server.properties'),
    ]);
  }

  const start = async (id: number) => {
    const n = all[id - 1];
    if (n === undefined) throw new Error(`no node ${id}`);
    const old = children.get(id);
    if (old !== undefined && old.exitCode === null && old.signalCode === null) return;
    const out = openSync(join(home(id), 'kafka.log'), 'a');
    const child = spawn(
      java(),
      [
        '-Xms64m',
        '-Xmx512m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Djava.awt.headless=true',
        ...jvm(id),
        'kafka.Kafka',
        join(home(id), 'server.properties'),
      ],
      { cwd: home(id), detached: true, stdio: ['ignore', out, out] },
    );
    child.unref();
    children.set(id, child);
    await waitFor(
      `chaos broker ${id} (see ${join(home(id), 'kafka.log')})`,
      () => portOpen(n.externalPort),
      child,
      120_000,
    );
  };

  const exited = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => c.once('exit', () => r()));

  const signal = async (id: number, sig: NodeJS.Signals) => {
    const c = children.get(id);
    if (c === undefined || c.pid === undefined || c.exitCode !== null || c.signalCode !== null) {
      return;
    }
    process.kill(c.pid, sig);
    if (sig === 'SIGKILL' || sig === 'SIGTERM') await exited(c);
  };

  const nodes: ClusterNode[] = [];
  for (const n of all) {
    const proxy = await startTcpProxy({ listenPort: n.proxyPort, targetPort: n.externalPort });
    nodes.push({
      id: n.id,
      internalPort: n.internalPort,
      controllerPort: n.controllerPort,
      externalPort: n.externalPort,
      proxy,
      pid: () => children.get(n.id)?.pid ?? null,
    });
  }
  // The voters of a static quorum wait for each other: start them together.
  await Promise.all(all.map((n) => start(n.id)));

  return {
    nodes,
    brokers: all.map((n) => `127.0.0.1:${n.proxyPort}`),
    start,
    signal,
    close: async () => {
      for (const n of all) {
        await signal(n.id, 'SIGCONT');
        await signal(n.id, 'SIGKILL');
      }
      for (const n of nodes) await n.proxy.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
};
