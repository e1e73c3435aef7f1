/**
 * docker-compose.yml, resolved by the real `docker compose config` (compose v2;
 * .ci/run builds the plugin when it is missing and sets REQUIRE_DOCKER_COMPOSE=1).
 * Without compose on the machine, the YAML is resolved here instead (merge keys,
 * `${VAR:-default}`), and the test says so. Nothing is built or run here (the image
 * itself is built and run by .ci/docker-smoke). Checked: the five services, a healthcheck on each,
 * start order by health, the Dockerfile's image for the connector, and that each
 * connector service's environment and arguments pass the connector's own
 * configuration parsing and agree with one another (secret, token, API address),
 * and that each process gets more time to stop than its own shutdown deadline
 * (Dockerfile ENV and compose `stop_grace_period` against SHUTDOWN_TIMEOUT_MS), that the
 * project's image is built once (by one service; the others only name it), that Kafka is the
 * version the local stack runs, and that docker-compose.host.yml (CI brings the pair up for real:
 * .ci/compose-up) puts every service and the build on the host network, on 127.0.0.1 and on
 * ports of its own that nothing else here uses.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { parseIngressConfig, parseReconcilerConfig } from '../../src/settings.ts';
import { parseSimulateArgs } from '../../src/simulator/command.ts';
import { KAFKA_VERSION } from '../../tools/stack/stack.ts';
import { KAFKA_IMAGE, REGISTRY_IMAGE } from '../integration/helpers/stack.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FILE = `${ROOT}docker-compose.yml`;
const HOST_FILE = `${ROOT}docker-compose.host.yml`;
/** The image of the three connector services. */
const CONNECTOR_IMAGE = 'webex-cdr-kafka:local';
/** `docker stop` and compose wait this long after SIGTERM before SIGKILL, unless told otherwise. */
const DOCKER_STOP_TIMEOUT_MS = 10_000;
/** A process exits a little after its deadline passes (it logs, closes, flushes): room for that. */
const EXIT_MARGIN_MS = 2_000;

type Service = {
  image?: string;
  build?: string | { context?: string; network?: string };
  ports?: unknown[];
  extra_hosts?: unknown;
  command?: string[];
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  network_mode?: string;
  restart?: string;
  stop_grace_period?: string;
};
type Project = { services: Record<string, Service> };

const withCompose = async (files: string[] = [FILE]): Promise<Project | null> => {
  try {
    const args = ['compose', ...files.flatMap((f) => ['-f', f]), 'config', '--format', 'json'];
    const { stdout } = await run('docker', args, {
      cwd: ROOT,
      env: { ...process.env, WEBHOOK_SECRETS: '' }, // the file's own default
      maxBuffer: 16 * 1024 * 1024,
    });
    return JSON.parse(stdout) as Project;
  } catch (e) {
    if (process.env.REQUIRE_DOCKER_COMPOSE === '1') throw e;
    return null;
  }
};

/** What compose does for this file, without compose: merge keys and `${VAR:-default}`. */
const withoutCompose = (file: string = FILE): Project => {
  const text = readFileSync(file, 'utf8').replace(
    /\$\{(\w+):-([^}]*)\}/g,
    (_, _name: string, fallback: string) => fallback,
  );
  assert.doesNotMatch(text, /\$\{/, 'only the form VAR:-default is interpolated');
  // compose's `!reset`: drop what the base file says (read here as null)
  const reset = ['seq', 'map'].map((collection) => ({
    tag: '!reset',
    collection: collection as 'seq' | 'map',
    resolve: () => null,
  }));
  return parse(text, { merge: true, customTags: reset }) as Project;
};

/** A service's `environment` as a process's environment (unset for null). */
const envOf = (s: Service): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v ?? undefined]));

/** A project's services by name (each asserted to be there) and their environments. */
const servicesOf = (project: Project) => {
  const svc = (name: string): Service => {
    const s = project.services[name];
    assert.ok(s, `service ${name}`);
    return s;
  };
  return { svc, env: (name: string) => envOf(svc(name)) };
};

/** The test that a project resolved (`how`) into the five services of the stack. */
const itResolves = (project: Project, how: string) =>
  it(`resolves (${how})`, () => {
    assert.deepEqual(Object.keys(project.services).sort(), [
      'ingress',
      'kafka',
      'reconciler',
      'schema-registry',
      'simulator',
    ]);
  });

/** A Go duration as compose writes it (`30s`, `1m30s`, `1500ms`), in ms. */
const durationMs = (text: string): number => {
  const units: Record<string, number> = {
    h: 3_600_000,
    m: 60_000,
    s: 1_000,
    ms: 1,
    us: 1e-3,
    ns: 1e-6,
  };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g)];
  assert.equal(parts.map((p) => p[0]).join(''), text, `a duration: ${text}`);
  return parts.reduce(
    (ms, [, n, unit]) => ms + Number(n) * (units[unit as string] ?? Number.NaN),
    0,
  );
};

/** The `ENV` of the Dockerfile's last stage (the image that runs), `KEY=value` form. */
const imageEnv = (): Record<string, string> => {
  const text = readFileSync(`${ROOT}Dockerfile`, 'utf8').replace(/\\\n/g, ' ');
  const stages = text.split(/^FROM\s/m);
  const env: Record<string, string> = {};
  for (const line of (stages.at(-1) ?? '').split('\n')) {
    const m = /^ENV\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    for (const pair of (m[1] ?? '').trim().split(/\s+/)) {
      const [k, ...v] = pair.split('=');
      assert.ok(k && v.length > 0, `ENV in KEY=value form: ${line}`);
      env[k] = v.join('=');
    }
  }
  return env;
};

/** The first port the kernel may hand an outgoing connection (32768 where it cannot be read). */
function ephemeralStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
  } catch {
    return 32768;
  }
}

describe('stop grace: every process gets more time to stop than its own deadline', () => {
  const required = {
    KAFKA_BROKERS: 'kafka:9092',
    SCHEMA_REGISTRY_URL: 'http://schema-registry:8081',
    CDR_FEED: 'analytics',
  };
  /** SHUTDOWN_TIMEOUT_MS as the process parses it (with its one required secret added). */
  const deadlineOf = (command: string | undefined, env: NodeJS.ProcessEnv): number | undefined => {
    const parsed =
      command === 'ingress'
        ? parseIngressConfig({ WEBHOOK_SECRETS: 's', ...env })
        : command === 'reconcile'
          ? parseReconcilerConfig({ WEBEX_ACCESS_TOKEN: 't', ...env })
          : undefined;
    if (parsed === undefined) return undefined;
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('; '));
    return parsed.config.shutdownTimeoutMs;
  };

  it('the image: plain `docker run` / `docker stop` (10 s) outlasts the default deadline', () => {
    for (const command of ['ingress', 'reconcile']) {
      const deadline = deadlineOf(command, { ...required, ...imageEnv() });
      assert.ok(deadline !== undefined);
      assert.ok(
        deadline + EXIT_MARGIN_MS <= DOCKER_STOP_TIMEOUT_MS,
        `${command}: the image's SHUTDOWN_TIMEOUT_MS ${deadline} ms + ${EXIT_MARGIN_MS} ms must fit in docker stop's ${DOCKER_STOP_TIMEOUT_MS} ms`,
      );
    }
  });

  it('docker-compose.yml: the stop_grace_period of each service exceeds its SHUTDOWN_TIMEOUT_MS', async () => {
    const project = (await withCompose()) ?? withoutCompose();
    let checked = 0;
    for (const [name, s] of Object.entries(project.services)) {
      if (s.image !== CONNECTOR_IMAGE) continue;
      const deadline = deadlineOf(s.command?.[0], { ...required, ...imageEnv(), ...envOf(s) });
      if (deadline === undefined) continue; // `simulate` stops at once, with no deadline of its own
      const grace =
        s.stop_grace_period === undefined
          ? DOCKER_STOP_TIMEOUT_MS
          : durationMs(s.stop_grace_period);
      assert.ok(
        grace >= deadline + EXIT_MARGIN_MS,
        `${name}: stop_grace_period ${grace} ms must exceed SHUTDOWN_TIMEOUT_MS ${deadline} ms by ${EXIT_MARGIN_MS} ms`,
      );
      checked++;
    }
    assert.equal(checked, 2, 'the ingress and the reconciler');
  });
});

describe('docker-compose.yml', async () => {
  const resolved = await withCompose();
  const project = resolved ?? withoutCompose();
  const { svc, env } = servicesOf(project);

  itResolves(
    project,
    resolved ? 'by docker compose config' : 'by parsing: docker compose is not installed',
  );

  it('every service has a healthcheck, and starts after what it needs is healthy', () => {
    for (const [name, s] of Object.entries(project.services)) {
      assert.ok(s.healthcheck?.test?.length, `${name} has a healthcheck`);
      for (const [dep, d] of Object.entries(s.depends_on ?? {})) {
        assert.equal(d.condition, 'service_healthy', `${name} waits for ${dep} to be healthy`);
      }
    }
    assert.deepEqual(Object.keys(svc('ingress').depends_on ?? {}).sort(), [
      'kafka',
      'schema-registry',
    ]);
    assert.ok(svc('simulator').depends_on?.ingress);
    assert.ok(svc('reconciler').depends_on?.simulator);
    assert.match(svc('kafka').image ?? '', /^apache\/kafka:/);
    assert.match(svc('schema-registry').image ?? '', /^confluentinc\/cp-schema-registry:/);
    for (const name of ['ingress', 'reconciler', 'simulator']) {
      assert.equal(svc(name).image, CONNECTOR_IMAGE);
    }
  });

  it('builds the project image once: one service builds it, the others only name it', () => {
    const builders = Object.entries(project.services).filter(([, s]) => s.build !== undefined);
    assert.deepEqual(
      builders.map(([name]) => name),
      ['ingress'],
      'only the ingress has build: (compose builds a build: once per service)',
    );
    assert.equal(svc('ingress').image, CONNECTOR_IMAGE);
  });

  it(`runs the Kafka version the local stack runs (${KAFKA_VERSION})`, () => {
    assert.equal(svc('kafka').image, `apache/kafka:${KAFKA_VERSION}`);
  });

  it('runs the images TEST_STACK=testcontainers runs (one set of stand-ins in CI)', () => {
    assert.equal(svc('kafka').image, KAFKA_IMAGE);
    assert.equal(svc('schema-registry').image, REGISTRY_IMAGE);
  });

  it('the ingress environment is a valid ingress configuration', () => {
    assert.deepEqual(svc('ingress').command, ['ingress']);
    const parsed = parseIngressConfig(env('ingress'));
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('; '));
    assert.deepEqual(parsed.config.brokers, ['kafka:9092']);
  });

  it('the stand-in posts to the ingress with its secret, and serves the API the reconciler asks', () => {
    const [cmd, ...args] = svc('simulator').command ?? [];
    assert.equal(cmd, 'simulate');
    const sim = parseSimulateArgs(args);
    assert.ok(sim.ok && !sim.help, sim.ok ? '' : sim.problems.join('; '));
    const ingress = parseIngressConfig(env('ingress'));
    assert.ok(ingress.ok);
    assert.equal(sim.settings.url, `http://ingress:${ingress.config.port}${ingress.config.path}`);
    assert.ok(ingress.config.secrets.includes(sim.settings.secret ?? ''));

    const reconciler = svc('reconciler');
    assert.deepEqual(reconciler.command, ['reconcile']);
    // The stand-in's API listens on 127.0.0.1: the reconciler shares its network namespace.
    assert.match(reconciler.network_mode ?? '', /^service:simulator$/);
    const parsed = parseReconcilerConfig(env('reconciler'));
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('; '));
    assert.equal(
      env('reconciler').WEBEX_API_BASE_URL,
      `http://127.0.0.1:${sim.settings['api-port']}`,
    );
    assert.equal(env('reconciler').WEBEX_ACCESS_TOKEN, sim.settings['api-token']);
    assert.ok(parsed.config.port, 'RECONCILER_PORT is set, so the healthcheck has a port to ask');
    assert.ok(
      reconciler.healthcheck?.test.join(' ').includes(`127.0.0.1:${parsed.config.port}/readyz`),
    );
  });
});

/** docker-compose.host.yml over docker-compose.yml as compose merges them, without compose:
 * mappings (environment, healthcheck, build) key by key, everything else replaced. */
const mergeWithoutCompose = (): Project => {
  const base = withoutCompose(FILE);
  const over = withoutCompose(HOST_FILE);
  const services: Record<string, Service> = {};
  for (const [name, b] of Object.entries(base.services)) {
    const o = over.services[name] ?? {};
    const build = (x: Service['build']) => (typeof x === 'string' ? { context: x } : x);
    services[name] = {
      ...b,
      ...o,
      environment: { ...b.environment, ...o.environment },
      ...(b.healthcheck || o.healthcheck
        ? { healthcheck: { ...b.healthcheck, ...o.healthcheck } as { test: string[] } }
        : {}),
      ...(b.build || o.build ? { build: { ...build(b.build), ...build(o.build) } } : {}),
      ...(o.ports === null ? { ports: [] } : {}),
    };
  }
  return { services };
};

describe('docker-compose.host.yml: the host-network override CI brings up', async () => {
  const resolved = await withCompose([FILE, HOST_FILE]);
  const project = resolved ?? mergeWithoutCompose();
  const { svc, env } = servicesOf(project);
  /** Every port a service listens on, as host:port (on the host network they are host ports). */
  const listening = (): Record<string, string[]> => {
    const kafka = (env('kafka').KAFKA_LISTENERS ?? '').split(',').map((l) => l.split('://')[1]);
    const registry = (env('schema-registry').SCHEMA_REGISTRY_LISTENERS ?? '').split('://')[1];
    const ingress = parseIngressConfig(env('ingress'));
    const reconciler = parseReconcilerConfig(env('reconciler'));
    const [, ...args] = svc('simulator').command ?? [];
    const sim = parseSimulateArgs(args);
    assert.ok(ingress.ok && reconciler.ok && sim.ok && !sim.help);
    return {
      kafka: kafka.map((a) => a ?? ''),
      'schema-registry': [registry ?? ''],
      ingress: [`${ingress.config.host}:${ingress.config.port}`],
      simulator: [`127.0.0.1:${sim.settings['api-port']}`],
      reconciler: [`${reconciler.config.host}:${reconciler.config.port}`],
    };
  };

  itResolves(
    project,
    resolved ? 'by docker compose config' : 'by merging here: docker compose is not installed',
  );

  it('every service and the build on the host network, no published port, no extra_hosts', () => {
    for (const [name, s] of Object.entries(project.services)) {
      assert.equal(s.network_mode, 'host', `${name}: network_mode host`);
      assert.deepEqual(s.ports ?? [], [], `${name}: no ports (every port is a host port)`);
      // Docker 20.10 writes /etc/hosts without the host name then: Kafka's listeners die.
      assert.equal(s.extra_hosts, undefined, `${name}: no extra_hosts`);
    }
    const build = svc('ingress').build;
    assert.ok(
      typeof build === 'object' && build.network === 'host',
      'the build on the host network',
    );
  });

  // Below the kernel's ephemeral range (32768-60999 by default): a port in it can be
  // held at any moment by an outgoing connection's local end, and a listener then
  // fails with EADDRINUSE (CI met that on 37190).
  it('everything listens on 127.0.0.1, on distinct ports 27100-27199 (clear of the stack, of CI and of the ephemeral range)', () => {
    const all = Object.values(listening()).flat();
    for (const a of all) {
      const m = /^127\.0\.0\.1:(\d+)$/.exec(a);
      assert.ok(m, `${a} is on 127.0.0.1`);
      const port = Number(m[1]);
      assert.ok(port >= 27100 && port <= 27199, `${a}: a port of 27100-27199`);
      assert.ok(port < ephemeralStart(), `${a}: below the ephemeral range`);
    }
    assert.equal(new Set(all).size, all.length, `distinct: ${all.join(' ')}`);
  });

  it('each address a service is given is where the other listens', () => {
    const at = listening();
    const kafka = env('kafka');
    const advertised = (kafka.KAFKA_ADVERTISED_LISTENERS ?? '').replace(/^PLAINTEXT:\/\//, '');
    assert.ok(at.kafka?.includes(advertised), `advertised ${advertised}`);
    assert.equal(kafka.KAFKA_CONTROLLER_QUORUM_VOTERS, `1@${at.kafka?.[1]}`);
    assert.ok(
      svc('kafka').healthcheck?.test.join(' ').includes(`--bootstrap-server ${advertised}`),
    );
    const registry = at['schema-registry']?.[0];
    assert.ok(svc('schema-registry').healthcheck?.test.join(' ').includes(`http://${registry}/`));
    for (const name of ['ingress', 'simulator', 'reconciler']) {
      assert.equal(env(name).KAFKA_BROKERS, advertised, `${name}: KAFKA_BROKERS`);
      // CI's stand-in registry (Apicurio) has its Confluent-compatible API under /apis/ccompat/v7.
      assert.equal(
        env(name).SCHEMA_REGISTRY_URL,
        `http://${registry}/apis/ccompat/v7`,
        `${name}: SCHEMA_REGISTRY_URL`,
      );
    }
    const ingress = parseIngressConfig(env('ingress'));
    assert.ok(ingress.ok);
    const [, ...args] = svc('simulator').command ?? [];
    const sim = parseSimulateArgs(args);
    assert.ok(sim.ok && !sim.help);
    assert.equal(sim.settings.url, `http://${at.ingress?.[0]}${ingress.config.path}`);
    assert.equal(env('reconciler').WEBEX_API_BASE_URL, `http://${at.simulator?.[0]}`);
    for (const name of ['ingress', 'simulator', 'reconciler']) {
      const [addr] = at[name] ?? [];
      assert.ok(svc(name).healthcheck?.test.join(' ').includes(`http://${addr}/`), name);
    }
  });
});
