/**
 * The real Kafka broker and schema registry the integration tests talk to,
 * chosen by environment:
 *   TEST_STACK=local (default): the no-Docker stack of `npm run stack -- up`
 *     (started here if it is not running), faults injected by pid.
 *   TEST_STACK=testcontainers: KAFKA_IMAGE + REGISTRY_IMAGE (docker-compose.yml's images; in CI
 *     stand-ins built locally under those names by .ci/testcontainers) in Docker, one pair per
 *     test file, removed by close(). TESTCONTAINERS_NETWORK picks the network:
 *       host: every container on the host network, on ports this helper chose (no port mapping:
 *         engines with no bridge network, as CI's); TESTCONTAINERS_RYUK_DISABLED and
 *         TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 are set unless already set;
 *       bridge: the usual testcontainers way (Docker Desktop): a network of the test's own, the
 *         broker on a fixed host port (so its advertised listener survives a restart), the
 *         registry on a mapped port;
 *       auto (default): host when `docker network ls` shows no bridge network, else bridge.
 *     Faults are real: stopBroker() is `docker stop`, killBroker() `docker kill` (SIGKILL),
 *     startBroker() `docker start` of the same container (its data is in the container, so it
 *     survives), pauseRegistry()/resumeRegistry() `docker pause`/`unpause`.
 * Both give the same handle, so every test runs unchanged on either. Every fault call is
 * idempotent: it looks at the state first (a second unpause would be a 500 from Docker).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { GenericContainer, StartedNetwork } from 'testcontainers';
import {
  KAFKA_VERSION,
  signalService,
  stackEnv,
  stackSettings,
  startKafka,
  status,
  up,
} from '../../../tools/stack/stack.ts';

export type TestStack = {
  brokers: string[];
  registryUrl: string;
  stopBroker(): Promise<void>;
  /** A hard crash (SIGKILL); startBroker() brings it back on the same data. */
  killBroker(): Promise<void>;
  /** The registry stops answering (SIGSTOP / container pause), keeping its state. */
  pauseRegistry(): Promise<void>;
  resumeRegistry(): Promise<void>;
  startBroker(): Promise<void>;
  /** Is the broker's process (container) running; its exit code when known (containers). */
  brokerState(): Promise<{ running: boolean; exitCode: number | null }>;
  close(): Promise<void>;
};

/** The images of TEST_STACK=testcontainers: docker-compose.yml's (test/unit/compose.test.ts). */
export const KAFKA_IMAGE = `apache/kafka:${KAFKA_VERSION}`;
export const REGISTRY_IMAGE = 'confluentinc/cp-schema-registry:7.9.0';
/** A label on every container of this helper (.ci/testcontainers removes any left behind). */
export const CONTAINER_LABEL = 'webex-cdr-kafka.test-stack';

export type NetworkMode = 'host' | 'bridge';

/** TESTCONTAINERS_NETWORK: host, bridge, or auto (unset): host when the engine has no bridge. */
export const networkMode = async (env: NodeJS.ProcessEnv = process.env): Promise<NetworkMode> => {
  const set = env.TESTCONTAINERS_NETWORK ?? '';
  if (set === 'host' || set === 'bridge') return set;
  if (set !== '' && set !== 'auto') {
    throw new Error(`TESTCONTAINERS_NETWORK=${set}: host, bridge or auto (the default) wanted`);
  }
  try {
    const { stdout } = await promisify(execFile)(
      'docker',
      ['network', 'ls', '--format', '{{.Name}}'],
      { timeout: 15_000 },
    );
    return stdout.split('\n').includes('bridge') ? 'bridge' : 'host';
  } catch {
    return 'bridge'; // no docker CLI: testcontainers' own discovery, the usual mode
  }
};

let current: Promise<TestStack> | null = null;

export const getStack = (): Promise<TestStack> => {
  current ??= (process.env.TEST_STACK ?? 'local') === 'testcontainers' ? containers() : local();
  return current;
};

const local = async (): Promise<TestStack> => {
  const s = stackSettings();
  await up(s);
  const env = stackEnv(s);
  return {
    brokers: [env.KAFKA_BROKERS],
    registryUrl: env.SCHEMA_REGISTRY_URL,
    stopBroker: () => signalService('kafka', 'SIGTERM', s),
    killBroker: () => signalService('kafka', 'SIGKILL', s),
    pauseRegistry: () => signalService('registry', 'SIGSTOP', s),
    resumeRegistry: () => signalService('registry', 'SIGCONT', s),
    startBroker: async () => {
      await startKafka(s);
      await until(
        'the restarted broker leads its partitions again',
        () => partitionsServed(env.KAFKA_BROKERS.split(',')),
        120_000,
      );
    },
    brokerState: async () => ({
      running: (await status(s)).services.some(
        (svc) => svc.service === 'kafka' && svc.pid !== null,
      ),
      exitCode: null, // not a child of ours
    }),
    close: async () => undefined, // the stack outlives the test process
  };
};

/** Ports that were free a moment ago, all distinct (held together while chosen). */
const freePorts = async (n: number): Promise<number[]> => {
  const { createServer } = await import('node:net');
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve) => {
          const srv = createServer().listen(0, '127.0.0.1', () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((srv) => (srv.address() as { port: number }).port);
  await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  return ports;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 250 ms until it holds; fails after `ms` with `what` (and `why()`). */
const until = async (
  what: string,
  check: () => Promise<boolean>,
  ms: number,
  why: () => Promise<string> = async () => '',
) => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`${what}: not within ${ms / 1000} s${await why()}`);
};

/** A kafkajs admin for one probe: short timeouts, no retries (the caller polls). */
const probeAdmin = (brokers: string[], requestTimeout: number) =>
  new Kafka({
    clientId: 'test-stack-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout,
    retry: { retries: 0 },
  }).admin();

/** The broker answers a metadata request (a port that accepts is not enough: docker-proxy). */
const brokerAnswers = async (brokers: string[]): Promise<boolean> => {
  const admin = probeAdmin(brokers, 2000);
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};

/**
 * Every partition on the broker has a leader that answers ListOffsets. After a crash (SIGKILL)
 * the restarted broker answers metadata some seconds before it leads its partitions again
 * (NOT_LEADER_FOR_PARTITION meanwhile; CI saw more than 9 s, past kafkajs' own retries), so
 * startBroker() waits for this rather than for the port or the metadata alone.
 */
const partitionsServed = async (brokers: string[]): Promise<boolean> => {
  const admin = probeAdmin(brokers, 5000);
  try {
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata();
    const led = topics.every((t) =>
      t.partitions.every((p) => p.leader >= 0 && p.partitionErrorCode === 0),
    );
    if (!led) return false;
    const names = topics.map((t) => t.name);
    for (let i = 0; i < names.length; i += 16) {
      // allSettled, not all: every request of the batch has ended before the disconnect below,
      // so none opens a connection after it (with Promise.all, the first rejection went to
      // disconnect while the others still ran, and the sockets they opened kept the test
      // process alive after its last test).
      const batch = await Promise.allSettled(
        names.slice(i, i + 16).map((name) => admin.fetchTopicOffsets(name)),
      );
      if (batch.some((r) => r.status === 'rejected')) return false;
    }
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};

/**
 * The broker coordinates consumer groups (FindCoordinator answers: __consumer_offsets exists).
 * A brand-new broker answers metadata before that, and a first group then fails once
 * ("Consumer group was not initialized"); the local stack's long-lived broker is always past it,
 * and fresh-cluster.test.ts tests a brand-new broker on purpose.
 */
const groupsReady = async (brokers: string[]): Promise<boolean> => {
  const admin = probeAdmin(brokers, 5000);
  try {
    await admin.connect();
    await admin.listTopics(); // the metadata first: with no retries, no broker is known before
    await admin.describeGroups(['test-stack-probe']);
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};

const registryAnswers = (url: string): Promise<boolean> =>
  fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) }).then(
    (r) => r.ok,
    () => false,
  );

/** As the local stack's JVMs: C1 only, for a start in seconds (any JVM reads JAVA_TOOL_OPTIONS). */
const JVM_QUICK_START = '-XX:TieredStopAtLevel=1';

const containers = async (): Promise<TestStack> => {
  const mode = await networkMode();
  if (mode === 'host') {
    // No bridge: no Ryuk (its image cannot be pulled either: close() removes what we start),
    // and the host is 127.0.0.1 (with /.dockerenv present, testcontainers would ask for the
    // bridge network's gateway).
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
  }
  const tc = await import('testcontainers');
  const client = await tc.getContainerRuntimeClient();
  // The local stand-in (CI) is Apicurio, whose Confluent-compatible API is under /apis/ccompat/v7;
  // Confluent's own image serves it at /.
  const registryLabels = await client.container.dockerode
    .getImage(REGISTRY_IMAGE)
    .inspect()
    .then(
      (i) => i.Config?.Labels ?? {},
      () => ({}) as Record<string, string>,
    );
  const registryPath = /Apicurio/.test(registryLabels['webex-cdr-kafka.stand-in'] ?? '')
    ? '/apis/ccompat/v7'
    : '';
  const [kafkaPort = 0, controllerPort = 0, registryPort = 0] = await freePorts(3);
  const labels = { [CONTAINER_LABEL]: String(process.pid) };
  const brokerSettings = {
    KAFKA_NODE_ID: '1',
    KAFKA_PROCESS_ROLES: 'broker,controller',
    KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
    KAFKA_LOG_DIRS: '/var/lib/kafka/data', // in the container: kept by a stop or a kill
    KAFKA_NUM_PARTITIONS: '1',
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '1',
    KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
    KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
    KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    KAFKA_HEAP_OPTS: '-Xms64m -Xmx512m',
    JAVA_TOOL_OPTIONS: JVM_QUICK_START,
    CLUSTER_ID: '5L6g3nShT-eMCtK--X86sw',
  };
  const brokers = [`127.0.0.1:${kafkaPort}`];
  let network: StartedNetwork | undefined;
  let kafkaContainer: GenericContainer;
  let registryContainer: GenericContainer;
  let registryUrl: string;
  if (mode === 'host') {
    kafkaContainer = new tc.GenericContainer(KAFKA_IMAGE).withNetworkMode('host').withEnvironment({
      ...brokerSettings,
      KAFKA_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort},CONTROLLER://127.0.0.1:${controllerPort}`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: `1@127.0.0.1:${controllerPort}`,
    });
    registryContainer = new tc.GenericContainer(REGISTRY_IMAGE)
      .withNetworkMode('host')
      .withEnvironment({
        JAVA_TOOL_OPTIONS: JVM_QUICK_START,
        SCHEMA_REGISTRY_HOST_NAME: '127.0.0.1',
        SCHEMA_REGISTRY_LISTENERS: `http://127.0.0.1:${registryPort}`,
        SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
      });
    registryUrl = `http://127.0.0.1:${registryPort}${registryPath}`;
  } else {
    network = await new tc.Network().start();
    kafkaContainer = new tc.GenericContainer(KAFKA_IMAGE)
      .withNetwork(network)
      .withNetworkAliases('kafka')
      // A fixed host port, so the advertised listener survives a container restart.
      .withExposedPorts({ container: 9092, host: kafkaPort })
      .withEnvironment({
        ...brokerSettings,
        KAFKA_LISTENERS: 'PLAINTEXT://:9092,INTERNAL://:29092,CONTROLLER://:9093',
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort},INTERNAL://kafka:29092`,
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP:
          'PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
        KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      });
    registryContainer = new tc.GenericContainer(REGISTRY_IMAGE)
      .withNetwork(network)
      .withExposedPorts(8081)
      .withEnvironment({
        JAVA_TOOL_OPTIONS: JVM_QUICK_START,
        SCHEMA_REGISTRY_HOST_NAME: 'schema-registry',
        SCHEMA_REGISTRY_LISTENERS: 'http://0.0.0.0:8081',
        SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: 'PLAINTEXT://kafka:29092',
      });
    registryUrl = ''; // its mapped port is known once it runs
  }
  const started: { getId(): string }[] = [];
  const removeAll = async () => {
    // `docker rm -f -v`: whatever state a test left it in (stopped, killed, paused).
    for (const c of started.splice(0)) {
      await client.container
        .getById(c.getId())
        .remove({ force: true, v: true })
        .catch(() => undefined);
    }
    await network?.stop().catch(() => undefined);
    network = undefined;
  };
  try {
    // Both at once (a start is mostly JVM warm-up): the registry's store needs no broker yet.
    const [kafkaStart, registryStart] = await Promise.allSettled([
      kafkaContainer
        .withLabels(labels)
        .withWaitStrategy(tc.Wait.forLogMessage(/Kafka Server started/))
        .withStartupTimeout(120_000)
        .start(),
      registryContainer
        .withLabels(labels)
        .withWaitStrategy(
          tc.Wait.forLogMessage(/Listening on: |Server started, listening for requests/),
        )
        .withStartupTimeout(120_000)
        .start(),
    ]);
    for (const r of [registryStart, kafkaStart])
      if (r.status === 'fulfilled') started.push(r.value);
    if (kafkaStart.status === 'rejected') throw kafkaStart.reason;
    if (registryStart.status === 'rejected') throw registryStart.reason;
    const kafka = kafkaStart.value;
    const registry = registryStart.value;
    if (mode === 'bridge') {
      registryUrl = `http://${registry.getHost()}:${registry.getMappedPort(8081)}${registryPath}`;
    }
    await until('the registry container answers', () => registryAnswers(registryUrl), 60_000);
    await until('the broker container coordinates groups', () => groupsReady(brokers), 60_000);

    const broker = client.container.getById(kafka.getId());
    const registryApi = client.container.getById(registry.getId());
    const state = async (c: typeof broker) => (await c.inspect()).State;
    const brokerLogs = async () => {
      const logs = await broker.logs({ stdout: true, stderr: true, tail: 30 });
      return `; its last log lines:\n${logs.toString('utf8')}`;
    };
    let closed: Promise<void> | undefined;
    return {
      brokers,
      registryUrl,
      stopBroker: async () => {
        const st = await state(broker);
        if (st.Paused) await broker.unpause();
        if (st.Running) await broker.stop({ t: 30 }); // SIGTERM: a controlled shutdown
      },
      killBroker: async () => {
        const st = await state(broker);
        if (st.Running) await broker.kill({ signal: 'SIGKILL' });
        await until(
          'the killed broker container exits',
          async () => !(await state(broker)).Running,
          30_000,
        );
      },
      startBroker: async () => {
        const st = await state(broker);
        if (st.Paused) await broker.unpause();
        else if (!st.Running) await broker.start(); // the same container: its data, its ports
        await until(
          `the broker container (${KAFKA_IMAGE}) answers again`,
          async () => {
            const now = await state(broker);
            if (!now.Running)
              throw new Error(`the broker container exited (${now.ExitCode})${await brokerLogs()}`);
            return brokerAnswers(brokers);
          },
          120_000,
          brokerLogs,
        );
        await until(
          'the restarted broker container leads its partitions again',
          () => partitionsServed(brokers),
          120_000,
          brokerLogs,
        );
      },
      brokerState: async () => {
        const st = await state(broker);
        return { running: st.Running, exitCode: st.Running ? null : st.ExitCode };
      },
      pauseRegistry: async () => {
        const st = await state(registryApi);
        if (st.Running && !st.Paused) await registryApi.pause();
      },
      resumeRegistry: async () => {
        if ((await state(registryApi)).Paused) await registryApi.unpause();
      },
      close: () => {
        closed ??= removeAll();
        return closed;
      },
    };
  } catch (e) {
    await removeAll();
    throw e;
  }
};
