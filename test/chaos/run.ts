/**
 * `npm run test:chaos [-- --profile quick|full] [-- --faults none]` (or
 * CHAOS_PROFILE, CHAOS_FAULTS): the ledger checker. A driver POSTs signed
 * deliveries of the Webex stand-in's plan, repeated deliveries included,
 * through two real ingress processes (DEDUP on, the default), taking turns
 * attempt by attempt; faults are injected while it runs (broker SIGKILL and
 * SIGSTOP, registry SIGKILL, SIGKILL of one ingress, a client-side blackhole;
 * in the full profile the partition leader is chased on a three-node
 * cluster); after healing, a reconciler process is SIGKILLed mid-run and run
 * again against the stand-in's partner API; then the topic is read from the
 * beginning. Prints the table and exits 1 unless:
 *   lost = 0, unseen = 0, every duplicate identical and explained (ledger.ts),
 *   no phantom, no request header in Kafka, no secret/signature/token in any
 *   log, 0 unhandled rejections or crashes, every answer within the ingress's
 *   deadline + 2 s.
 * With `--faults none` nothing is injected (the reconciler runs once, not
 * killed), and the topic must hold no duplicate at all.
 * CHAOS_MINUTES shortens or lengthens the load; CHAOS_PORT_BASE moves the ports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { listen } from '../../src/listen.ts';
import { createPartnerApi } from '../../src/simulator/partner-api.ts';
import { createWebexWorld } from '../../src/simulator/world.ts';
import {
  portOpen,
  signalService,
  stackEnv,
  stackSettings,
  startRegistry,
} from '../../tools/stack/stack.ts';
import { readTopic, uniqueTopic } from '../integration/helpers/kafka.ts';
import { freePort, waitReady } from '../integration/helpers/net.ts';
import { startCluster } from './cluster.ts';
import { runDriver } from './driver.ts';
import { cycle, type FaultRecord, type FaultTargets } from './faults.ts';
import { checkLedger } from './ledger.ts';
import { formatReport, machine, type RunFigures } from './report.ts';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const RESULTS = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
const H = 3_600_000;
const ACK_TIMEOUT_MS = 5_000;
const GRACE_MS = 2_000;
const SECRET = `chaos-secret-${Math.random().toString(36).slice(2)}`;
const TOKEN = `chaos-token-${Math.random().toString(36).slice(2)}`;
const CANARY = `chaos-canary-${Math.random().toString(36).slice(2)}`;

const { values: flags } = parseArgs({
  options: { profile: { type: 'string' }, client: { type: 'string' }, faults: { type: 'string' } },
});
const withFaults = (flags.faults ?? process.env.CHAOS_FAULTS ?? 'all') !== 'none';
/** Ingress replicas behind the driver; the faults kill the first one. */
const REPLICAS = 2;
/** The producer client under test (KAFKA_CLIENT): platformatic (the connector's default) or kafkajs. */
const client = flags.client ?? process.env.CHAOS_KAFKA_CLIENT ?? 'platformatic';
if (client !== 'kafkajs' && client !== 'platformatic')
  throw new Error('--client kafkajs|platformatic');
const profile = (flags.profile ?? process.env.CHAOS_PROFILE ?? 'quick') as 'quick' | 'full';
if (profile !== 'quick' && profile !== 'full') throw new Error('--profile quick|full');
const size = profile === 'full' ? 3 : 1;
const loadMs = Number(process.env.CHAOS_MINUTES ?? (profile === 'full' ? 25 : 3.2)) * 60_000;
const worldHours = profile === 'full' ? 44 : 16;

const say = (m: string) =>
  process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let unhandled = 0;
process.on('unhandledRejection', (e) => {
  unhandled++;
  say(`unhandled rejection: ${e instanceof Error ? e.message : String(e)}`);
});

const s = stackSettings();
const logDir = join(s.dir, 'chaos-logs');
mkdirSync(logDir, { recursive: true });
const logFiles: string[] = [];
let crashes = 0;

/** A child whose stdout+stderr go to a log file; an exit we did not cause is a crash. */
const spawnLogged = (name: string, args: string[], env: Record<string, string>) => {
  const file = join(logDir, `${name}-${Date.now()}.log`);
  logFiles.push(file);
  const out = createWriteStream(file);
  const child = spawn(
    process.execPath,
    ['--disable-warning=TimeoutNegativeWarning', CLI, ...args],
    {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, exited };
};

const main = async (): Promise<number> => {
  const started = Date.now();
  say(
    `profile ${profile}: ${size} broker(s), ${REPLICAS} ingress replicas, ${loadMs / 60_000} min of load, producer client ${client}, ${withFaults ? 'faults' : 'no faults'}`,
  );
  // The stack's own broker shares node 1's ports; the registry is the stack's.
  await signalService('kafka', 'SIGTERM', s);
  const registryWasUp = await portOpen(s.registryPort);
  await startRegistry(s);
  const registryUrl = stackEnv(s).SCHEMA_REGISTRY_URL;
  const cluster = await startCluster(s, size, Number(process.env.CHAOS_PORT_BASE ?? 25100));
  const topic = uniqueTopic(`chaos-${profile}`);
  const ingresses: (ChildProcess | undefined)[] = [];
  const expectedExit: boolean[] = [];
  try {
    const endMs = Math.floor((Date.now() - 16 * 60_000) / H) * H;
    const startMs = endMs - worldHours * H;
    const world = createWebexWorld({
      seed: `chaos-${started}`,
      orgs: profile === 'full' ? 20 : 10,
      callsPerHour: 24,
      startMs,
      endMs,
      dropRate: 0.1,
      repeatRate: 0.05,
      lateRate: 0.05,
    });
    const kafkaEnv = {
      KAFKA_BROKERS: cluster.brokers.join(','),
      SCHEMA_REGISTRY_URL: registryUrl,
      CDR_TOPIC: topic,
      CDR_FEED: 'analytics',
      CDR_TOPIC_PARTITIONS: '3',
      CDR_TOPIC_REPLICATION_FACTOR: String(size),
      KAFKA_CLIENT: client,
      LOG_LEVEL: 'debug',
    };
    const bases: string[] = [];
    for (let i = 0; i < REPLICAS; i++) bases.push(`http://127.0.0.1:${await freePort()}`);
    const startIngress = async (i: number) => {
      const base = bases[i] as string;
      const { child, exited } = spawnLogged(`ingress-${i + 1}`, ['ingress'], {
        ...kafkaEnv,
        WEBHOOK_SECRETS: SECRET,
        PORT: new URL(base).port,
        ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS),
        RETRY_AFTER_SECONDS: '1',
      });
      expectedExit[i] = false;
      ingresses[i] = child;
      void exited.then((code) => {
        if (!expectedExit[i] && ingresses[i] === child) {
          crashes++;
          say(`ingress ${i + 1} exited by itself (code ${code})`);
        }
      });
      await waitReady(base, 120_000);
    };
    const killIngress = async (i: number) => {
      const child = ingresses[i];
      if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      expectedExit[i] = true;
      const gone = new Promise((r) => child.once('exit', r));
      process.kill(child.pid, 'SIGKILL');
      await gone;
    };
    await Promise.all(bases.map((_, i) => startIngress(i)));

    const admin = new Kafka({
      clientId: 'chaos-leader',
      brokers: cluster.brokers,
      logLevel: logLevel.NOTHING,
      requestTimeout: 3000,
      retry: { retries: 2 },
    }).admin();
    const leader = async (): Promise<number> => {
      if (size === 1) return 1;
      try {
        await admin.connect();
        const meta = await admin.fetchTopicMetadata({ topics: [topic] });
        return meta.topics[0]?.partitions.find((p) => p.partitionId === 0)?.leader ?? 1;
      } catch {
        return 1 + Math.floor(Math.random() * size);
      }
    };
    const targets: FaultTargets = {
      cluster,
      leader,
      killRegistry: () => signalService('registry', 'SIGKILL', s),
      startRegistry: () => startRegistry(s),
      killIngress: () => killIngress(0),
      startIngress: () => startIngress(0),
    };

    // Faults, cycle after cycle, while the driver sends (from now on).
    const faults: FaultRecord[] = [];
    const plan = withFaults ? cycle(profile) : [];
    const cycleMs = Math.max(0, ...plan.map((f) => f.at)) + 30_000;
    const t0 = Date.now();
    const injecting = (async () => {
      for (let c = 0; plan.length > 0 && ((c + 1) * cycleMs <= loadMs + 30_000 || c === 0); c++) {
        for (const { at, fault } of plan) {
          await sleep(t0 + c * cycleMs + at - Date.now());
          if (Date.now() > t0 + loadMs) return;
          const record = await fault(targets);
          faults.push(record);
          say(
            `fault injected and healed: ${record.name}${record.detail ? ` (${record.detail})` : ''}`,
          );
        }
      }
    })();
    const deliveries = world.deliveries();
    say(`driver: ${deliveries.filter((d) => !d.dropped).length} deliveries`);
    const driven = await runDriver({
      url: (n) => `${bases[n % REPLICAS]}/webhooks/cdr`,
      secret: SECRET,
      canary: CANARY,
      deliveries,
      durationMs: loadMs,
      concurrency: 4,
      timeoutMs: 30_000,
      giveUpAfterMs: 90_000,
    });
    await injecting;
    await admin.disconnect();
    say(`driver done: ${driven.acknowledged.size} deliveries acknowledged`);

    const acknowledged = [...driven.acknowledged.values()].flat();
    const attemptsOf = new Map<string, number>();
    for (const a of driven.attempts) {
      attemptsOf.set(a.deliveryId, (attemptsOf.get(a.deliveryId) ?? 0) + 1);
    }
    const retried = new Set(
      deliveries
        .filter((d) => (attemptsOf.get(d.id) ?? 0) > 1)
        .flatMap((d) => d.items.map((i) => String(i['Report ID']))),
    );
    const onTopic = await readTopic(cluster.brokers, topic, new Set(acknowledged).size, 120_000);

    // Reconciliation against the stand-in: SIGKILLed mid-run, then run again to the end.
    let apiRequests = 0;
    const api = createPartnerApi({ world, tokens: [TOKEN] });
    const server = await listen(
      (req: Request) => {
        apiRequests++;
        return api.fetch(req);
      },
      { port: 0 },
    );
    const reconcileArgs = [
      'reconcile',
      '--once',
      '--from',
      new Date(startMs).toISOString(),
      '--to',
      new Date(endMs).toISOString(),
    ];
    const reconcileEnv = {
      ...kafkaEnv,
      WEBEX_API_BASE_URL: server.url,
      WEBEX_ACCESS_TOKEN: TOKEN,
      WEBEX_MIN_REQUEST_INTERVAL: '20ms',
    };
    if (withFaults) {
      const first = spawnLogged('reconcile-killed', reconcileArgs, reconcileEnv);
      while (apiRequests < 40 && first.child.exitCode === null) await sleep(50);
      const killedMidRun = first.child.exitCode === null;
      if (first.child.pid !== undefined) process.kill(first.child.pid, 'SIGKILL');
      await first.exited;
      faults.push({
        name: 'reconciler SIGKILL mid-run + rerun',
        from: Date.now(),
        to: Date.now(),
        detail: `after ${apiRequests} API requests${killedMidRun ? '' : ' (had already ended)'}`,
      });
    }
    const rerun = spawnLogged('reconcile', reconcileArgs, {
      ...reconcileEnv,
      WEBEX_MIN_REQUEST_INTERVAL: '0ms',
    });
    const rerunCode = await rerun.exited;
    await server.close();
    say(`reconciler rerun exited ${rerunCode} after ${apiRequests} API requests in all`);

    const webexIds = world.records
      .filter((r) => r.callEnd >= startMs && r.callEnd < endMs)
      .map((r) => r.reportId);
    const final = await readTopic(
      cluster.brokers,
      topic,
      Math.max(onTopic.length, new Set(webexIds).size),
      120_000,
    );
    const ledger = checkLedger({
      messages: final,
      acknowledged: driven.acknowledged.values(),
      retried,
      faults,
      webex: webexIds,
      canary: CANARY,
    });

    // Deadlines: every HTTP answer within the ingress's deadline + 2 s; no answer at all
    // only while the ingress process was dead.
    const ingressDown = faults.filter((f) => f.name.startsWith('ingress'));
    const statuses: Record<string, number> = {};
    let overDeadline = 0;
    let slowest = 0;
    for (const a of driven.attempts) {
      const k = a.status === null ? (a.error ?? 'no answer') : String(a.status);
      statuses[k] = (statuses[k] ?? 0) + 1;
      if (a.status !== null) {
        slowest = Math.max(slowest, a.ms);
        if (a.ms > ACK_TIMEOUT_MS + GRACE_MS) overDeadline++;
      } else if (!ingressDown.some((f) => a.startedAt + a.ms >= f.from && a.startedAt <= f.to)) {
        overDeadline++;
      }
    }

    // Logs: nothing secret in what any process printed.
    for (let i = 0; i < REPLICAS; i++) await killIngress(i);
    const secrets = [SECRET, TOKEN, CANARY, ...driven.signatures];
    let logLeaks = 0;
    for (const f of logFiles) {
      const text = readFileSync(f, 'utf8');
      for (const x of secrets) if (text.includes(x)) logLeaks++;
    }
    const sent = deliveries.filter((d) => !d.dropped);
    const figures: RunFigures = {
      profile,
      brokers: size,
      replicas: REPLICAS,
      withFaults,
      minutes: Math.round((Date.now() - started) / 6000) / 10,
      deliveriesSent: sent.length,
      deliveriesAcknowledged: driven.acknowledged.size,
      recordsSent: sent.reduce((n, d) => n + d.items.length, 0),
      recordsAcknowledged: acknowledged.length,
      attempts: driven.attempts.length,
      statuses,
      overDeadline,
      slowestAnswerMs: slowest,
      deadlineMs: ACK_TIMEOUT_MS + GRACE_MS,
      unhandledRejections: unhandled,
      crashes,
      logLeaks,
      ledger,
      faults,
    };
    const report = formatReport(figures);
    process.stdout.write(`\n${report}\n`);
    const failures = [
      ledger.lost.length > 0 && `lost: ${ledger.lost.slice(0, 10).join(', ')}`,
      ledger.unseen.length > 0 && `unseen: ${ledger.unseen.slice(0, 10).join(', ')}`,
      ledger.differingDuplicates.length > 0 &&
        `differing duplicates: ${ledger.differingDuplicates.slice(0, 10).join(', ')}`,
      ledger.duplicateCauses.unexplained.length > 0 &&
        `unexplained duplicates: ${ledger.duplicateCauses.unexplained.slice(0, 10).join(', ')}`,
      !withFaults &&
        ledger.duplicates > 0 &&
        `${ledger.duplicates} duplicates on the topic in a run without faults`,
      ledger.phantoms.length > 0 && `phantoms: ${ledger.phantoms.slice(0, 10).join(', ')}`,
      ledger.leaks > 0 && `${ledger.leaks} records carry a request header`,
      logLeaks > 0 && `${logLeaks} secrets/signatures/tokens found in logs (${logDir})`,
      unhandled > 0 && `${unhandled} unhandled rejections`,
      crashes > 0 && `${crashes} unexpected process exits`,
      overDeadline > 0 &&
        `${overDeadline} requests not answered within ${ACK_TIMEOUT_MS + GRACE_MS} ms`,
      rerunCode !== 0 && `reconciler rerun exited ${rerunCode}`,
      driven.unacknowledged.length > 0 &&
        `${driven.unacknowledged.length} deliveries never acknowledged`,
      withFaults && faults.length < plan.length + 1 && `only ${faults.length} faults injected`,
    ].filter((x): x is string => typeof x === 'string');
    if (profile === 'full' || process.env.CHAOS_RECORD === '1') {
      appendFileSync(
        RESULTS,
        `\n## ${new Date().toISOString()} (${profile})\n\nMachine: ${machine()}.\n\n${report}\nVerdict: ${failures.length === 0 ? 'PASS' : `FAIL: ${failures.join('; ')}`}\n`,
      );
    }
    for (const f of failures) say(`FAIL ${f}`);
    say(failures.length === 0 ? 'PASS' : 'FAIL');
    return failures.length === 0 ? 0 : 1;
  } finally {
    for (const [i, child] of ingresses.entries()) {
      expectedExit[i] = true;
      if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid, 'SIGKILL');
      }
    }
    await cluster.close();
    // Leave nothing of ours running: a registry this run started is stopped; the
    // stack's broker stays stopped (`npm run stack -- up` brings the stack back).
    if (!registryWasUp) await signalService('registry', 'SIGTERM', s);
  }
};

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    say(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
