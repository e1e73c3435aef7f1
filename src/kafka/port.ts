/**
 * @module kafka/port
 * The Kafka seam: what the stages need of a Kafka client, and nothing of any
 * client library. An adapter (kafka/kafkajs/, kafka/platformatic/) implements
 * it; kafka/client.ts picks one from KAFKA_CLIENT. Stages and the
 * rest of kafka/ use these types only, so a client is swapped by adding one
 * folder.
 */
import type { CdrError } from '../errors.ts';
import type { Logger } from '../log.ts';

export type OutMessage = {
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
};

export type TopicMessages = { topic: string; messages: OutMessage[] };

/**
 * The one producer of a process: idempotent, acks=-1, murmur2 partitioning as
 * the Java client, compression as configured. Connected means holding its
 * producer id.
 */
export type CdrProducer = {
  connect(): Promise<void>;
  /**
   * Resolves when every message is acknowledged. Rejects (kafka_timeout) when
   * one chunk is not acknowledged within `stallMs`, or at once while too many
   * bytes of earlier, given-up sends are still pending.
   */
  send(batches: TopicMessages[], stallMs: number): Promise<void>;
  isConnected(): boolean;
  disconnect(): Promise<void>;
};

export type ProducerOptions = {
  logger: Logger;
  /** Bytes of given-up sends the client may still be retrying, above which sends are refused at once. */
  maxAbandonedBytes?: number;
};

export type TopicSpec = { topic: string; partitions: number; replicationFactor: number };

/** One record as a reader sees it: key, headers, timestamp, the value as bytes. */
export type KeyAndHeaders = {
  readonly partition: number;
  readonly key: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
  /** The raw value (not decoded: callers that only count ignore it). */
  readonly value: Buffer | null;
};

export type RangeStats = {
  /** False when the topic does not exist (nothing was read). */
  exists: boolean;
  partitions: number;
  records: number;
  ms: number;
};

/** Answering `'stop'` (or a promise of it) ends the read after this record. */
export type OnRecord = (r: KeyAndHeaders) => unknown;

/**
 * A read of a topic from the offsets at `fromTimestamp` up to the end offsets
 * of the moment the read starts (a snapshot), or with `follow` on and on
 * until `signal` aborts. `onRecord` may return a promise: nothing more is
 * handed over until it settles (backpressure). If it throws, the read
 * rejects with that; `signal` aborting rejects with its reason (with
 * `follow`, that is the end and resolves).
 */
export type ReadRangeOptions = {
  topic: string;
  fromTimestamp: number;
  onRecord: OnRecord;
  /**
   * Called once before the first record (and only when the read will hand any
   * over) with how many it can hand over at most: the end offsets of the
   * snapshot less the start offsets (a compacted or transactional topic has
   * gaps, so fewer may come; with `follow`, those of the snapshot only).
   */
  onStart?: (records: number) => void;
  /** Keep reading records produced after the start, until `signal` aborts. */
  follow?: boolean;
  /** Give up when no record arrives for this long while partitions remain unread. */
  stallMs?: number;
  /** Give up (`kafka_timeout`) when the read has not started this long after the call. */
  startTimeoutMs?: number;
  signal?: AbortSignal;
};

export type LeaseState = 'starting' | 'standby' | 'held' | 'failed' | 'stopped';

export type LeaseStatus = {
  state: LeaseState;
  /** Why the member cannot take part (state `failed`, or the last failure while starting). */
  problem: string | null;
  /** Times this member acquired / lost the lease. */
  acquisitions: number;
  losses: number;
  /** Since when it holds the lease (epoch ms), while held. */
  heldSince: number | null;
};

/** A lease among replicas with Kafka's group coordinator as the arbiter (kafka/lease.ts, the membership in each adapter). */
export type Lease = {
  held(): boolean;
  status(): LeaseStatus;
  /** Leaves the group (the lease passes on at once); call once the work has stopped. */
  stop(): Promise<void>;
};

export type LeaseOptions = {
  topic: string;
  groupId: string;
  sessionTimeoutMs: number;
  /** Create the topic (one partition) when it is missing; else its absence is the problem. */
  createTopic: boolean;
  replicationFactor: number;
  logger: Logger;
  onAcquired?: () => void;
  onLost?: (reason: string) => void;
  /** Monotonic milliseconds. */
  now?: () => number;
};

/** Everything the connector does with Kafka. Creating one opens no connection. */
export type KafkaClient = {
  /** The producer (not connected yet). */
  createProducer(opts: ProducerOptions): CdrProducer;
  /** The topics of `specs` that do not exist. */
  missingTopics(specs: TopicSpec[]): Promise<string[]>;
  /** Creates the topics of `specs` that do not exist; the ones created. */
  ensureTopics(specs: TopicSpec[]): Promise<string[]>;
  readRange(opts: ReadRangeOptions): Promise<RangeStats>;
  lease(opts: LeaseOptions): Lease;
  /** A broker refusing our credentials, as `auth_failed` (not retriable); null for other errors. */
  authFailure(e: unknown): CdrError | null;
};
