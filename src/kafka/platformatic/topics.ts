/**
 * @module kafka/platformatic/topics
 * The topics part of the port on @platformatic/kafka's Admin: lists the
 * topics of the specs that are missing, or creates them (partitions and
 * replication as configured, -1 the broker's default) and waits until their
 * partitions have leaders, as kafkajs' `waitForLeaders`. A topic created
 * meanwhile by another replica counts as there. Each call opens one admin
 * client and closes it, failed or not.
 */
import type { TopicSpec } from '../port.ts';
import { errorsIn } from './connection.ts';

/** What these functions use of the library's Admin. */
export type TopicsAdmin = {
  listTopics(): Promise<string[]>;
  createTopics(options: {
    topics: { topic: string; partitions: number; replicas: number }[];
  }): Promise<unknown>;
  metadata(options: { topics: string[]; forceUpdate?: boolean }): Promise<{
    topics: Map<string, { partitions: { leader: number }[] } | undefined>;
  }>;
  close(): Promise<void>;
};

/** Metadata reads after a creation until every partition has a leader, and the wait between them. */
const LEADER_CHECKS = 20;
const LEADER_CHECK_MS = 250;

const withAdmin = async <T>(
  open: () => Promise<TopicsAdmin>,
  work: (admin: TopicsAdmin) => Promise<T>,
): Promise<T> => {
  const admin = await open();
  try {
    return await work(admin);
  } finally {
    await admin.close();
  }
};

const missingIn = async (admin: TopicsAdmin, specs: TopicSpec[]): Promise<TopicSpec[]> => {
  const existing = new Set(await admin.listTopics());
  return specs.filter((s) => !existing.has(s.topic));
};

/** The topics of `specs` that do not exist. */
export const missingTopics = (
  open: () => Promise<TopicsAdmin>,
  specs: TopicSpec[],
): Promise<string[]> =>
  withAdmin(open, async (admin) => (await missingIn(admin, specs)).map((s) => s.topic));

const alreadyExists = (e: unknown): boolean =>
  errorsIn(e).some((err) => (err as { apiId?: unknown }).apiId === 'TOPIC_ALREADY_EXISTS');

const waitForLeaders = async (admin: TopicsAdmin, topics: string[]): Promise<void> => {
  for (let check = 1; ; check++) {
    const { topics: found } = await admin.metadata({ topics, forceUpdate: true });
    const led = topics.every((t) => {
      const partitions = found.get(t)?.partitions ?? [];
      return partitions.length > 0 && partitions.every((p) => p.leader >= 0);
    });
    if (led || check >= LEADER_CHECKS) return;
    await new Promise((resolve) => setTimeout(resolve, LEADER_CHECK_MS));
  }
};

/** Creates the topics of `specs` that do not exist; the ones created. */
export const ensureTopics = (
  open: () => Promise<TopicsAdmin>,
  specs: TopicSpec[],
): Promise<string[]> =>
  withAdmin(open, async (admin) => {
    const missing = await missingIn(admin, specs);
    if (missing.length === 0) return [];
    try {
      await admin.createTopics({
        topics: missing.map((s) => ({
          topic: s.topic,
          partitions: s.partitions,
          replicas: s.replicationFactor,
        })),
      });
    } catch (e) {
      if (!alreadyExists(e)) throw e;
    }
    const names = missing.map((s) => s.topic);
    await waitForLeaders(admin, names);
    return names;
  });
