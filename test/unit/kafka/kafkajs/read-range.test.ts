import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Kafka } from 'kafkajs';
import { CdrError } from '../../../../src/errors.ts';
import { readTopicRange } from '../../../../src/kafka/kafkajs/read-range.ts';

/** A cluster that accepts the connection and never answers (a black-holed broker). */
const silentKafka = () => {
  let disconnected = 0;
  const kafka = {
    admin: () => ({
      connect: () => new Promise<void>(() => undefined),
      disconnect: async () => {
        disconnected += 1;
      },
    }),
  } as unknown as Kafka;
  return { kafka, disconnected: () => disconnected };
};

describe('readTopicRange start deadline', () => {
  it('gives up with kafka_timeout when the cluster does not answer in time', async () => {
    const { kafka, disconnected } = silentKafka();
    const started = Date.now();
    await assert.rejects(
      readTopicRange(kafka, {
        topic: 't',
        fromTimestamp: 0,
        onRecord: () => undefined,
        startTimeoutMs: 50,
      }),
      (e: unknown) =>
        e instanceof CdrError &&
        e.code === 'kafka_timeout' &&
        /^Kafka did not answer within 50 ms$/.test(e.message),
    );
    assert.ok(Date.now() - started < 1_000);
    assert.equal(disconnected(), 1);
  });

  it('a stop request while connecting rejects with its reason at once', async () => {
    const { kafka } = silentKafka();
    const stop = new AbortController();
    const read = readTopicRange(kafka, {
      topic: 't',
      fromTimestamp: 0,
      onRecord: () => undefined,
      signal: stop.signal,
    });
    const reason = new Error('stopped');
    stop.abort(reason);
    await assert.rejects(read, (e) => e === reason);
  });
});

/**
 * A cluster whose group coordinator is not there yet for the first `crashes`
 * joins (a brand-new broker): the consumer crashes in run() as kafkajs does
 * (restart or not), and seeking without a group throws as kafkajs does.
 */
const coordinatorLoading = (crashes: number, restart = true) => {
  let joins = 0;
  const restarts: (() => Promise<boolean>)[] = [];
  const kafka = {
    admin: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      listTopics: async () => ['t'],
      fetchTopicOffsets: async () => [{ partition: 0, offset: '2', low: '0', high: '2' }],
      fetchTopicOffsetsByTimestamp: async () => [{ partition: 0, offset: '0' }],
    }),
    consumer: (config: { retry?: { restartOnFailure?: () => Promise<boolean> } }) => {
      if (config.retry?.restartOnFailure !== undefined)
        restarts.push(config.retry.restartOnFailure);
      const crashed: ((e: unknown) => void)[] = [];
      let eachBatch: ((p: unknown) => Promise<void>) | undefined;
      return {
        events: { CRASH: 'consumer.crash' },
        on: (_: string, listener: (e: unknown) => void) => crashed.push(listener),
        connect: async () => undefined,
        subscribe: async () => undefined,
        run: async (config: { eachBatch: (p: unknown) => Promise<void> }) => {
          joins += 1;
          if (joins <= crashes) {
            const error = new Error('The group coordinator is not available');
            for (const l of crashed) l({ payload: { error, restart } });
            return;
          }
          eachBatch = config.eachBatch;
        },
        seek: ({ partition }: { partition: number }) => {
          const run = eachBatch;
          if (run === undefined) {
            throw new Error(
              'Consumer group was not initialized, consumer#run must be called first',
            );
          }
          const message = (offset: number) => ({
            offset: String(offset),
            key: Buffer.from('org-1'),
            value: Buffer.from('{}'),
            headers: {},
            timestamp: '0',
          });
          setImmediate(() =>
            run({
              batch: { partition, messages: [message(0), message(1)], lastOffset: () => '1' },
              heartbeat: async () => undefined,
            }),
          );
        },
        pause: () => undefined,
        disconnect: async () => undefined,
      };
    },
  } as unknown as Kafka;
  return { kafka, joins: () => joins, restarts };
};

describe('readTopicRange on a cluster that does not coordinate groups yet', () => {
  const read = (kafka: Kafka) =>
    readTopicRange(kafka, { topic: 't', fromTimestamp: 0, onRecord: () => undefined });

  it('tries a first join that failed again, with a new consumer', async () => {
    const { kafka, joins } = coordinatorLoading(1);
    const stats = await read(kafka);
    assert.equal(stats.records, 2);
    assert.equal(joins(), 2);
  });

  it('a consumer that crashes once the read is over is not restarted (it would connect again)', async () => {
    const { kafka, restarts } = coordinatorLoading(0);
    let during: boolean | undefined;
    await readTopicRange(kafka, {
      topic: 't',
      fromTimestamp: 0,
      onRecord: async () => {
        during = await restarts[0]?.();
      },
    });
    assert.equal(during, true, 'restarted as kafkajs would while reading');
    assert.equal(await restarts[0]?.(), false);
  });

  it('gives up after three joins, with the join failure', async () => {
    const { kafka, joins } = coordinatorLoading(3);
    await assert.rejects(read(kafka), /^Error: The group coordinator is not available$/);
    assert.equal(joins(), 3);
  });

  it('does not try again what kafkajs would not retry', async () => {
    const { kafka, joins } = coordinatorLoading(1, false);
    await assert.rejects(read(kafka), /^Error: The group coordinator is not available$/);
    assert.equal(joins(), 1);
  });
});
