/**
 * Time arguments on the command line, in a time zone that is not UTC
 * (TZ=America/New_York): `reconcile --once --from/--to` and `tail --since`
 * read the same forms the same way (src/time-arg.ts); a date with slashes and a
 * time without an offset, which Date.parse reads as local time, are refused
 * with an example of every accepted form (exit 2); relative times are accepted,
 * with or without `=`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from './helpers/cli.ts';
import { uniqueTopic } from './helpers/kafka.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const H = 3_600_000;
const TZ = 'America/New_York';
const EXAMPLES =
  /use 2026-12-01T10:00:00Z or 2026-12-01T10:00:00\+01:00 .*2026-12-01 \(a date: UTC midnight\), now, -48h \/ -90m \/ -1h30m/;

/** `2026-12-01T10:00:00`: what a user in New York might type for "10 o'clock". */
const withoutOffset = (ms: number) => new Date(ms).toISOString().slice(0, 19);

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

const reconcileEnv = {
  TZ,
  KAFKA_BROKERS: '127.0.0.1:1',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1',
  CDR_FEED: 'analytics',
  WEBEX_ACCESS_TOKEN: 't',
  RECONCILE_INTERVAL: '30d', // invalid: the run never starts, every problem is listed
};

describe('time arguments on the command line (TZ=America/New_York)', () => {
  test('reconcile --once refuses 2026/12/01 and a time without an offset, naming every accepted form', async () => {
    const slashes = runCli(['reconcile', '--once', '--from', '2026/12/01'], reconcileEnv);
    assert.equal(await slashes.exited, 2);
    assert.match(slashes.err(), /--from: "2026\/12\/01" is not a time; /);
    assert.match(slashes.err(), EXAMPLES);

    const local = withoutOffset(Date.now() - 3 * H);
    const noOffset = runCli(['reconcile', '--once', '--to', local], reconcileEnv);
    assert.equal(await noOffset.exited, 2);
    assert.match(
      noOffset.err(),
      new RegExp(`--to: "${local}" has no offset \\(it would be read as local time\\); `),
    );
    assert.doesNotMatch(noOffset.err(), /\n\s+at /, 'no stack trace');
  });

  test('reconcile --once accepts relative times (-3h, --to=-1h, now)', async () => {
    const p = runCli(['reconcile', '--once', '--from', '-3h', '--to=-1h'], reconcileEnv);
    assert.equal(await p.exited, 2);
    assert.match(p.err(), /RECONCILE_INTERVAL: /, 'the one real problem is listed');
    assert.doesNotMatch(p.err(), /--from|--to/);
    const now = runCli(['reconcile', '--once', '--from', '-1h30m', '--to', 'now'], reconcileEnv);
    assert.equal(await now.exited, 2);
    assert.doesNotMatch(now.err(), /--from|--to/);
  });

  test('tail --since: the same forms, plus a bare duration; a time without an offset refused', async () => {
    const refused = runCli(['tail', '--since', '2026-12-01T10:00:00'], { TZ });
    assert.equal(await refused.exited, 2);
    assert.match(refused.err(), /--since: "2026-12-01T10:00:00" has no offset/);
    assert.match(refused.err(), EXAMPLES);
    assert.match(refused.err(), /or 1h \(a duration: that long ago, the same as -1h\)/);

    // accepted: tail goes on to Kafka, where the topic does not exist (exit 1, not 2)
    const topic = uniqueTopic('since');
    for (const since of ['1h', '-90m', 'now', '2026-12-01', '2026-12-01T10:00:00-05:00']) {
      const p = runCli(['tail', '--topic', topic, '--since', since], {
        TZ,
        KAFKA_BROKERS: stack.brokers.join(','),
        SCHEMA_REGISTRY_URL: stack.registryUrl,
      });
      assert.equal(await p.exited, 1, `${since}: ${p.err()}`);
      assert.match(p.err(), /does not exist/);
    }
  });
});
