import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type Kafka, Partitioners } from 'kafkajs';
import { CdrError } from '../../../../src/errors.ts';
import {
  createCdrProducer,
  rememberingPartitioner,
} from '../../../../src/kafka/kafkajs/producer.ts';
import { createLogger } from '../../../../src/log.ts';

const metadata = (n: number) =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));

describe('rememberingPartitioner', () => {
  it('gives the partition kafkajs DefaultPartitioner gives, asked once or many times', () => {
    const remembering = rememberingPartitioner();
    const fresh = Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.integer({ min: 1, max: 64 }), (key, n) => {
        const args = { topic: 't', partitionMetadata: metadata(n), message: { key, value: null } };
        const expected = fresh(args);
        assert.equal(remembering(args), expected);
        assert.equal(remembering(args), expected, 'remembered');
      }),
      { seed: 4715, numRuns: 3000 },
    );
  });

  it('follows a change of the partition count, and leaves explicit partitions alone', () => {
    const p = rememberingPartitioner();
    const base = Partitioners.DefaultPartitioner();
    const key = 'org-1';
    for (const n of [3, 6, 3, 12]) {
      const args = { topic: 't', partitionMetadata: metadata(n), message: { key, value: null } };
      assert.equal(p(args), base(args));
    }
    const explicit = {
      topic: 't',
      partitionMetadata: metadata(6),
      message: { key, value: null, partition: 5 },
    };
    assert.equal(p(explicit), 5);
  });
});

/** kafkajs' producers as far as createCdrProducer uses them; each send answers `answer()`. */
const fakeKafka = (answer: (producer: number) => Promise<unknown>) => {
  const built: { connects: number; disconnects: number; sends: number }[] = [];
  const kafka = {
    producer: () => {
      const id = built.length;
      const state = { connects: 0, disconnects: 0, sends: 0 };
      built.push(state);
      return {
        events: { DISCONNECT: 'producer.disconnect' },
        on: () => undefined,
        connect: async () => {
          state.connects += 1;
        },
        disconnect: async () => {
          state.disconnects += 1;
        },
        sendBatch: () => {
          state.sends += 1;
          return answer(id);
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, built };
};

const oneMessage = [
  { topic: 'cdr', messages: [{ key: 'org-1', value: Buffer.from('v'), headers: {} }] },
];

describe('createCdrProducer (kafkajs)', () => {
  it('rebuilds the producer after a producer-fatal error, and sends on the new one', async () => {
    const fatal = Object.assign(new Error('out of order'), {
      type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
    });
    const { kafka, built } = fakeKafka((id) =>
      id === 0 ? Promise.reject(fatal) : Promise.resolve([]),
    );
    const producer = createCdrProducer(kafka, {
      compression: 'none',
      logger: createLogger('silent'),
    });
    await producer.connect();
    await assert.rejects(
      producer.send(oneMessage, 1_000),
      (e: unknown) => e instanceof CdrError && e.code === 'kafka_failed' && e.cause === fatal,
    );
    assert.equal(built.length, 2, 'a new producer');
    assert.equal(built[0]?.disconnects, 1, 'the old one closed');
    await producer.send(oneMessage, 1_000);
    assert.deepEqual(
      built.map((p) => p.sends),
      [1, 1],
    );
    assert.equal(built[1]?.connects, 1);
  });

  it('keeps its producer after other errors', async () => {
    const other = Object.assign(new Error('not leader'), { type: 'NOT_LEADER_FOR_PARTITION' });
    const { kafka, built } = fakeKafka(() => Promise.reject(other));
    const producer = createCdrProducer(kafka, {
      compression: 'none',
      logger: createLogger('silent'),
    });
    await assert.rejects(producer.send(oneMessage, 1_000), /Kafka send failed: not leader/);
    assert.equal(built.length, 1);
  });
});
