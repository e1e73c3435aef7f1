/**
 * @module kafka/platformatic/lease
 * The reconciler lease (kafka/lease.ts) on @platformatic/kafka: each replica
 * is a member of the consumer group `groupId` on the lease topic (one
 * partition), and the member the group assigns partition 0 holds the lease.
 * The membership is the library's classic group protocol without a stream:
 * the consumer tracks the topic and joins; its own timer heartbeats, and it
 * rejoins by itself when the coordinator rebalances.
 *
 * Sticky, as on kafkajs: each member's JoinGroup metadata says whether it
 * holds the lease, and the leader's assigner gives partition 0 to that
 * member, else to the first by id (a lone member takes every partition, the
 * library's own rule). Fencing by time (kafka/lease.ts `createFence`): a join
 * counts from the start of the attempt (the join call, or the heartbeat
 * whose failure led to the rejoin), an acknowledged heartbeat from the
 * acknowledgement before it. The membership ends, leaving the group, when a
 * rejoin fails (the consumer's `error`), when heartbeats have stalled for the
 * rebalance timeout, or on stop(); then runLease starts another.
 */
import { describe } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { MembershipHooks } from '../lease.ts';
import { chooseHolder, heartbeatIntervalMs, LEASE_PARTITION, runLease } from '../lease.ts';
import type { Lease, LeaseOptions, TopicSpec } from '../port.ts';
import {
  clientOptions,
  errorsIn,
  loadPlatformatic,
  type PlatformaticConnection,
} from './connection.ts';

const PROTOCOL = 'WebexCdrLease';

/** A member's claim, as its JoinGroup user data. */
export const claim = (holds: boolean): Buffer => Buffer.from(JSON.stringify({ holds }));

const claimOf = (metadata: unknown): boolean => {
  try {
    const text = Buffer.isBuffer(metadata) ? metadata.toString('utf8') : String(metadata ?? '');
    return JSON.parse(text || '{}').holds === true;
  } catch {
    return false;
  }
};

type Assigner = import('@platformatic/kafka').GroupPartitionsAssigner;

/** The leader's assignment: every partition of the lease topic to the holder, nothing to the others. */
export const stickyAssigner =
  (logger: Logger): Assigner =>
  (_current, members, topics, metadata) => {
    const { holder, claimants } = chooseHolder(
      [...members.entries()].map(([memberId, m]) => ({ memberId, claims: claimOf(m.metadata) })),
    );
    if (claimants > 1) logger.warn('lease: several members claim it', { claimants, holder });
    return [...members.keys()].map((memberId) => ({
      memberId,
      assignments: new Map(
        memberId !== holder
          ? []
          : [...topics].map((topic) => {
              const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
              const partitions = count > 0 ? [...Array(count).keys()] : [LEASE_PARTITION];
              return [topic, { topic, partitions }] as const;
            }),
      ),
    }));
  };

const AUTH_TYPES = new Set([
  'GROUP_AUTHORIZATION_FAILED',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
]);

/** How Kafka refused the lease, if it did: the authorization error in the library's error, by its id. */
export const refusal = (e: unknown): string | null => {
  for (const err of errorsIn(e)) {
    const id = (err as { apiId?: unknown }).apiId;
    if (typeof id === 'string' && AUTH_TYPES.has(id)) return id;
  }
  return null;
};

export type PlatformaticLeaseOptions = LeaseOptions & {
  connection: PlatformaticConnection;
  missingTopics(specs: TopicSpec[]): Promise<string[]>;
  ensureTopics(specs: TopicSpec[]): Promise<string[]>;
};

export const createLease = (opts: PlatformaticLeaseOptions): Lease => {
  const { topic, groupId, sessionTimeoutMs, logger } = opts;
  const now = opts.now ?? (() => performance.now());
  /** One membership: from creating the consumer until it fails or stop(). */
  const member = async (hooks: MembershipHooks): Promise<unknown> => {
    const lib = await loadPlatformatic();
    const c = new lib.Consumer({
      ...clientOptions(opts.connection),
      groupId,
      sessionTimeout: sessionTimeoutMs,
      rebalanceTimeout: sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs(sessionTimeoutMs),
      protocols: [{ name: PROTOCOL, version: 1 }],
      protocolsMetadata: () => claim(hooks.held()),
      partitionAssigner: stickyAssigner(logger),
      retryDelay: 300,
    });
    let attemptStarted = now();
    const failed = new Promise<unknown>((resolve) => {
      c.on('error', (error: unknown) => {
        hooks.unassigned(`the group membership failed: ${describe(error)}`);
        resolve(error);
      });
      c.on('consumer:heartbeat:stalled', ({ lastError, stalledFor }) => {
        const why = lastError === undefined ? '' : `: ${describe(lastError)}`;
        const error = new Error(`no heartbeat acknowledged for ${stalledFor} ms${why}`);
        hooks.unassigned(`the group membership failed: ${error.message}`);
        resolve(error);
      });
    });
    c.on('consumer:heartbeat:start', () => {
      attemptStarted = now();
    });
    c.on('consumer:heartbeat:end', () => hooks.beat());
    c.on('consumer:group:join', ({ assignments }) => {
      const mine = assignments?.find((a) => a.topic === topic)?.partitions ?? [];
      hooks.joined(now() - attemptStarted, mine.includes(LEASE_PARTITION));
    });
    c.on('consumer:group:leave', () => hooks.unassigned('left the group'));
    try {
      c.topics.track(topic);
      attemptStarted = now();
      if ((await hooks.until(c.joinGroup({}))) === 'stopped') return undefined;
      const end = await hooks.until(failed);
      return end === 'stopped' ? undefined : end;
    } finally {
      hooks.unassigned('left the group');
      await c.close(true).catch(() => undefined);
    }
  };
  return runLease(opts, {
    missingTopics: opts.missingTopics,
    ensureTopics: opts.ensureTopics,
    member,
    refusal,
  });
};
