/**
 * @module tools/demo
 * `npm run demo`: the product on this machine in one command.
 *   1. the local stack (Kafka + Apicurio Registry from Maven Central), unless it is up, or
 *      the Kafka and registry KAFKA_BROKERS and SCHEMA_REGISTRY_URL name (both set)
 *   2. the ingress, verifying signatures, on a topic of its own for this run
 *   3. the Webex stand-in: two hours of signed deliveries for 8 orgs, replayed in
 *      about 20 s, a quarter lost on the way, some repeated; one forged delivery
 *      (401) and one holding a record without a Report ID (dead-lettered)
 *   4. one reconcile run against the stand-in's partner API
 *   5. the verdict: is every record the stand-in produced on the topic?
 * While it runs, a status block (refreshed every second on a terminal, a plain
 * line every few seconds otherwise) shows deliveries by outcome, records on the
 * topic per `cdr-source` header, dead letters and reconciliation progress; the
 * topic figures are read from the topics themselves.
 * Exit 0 when every record is on the topic, 1 when not, 130/143 on SIGINT/SIGTERM,
 * which stop everything the demo started (and the stack, if the demo started it).
 */

import { toMatchKey } from '../src/cdr/fields.ts';
import { type RunningIngress, startIngress } from '../src/ingress/server.ts';
import { sign } from '../src/ingress/verify-signature.ts';
import { createKafkaClient } from '../src/kafka/client.ts';
import { HEADER } from '../src/kafka/messages.ts';
import { type Listening, listen } from '../src/listen.ts';
import { createLogger } from '../src/log.ts';
import type { Progress } from '../src/reconciler/reconcile.ts';
import { formatSummary } from '../src/reconciler/report.ts';
import type { RunSummary } from '../src/reconciler/rules.ts';
import { createReconciler, type Reconciler } from '../src/reconciler/service.ts';
import { parseIngressConfig, parseKafkaConfig, parseReconcilerConfig } from '../src/settings.ts';
import { createPartnerApi } from '../src/simulator/partner-api.ts';
import { createWebhookSender, type DeliveryResult } from '../src/simulator/webhook-sender.ts';
import { createWebexWorld } from '../src/simulator/world.ts';
import {
  down,
  givenStack,
  readPid,
  type StackEnv,
  stackSettings,
  status as stackStatus,
  up,
} from './stack/stack.ts';

const H = 3_600_000;
const SECRET = 'demo-secret';
/** Two hours of Webex's 5-minute cadence in about 20 s. */
const SPEEDUP = 360;
const TTY_REFRESH_MS = 1000;
const PLAIN_REFRESH_MS = 5000;

type TopicCounts = {
  bySource: Map<string, number>;
  reportIds: Set<string>;
  deadLetters: number;
  readAt: number | null;
};

type DemoState = {
  phase: string;
  startedAt: number;
  /** Webhook deliveries by outcome: `HTTP 200`, `HTTP 401`, `lost on the way`, ... */
  deliveries: Map<string, number>;
  repeats: number;
  topic: TopicCounts;
  progress: Progress | null;
  summary: RunSummary | null;
};

const emptyCounts = (): TopicCounts => ({
  bySource: new Map(),
  reportIds: new Set(),
  deadLetters: 0,
  readAt: null,
});

const add = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);
const list = (m: Map<string, number>) =>
  m.size === 0 ? 'none yet' : [...m].map(([k, n]) => `${n} ${k}`).join(', ');

const statusLines = (s: DemoState): string[] => {
  const secs = Math.round((Date.now() - s.startedAt) / 1000);
  const total = [...s.topic.bySource.values()].reduce((a, b) => a + b, 0);
  const p = s.progress;
  const reconcile =
    s.summary !== null
      ? `done: Webex counted ${s.summary.totals.webex}, ${s.summary.totals.topicBefore} were on the topic, ` +
        `backfilled ${s.summary.totals.backfilled}, still missing ${s.summary.totals.stillMissing}, ` +
        `errors ${s.summary.totals.errors}`
      : p !== null
        ? `window ${p.window}/${p.windows}, org ${p.org}/${p.orgs}`
        : 'not started';
  return [
    `[${secs}s] ${s.phase}`,
    `  deliveries    ${list(s.deliveries)}; repeats among them: ${s.repeats}`,
    `  on the topic  ${total} records: webhook ${s.topic.bySource.get('webhook') ?? 0}, ` +
      `reconciler ${s.topic.bySource.get('reconciler') ?? 0}; ${s.topic.reportIds.size} distinct Report IDs`,
    `  dead letters  ${s.topic.deadLetters}`,
    `  reconcile     ${reconcile}`,
  ];
};

/** A status block redrawn in place on a terminal; periodic plain lines otherwise. */
const createStatusView = (state: DemoState, tty: boolean) => {
  let drawn = 0;
  const clear = () => {
    if (tty && drawn > 0) process.stdout.write(`\x1b[${drawn}F\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    const lines = statusLines(state);
    if (tty) {
      clear();
      process.stdout.write(`${lines.join('\n')}\n`);
      drawn = lines.length;
    } else {
      process.stdout.write(`${lines.map((l) => l.trim()).join(' | ')}\n`);
    }
  };
  const timer = setInterval(draw, tty ? TTY_REFRESH_MS : PLAIN_REFRESH_MS);
  return {
    /** Prints a line above the block. */
    say(text: string) {
      clear();
      process.stdout.write(`${text}\n`);
      if (tty) draw();
    },
    draw,
    stop() {
      clearInterval(timer);
      draw();
    },
  };
};

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/** Reads the CDR and dead-letter topics again and again until stopped; `readNow` reads once more. */
const createTopicWatcher = (env: NodeJS.ProcessEnv, topic: string, dlqTopic: string) => {
  const parsed = parseKafkaConfig(env);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const kafka = createKafkaClient(parsed.config, createLogger('error'));
  const abort = new AbortController();
  const readNow = async (): Promise<TopicCounts> => {
    const counts = emptyCounts();
    await kafka.readRange({
      topic,
      fromTimestamp: 0,
      signal: abort.signal,
      onRecord: (r) => {
        add(counts.bySource, r.headers[HEADER.source] ?? '(no header)');
        const id = r.headers[HEADER.reportId];
        if (id !== undefined) counts.reportIds.add(id);
      },
    });
    await kafka.readRange({
      topic: dlqTopic,
      fromTimestamp: 0,
      signal: abort.signal,
      onRecord: () => {
        counts.deadLetters += 1;
      },
    });
    counts.readAt = Date.now();
    return counts;
  };
  return {
    readNow,
    async watch(onCounts: (c: TopicCounts) => void) {
      while (!abort.signal.aborted) {
        try {
          onCounts(await readNow());
        } catch {
          // The topics may not exist yet, or the read was stopped: try again.
        }
        await sleep(1000, abort.signal);
      }
    },
    stop() {
      abort.abort(new Error('demo stopping'));
    },
  };
};

class Interrupted extends Error {}

const main = async (signal: AbortSignal): Promise<number> => {
  const print = (t: string) => process.stdout.write(`${t}\n`);
  const settings = stackSettings();
  let given: StackEnv | null;
  try {
    given = givenStack();
  } catch (e) {
    process.stderr.write(`demo: ${(e as Error).message}\n`); // a setting: no stack trace
    return 1;
  }
  const stackWasUp =
    given !== null || (await stackStatus(settings)).services.every((svc) => svc.ready);
  const stopStack = !stackWasUp;
  const started: { ingress?: RunningIngress; api?: Listening; reconciler?: Reconciler } = {};
  let watcher: ReturnType<typeof createTopicWatcher> | undefined;
  let view: ReturnType<typeof createStatusView> | undefined;
  const check = () => {
    if (signal.aborted) throw new Interrupted(String(signal.reason));
  };
  const onAbortDuringStart = () => {
    // Stop the JVMs that are starting at once, rather than after they are ready.
    if (stopStack) void down(settings);
  };
  let stopping: Promise<void> | undefined;
  const stopAll = () => {
    stopping ??= (async () => {
      view?.stop();
      watcher?.stop();
      await Promise.all([
        started.reconciler?.stop(),
        started.api?.close(true),
        started.ingress?.close(),
      ]);
    })();
    return stopping;
  };
  // A stop request ends whatever step is running (a reconcile run, a delivery in flight).
  signal.addEventListener('abort', () => void stopAll(), { once: true });
  try {
    print(`demo pid ${process.pid}`);
    print(
      given !== null
        ? '== 1. Kafka and registry of KAFKA_BROKERS and SCHEMA_REGISTRY_URL: used as they are'
        : stackWasUp
          ? '== 1. local stack: already running, used as it is (and left running)'
          : '== 1. local stack: starting Apache Kafka (KRaft) + Apicurio Registry on 127.0.0.1',
    );
    signal.addEventListener('abort', onAbortDuringStart, { once: true });
    const stack = given ?? (await up(settings));
    signal.removeEventListener('abort', onAbortDuringStart);
    check();
    print(`KAFKA_BROKERS=${stack.KAFKA_BROKERS} SCHEMA_REGISTRY_URL=${stack.SCHEMA_REGISTRY_URL}`);
    if (given === null) {
      print(
        `stack pids: kafka ${readPid(settings, 'kafka')}, registry ${readPid(settings, 'registry')}` +
          ` (${stackWasUp ? 'already running' : 'started by the demo'})`,
      );
    }

    // A topic of its own per run, so earlier runs (other orgs) do not show up as surplus.
    const runStamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
    const topic = process.env.CDR_TOPIC ?? `webex.calling.cdr.demo-${runStamp}`;
    const env = { ...process.env, ...stack, CDR_TOPIC: topic, CDR_FEED: 'analytics' };
    const ingressConfig = parseIngressConfig({ ...env, WEBHOOK_SECRETS: SECRET, PORT: '0' });
    if (!ingressConfig.ok) throw new Error(ingressConfig.problems.join('; '));
    const logger = createLogger('error');
    started.ingress = await startIngress(ingressConfig.config, logger, {
      giveUpAfterStartupTimeout: true,
    });
    await started.ingress.started;
    check();
    const webhookUrl = `${started.ingress.url}${ingressConfig.config.path}`;
    print(`== 2. ingress: ${webhookUrl} -> topic ${topic} (secret "${SECRET}")`);
    print(`ingress port ${started.ingress.port}`);

    const endMs = Math.floor((Date.now() - 16 * 60_000) / H) * H;
    const world = createWebexWorld({
      seed: `demo-${Date.now()}`, // new records every run
      orgs: 8,
      callsPerHour: 6,
      startMs: endMs - 2 * H,
      endMs,
      dropRate: 0.25,
      repeatRate: 0.1,
      lateRate: 0.05,
    });
    const api = createPartnerApi({ world, tokens: ['demo-token'] });
    started.api = await listen(api.fetch, { port: 0 });
    print(`partner API stand-in port ${started.api.port}`);

    const state: DemoState = {
      phase: 'Webex stand-in: sending deliveries',
      startedAt: Date.now(),
      deliveries: new Map(),
      repeats: 0,
      topic: emptyCounts(),
      progress: null,
      summary: null,
    };
    view = createStatusView(state, process.stdout.isTTY === true);
    watcher = createTopicWatcher(env, topic, ingressConfig.config.dlqTopic);
    const watching = watcher.watch((c) => {
      state.topic = c;
    });

    view.say(
      `== 3. Webex stand-in: ${world.records.length} records for 8 orgs in ` +
        `${world.deliveries().length} deliveries over 2 hours, replayed ${SPEEDUP}x faster; ` +
        '25 % of deliveries lost on the way, 10 % repeated',
    );
    const onDelivery = (r: DeliveryResult) => {
      add(
        state.deliveries,
        r.outcome === 'dropped' ? 'lost on the way' : `HTTP ${r.status ?? 'no answer'}`,
      );
      if (r.repeatOf !== undefined) state.repeats += 1;
    };
    const sender = createWebhookSender({
      url: webhookUrl,
      secret: SECRET,
      speedup: SPEEDUP,
      onDelivery,
    });
    await sender.send(world.deliveries(), signal);
    check();

    // Two deliveries Webex would not send: a forged one, and one with a broken record.
    const forged = await postDelivery(
      webhookUrl,
      world.records.slice(0, 2).map((r) => r.raw),
      'wrong',
    );
    onDelivery({ ...forged, id: 'forged', at: Date.now(), items: 2, attempts: 1 });
    view.say(`a forged delivery (wrong secret): HTTP ${forged.status}`);
    const noReportId = Object.fromEntries(
      Object.entries(world.records[0]?.raw ?? {}).filter(
        ([k]) => toMatchKey(k) !== toMatchKey('Report ID'),
      ),
    );
    const broken = await postDelivery(webhookUrl, [noReportId], SECRET);
    onDelivery({ ...broken, id: 'broken', at: Date.now(), items: 1, attempts: 1 });
    view.say(
      `a delivery holding a record without a Report ID: HTTP ${broken.status} (dead-lettered)`,
    );
    check();

    state.phase = 'reconciler: comparing Webex counts per org and hour with the topic';
    view.say(`== 4. reconciler: Webex partner API stand-in at ${started.api.url}`);
    const reconcilerConfig = parseReconcilerConfig({
      ...env,
      WEBEX_API_BASE_URL: started.api.url,
      WEBEX_ACCESS_TOKEN: 'demo-token',
    });
    if (!reconcilerConfig.ok) throw new Error(reconcilerConfig.problems.join('; '));
    started.reconciler = createReconciler(reconcilerConfig.config, logger, { oneShot: true });
    const summary = await started.reconciler.runOnce(
      started.reconciler.plan({ from: world.startMs, to: world.endMs }),
      (p) => {
        state.progress = p;
      },
    );
    state.summary = summary;
    check();
    view.say(formatSummary(summary).trimEnd());

    state.phase = 'checking the topic';
    watcher.stop();
    await watching;
    const final = await createTopicWatcher(env, topic, ingressConfig.config.dlqTopic).readNow();
    state.topic = final;
    state.phase = 'finished';
    view.stop();
    view = undefined;
    const missing = world.records.filter((r) => !final.reportIds.has(r.reportId));
    const onTopic = [...final.bySource.values()].reduce((a, b) => a + b, 0);
    print(`
== 5. ${topic}: ${onTopic} records, ${final.reportIds.size} distinct Report IDs; the stand-in produced ${world.records.length}.
Next:
  npx webex-cdr-kafka tail --topic ${topic} --since 1h      (every record, decoded)
  npx webex-cdr-kafka tail --topic ${topic}.reconciliation --since 1h      (the audit trail)${
    given === null ? '\n  npm run stack -- down      (stop Kafka and the registry)' : ''
  }`);
    if (missing.length === 0) {
      print(
        `VERDICT: COMPLETE: all ${world.records.length} records the Webex stand-in produced are on ${topic}`,
      );
      return 0;
    }
    print(
      `VERDICT: INCOMPLETE: ${missing.length} of ${world.records.length} records are not on ${topic} ` +
        `(first: ${missing
          .slice(0, 3)
          .map((r) => r.reportId)
          .join(', ')})`,
    );
    return 1;
  } catch (e) {
    if (!(e instanceof Interrupted) && !signal.aborted) throw e;
    return signal.reason === 'SIGTERM' ? 143 : 130;
  } finally {
    await stopAll();
    if (signal.aborted) {
      print(`stopped (${String(signal.reason)}): ingress, reconciler and Webex stand-in closed`);
      if (stopStack) {
        await down(settings);
        print('the stack the demo started is stopped');
      }
    }
  }
};

const postDelivery = async (
  url: string,
  items: readonly unknown[],
  secret: string,
): Promise<Pick<DeliveryResult, 'outcome' | 'status'>> => {
  const body = JSON.stringify({ items });
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-spark-signature': sign(body, secret) },
  });
  await res.arrayBuffer();
  return { outcome: res.ok ? 'sent' : 'failed', status: res.status };
};

const abort = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (abort.signal.aborted) process.exit(sig === 'SIGTERM' ? 143 : 130); // a second one: at once
    abort.abort(sig);
  });
}

main(abort.signal).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exitCode = 1;
  },
);
