/**
 * The fault injector: each fault acts on a process found by its pid (never by
 * name) or on a client-side proxy, then heals, and records when it held, so
 * the ledger can tell an honest "no answer" (the ingress was dead) from a
 * missed deadline.
 */
import type { Cluster } from './cluster.ts';

export type FaultRecord = {
  readonly name: string;
  readonly from: number;
  to: number;
  readonly detail: string;
};

export type FaultTargets = {
  readonly cluster: Cluster;
  /** The node leading the CDR topic's partition 0 (the one to chase). */
  readonly leader: () => Promise<number>;
  readonly killRegistry: () => Promise<void>;
  readonly startRegistry: () => Promise<void>;
  readonly killIngress: () => Promise<void>;
  readonly startIngress: () => Promise<void>;
};

export type Fault = (t: FaultTargets) => Promise<FaultRecord>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const timed = async (name: string, detail: string, body: () => Promise<void>) => {
  const record: FaultRecord = { name, from: Date.now(), to: 0, detail };
  await body();
  record.to = Date.now();
  return record;
};

export const brokerKill =
  (downMs: number): Fault =>
  async (t) => {
    const id = await t.leader();
    return timed('broker SIGKILL + restart', `node ${id}, down ${downMs} ms`, async () => {
      await t.cluster.signal(id, 'SIGKILL');
      await sleep(downMs);
      await t.cluster.start(id);
    });
  };

export const brokerPause =
  (pauseMs: number): Fault =>
  async (t) => {
    const id = await t.leader();
    return timed('broker SIGSTOP + SIGCONT', `node ${id}, ${pauseMs} ms`, async () => {
      await t.cluster.signal(id, 'SIGSTOP');
      await sleep(pauseMs);
      await t.cluster.signal(id, 'SIGCONT');
    });
  };

export const blackhole =
  (ms: number): Fault =>
  (t) =>
    timed('client-side network blackhole', `every proxy, ${ms} ms`, async () => {
      for (const n of t.cluster.nodes) n.proxy.setMode('blackhole');
      await sleep(ms);
      for (const n of t.cluster.nodes) n.proxy.setMode('up');
    });

export const registryKill: Fault = (t) =>
  timed('registry SIGKILL + restart', 'Apicurio (in-memory)', async () => {
    await t.killRegistry();
    await sleep(1000);
    await t.startRegistry();
  });

export const ingressKill: Fault = (t) =>
  timed('ingress SIGKILL under load + restart', '', async () => {
    await t.killIngress();
    await sleep(500);
    await t.startIngress();
  });

/** The faults of one cycle, spaced so each one's effect can be seen on its own. */
export const cycle = (profile: 'quick' | 'full'): { at: number; fault: Fault }[] =>
  profile === 'quick'
    ? [
        { at: 15_000, fault: brokerKill(5_000) },
        { at: 45_000, fault: brokerPause(20_000) },
        { at: 85_000, fault: blackhole(15_000) },
        { at: 115_000, fault: registryKill },
        { at: 165_000, fault: ingressKill },
      ]
    : [
        { at: 10_000, fault: brokerKill(15_000) },
        { at: 50_000, fault: brokerPause(20_000) },
        { at: 90_000, fault: blackhole(15_000) },
        { at: 120_000, fault: brokerKill(5_000) },
        { at: 150_000, fault: ingressKill },
        { at: 175_000, fault: registryKill },
      ];
