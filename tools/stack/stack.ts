/**
 * @module tools/stack/stack
 * A real local stack without Docker: one Apache Kafka broker (KRaft, combined
 * broker + controller) and Apicurio Registry (in-memory, Confluent-compatible
 * API at /apis/ccompat/v7), both fetched from Maven Central with the machine's
 * Maven, cached under `.stack/`, run with Java 17+ on 127.0.0.1.
 * `up` is idempotent and writes `.stack/env`; `down` stops both and forgets
 * the broker's data (the registry is in-memory, so both start empty again).
 *
 * Besides the open PLAINTEXT listener, the broker has a SASL_PLAINTEXT
 * listener (STACK_SASL_PORT) for SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN, with
 * the users of STACK_SASL_USERS created when the storage is formatted, and the
 * KRaft StandardAuthorizer: on that listener a user may do only what ACLs
 * allow. The PLAINTEXT and controller listeners authenticate nobody, so their
 * principal User:ANONYMOUS is a super user: everything else keeps working as
 * before, and tests grant ACLs through them.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const KAFKA_VERSION = '4.4.0';
export const APICURIO_VERSION = '2.6.13.Final';
const CLUSTER_ID = 'd2ViZXgtY2RyLWthZmthAA';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type StackSettings = {
  dir: string;
  kafkaPort: number;
  controllerPort: number;
  registryPort: number;
  saslPort: number;
};

export const stackSettings = (env: NodeJS.ProcessEnv = process.env): StackSettings => {
  const kafkaPort = Number(env.STACK_KAFKA_PORT ?? 19092);
  return {
    dir: env.STACK_DIR ?? join(ROOT, '.stack'),
    kafkaPort,
    controllerPort: Number(env.STACK_CONTROLLER_PORT ?? 19093),
    registryPort: Number(env.STACK_REGISTRY_PORT ?? 18081),
    saslPort: Number(env.STACK_SASL_PORT ?? kafkaPort + 2),
  };
};

/**
 * The SASL users of the local stack (development only, never production
 * credentials). Each has SCRAM-SHA-256 and SCRAM-SHA-512 credentials and a
 * PLAIN entry with the same password.
 */
export const STACK_SASL_USERS = {
  ingress: 'ingress-dev-password',
  reconciler: 'reconciler-dev-password',
} as const;

export type SaslUser = keyof typeof STACK_SASL_USERS;

/** The SASL listener of the local stack: bootstrap address and the users' passwords. */
export const saslListener = (s: StackSettings) => ({
  brokers: [`127.0.0.1:${s.saslPort}`],
  users: STACK_SASL_USERS,
});

type Service = 'kafka' | 'registry';

export type StackEnv = { KAFKA_BROKERS: string; SCHEMA_REGISTRY_URL: string };

export const stackEnv = (s: StackSettings): StackEnv => ({
  KAFKA_BROKERS: `127.0.0.1:${s.kafkaPort}`,
  SCHEMA_REGISTRY_URL: `http://127.0.0.1:${s.registryPort}/apis/ccompat/v7`,
});

/**
 * A Kafka and registry given from outside (the test stack's, your own), for the programs that
 * otherwise start the local stack (`npm run demo`, the benchmark): KAFKA_BROKERS and
 * SCHEMA_REGISTRY_URL when both are set, null when neither is; one alone is refused.
 */
export const givenStack = (env: NodeJS.ProcessEnv = process.env): StackEnv | null => {
  const brokers = env.KAFKA_BROKERS?.trim() ?? '';
  const registry = env.SCHEMA_REGISTRY_URL?.trim() ?? '';
  if (brokers === '' && registry === '') return null;
  if (brokers === '' || registry === '') {
    throw new Error(
      `${brokers === '' ? 'SCHEMA_REGISTRY_URL' : 'KAFKA_BROKERS'} is set without ` +
        `${brokers === '' ? 'KAFKA_BROKERS' : 'SCHEMA_REGISTRY_URL'}: set both (a Kafka and ` +
        'registry of your own) or neither (the local stack)',
    );
  }
  return { KAFKA_BROKERS: brokers, SCHEMA_REGISTRY_URL: registry };
};

const say = (msg: string) => process.stderr.write(`[stack] ${msg}\n`);

export const java = (): string => {
  const candidates = [
    process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : '',
    '/usr/lib/jvm/java-17-openjdk-amd64/bin/java',
  ];
  return candidates.find((c) => c !== '' && existsSync(c)) ?? 'java';
};

const pidFile = (s: StackSettings, svc: Service) => join(s.dir, svc, `${svc}.pid`);
const logFile = (s: StackSettings, svc: Service) => join(s.dir, svc, `${svc}.log`);

export const readPid = (s: StackSettings, svc: Service): number | null => {
  try {
    const pid = Number(readFileSync(pidFile(s, svc), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
};

const alive = (pid: number | null): boolean => {
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const done = (v: boolean) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });

const registryReady = async (s: StackSettings): Promise<boolean> => {
  try {
    const res = await fetch(`${stackEnv(s).SCHEMA_REGISTRY_URL}/subjects`, {
      signal: AbortSignal.timeout(2000),
    });
    return res.ok;
  } catch {
    return false;
  }
};

const ready = (s: StackSettings, svc: Service): Promise<boolean> =>
  svc === 'kafka' ? portOpen(s.kafkaPort) : registryReady(s);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const waitFor = async (
  what: string,
  check: () => Promise<boolean>,
  child: ChildProcess,
  ms: number,
) => {
  const until = Date.now() + ms;
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? -1;
  });
  while (Date.now() < until) {
    if (exited !== null) throw new Error(`${what} exited with code ${exited} during start`);
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`${what} was not ready within ${ms} ms`);
};

const mvn = async (args: string[]) => {
  try {
    await run('mvn', ['-B', '-q', ...args], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const out = e as { stdout?: string; stderr?: string };
    throw new Error(`mvn ${args.join(' ')} failed:\n${out.stdout ?? ''}${out.stderr ?? ''}`);
  }
};

/** Fetches the broker's classpath from Maven Central once. */
export const ensureKafkaJars = async (s: StackSettings): Promise<string> => {
  const lib = join(s.dir, 'kafka', `lib-${KAFKA_VERSION}`);
  const marker = join(lib, '.complete');
  if (existsSync(marker)) return lib;
  say(`fetching Apache Kafka ${KAFKA_VERSION} from Maven Central...`);
  rmSync(lib, { recursive: true, force: true });
  await mvn([
    '-f',
    join(ROOT, 'tools/stack/kafka.pom.xml'),
    `-Dstack.dir=${s.dir}`,
    `-Dkafka.version=${KAFKA_VERSION}`,
    'dependency:copy-dependencies',
    `-DoutputDirectory=${lib}`,
  ]);
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return lib;
};

/** Fetches Apicurio's prebuilt application (tar.gz `all` classifier) once. */
export const ensureRegistryApp = async (s: StackSettings): Promise<string> => {
  const app = join(s.dir, 'registry', `app-${APICURIO_VERSION}`);
  const jar = join(app, `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`);
  if (existsSync(jar)) return jar;
  say(`fetching Apicurio Registry ${APICURIO_VERSION} from Maven Central...`);
  const download = join(s.dir, 'registry', 'download');
  rmSync(app, { recursive: true, force: true });
  mkdirSync(app, { recursive: true });
  await mvn([
    'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy',
    `-Dartifact=io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`,
    `-DoutputDirectory=${download}`,
  ]);
  const tarball = join(download, `apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz`);
  await run('tar', ['-xzf', tarball, '-C', app]);
  rmSync(download, { recursive: true, force: true });
  if (!existsSync(jar)) throw new Error(`unexpected Apicurio archive layout: ${jar} is missing`);
  return jar;
};

const plainUsers = Object.entries(STACK_SASL_USERS)
  .map(([name, password]) => `user_${name}="${password}"`)
  .join(' ');

const brokerProperties = (s: StackSettings, dataDir: string) =>
  `${[
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${s.controllerPort}`,
    'controller.listener.names=CONTROLLER',
    `listeners=PLAINTEXT://127.0.0.1:${s.kafkaPort},SASL_PLAINTEXT://127.0.0.1:${s.saslPort},CONTROLLER://127.0.0.1:${s.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${s.kafkaPort},SASL_PLAINTEXT://127.0.0.1:${s.saslPort},CONTROLLER://127.0.0.1:${s.controllerPort}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    'sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN',
    'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users=User:ANONYMOUS',
    'allow.everyone.if.no.acl.found=false',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'share.coordinator.state.topic.num.partitions=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'num.network.threads=2',
    'num.io.threads=2',
    'num.recovery.threads.per.data.dir=1',
    'background.threads=2',
  ].join('\n')}\n`;

export const LOG4J = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka.server.KafkaRaftServer
logger.kafka.level = INFO
`;

const spawnLogged = (s: StackSettings, svc: Service, cmd: string, args: string[], cwd: string) => {
  const out = openSync(logFile(s, svc), 'a');
  const child = spawn(cmd, args, { cwd, detached: true, stdio: ['ignore', out, out] });
  child.unref();
  writeFileSync(pidFile(s, svc), `${child.pid}\n`);
  return child;
};

/** Starts the broker on its existing data (formatting it the first time). */
export const startKafka = async (s: StackSettings = stackSettings()): Promise<void> => {
  if (alive(readPid(s, 'kafka')) && (await portOpen(s.kafkaPort))) {
    if (await portOpen(s.saslPort)) return;
    // A broker started before the SASL listener existed: start it again, with it.
    say('restarting Kafka with its SASL listener');
    await signalService('kafka', 'SIGTERM', s);
  }
  const lib = await ensureKafkaJars(s);
  const home = join(s.dir, 'kafka');
  const data = join(home, 'data');
  // SCRAM users are created when the storage is formatted: older data has none.
  const usersMarker = join(data, 'sasl-users');
  if (existsSync(join(data, 'meta.properties')) && !existsSync(usersMarker)) {
    rmSync(data, { recursive: true, force: true });
  }
  mkdirSync(data, { recursive: true });
  writeFileSync(join(home, 'server.properties'), brokerProperties(s, data));
  writeFileSync(join(home, 'log4j2.properties'), LOG4J);
  const jvm = [`-Dlog4j2.configurationFile=${join(home, 'log4j2.properties')}`, '-cp', `${lib}/*`];
  if (!existsSync(join(data, 'meta.properties'))) {
    await run(java(), [
      '-Xmx256m',
      ...jvm,
      'kafka.tools.StorageTool',
      'format',
      '--standalone',
      '--ignore-formatted',
      '-t',
      CLUSTER_ID,
      '-c',
      join(home, 'server.properties'),
      ...Object.entries(STACK_SASL_USERS).flatMap(([name, password]) =>
        ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => [
          '--add-scram',
          `${m}=[name=${name},password=${password}]`,
        ]),
      ),
    ]);
    writeFileSync(usersMarker, `${Object.keys(STACK_SASL_USERS).join('\n')}\n`);
  }
  for (const [port, name] of [
    [s.kafkaPort, 'STACK_KAFKA_PORT'],
    [s.saslPort, 'STACK_SASL_PORT'],
  ] as const) {
    if (await portOpen(port)) {
      throw new Error(`port ${port} is taken by another program (set ${name})`);
    }
  }
  const child = spawnLogged(
    s,
    'kafka',
    java(),
    [
      '-Xms64m',
      '-Xmx768m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-Djava.awt.headless=true',
      ...jvm,
      'kafka.Kafka',
      join(home, 'server.properties'),
    ],
    home,
  );
  await waitFor(
    `Kafka (see ${logFile(s, 'kafka')})`,
    async () => (await portOpen(s.kafkaPort)) && (await portOpen(s.saslPort)),
    child,
    90_000,
  );
};

export const startRegistry = async (s: StackSettings = stackSettings()): Promise<void> => {
  if (alive(readPid(s, 'registry')) && (await registryReady(s))) return;
  const jar = await ensureRegistryApp(s);
  if (await portOpen(s.registryPort)) {
    throw new Error(`port ${s.registryPort} is taken by another program (set STACK_REGISTRY_PORT)`);
  }
  const child = spawnLogged(
    s,
    'registry',
    java(),
    [
      '-Xmx256m',
      '-XX:+UseSerialGC',
      '-Dquarkus.http.host=127.0.0.1',
      `-Dquarkus.http.port=${s.registryPort}`,
      '-jar',
      jar,
    ],
    join(s.dir, 'registry'),
  );
  await waitFor(
    `Apicurio Registry (see ${logFile(s, 'registry')})`,
    () => registryReady(s),
    child,
    120_000,
  );
};

/** Sends a signal to a stack process by pid and waits for it to exit (for TERM/KILL). */
export const signalService = async (
  svc: Service,
  signal: NodeJS.Signals,
  s: StackSettings = stackSettings(),
): Promise<void> => {
  const pid = readPid(s, svc);
  if (!alive(pid) || pid === null) return;
  process.kill(pid, signal);
  if (signal === 'SIGSTOP' || signal === 'SIGCONT') return;
  const until = Date.now() + 30_000;
  while (alive(pid) && Date.now() < until) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(50);
};

export const writeEnvFile = (s: StackSettings): string => {
  const file = join(s.dir, 'env');
  const env = stackEnv(s);
  writeFileSync(
    file,
    `KAFKA_BROKERS=${env.KAFKA_BROKERS}\nSCHEMA_REGISTRY_URL=${env.SCHEMA_REGISTRY_URL}\n`,
  );
  return file;
};

export const up = async (s: StackSettings = stackSettings()): Promise<StackEnv> => {
  mkdirSync(join(s.dir, 'kafka'), { recursive: true });
  mkdirSync(join(s.dir, 'registry'), { recursive: true });
  // Fetch both first (Maven in sequence), then start both at once.
  await ensureKafkaJars(s);
  await ensureRegistryApp(s);
  const services = ['kafka', 'registry'] as const;
  const wasRunning = services.filter((svc) => alive(readPid(s, svc)));
  const started = await Promise.allSettled([startKafka(s), startRegistry(s)]);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    // Leave nothing half-up behind: stop what this call started, then say why.
    const ours = services.filter((svc) => !wasRunning.includes(svc));
    await Promise.all(ours.map((svc) => signalService(svc, 'SIGTERM', s)));
    throw failed.reason;
  }
  const file = writeEnvFile(s);
  say(`up: Kafka ${KAFKA_VERSION} and Apicurio Registry ${APICURIO_VERSION}; settings in ${file}`);
  return stackEnv(s);
};

export const down = async (s: StackSettings = stackSettings()): Promise<void> => {
  await Promise.all([
    signalService('kafka', 'SIGTERM', s),
    signalService('registry', 'SIGTERM', s),
  ]);
  rmSync(join(s.dir, 'kafka', 'data'), { recursive: true, force: true });
  rmSync(join(s.dir, 'env'), { force: true });
  say('down: both stopped; broker data removed');
};

export const status = async (s: StackSettings = stackSettings()) => {
  const rows = await Promise.all(
    (['kafka', 'registry'] as const).map(async (svc) => {
      const pid = readPid(s, svc);
      const running = alive(pid);
      return { service: svc, pid: running ? pid : null, ready: running && (await ready(s, svc)) };
    }),
  );
  return { ...stackEnv(s), services: rows };
};
