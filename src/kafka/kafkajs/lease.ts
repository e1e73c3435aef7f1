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
 * configured, -1 the broker's default) or its absence is the problem; the
 * states, retries and announcements are kafka/lease.ts `runLease`.
 */
import { AssignerProtocol, type Kafka, type PartitionAssigner } from 'kafkajs';
import { describe } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import {
  chooseHolder,
  heartbeatIntervalMs,
  LEASE_PARTITION,
  type MembershipHooks,
  runLease,
} from '../lease.ts';
import type { Lease, LeaseOptions } from '../port.ts';
import { ensureTopics, missingTopics } from './topics.ts';

const PROTOCOL = 'WebexCdrLease';

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
  const maxRetryMs = Math.min(5_000, heartbeatIntervalMs(sessionTimeoutMs) * 3);
  /** One membership: from creating the consumer until it crashes or stop(). */
  const member = async (hooks: MembershipHooks): Promise<unknown> => {
    const c = kafka.consumer({
      groupId,
      partitionAssigners: [stickyAssigner(hooks.held, logger)],
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
        hooks.unassigned(`the group membership failed: ${describe(payload.error)}`);
        resolve(payload.error);
      });
    });
    c.on(c.events.GROUP_JOIN, ({ payload }) => {
      hooks.joined(
        payload.duration,
        (payload.memberAssignment[topic] ?? []).includes(LEASE_PARTITION),
      );
    });
    c.on(c.events.HEARTBEAT, () => hooks.beat());
    try {
      // Not cut short by stop(): a connection opened after disconnect() would stay open.
      await c.connect();
      if (hooks.stopping.aborted) return undefined;
      await c.subscribe({ topic, fromBeginning: false });
      // run() returns after the first join (or after a crash there)
      await c.run({ autoCommit: false, eachBatch: async () => undefined });
      try {
        c.pause([{ topic }]); // nothing to read: the membership is heartbeats only
      } catch {
        // crashed at the first join: reported below
      }
      const end = await hooks.until(crashed);
      return end === 'stopped' ? undefined : end;
    } finally {
      hooks.unassigned('left the group');
      await c.disconnect().catch(() => undefined);
    }
  };
  return runLease(opts, {
    missingTopics: (specs) => missingTopics(kafka, specs),
    ensureTopics: (specs) => ensureTopics(kafka, specs),
    member,
    refusal,
  });
};
