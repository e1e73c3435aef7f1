/**
 * `webex-cdr-kafka tail` as a user runs it, stdout a pipe: every record of a
 * few hundred reaches the reader; a reader that stops early (`| head`) ends it
 * quietly; `--org`, `--report-id` and `--limit`; `--follow` sees a record
 * produced after it started and stops on SIGTERM; a topic that does not exist
 * and a Kafka that does not answer are errors naming the topic and brokers;
 * without KAFKA_BROKERS it reads the local stack's env file (STACK_DIR/env).
 * The port's read itself, on each adapter (KAFKA_CLIENT): the whole range,
 * stopping as soon as the reader says so, following until stopped, a missing
 * topic, and a Kafka that does not answer within the start deadline.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createKafka } from '../../src/kafka/kafkajs/client.ts';
import { createLogger } from '../../src/log.ts';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { runCli } from './helpers/cli.ts';
import { startSuiteIngress, type TestIngress } from './helpers/ingress.ts';
import { KAFKA_CLIENTS, portOn, topicSize, uniqueTopic } from './helpers/kafka.ts';
import { freePort } from './helpers/net.ts';
import { tempDir } from './helpers/scope.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'tail-secret';
const N = 298; // the size of the topic on which `tail | cat` printed 16 records
const ORGS = ['org-a', 'org-b', 'org-c', 'org-d'];

type Line = { key: string; headers: Record<string, string>; value: { report_id: string } };
const parse = (out: string): Line[] =>
  out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);

let stack: TestStack;
let ingress: TestIngress;
const topic = uniqueTopic('tail');
const items = Array.from({ length: N }, (_, i) => rawCdr(i, ORGS[i % ORGS.length] ?? ''));

const publish = async (records: unknown[]) => {
  const res = await postDelivery(ingress.webhookUrl, signedDelivery(records, SECRET));
  assert.equal(res.status, 200);
};

before(async () => {
  stack = await getStack();
  ingress = await startSuiteIngress(stack, { CDR_TOPIC: topic, WEBHOOK_SECRETS: SECRET });
  await publish(items);
  assert.equal(await topicSize(stack.brokers, topic), N);
});
after(async () => {
  await ingress?.close();
  await stack.close();
});

const testKafka = () =>
  createKafka(
    { brokers: stack.brokers, clientId: 'tail-test', ssl: false, sasl: undefined },
    createLogger('silent'),
  );

const tail = (args: string[], env: Record<string, string> = {}) =>
  runCli(['tail', ...args], {
    KAFKA_BROKERS: stack.brokers.join(','),
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    ...env,
  });

describe('webex-cdr-kafka tail', () => {
  test(`every one of ${N} records reaches a pipe, decoded`, async () => {
    const p = tail(['--topic', topic, '--since', '1h']);
    assert.equal(await p.exited, 0, p.err());
    const lines = parse(p.out());
    assert.equal(lines.length, N);
    assert.deepEqual(
      new Set(lines.map((l) => l.value.report_id)),
      new Set(items.map((r) => r['Report ID'])),
    );
  });

  test('a reader that stops early (| head -n 5) ends it quietly, exit 0', async () => {
    const p = tail(['--topic', topic]);
    await p.until(5);
    p.child.stdout.destroy(); // what `head` does once it has its lines
    assert.equal(await p.exited, 0, p.err());
    assert.doesNotMatch(p.err(), /EPIPE|Error|\n\s+at /);
  });

  test('--org and --report-id filter (repeatable or a comma list)', async () => {
    const orgs = tail(['--topic', topic, '--org', 'org-b,org-d']);
    assert.equal(await orgs.exited, 0, orgs.err());
    const byOrg = parse(orgs.out());
    assert.equal(
      byOrg.length,
      items.filter((r) => ['org-b', 'org-d'].includes(r['Org UUID'])).length,
    );
    assert.ok(byOrg.every((l) => l.key === 'org-b' || l.key === 'org-d'));

    const wanted = [items[7]?.['Report ID'] ?? '', items[201]?.['Report ID'] ?? ''];
    const ids = tail([
      '--topic',
      topic,
      '--report-id',
      wanted[0] ?? '',
      '--report-id',
      wanted[1] ?? '',
    ]);
    assert.equal(await ids.exited, 0, ids.err());
    assert.deepEqual(
      parse(ids.out())
        .map((l) => l.headers['cdr-report-id'])
        .sort(),
      wanted.sort(),
    );

    // record 7 is org-d's, 201 org-b's: both filters hold
    const both = tail(['--topic', topic, '--org', 'org-b', '--report-id', wanted.join(',')]);
    assert.equal(await both.exited, 0, both.err());
    assert.deepEqual(
      parse(both.out()).map((l) => l.headers['cdr-report-id']),
      [items[201]?.['Report ID']],
    );
  });

  test("without KAFKA_BROKERS / SCHEMA_REGISTRY_URL it reads the local stack's env file", async (t) => {
    const dir = tempDir(t, 'tail-stack-');
    const file = join(dir, 'env');
    writeFileSync(
      file,
      `KAFKA_BROKERS=${stack.brokers.join(',')}\nSCHEMA_REGISTRY_URL=${stack.registryUrl}\n`,
    );
    const p = runCli(['tail', '--topic', topic, '--limit', '3'], { STACK_DIR: dir });
    assert.equal(await p.exited, 0, p.err());
    assert.equal(parse(p.out()).length, 3);
    assert.match(p.err(), new RegExp(`using the local stack \\(${file}\\)`));
  });

  test('--limit prints that many and stops', async () => {
    const p = tail(['--topic', topic, '--limit', '5', '--org', 'org-c']);
    assert.equal(await p.exited, 0, p.err());
    const lines = parse(p.out());
    assert.equal(lines.length, 5);
    assert.ok(lines.every((l) => l.key === 'org-c'));
  });

  test('--follow prints a record produced after it started, and stops on SIGTERM with exit 0', async () => {
    const p = tail(['--topic', topic, '--follow']);
    try {
      await p.until(N);
      const late = rawCdr(N + 1, 'org-late');
      await publish([late]);
      await p.until(new RegExp(late['Report ID']));
      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0, p.err());
      const lines = parse(p.out());
      assert.equal(lines.length, N + 1);
      assert.equal(lines.at(-1)?.key, 'org-late');
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  test('a record the registry cannot decode ends it with exit 1, naming the registry', async () => {
    const bad = uniqueTopic('tail-undecodable');
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: bad, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    // the wire format's magic byte and a schema id the registry does not have
    await producer.send({
      topic: bad,
      messages: [{ key: 'org-a', value: Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 2, 4]) }],
    });
    await producer.disconnect();
    const p = tail(['--topic', bad]);
    assert.equal(await p.exited, 1);
    assert.match(
      p.err(),
      new RegExp(
        `decoding a record of ${bad} \\(partition 0\\) with the schema registry at ${stack.registryUrl}`,
      ),
    );
  });

  test('a topic that does not exist is an error naming the topic and the brokers (exit 1)', async () => {
    const missing = uniqueTopic('tail-missing');
    const p = tail(['--topic', missing]);
    assert.equal(await p.exited, 1);
    assert.equal(p.out(), '');
    assert.match(
      p.err(),
      new RegExp(`topic ${missing} does not exist on Kafka at ${stack.brokers.join(',')}`),
    );
  });

  test('a Kafka that cannot be reached ends it in bounded time, naming the brokers', async () => {
    const broker = `127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const p = tail(['--topic', topic], { KAFKA_BROKERS: broker });
    assert.equal(await p.exited, 1);
    assert.ok(Date.now() - started < 65_000, `ended after ${Date.now() - started} ms`);
    assert.match(p.err(), new RegExp(`reading topic ${topic} from Kafka at ${broker}: `));
    assert.doesNotMatch(p.err(), /\n\s+at /, 'no stack trace');
  });
});

for (const client of KAFKA_CLIENTS) {
  describe(`the port's read (${client})`, () => {
    test('reads the whole range once, as it was written', async () => {
      const seen = new Set<string>();
      const stats = await portOn(stack.brokers, client).readRange({
        topic,
        fromTimestamp: 0,
        onRecord: (r) => {
          seen.add(r.headers['cdr-report-id'] ?? '');
          assert.ok(r.value !== null && r.value.length > 0);
          assert.ok(r.key?.startsWith('org-'));
        },
      });
      assert.equal(stats.exists, true);
      assert.ok(stats.records >= N, `${stats.records} records`);
      assert.ok(seen.size >= N);
    });

    test('reading stops as soon as the reader says so: not the whole range first', async () => {
      let handed = 0;
      const stats = await portOn(stack.brokers, client).readRange({
        topic,
        fromTimestamp: 0,
        onRecord: async () => {
          handed += 1;
          return handed === 5 ? 'stop' : undefined;
        },
      });
      assert.equal(handed, 5);
      assert.equal(stats.records, 5);
    });

    test('onStart gets the number of records in the range before the first one (what the ledger sizes its index by)', async () => {
      const calls: [number, number][] = [];
      let handed = 0;
      const stats = await portOn(stack.brokers, client).readRange({
        topic,
        fromTimestamp: 0,
        onStart: (records) => calls.push([records, handed]),
        onRecord: () => {
          handed += 1;
        },
      });
      assert.ok(stats.records > 5);
      assert.deepEqual(calls, [[stats.records, 0]]);
    });

    test('follow: a record produced after the start arrives; stopping resolves', async () => {
      const stop = new AbortController();
      const late = rawCdr(Date.now() % 100_000, `org-follow-${client}`);
      let before = 0;
      const read = portOn(stack.brokers, client).readRange({
        topic,
        fromTimestamp: Date.now() - 3_600_000,
        follow: true,
        signal: stop.signal,
        onRecord: (r) => {
          if (r.key === late['Org UUID']) stop.abort(new Error('seen'));
          else before += 1;
        },
      });
      while (before < N) await new Promise((resolve) => setTimeout(resolve, 50));
      await publish([late]);
      const stats = await read;
      assert.ok(stats.records > N);
    });

    test('a missing topic: nothing read, exists false', async () => {
      const stats = await portOn(stack.brokers, client).readRange({
        topic: uniqueTopic('tail-missing'),
        fromTimestamp: 0,
        onRecord: () => assert.fail('no record'),
      });
      assert.deepEqual([stats.exists, stats.records], [false, 0]);
    });

    test('a Kafka that does not answer: kafka_timeout at the start deadline', async () => {
      const broker = `127.0.0.1:${await freePort()}`;
      const started = Date.now();
      await assert.rejects(
        portOn([broker], client).readRange({
          topic,
          fromTimestamp: 0,
          startTimeoutMs: 2_000,
          onRecord: () => undefined,
        }),
        (e) => (e as { code?: string }).code === 'kafka_timeout',
      );
      assert.ok(Date.now() - started < 10_000, `${Date.now() - started} ms`);
    });
  });
}
