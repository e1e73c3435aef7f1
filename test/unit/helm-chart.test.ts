/**
 * The Helm chart (deploy/helm/webex-cdr-kafka, docs/operations.md "On Kubernetes") against the code: every
 * setting the code reads from a file (`*_FILE`, from src/settings.ts) has a Secret entry, is
 * mounted from the Secret and pointed to in each process that reads it (and only there); the
 * rendered environment passes the connector's own configuration parsing; each pod's
 * terminationGracePeriodSeconds exceeds its rendered SHUTDOWN_TIMEOUT_MS plus its preStop
 * sleep; the probes' paths answer in the code's own apps on the port the process listens on;
 * the reconciler is one replica, Recreate, or a CronJob whose failure policy follows the exit
 * codes of `reconcile --once`; misconfigurations are refused by `helm template`.
 *
 * The rendered checks need helm (`HELM`, else `helm` on PATH): .ci/k8s-check builds it and
 * sets REQUIRE_HELM=1, which makes its absence a failure. Without helm, only the checks on
 * the chart's files run, and their names say so.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { createApp } from '../../src/ingress/app.ts';
import { EXIT_CODES } from '../../src/reconciler/command.ts';
import { createReconcilerApp } from '../../src/reconciler/http.ts';
import {
  checkConfig,
  parseIngressConfig,
  parseReconcilerConfig,
  SETTINGS,
} from '../../src/settings.ts';
import { IDLE_RECONCILER } from '../helpers/fixtures.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHART = join(ROOT, 'deploy/helm/webex-cdr-kafka');
const HELM = process.env.HELM ?? 'helm';
/** The Kubernetes version the chart is rendered for (.ci/k8s-check validates against its schemas). */
const KUBERNETES_VERSION =
  process.env.KUBERNETES_VERSION ??
  (/^KUBERNETES_VERSION=(\S+)$/m.exec(
    readFileSync(join(ROOT, '.ci/k8s-check'), 'utf8'),
  )?.[1] as string);
const HAVE_HELM = spawnSync(HELM, ['version', '--short'], { encoding: 'utf8' }).status === 0;
if (!HAVE_HELM && process.env.REQUIRE_HELM === '1') {
  throw new Error(`REQUIRE_HELM=1 but ${HELM} does not run (.ci/k8s-check builds it)`);
}
/** A process exits a little after its deadline passes (it logs, closes, flushes): room for that. */
const EXIT_MARGIN_SECONDS = 2;
/** `reconcile --once` exits 2 on bad configuration (src/reconciler/command.ts, docs/reconciliation.md). */
const EXIT_CONFIG = 2;

type EnvVar = { name: string; value?: string };
type Mount = { name: string; mountPath: string; readOnly?: boolean };
type Probe = { httpGet: { path: string; port: string | number } };
type Container = {
  name: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  securityContext?: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: Mount[];
};
type Volume = {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  persistentVolumeClaim?: { claimName: string };
  emptyDir?: object;
};
type PodSpec = {
  terminationGracePeriodSeconds?: number;
  enableServiceLinks?: boolean;
  restartPolicy?: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; fsGroup?: number };
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
};
type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests of many kinds, read field by field
  spec?: any;
  data?: Record<string, string>;
};

const render = (args: string[] = []) =>
  spawnSync(
    HELM,
    [
      'template',
      'ci',
      CHART,
      '--namespace',
      'webex-cdr',
      '--kube-version',
      KUBERNETES_VERSION,
      ...args,
    ],
    {
      encoding: 'utf8',
    },
  );
const manifests = (args: string[] = []): Manifest[] => {
  const r = render(args);
  assert.equal(r.status, 0, r.stderr);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
};
const find = (ms: Manifest[], kind: string, component?: string) =>
  ms.filter(
    (m) =>
      m.kind === kind &&
      (component === undefined || m.metadata.labels?.['app.kubernetes.io/component'] === component),
  );
const one = (ms: Manifest[], kind: string, component?: string): Manifest => {
  const found = find(ms, kind, component);
  assert.equal(found.length, 1, `one ${kind} ${component ?? ''}`);
  return found[0] as Manifest;
};
const podOf = (m: Manifest): PodSpec =>
  m.kind === 'CronJob' ? m.spec.jobTemplate.spec.template.spec : m.spec.template.spec;
/** The pods of a rendering by process: the ingress Deployment, the reconciler's Deployment or CronJob. */
const pods = (ms: Manifest[]) =>
  ms
    .filter((m) => m.kind === 'Deployment' || m.kind === 'CronJob')
    .map((m) => ({
      process: m.metadata.labels?.['app.kubernetes.io/component'] as 'ingress' | 'reconciler',
      manifest: m,
      pod: podOf(m),
    }));
const envOf = (c: Container): Record<string, string> =>
  Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? '']));
const containerOf = (pod: PodSpec, name: string): Container => {
  const c = pod.containers.find((x) => x.name === name);
  assert.ok(c, `container ${name}`);
  return c;
};

/** The settings each process reads, from the code (`config check` lists them in schema order). */
const readBy = {
  ingress: new Set(checkConfig('ingress', {}).settings.map((s) => s.name)),
  reconciler: new Set(checkConfig('reconcile', {}).settings.map((s) => s.name)),
};
/** Every setting the code takes as a file path, and the secret it holds (the Secret's key). */
const FILE_SETTINGS = SETTINGS.filter((n) => n.endsWith('_FILE') && n !== 'CONFIG_FILE');
const secretOf = (fileSetting: string) => fileSetting.replace(/_FILE$/, '');
/** Whether a process reads a file setting: the setting itself, or the value it stands for. */
const reads = (process: 'ingress' | 'reconciler', fileSetting: string) =>
  readBy[process].has(fileSetting) || readBy[process].has(secretOf(fileSetting));

const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as {
  secrets: { values: Record<string, string> };
};

describe(`Helm chart: its files against the code${HAVE_HELM ? '' : ' (helm not installed: the rendered chart is checked by .ci/k8s-check)'}`, () => {
  it('.ci/run calls .ci/k8s-check, which lints, renders, validates and runs this file with helm required', () => {
    const run = readFileSync(join(ROOT, '.ci/run'), 'utf8').split('\n');
    const test = run.findIndex((l) => l.trim() === 'npm test');
    const check = run.findIndex((l) => l.trim() === '.ci/k8s-check');
    assert.ok(test >= 0 && check > test, '.ci/k8s-check after npm test');
    const script = readFileSync(join(ROOT, '.ci/k8s-check'), 'utf8');
    assert.match(script, /"\$HELM" lint --strict .*"\$CHART"$/m);
    assert.match(script, /"\$KUBECONFORM" -strict /);
    assert.doesNotMatch(script, /-ignore-missing-schemas|-skip /, 'every kind has a schema');
    assert.match(script, /REQUIRE_HELM=1 node .*\n\s*test\/unit\/helm-chart\.test\.ts/);
  });

  it('values.yaml has a secrets.values entry for every *_FILE setting of src/settings.ts', () => {
    assert.ok(FILE_SETTINGS.length >= 13, FILE_SETTINGS.join(', '));
    assert.deepEqual(
      Object.keys(values.secrets.values).sort(),
      FILE_SETTINGS.map(secretOf).sort(),
      'secrets.values keys = the *_FILE settings without _FILE (CONFIG_FILE is no secret)',
    );
  });

  it("Chart.yaml's appVersion is package.json's version (the image tag by default)", () => {
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(chart.appVersion, pkg.version);
  });

  it("the templates' probe paths answer in the code's apps (ingress and reconciler)", async () => {
    const text = readdirSync(join(CHART, 'templates'))
      .map((f) => readFileSync(join(CHART, 'templates', f), 'utf8'))
      .join('\n');
    const paths = new Set([...text.matchAll(/path: (\/[a-z]+)$/gm)].map((m) => m[1] as string));
    assert.deepEqual([...paths].sort(), ['/healthz', '/metrics', '/readyz']);
    for (const path of paths) {
      assert.notEqual((await ingressApp().request(path)).status, 404, `ingress ${path}`);
      assert.notEqual((await reconcilerApp().request(path)).status, 404, `reconciler ${path}`);
    }
  });
});

const INGRESS_ENV = {
  KAFKA_BROKERS: 'kafka:9092',
  SCHEMA_REGISTRY_URL: 'http://registry:8081',
  CDR_FEED: 'analytics',
  WEBHOOK_SECRETS: 's',
};
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const ingressApp = (env: NodeJS.ProcessEnv = INGRESS_ENV) => {
  const parsed = parseIngressConfig(env);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('; '));
  return createApp({
    settings: parsed.config,
    logger: silent,
    readiness: () => ({ ready: false, checks: { producer: false } }),
    publish: async () => ({ accepted: 0, deadLettered: 0, duplicatesInBatch: 0 }),
  });
};
const reconcilerApp = () => createReconcilerApp(() => IDLE_RECONCILER);

const ALL = ['-f', join(CHART, 'ci/all-options-values.yaml')];
const CRONJOB = ['-f', join(CHART, 'ci/cronjob-values.yaml')];
const RENDERINGS: [string, string[]][] = [
  ['default values', []],
  ['every option (ci/all-options-values.yaml)', ALL],
  ['the reconciler as a CronJob (ci/cronjob-values.yaml)', CRONJOB],
  ['a 90 s deadline (--set shutdownTimeoutMs=90000)', ['--set', 'shutdownTimeoutMs=90000']],
];

const tmp = mkdtempSync(join(tmpdir(), 'helm-chart-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * The process's environment as the pod would have it: each `*_FILE` path replaced by a file
 * here holding what the pod would find there (the Secret's value, or the seeded token store).
 */
const podEnv = (ms: Manifest[], container: Container, name: string) => {
  const env: Record<string, string> = envOf(container);
  const secret = find(ms, 'Secret')[0];
  for (const setting of FILE_SETTINGS) {
    const path = env[setting];
    if (path === undefined) continue;
    const key = path.split('/').at(-1) as string;
    const encoded = secret?.data?.[key];
    assert.ok(encoded, `${setting}: ${key} in the chart's Secret`);
    const dir = mkdtempSync(join(tmp, `${name}-`));
    const file = join(dir, key);
    writeFileSync(file, Buffer.from(encoded, 'base64'));
    env[setting] = file;
  }
  return env;
};

/** Without helm these are not registered (the name of the block above says so). */
const RENDERED = HAVE_HELM ? describe : () => undefined;

RENDERED('Helm chart rendered by helm template', () => {
  it('default values: the ingress Deployment, Service, HPA and PDB, the reconciler Deployment and Service', () => {
    const ms = manifests();
    assert.deepEqual(
      ms.map((m) => `${m.kind}/${m.metadata.labels?.['app.kubernetes.io/component'] ?? ''}`).sort(),
      [
        'Deployment/ingress',
        'Deployment/reconciler',
        'HorizontalPodAutoscaler/ingress',
        'PodDisruptionBudget/ingress',
        'Service/ingress',
        'Service/reconciler',
        'ServiceAccount/',
      ],
    );
    const hpa = one(ms, 'HorizontalPodAutoscaler');
    const deployment = one(ms, 'Deployment', 'ingress');
    assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
    assert.equal(deployment.spec.replicas, undefined, 'the HPA owns the replica count');
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    for (const [k, v] of Object.entries(one(ms, 'PodDisruptionBudget').spec.selector.matchLabels)) {
      assert.equal(labels[k], v, `the PDB selects the ingress pods (${k})`);
    }
  });

  for (const [what, args] of RENDERINGS) {
    it(`${what}: every pod's terminationGracePeriodSeconds exceeds SHUTDOWN_TIMEOUT_MS + preStop + ${EXIT_MARGIN_SECONDS} s`, () => {
      const all = pods(manifests(args));
      assert.ok(all.length >= 2);
      for (const { process, pod } of all) {
        const c = containerOf(pod, process);
        const deadline = Number(envOf(c).SHUTDOWN_TIMEOUT_MS);
        assert.ok(deadline >= 100, `${process}: SHUTDOWN_TIMEOUT_MS rendered (${deadline})`);
        const sleep = c.lifecycle?.preStop?.exec?.command;
        const preStop = sleep === undefined ? 0 : Number(sleep.at(-1));
        assert.ok(sleep === undefined || sleep[0] === 'sleep', 'the only preStop hook is a sleep');
        const grace = pod.terminationGracePeriodSeconds ?? 30;
        assert.ok(
          grace * 1000 >= deadline + (preStop + EXIT_MARGIN_SECONDS) * 1000,
          `${process}: grace ${grace} s, deadline ${deadline} ms, preStop ${preStop} s`,
        );
      }
    });
  }

  it('a grace period shorter than the deadline is refused, naming both', () => {
    for (const process of ['ingress', 'reconciler']) {
      const r = render(['--set', `${process}.terminationGracePeriodSeconds=20`]);
      assert.notEqual(r.status, 0);
      assert.match(
        r.stderr,
        new RegExp(`${process}.terminationGracePeriodSeconds: 20 is too short`),
      );
      assert.match(r.stderr, /SHUTDOWN_TIMEOUT_MS \(shutdownTimeoutMs 25000\)/);
    }
  });

  it('every *_FILE setting of the code is mounted from the Secret in each process that reads it, and only there', () => {
    // Every option, plus the registry token (refused with a password by the connector, so unset there).
    const ms = manifests([...ALL, '--set', 'secrets.values.SCHEMA_REGISTRY_TOKEN=ci-token']);
    const secret = one(ms, 'Secret');
    for (const { process, pod } of pods(ms)) {
      const c = containerOf(pod, process);
      const env = envOf(c);
      for (const setting of FILE_SETTINGS) {
        if (!reads(process, setting)) {
          assert.equal(env[setting], undefined, `${process} does not read ${setting}`);
          continue;
        }
        const path = env[setting];
        assert.ok(path, `${process}: ${setting} set`);
        const key = secretOf(setting);
        assert.ok(secret.data?.[key], `the Secret holds ${key}`);
        const dir = path.slice(0, path.lastIndexOf('/'));
        const mount = c.volumeMounts?.find((m) => m.mountPath === dir);
        assert.ok(mount, `${process}: ${dir} mounted`);
        const volume = pod.volumes?.find((v) => v.name === mount.name);
        if (setting === 'WEBEX_REFRESH_TOKEN_FILE') {
          // Written back on rotation: a writable volume, seeded from the Secret.
          assert.notEqual(mount.readOnly, true);
          assert.ok(volume?.persistentVolumeClaim, 'the token store outlives the pod');
          const seed = pod.initContainers?.find((i) => i.name === 'seed-refresh-token');
          assert.ok(seed?.command?.includes(`/etc/webex-cdr-kafka/secrets/${key}`));
          assert.ok(seed?.command?.includes(dir));
        } else {
          assert.equal(mount.readOnly, true);
          assert.equal(volume?.secret?.secretName, secret.metadata.name);
          assert.ok(volume.secret.items?.some((i) => i.key === key && path.endsWith(`/${i.path}`)));
        }
      }
      const keys = pod.volumes?.find((v) => v.secret)?.secret?.items?.map((i) => i.key) ?? [];
      for (const key of keys) {
        assert.ok(
          reads(process, `${key}_FILE`),
          `${process} gets only the secrets it reads (${key})`,
        );
      }
    }
  });

  it('an existing Secret: its listed keys are mounted and pointed to, no Secret is made', () => {
    const ms = manifests(CRONJOB);
    assert.equal(find(ms, 'Secret').length, 0);
    const ingress = podOf(one(ms, 'Deployment', 'ingress'));
    assert.deepEqual(ingress.volumes?.find((v) => v.name === 'secrets')?.secret, {
      secretName: 'webex-cdr-secrets',
      defaultMode: 0o440,
      items: [
        { key: 'PRIVACY_HASH_KEY', path: 'PRIVACY_HASH_KEY' },
        { key: 'WEBHOOK_SECRETS', path: 'WEBHOOK_SECRETS' },
      ],
    });
    const env = envOf(containerOf(ingress, 'ingress'));
    assert.equal(env.WEBHOOK_SECRETS_FILE, '/etc/webex-cdr-kafka/secrets/WEBHOOK_SECRETS');
    const reconciler = podOf(one(ms, 'CronJob'));
    const renv = envOf(containerOf(reconciler, 'reconciler'));
    assert.equal(
      renv.WEBEX_REFRESH_TOKEN_FILE,
      '/var/lib/webex-cdr-kafka/token/WEBEX_REFRESH_TOKEN',
    );
    assert.equal(renv.WEBHOOK_SECRETS_FILE, undefined);
    assert.deepEqual(
      reconciler.volumes?.find((v) => v.name === 'token-store')?.persistentVolumeClaim,
      { claimName: 'webex-cdr-token' },
    );
    assert.equal(find(ms, 'PersistentVolumeClaim').length, 0, 'the existing claim is used');
  });

  it("the rendered environment passes the connector's own configuration parsing", async () => {
    const ms = manifests(ALL);
    const ingress = podOf(one(ms, 'Deployment', 'ingress'));
    const ic = containerOf(ingress, 'ingress');
    const parsed = parseIngressConfig(podEnv(ms, ic, 'ingress'));
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('\n'));
    assert.deepEqual(parsed.config.secrets, ['ci-webhook-secret', 'ci-previous-secret']);
    assert.equal(parsed.config.shutdownTimeoutMs, 40_000);
    assert.equal(parsed.config.host, '0.0.0.0');
    assert.equal(parsed.config.sasl?.password, 'ci-sasl-password');
    const reconciler = podOf(one(ms, 'Deployment', 'reconciler'));
    const rc = containerOf(reconciler, 'reconciler');
    const renv = podEnv(ms, rc, 'reconciler');
    const rparsed = parseReconcilerConfig(renv);
    assert.ok(rparsed.ok, rparsed.ok ? '' : rparsed.problems.join('\n'));
    assert.equal(rparsed.config.webex.auth.kind, 'oauth');
    assert.equal(rparsed.config.port, 9465);
    assert.equal(rparsed.config.host, '0.0.0.0');
    // Default values: only the webhook secret is missing, and the app says so at start.
    const d = manifests();
    const dparsed = parseIngressConfig(
      envOf(containerOf(podOf(one(d, 'Deployment', 'ingress')), 'ingress')),
    );
    assert.equal(dparsed.ok, false);
    assert.deepEqual(dparsed.ok ? [] : dparsed.problems.map((p) => p.split(':')[0]), [
      'WEBHOOK_SECRETS',
    ]);
  });

  it('the probes ask /readyz and /healthz on the port the process listens on, and the code answers there', async () => {
    for (const args of [[], ALL]) {
      const ms = manifests(args);
      for (const { process, pod } of pods(ms).filter((p) => p.manifest.kind === 'Deployment')) {
        const c = containerOf(pod, process);
        const env = envOf(c);
        const listens = Number(process === 'ingress' ? env.PORT : env.RECONCILER_PORT);
        for (const [probe, path] of [
          [c.readinessProbe, '/readyz'],
          [c.livenessProbe, '/healthz'],
        ] as const) {
          assert.equal(probe?.httpGet.path, path, `${process} ${path}`);
          const port = c.ports?.find((p) => p.name === probe?.httpGet.port);
          assert.equal(
            port?.containerPort,
            listens,
            `${process}: the probe's port is where it listens`,
          );
        }
        const service = one(ms, 'Service', process);
        const target = service.spec.ports[0].targetPort;
        assert.ok(
          c.ports?.some((p) => p.name === target),
          `${process}: the Service's targetPort`,
        );
        const app =
          process === 'ingress' ? ingressApp({ ...INGRESS_ENV, PORT: env.PORT }) : reconcilerApp();
        assert.equal((await app.request('/healthz')).status, 200);
        assert.ok([200, 503].includes((await app.request('/readyz')).status));
      }
    }
  });

  it('the reconciler: one replica, Recreate; or a CronJob of `reconcile --once` whose failure policy follows its exit codes', () => {
    const d = one(manifests(), 'Deployment', 'reconciler');
    assert.equal(d.spec.replicas, 1);
    assert.equal(d.spec.strategy.type, 'Recreate');
    assert.deepEqual(containerOf(podOf(d), 'reconciler').args, ['reconcile']);
    const ms = manifests(CRONJOB);
    assert.equal(find(ms, 'Deployment', 'reconciler').length, 0);
    assert.equal(find(ms, 'Service', 'reconciler').length, 0);
    const cron = one(ms, 'CronJob');
    assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
    const job = cron.spec.jobTemplate.spec;
    assert.equal(job.template.spec.restartPolicy, 'Never');
    assert.deepEqual(containerOf(podOf(cron), 'reconciler').args, [
      'reconcile',
      '--once',
      '--from',
      '-36h',
      '--to',
      '-30m',
    ]);
    const failJob = job.podFailurePolicy.rules.find(
      (r: { action: string }) => r.action === 'FailJob',
    );
    assert.deepEqual(failJob.onExitCodes.values, [EXIT_CODES.missing, EXIT_CONFIG]);
    assert.ok(!failJob.onExitCodes.values.includes(EXIT_CODES.failed), 'exit 3 is retried');
    assert.equal(EXIT_CODES.complete, 0);
    assert.ok(job.backoffLimit >= 1);
  });

  it('pods run as the image user with a read-only root filesystem, /tmp writable, no service links', () => {
    const uid = /useradd --uid (\d+)/.exec(
      readFileSync(join(ROOT, '.ci/docker/node.Dockerfile'), 'utf8'),
    );
    assert.match(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'), /^USER node$/m);
    for (const args of [[], ALL, CRONJOB]) {
      for (const { process, pod } of pods(manifests(args))) {
        assert.equal(pod.securityContext?.runAsNonRoot, true);
        assert.equal(pod.securityContext?.runAsUser, Number(uid?.[1]));
        assert.equal(pod.enableServiceLinks, false, `${process}: service links would be refused`);
        for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
          assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
          assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
          assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
        }
        const tmpMount = containerOf(pod, process).volumeMounts?.find(
          (m) => m.mountPath === '/tmp',
        );
        assert.ok(
          pod.volumes?.find((v) => v.name === tmpMount?.name)?.emptyDir,
          `${process}: /tmp`,
        );
      }
    }
  });

  it('the ServiceMonitor (off by default) scrapes /metrics on ports the Services have', () => {
    assert.equal(find(manifests(), 'ServiceMonitor').length, 0);
    const ms = manifests(ALL);
    const monitor = one(ms, 'ServiceMonitor');
    const ports = find(ms, 'Service').flatMap((s) =>
      s.spec.ports.map((p: { name: string }) => p.name),
    );
    for (const e of monitor.spec.endpoints) {
      assert.equal(e.path, '/metrics');
      assert.ok(ports.includes(e.port), e.port);
    }
    assert.equal(monitor.spec.endpoints.length, 2);
  });

  it('misconfigurations are refused by helm template, with the value to use', () => {
    const refused: [string[], RegExp][] = [
      [
        ['--set', 'config.KAFKA_SASL_PASSWORD=x'],
        /KAFKA_SASL_PASSWORD: a secret setting: give it in secrets.values/,
      ],
      [['--set', 'ingress.env.WEBHOOK_SECRETS_FILE=/x'], /WEBHOOK_SECRETS_FILE: a secret setting/],
      [
        ['--set', 'config.SHUTDOWN_TIMEOUT_MS=1000'],
        /SHUTDOWN_TIMEOUT_MS: set by the chart from shutdownTimeoutMs/,
      ],
      [
        ['--set', 'reconciler.env.RECONCILER_PORT=1'],
        /RECONCILER_PORT: set by the chart from reconciler.port/,
      ],
      [['--set', 'secrets.values.WEBHOOK_SECRET=x'], /WEBHOOK_SECRET is not a secret setting/],
      [
        ['--set', 'secrets.existingSecret=s', '--set', 'secrets.values.WEBHOOK_SECRETS=x'],
        /secrets.values.WEBHOOK_SECRETS: set, but secrets.existingSecret/,
      ],
      [
        ['--set', 'ingress.autoscaling.enabled=false', '--set', 'ingress.replicas=1'],
        /would block every eviction/,
      ],
      [['--set', 'reconciler.mode=daemon'], /reconciler.mode: deployment or cronjob/],
      [['--set', 'shutdownTimeoutMs=50'], /shutdownTimeoutMs: at least 100/],
    ];
    for (const [args, message] of refused) {
      const r = render(args);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stderr, message);
    }
  });
});
