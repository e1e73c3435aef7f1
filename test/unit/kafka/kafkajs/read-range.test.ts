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
