/**
 * The real Kafka broker and schema registry the integration tests talk to,
 * chosen by environment:
 *   TEST_STACK=local (default): the no-Docker stack of `npm run stack -- up`
 *     (started here if it is not running), faults injected by pid.
 *   TEST_STACK=testcontainers: apache/kafka + confluentinc/cp-schema-registry
 *     in Docker, the broker "stopped" by pausing its container.
 * Both give the same handle, so every test runs unchanged on either.
 */
import {
  signalService,
  stackEnv,
  stackSettings,
  startKafka,
  up,
} from '../../../src/stack/stack.ts';

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
  close(): Promise<void>;
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
    startBroker: () => startKafka(s),
    close: async () => undefined, // the stack outlives the test process
  };
};

const containers = async (): Promise<TestStack> => {
  const { GenericContainer, Network, Wait, getContainerRuntimeClient } = await import(
    'testcontainers'
  );
  const { createServer } = await import('node:net');
  // A fixed host port, so the advertised listener survives a container restart.
  const hostPort = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
  const network = await new Network().start();
  const kafka = await new GenericContainer('apache/kafka:4.1.0')
    .withNetwork(network)
    .withNetworkAliases('kafka')
    .withExposedPorts({ container: 9092, host: hostPort })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,INTERNAL://:29092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${hostPort},INTERNAL://kafka:29092`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP:
        'PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const registry = await new GenericContainer('confluentinc/cp-schema-registry:7.9.0')
    .withNetwork(network)
    .withExposedPorts(8081)
    .withEnvironment({
      SCHEMA_REGISTRY_HOST_NAME: 'schema-registry',
      SCHEMA_REGISTRY_LISTENERS: 'http://0.0.0.0:8081',
      SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: 'PLAINTEXT://kafka:29092',
    })
    .withWaitStrategy(Wait.forHttp('/subjects', 8081))
    .start();
  return {
    brokers: [`127.0.0.1:${hostPort}`],
    registryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8081)}`,
    // The broker is the container's PID 1, which ignores signals sent from inside: pause it.
    stopBroker: async () => {
      const client = await getContainerRuntimeClient();
      await client.container.getById(kafka.getId()).pause();
    },
    startBroker: async () => {
      const client = await getContainerRuntimeClient();
      await client.container.getById(kafka.getId()).unpause();
    },
    // a container cannot be SIGKILLed and resumed with its data here: pause stands in
    killBroker: async () => {
      const client = await getContainerRuntimeClient();
      await client.container.getById(kafka.getId()).pause();
    },
    pauseRegistry: async () => {
      const client = await getContainerRuntimeClient();
      await client.container.getById(registry.getId()).pause();
    },
    resumeRegistry: async () => {
      const client = await getContainerRuntimeClient();
      await client.container.getById(registry.getId()).unpause();
    },
    close: async () => {
      await registry.stop();
      await kafka.stop();
      await network.stop();
    },
  };
};
