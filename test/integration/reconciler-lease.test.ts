/**
 * One active reconciler among replicas, Kafka's group coordinator the arbiter
 * (issue 16, deliverable 5): two `reconcile` services as child processes, on
 * the real broker, against the Webex stand-in (slowed, so that a run lasts
 * long enough to be interrupted). Each process has its own partner token, so
 * the stand-in's log says who asked Webex when; the audit records say which
 * run (and so which process) reconciled which window when.
 * - only the holder reconciles; the standby is ready and says `standby`;
 * - SIGKILL of the holder: the standby takes over within the session timeout
 *   plus a heartbeat and a join, and finishes the backfill; no Webex request
 *   and no audit record of the standby before the kill;
 * - SIGTERM of the holder: it leaves the group after its run stopped, and the
 *   standby takes over well within the session timeout.
 * The takeovers run on each adapter (KAFKA_CLIENT): the lease is the port's.
 * With RECONCILE_LEASE=false both reconcile at once and these tests fail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { listen } from '../../src/listen.ts';
import { createPartnerApi } from '../../src/simulator/partner-api.ts';
import { createWebexWorld } from '../../src/simulator/world.ts';
import { type CliRun, exitWithin, runCli } from './helpers/cli.ts';
import {
  KAFKA_CLIENTS,
  type KafkaClientName,
  readTopic,
  topicSize,
  uniqueTopic,
} from './helpers/kafka.ts';
import { freePort } from './helpers/net.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const H = 3_600_000;
/** Each Webex answer waits this long: a run of the 48 hours takes many seconds. */
const WEBEX_DELAY_MS = 120;

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

type Member = { name: string; token: string; port: number; p: CliRun };

const logLines = (p: CliRun) =>
  (p.out() + p.err())
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; runId?: string; time?: number });

/** The run ids a member's log names. */
const runIdsOf = (p: CliRun) =>
  new Set(logLines(p).flatMap((l) => (l.runId === undefined ? [] : [l.runId])));

const readyz = async (m: Member) => {
  const r = await fetch(`http://127.0.0.1:${m.port}/readyz`);
  return { status: r.status, body: (await r.json()) as { lease: string; reasons: string[] } };
};

const metric = async (m: Member, name: string): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${m.port}/metrics`)).text();
  const line = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(line, `${name} in ${m.name}'s metrics`);
  return Number(line[1]);
};

/** Resolves with the first of `members` whose output matches. */
const first = (members: Member[], re: RegExp): Promise<Member> =>
  Promise.race(members.map((m) => m.p.until(re).then(() => m)));

const setup = async (
  label: string,
  sessionTimeout: string,
  replicas = 2,
  client: KafkaClientName = KAFKA_CLIENTS[0],
) => {
  // well inside what the service's plan covers (now - 48h + 10m .. now - 15m)
  const endMs = Date.now() - H;
  const world = createWebexWorld({
    seed: `lease-${label}-${endMs}`,
    orgs: 3,
    callsPerHour: 1,
    startMs: endMs - 45 * H,
    endMs,
  });
  const tokens = ['lease-token-a', 'lease-token-b', 'lease-token-once'];
  const api = createPartnerApi({ world, tokens });
  /** Who asked Webex, and when. */
  const asked: { token: string; at: number }[] = [];
  const server = await listen(
    async (req) => {
      asked.push({
        token: (req.headers.get('authorization') ?? '').replace(/^Bearer /, ''),
        at: Date.now(),
      });
      await sleep(WEBEX_DELAY_MS);
      return api.fetch(req);
    },
    { port: 0 },
  );
  const topic = uniqueTopic(`lease-${label}`);
  const env = (token: string) => ({
    KAFKA_BROKERS: stack.brokers.join(','),
    KAFKA_CLIENT: client,
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    CDR_FEED: 'analytics',
    CDR_TOPIC: topic,
    WEBEX_API_BASE_URL: server.url,
    WEBEX_ACCESS_TOKEN: token,
    RECONCILE_INTERVAL: '24h',
    RECONCILE_LEASE_SESSION_TIMEOUT: sessionTimeout,
    LOG_LEVEL: 'info',
  });
  const start = async (name: string, token: string): Promise<Member> => {
    const port = await freePort();
    const p = runCli(['reconcile'], { ...env(token), RECONCILER_PORT: String(port) });
    return { name, token, port, p };
  };
  const members: Member[] = [];
  for (const [i, name] of ['a', 'b'].slice(0, replicas).entries()) {
    members.push(await start(name, tokens[i] as string));
  }
  const close = async () => {
    for (const m of members) m.p.child.kill('SIGKILL');
    await Promise.all(members.map((m) => m.p.exited));
    await server.close();
  };
  /** `reconcile --once` over two hours of the world, with its own token. */
  const once = (extra: Record<string, string> = {}) =>
    runCli(
      [
        'reconcile',
        '--once',
        '--from',
        new Date(Math.floor(endMs / H) * H - 2 * H).toISOString(),
        '--to',
        new Date(Math.floor(endMs / H) * H).toISOString(),
      ],
      { ...env(tokens[2] as string), ...extra },
    );
  return { world, topic, audit: `${topic}.reconciliation`, asked, members, once, close };
};

/** The holder has reconciled a few windows; the other stands by, ready, and has done nothing. */
const oneActive = async (s: Awaited<ReturnType<typeof setup>>) => {
  // the first to do anything (without the lease both would reconcile at once)
  const active = await first(s.members, /lease acquired|window reconciled/);
  const standby = s.members.find((m) => m !== active) as Member;
  const deadline = Date.now() + 60_000;
  while ((await topicSize(stack.brokers, s.audit)) < 3 && Date.now() < deadline) await sleep(100);
  assert.ok(
    (await topicSize(stack.brokers, s.audit)) >= 3,
    `the holder writes audit records: ${(active.p.out() + active.p.err()).slice(-3000)}`,
  );
  assert.doesNotMatch(standby.p.out() + standby.p.err(), /lease acquired|window reconciled/);
  assert.equal(
    s.asked.filter((a) => a.token === standby.token).length,
    0,
    'the standby asks Webex nothing',
  );
  // (two members registering the schema at once may see Apicurio's 409 once, then retry)
  let ready = await readyz(standby);
  while (ready.status !== 200 && Date.now() < deadline) {
    await sleep(200);
    ready = await readyz(standby);
  }
  assert.equal(ready.status, 200, `standby ready: ${JSON.stringify(ready.body)}`);
  assert.equal(ready.body.lease, 'standby');
  assert.equal((await readyz(active)).body.lease, 'held');
  assert.equal(await metric(active, 'webex_cdr_reconcile_lease_held'), 1);
  assert.equal(await metric(standby, 'webex_cdr_reconcile_lease_held'), 0);
  return { active, standby };
};

/** Audit records by member: when each was written. */
const auditTimes = async (s: Awaited<ReturnType<typeof setup>>, members: Member[]) => {
  const records = await readTopic(stack.brokers, s.audit, 1);
  const byRun = new Map<string, string>();
  for (const m of members) for (const id of runIdsOf(m.p)) byRun.set(id, m.name);
  const times = new Map<string, number[]>(members.map((m) => [m.name, []]));
  for (const r of records) {
    const { runId } = JSON.parse(r.value.toString()) as { runId: string };
    const who = byRun.get(runId);
    assert.ok(who !== undefined, `audit record of run ${runId} from one of the members`);
    times.get(who)?.push(r.timestamp);
  }
  return times;
};

describe('reconciler lease', () => {
  for (const client of KAFKA_CLIENTS) {
    test(`SIGKILL of the active reconciler: the standby takes over within the bound, never both at once (${client})`, {
      timeout: 180_000,
    }, async (t) => {
      const sessionMs = 6_000;
      const s = await setup('kill', '6s', 2, client);
      try {
        const { active, standby } = await oneActive(s);
        const killedAt = Date.now();
        active.p.child.kill('SIGKILL');
        await standby.p.until(/lease acquired/);
        const takeoverMs = Date.now() - killedAt;
        // the session timeout, then a heartbeat of the standby (S/10) and a join
        t.diagnostic(
          `taken over ${takeoverMs} ms after the SIGKILL (session timeout ${sessionMs} ms)`,
        );
        assert.ok(takeoverMs <= sessionMs + 4_000, `taken over after ${takeoverMs} ms`);
        await standby.p.until(/reconciliation run finished/);

        const times = await auditTimes(s, [active, standby]);
        const [byActive, byStandby] = [times.get(active.name) ?? [], times.get(standby.name) ?? []];
        assert.ok(byActive.length > 0 && byStandby.length > 0, 'both wrote audit records in turn');
        assert.ok(
          Math.max(...byActive) < killedAt && Math.min(...byStandby) > killedAt,
          'no audit record of the standby before the kill',
        );
        const standbyAsked = s.asked.filter((a) => a.token === standby.token).map((a) => a.at);
        assert.ok(
          Math.min(...standbyAsked) > killedAt,
          'the standby asked Webex only after the kill',
        );

        // the backfill is complete: every Webex record is on the topic
        const ids = new Set(
          (await readTopic(stack.brokers, s.topic, s.world.records.length)).map(
            (m) => m.headers['cdr-report-id'],
          ),
        );
        assert.ok(
          s.world.records.every((r) => ids.has(r.reportId)),
          'every record backfilled',
        );
        assert.equal(await metric(standby, 'webex_cdr_reconcile_lease_acquired_total'), 1);
      } finally {
        await s.close();
      }
    });

    test(`SIGTERM of the active reconciler: it leaves the group and the standby takes over well within the session timeout (${client})`, {
      timeout: 180_000,
    }, async (t) => {
      const sessionMs = 20_000;
      const s = await setup('term', '20s', 2, client);
      try {
        const { active, standby } = await oneActive(s);
        const stoppedAt = Date.now();
        active.p.child.kill('SIGTERM');
        await standby.p.until(/lease acquired/);
        const takeoverMs = Date.now() - stoppedAt;
        t.diagnostic(
          `taken over ${takeoverMs} ms after the SIGTERM (session timeout ${sessionMs} ms)`,
        );
        assert.ok(takeoverMs < sessionMs / 2, `taken over after ${takeoverMs} ms`);
        assert.equal(await exitWithin(active.p, 30_000), 0, active.p.err());

        // the standby reconciles now, and only after the active one's last request
        const deadline = Date.now() + 60_000;
        while (!s.asked.some((a) => a.token === standby.token) && Date.now() < deadline)
          await sleep(100);
        const at = (m: Member) => s.asked.filter((a) => a.token === m.token).map((a) => a.at);
        assert.ok(at(standby).length > 0, 'the standby reconciles');
        assert.ok(Math.max(...at(active)) < Math.min(...at(standby)), 'never both at once');
        await standby.p.until(/reconciliation run finished/);
        const times = await auditTimes(s, [active, standby]);
        const byStandby = times.get(standby.name) ?? [];
        assert.ok(byStandby.length > 0);
        assert.ok(Math.max(...(times.get(active.name) ?? [])) < Math.min(...byStandby));
      } finally {
        await s.close();
      }
    });
  }

  test('reconcile --once takes the lease: beside an active service it gives up after STARTUP_TIMEOUT (exit 3), alone it runs', {
    timeout: 180_000,
  }, async () => {
    const s = await setup('once', '6s', 1);
    try {
      const [service] = s.members as [Member];
      await service.p.until(/lease acquired/);
      const blocked = s.once({ STARTUP_TIMEOUT: '3s' });
      assert.equal(await exitWithin(blocked, 60_000), 3, blocked.err());
      assert.match(
        blocked.out(),
        /stopped early: the reconciler lease \(group \S+, topic \S+\) was not acquired within 3s \(STARTUP_TIMEOUT\): another reconciler holds it/,
      );
      assert.match(blocked.err(), /reconciliation run not started/);
      assert.equal(
        s.asked.filter((a) => a.token === 'lease-token-once').length,
        0,
        'it asked Webex nothing',
      );

      service.p.child.kill('SIGTERM');
      assert.equal(await exitWithin(service.p, 30_000), 0, service.p.err());
      const alone = s.once();
      assert.equal(await exitWithin(alone, 90_000), 0, alone.out() + alone.err());
      assert.match(alone.err() + alone.out(), /lease acquired/);
      assert.match(alone.out(), /^outcome: complete/m);
    } finally {
      await s.close();
    }
  });
});
