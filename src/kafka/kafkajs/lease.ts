/**
 * @module kafka/kafkajs/lease
 * A lease among replicas with Kafka's group coordinator as the arbiter (no
 * lock of our own): every replica joins the consumer group `groupId` on the
 * lease topic (one partition), and the member the group assigns partition 0
 * holds the lease. The others are members too, standing by: when the holder
 * leaves the group (stop()) or is evicted, the coordinator rebalances and
 * partition 0 goes to one of them.
 *
 * Sticky: each member says in its JoinGroup metadata whether it holds the
 * lease, and the group leader's assignment gives partition 0 to that member,
 * so a member joining or leaving does not move the lease from a live holder;
 * without a claimant it goes to the first member by id.
 *
 * Fencing by time. The coordinator gives partition 0 to another member only
 * in a new generation, once the holder has left or been evicted: no
 * heartbeat for the session timeout S (or not rejoining a rebalance within
 * the rebalance timeout, which is set to S too). A rebalance that the holder
 * rejoins leaves the lease with it. So the holder counts the lease as held
 * only until S - S/5 after the earliest moment its last acknowledged
 * heartbeat could have been sent (the acknowledgement before it, since
 * heartbeats go one at a time; for a join, the start of the join), on the
 * monotonic clock. Then `onLost` is called and the claim dropped; a heartbeat
 * acknowledged later in the same generation gives the lease back. The bound
 * relied on: the holder's clock does not run slower than the coordinator's by
 * S/5 over S, and whatever the holder does stops within the rest of that
 * margin once `onLost` ran. Time cannot fence what was already handed over:
 * a produce request in flight can still land after the deadline, and a
 * process frozen (SIGSTOP, a paused VM) resumes its I/O before its timers.
 *
 * The topic is created when missing (one partition; replication as
 * configured, -1 the broker's default) or its absence is the problem. A
 * refusal (ACLs, the topic missing) is logged at `error` with what to grant
 * and is the state `failed`; other failures (Kafka unreachable) are `warn`,
 * at most every 30 s. Both are reported by status() and tried again with
 * back-off up to 30 s.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { AssignerProtocol, type Kafka, type PartitionAssigner } from 'kafkajs';
import { CdrError, describe, isCdrError } from '../../errors.ts';
import { type Logger, rateLimited } from '../../log.ts';
import {
  chooseHolder,
  createFence,
  fenceMarginMs,
  heartbeatIntervalMs,
  LEASE_PARTITION,
} from '../lease.ts';
import type { Lease, LeaseOptions, LeaseState } from '../port.ts';
import { ensureTopics, missingTopics } from './topics.ts';

const PROTOCOL = 'WebexCdrLease';
const MAX_BACKOFF_MS = 30_000;

const claimOf = (metadata: Buffer): boolean => {
  try {
    const userData = AssignerProtocol.MemberMetadata.decode(metadata)?.userData;
    return JSON.parse(userData?.toString('utf8') || '{}').holds === true;
  } catch {
    return false;
  }
};

export const stickyAssigner =
  (claims: () => boolean, logger: Logger): PartitionAssigner =>
  ({ cluster }) => ({
    name: PROTOCOL,
    version: 1,
    async assign({ members, topics }) {
      const { holder, claimants } = chooseHolder(
        members.map((m) => ({ memberId: m.memberId, claims: claimOf(m.memberMetadata) })),
      );
      if (claimants > 1) logger.warn('lease: several members claim it', { claimants, holder });
      const all = Object.fromEntries(
        topics.map((t) => {
          const ids = cluster.findTopicPartitionMetadata(t).map((p) => p.partitionId);
          return [t, ids.length > 0 ? ids : [LEASE_PARTITION]];
        }),
      );
      return members.map((m) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: m.memberId === holder ? all : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol: ({ topics }) => ({
      name: PROTOCOL,
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: 1,
        topics,
        userData: Buffer.from(JSON.stringify({ holds: claims() })),
      }),
    }),
  });

const AUTH_TYPES = new Set([
  'GROUP_AUTHORIZATION_FAILED',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
]);

/**
 * How Kafka refused the lease, if it did: an authorization error type, or
 * `no coordinator`, which is how kafkajs reports a FindCoordinator refused
 * for want of READ on the group (the broker's answer itself is not kept).
 */
const refusal = (e: unknown): string | null => {
  for (let err = e, depth = 0; err instanceof Error && depth < 6; depth++) {
    const type = (err as { type?: unknown }).type;
    if (typeof type === 'string' && AUTH_TYPES.has(type)) return type;
    if (err.name === 'KafkaJSGroupCoordinatorNotFound') return 'no coordinator';
    const next = err as { originalError?: unknown; cause?: unknown };
    err = next.originalError ?? next.cause;
  }
  return null;
};

export type KafkajsLeaseOptions = LeaseOptions & { kafka: Kafka };

export const createLease = (opts: KafkajsLeaseOptions): Lease => {
  const { kafka, topic, groupId, sessionTimeoutMs, logger } = opts;
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
    const type = refusal(e);
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
  /** `p`, or 'stopped' at once on stop() (Kafka's own retries are not waited for). */
  const until = <T>(p: Promise<T>): Promise<T | 'stopped'> => {
    p.catch(() => undefined);
    return Promise.race([p, stopped]);
  };

  const prepareTopic = async () => {
    const specs = [{ topic, partitions: 1, replicationFactor: opts.replicationFactor }];
    if (opts.createTopic) {
      const created = await ensureTopics(kafka, specs);
      if (created.length > 0) logger.info('created the lease topic', { topic, partitions: 1 });
    } else if ((await missingTopics(kafka, specs)).length > 0) {
      throw new CdrError(
        'config_invalid',
        `the lease topic ${topic} is missing, or not visible without DESCRIBE on it (KAFKA_CREATE_TOPICS=false): create it with one partition`,
      );
    }
  };

  const maxRetryMs = Math.min(5_000, heartbeatIntervalMs(sessionTimeoutMs) * 3);
  /** One membership: from creating the consumer until it crashes or stop(). */
  const member = async () => {
    const c = kafka.consumer({
      groupId,
      partitionAssigners: [stickyAssigner(held, logger)],
      sessionTimeout: sessionTimeoutMs,
      rebalanceTimeout: sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs(sessionTimeoutMs),
      maxWaitTimeInMs: Math.min(1_000, heartbeatIntervalMs(sessionTimeoutMs)),
      allowAutoTopicCreation: false,
      // A crash leaves the group before it is reported: the membership retries
      // for longer than the session timeout, so the fence has ended the lease first.
      retry: {
        retries: Math.ceil(sessionTimeoutMs / maxRetryMs) + 10,
        initialRetryTime: 300,
        maxRetryTime: maxRetryMs,
        restartOnFailure: async () => false,
      },
    });
    const crashed = new Promise<unknown>((resolve) => {
      c.on(c.events.CRASH, ({ payload }) => {
        assigned = false;
        update(`the group membership failed: ${describe(payload.error)}`);
        resolve(payload.error);
      });
    });
    c.on(c.events.GROUP_JOIN, ({ payload }) => {
      fence.joined(payload.duration);
      assigned = (payload.memberAssignment[topic] ?? []).includes(LEASE_PARTITION);
      problem = null;
      if (state === 'failed' || state === 'starting') state = 'standby';
      update('partition 0 of the lease topic is assigned to another member');
    });
    c.on(c.events.HEARTBEAT, () => {
      fence.beat();
      update('heartbeat');
    });
    try {
      // Not cut short by stop(): a connection opened after disconnect() would stay open.
      await c.connect();
      if (stopping.signal.aborted) return;
      await c.subscribe({ topic, fromBeginning: false });
      // run() returns after the first join (or after a crash there)
      await c.run({ autoCommit: false, eachBatch: async () => undefined });
      try {
        c.pause([{ topic }]); // nothing to read: the membership is heartbeats only
      } catch {
        // crashed at the first join: reported below
      }
      const end = await until(crashed);
      if (end !== 'stopped') fail(end);
    } finally {
      assigned = false;
      update('left the group');
      await c.disconnect().catch(() => undefined);
    }
  };

  const loop = (async () => {
    let delay = 1_000;
    while (!stopping.signal.aborted) {
      try {
        if ((await until(prepareTopic())) === 'stopped') break;
        await member();
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
