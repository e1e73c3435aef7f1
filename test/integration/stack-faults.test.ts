/**
 * The test stack's fault injection, which other tests rely on (ingress, lifecycle,
 * unavailable), on whichever stack TEST_STACK picks (docs/development.md, Test stack):
 *   - every fault call is idempotent: stopping, starting, pausing or resuming twice is no
 *     error and leaves the same state (under testcontainers a second `docker unpause` is a
 *     500, which once failed the test in its `finally` and left the stack half-down);
 *   - killBroker() is a real crash (SIGKILL of the broker; `docker kill` of its container,
 *     exit 137) and startBroker() brings the same broker back on its data: the records
 *     written before the kill are read back after it, and new ones are accepted.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { portOpen } from '../../tools/stack/stack.ts';
import { readTopic, topicSize, uniqueTopic } from './helpers/kafka.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

const brokerPort = () => Number(stack.brokers[0]?.split(':').at(-1));
const registryAnswers = async () =>
  fetch(`${stack.registryUrl}/subjects`, { signal: AbortSignal.timeout(2000) }).then(
    (r) => r.ok,
    () => false,
  );

const produce = async (topic: string, values: string[]) => {
  const kafka = new Kafka({
    clientId: 'stack-faults-test',
    brokers: stack.brokers,
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
};

const createTopic = async (topic: string) => {
  const admin = new Kafka({
    clientId: 'stack-faults-test',
    brokers: stack.brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    // Just after the previous test restarted the broker, its metadata can still lag the
    // controller's: the wait for leaders then sees UNKNOWN_TOPIC_OR_PARTITION, a retriable
    // error kafkajs does not retry there. Ask again until it settles (a created topic stays).
    for (let deadline = Date.now() + 60_000; ; ) {
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
        break;
      } catch (e) {
        if (!(e as { retriable?: boolean }).retriable || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await admin.disconnect();
  }
};

test('every fault call twice in a row: no error, the same state, then back to normal', {
  timeout: 300_000,
}, async () => {
  await stack.pauseRegistry();
  await stack.pauseRegistry();
  assert.equal(await registryAnswers(), false, 'a paused registry does not answer');
  await stack.resumeRegistry();
  await stack.resumeRegistry();
  assert.equal(await registryAnswers(), true, 'resumed, it answers');

  await stack.stopBroker();
  await stack.stopBroker();
  assert.equal((await stack.brokerState()).running, false);
  assert.equal(await portOpen(brokerPort()), false, 'a stopped broker refuses connections');
  await stack.startBroker();
  await stack.startBroker();
  assert.equal((await stack.brokerState()).running, true);
  assert.equal(await topicSize(stack.brokers, uniqueTopic('absent')), 0, 'it answers again');
});

test('killBroker() is a real crash; startBroker() brings it back with its data', {
  timeout: 300_000,
}, async () => {
  const topic = uniqueTopic('kill-restart');
  await createTopic(topic);
  const before = Array.from({ length: 20 }, (_, i) => `before-kill-${i}`);
  await produce(topic, before); // acks=all: on the broker's log before the kill

  await stack.killBroker();
  await stack.killBroker(); // idempotent too
  const killed = await stack.brokerState();
  assert.equal(killed.running, false, 'the broker is gone');
  if (killed.exitCode !== null) assert.equal(killed.exitCode, 137, 'SIGKILLed, not stopped');
  assert.equal(await portOpen(brokerPort()), false, 'nothing listens on its port');

  await stack.startBroker();
  assert.equal((await stack.brokerState()).running, true);
  // The same broker, address and data: everything acknowledged before the kill is there.
  const read = await readTopic(stack.brokers, topic, before.length, 60_000);
  assert.deepEqual(
    read.map((m) => m.value.toString()),
    before,
  );
  await produce(topic, ['after-restart']);
  assert.equal(await topicSize(stack.brokers, topic), before.length + 1);
});
