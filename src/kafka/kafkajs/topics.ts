/**
 * @module kafka/kafkajs/topics
 * Creates the connector's topics when they are missing (when allowed), with
 * the configured partitions and replication factor (-1: broker default), or
 * lists the missing ones (when creation is not allowed).
 */
import type { Kafka } from 'kafkajs';
import type { TopicSpec } from '../port.ts';

/** The topics of `specs` that do not exist. */
export const missingTopics = async (kafka: Kafka, specs: TopicSpec[]): Promise<string[]> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    return specs.filter((s) => !existing.has(s.topic)).map((s) => s.topic);
  } finally {
    await admin.disconnect();
  }
};

export const ensureTopics = async (kafka: Kafka, specs: TopicSpec[]): Promise<string[]> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length === 0) return [];
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.partitions,
        replicationFactor: s.replicationFactor,
      })),
    });
    return missing.map((s) => s.topic);
  } finally {
    await admin.disconnect();
  }
};
