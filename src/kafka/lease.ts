/**
 * @module kafka/lease
 * The reconciler lease whatever the client library: who is given partition 0
 * of the lease topic, until when the holder counts the lease as held
 * (fencing by time: S - S/5 after the earliest moment its last acknowledged
 * heartbeat could have been sent, S the session timeout), and the life of a
 * member (`runLease`): the lease topic prepared, one group membership after
 * another with back-off, its state and problem, the lease announced and
 * lost. An adapter (kafka/kafkajs/lease.ts, kafka/platformatic/lease.ts)
 * supplies the membership itself and says which errors are refusals.
 *
 * A refusal (ACLs, the topic missing) is logged at `error` with what to
 * grant and is the state `failed`; other failures (Kafka unreachable) are
 * `warn`, at most every 30 s. Both are reported by status() and tried again
 * with back-off up to 30 s.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CdrError, describe, isCdrError } from '../errors.ts';
import { rateLimited } from '../log.ts';
import type { Lease, LeaseOptions, LeaseState, TopicSpec } from './port.ts';

export const LEASE_PARTITION = 0;

/** The part of the session timeout the holder gives up early. */
export const fenceMarginMs = (sessionTimeoutMs: number): number => Math.ceil(sessionTimeoutMs / 5);
export const heartbeatIntervalMs = (sessionTimeoutMs: number): number =>
  Math.max(100, Math.floor(sessionTimeoutMs / 10));

/**
 * Until when the lease counts as held, from what the member heard from the
 * coordinator: `joined` when a join completed (after `durationMs`), `beat`
 * when a heartbeat was acknowledged.
 */
export const createFence = (sessionTimeoutMs: number, now: () => number) => {
  let floor = Number.NEGATIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  return {
    joined(durationMs: number) {
      last = now();
      floor = last - Math.max(0, durationMs);
    },
    beat() {
      // sent no earlier than the previous acknowledgement
      floor = last;
      last = now();
    },
    deadline: () => floor + sessionTimeoutMs - fenceMarginMs(sessionTimeoutMs),
  };
};

/** The member given partition 0: the one that holds it, else the first by id. */
export const chooseHolder = (
  members: readonly { memberId: string; claims: boolean }[],
): { holder: string | undefined; claimants: number } => {
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
  const claimants = sorted.filter((m) => m.claims);
  return { holder: (claimants[0] ?? sorted[0])?.memberId, claimants: claimants.length };
};

const MAX_BACKOFF_MS = 30_000;

/** What a membership tells the lease, and what it may ask of it. */
export type MembershipHooks = {
  /** Whether this member holds the lease (its claim, sent when joining). */
  held(): boolean;
  /** A join completed after `durationMs`; `assigned`: partition 0 is this member's. */
  joined(durationMs: number, assigned: boolean): void;
  /** A heartbeat was acknowledged. */
  beat(): void;
  /** The membership no longer holds partition 0 (failed, left). */
  unassigned(reason: string): void;
  /** `p`, or 'stopped' at once on stop() (Kafka's own retries are not waited for). */
  until<T>(p: Promise<T>): Promise<T | 'stopped'>;
  stopping: AbortSignal;
};

export type LeaseAdapter = {
  missingTopics(specs: TopicSpec[]): Promise<string[]>;
  ensureTopics(specs: TopicSpec[]): Promise<string[]>;
  /**
   * One membership, from joining until it fails or stop(): resolves with its
   * failure (undefined when stopped); it has left the group by then.
   */
  member(hooks: MembershipHooks): Promise<unknown>;
  /** How Kafka refused the lease, if it did (an authorization error type). */
  refusal(e: unknown): string | null;
};

export const runLease = (opts: LeaseOptions, adapter: LeaseAdapter): Lease => {
  const { topic, groupId, sessionTimeoutMs, logger } = opts;
  const now = opts.now ?? (() => performance.now());
  const fence = createFence(sessionTimeoutMs, now);
  const stopping = new AbortController();
  let assigned = false;
  let announced = false;
  let timer: NodeJS.Timeout | undefined;
  let heldSince: number | null = null;
  let state: LeaseState = 'starting';
  let problem: string | null = null;
  let acquisitions = 0;
  let losses = 0;

  const held = () => !stopping.signal.aborted && assigned && now() < fence.deadline();

  /** Announces a change of `held()`; while held, wakes up at the deadline. */
  const update = (reason: string) => {
    clearTimeout(timer);
    const holds = held();
    if (holds && !announced) {
      announced = true;
      acquisitions += 1;
      heldSince = Date.now();
      logger.info('lease acquired', { groupId, topic });
      opts.onAcquired?.();
    } else if (!holds && announced) {
      announced = false;
      losses += 1;
      heldSince = null;
      logger.warn('lease lost', { groupId, topic, reason });
      opts.onLost?.(reason);
    }
    if (state !== 'failed' && state !== 'stopped') state = holds ? 'held' : 'standby';
    if (holds) {
      timer = setTimeout(
        () =>
          update(
            `no heartbeat acknowledged within ${sessionTimeoutMs - fenceMarginMs(sessionTimeoutMs)} ms`,
          ),
        Math.max(0, fence.deadline() - now()),
      );
    }
  };

  const warn = rateLimited((m, f) => logger.warn(m, f), 30_000);
  /** A refusal (ACLs, no lease topic) fails the lease, loudly; anything else is retried. */
  const fail = (e: unknown) => {
    const type = adapter.refusal(e);
    const grants = `grant READ on group ${groupId} and READ, DESCRIBE on topic ${topic} (CREATE too, to create it), or set RECONCILE_LEASE=false for a single replica`;
    if (type === null && !(isCdrError(e) && e.code === 'config_invalid')) {
      problem = describe(e);
      if (state !== 'stopped') state = 'starting';
      warn('lease: cannot join the group yet, retrying', { groupId, error: problem });
      return;
    }
    problem =
      type === null
        ? describe(e)
        : type === 'no coordinator'
          ? `Kafka named no coordinator for the lease group ${groupId}, as it does when READ on the group is not granted: ${grants}`
          : `Kafka refused the lease (${type}): ${grants}`;
    state = 'failed';
    logger.error('lease: cannot take part in the group, retrying', { groupId, error: problem });
  };

  const stopped = new Promise<'stopped'>((resolve) => {
    stopping.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
  });
  const until = <T>(p: Promise<T>): Promise<T | 'stopped'> => {
    p.catch(() => undefined);
    return Promise.race([p, stopped]);
  };

  const prepareTopic = async () => {
    const specs = [{ topic, partitions: 1, replicationFactor: opts.replicationFactor }];
    if (opts.createTopic) {
      const created = await adapter.ensureTopics(specs);
      if (created.length > 0) logger.info('created the lease topic', { topic, partitions: 1 });
    } else if ((await adapter.missingTopics(specs)).length > 0) {
      throw new CdrError(
        'config_invalid',
        `the lease topic ${topic} is missing, or not visible without DESCRIBE on it (KAFKA_CREATE_TOPICS=false): create it with one partition`,
      );
    }
  };

  const hooks: MembershipHooks = {
    held,
    joined(durationMs, isAssigned) {
      fence.joined(durationMs);
      assigned = isAssigned;
      problem = null;
      if (state === 'failed' || state === 'starting') state = 'standby';
      update('partition 0 of the lease topic is assigned to another member');
    },
    beat() {
      fence.beat();
      update('heartbeat');
    },
    unassigned(reason) {
      assigned = false;
      update(reason);
    },
    until,
    stopping: stopping.signal,
  };

  const loop = (async () => {
    let delay = 1_000;
    while (!stopping.signal.aborted) {
      try {
        if ((await until(prepareTopic())) === 'stopped') break;
        const failure = await adapter.member(hooks);
        if (failure !== undefined && !stopping.signal.aborted) fail(failure);
        delay = 1_000;
      } catch (e) {
        if (stopping.signal.aborted) break;
        fail(e);
      }
      await sleep(delay, undefined, { signal: stopping.signal }).catch(() => undefined);
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
  })();

  return {
    held,
    status: () => ({
      state: state === 'held' && !held() ? 'standby' : state,
      problem,
      acquisitions,
      losses,
      heldSince,
    }),
    async stop() {
      if (!stopping.signal.aborted) {
        stopping.abort();
        update('stopping');
        state = 'stopped';
      }
      // the membership ends by leaving the group, which hands the lease over at
      // once; never wait on Kafka for long
      await Promise.race([loop, sleep(5_000)]);
    },
  };
};
