/**
 * The schema registry as operators meet it, against the real Apicurio of the
 * stack (its Confluent-compatible API): a URL without `/apis/ccompat/v7` fails
 * the start at once with a hint (the CLI prints "cannot start: ..." and exits
 * 1) instead of retrying forever; a governed registry (SCHEMA_AUTO_REGISTER=
 * false) is only read: the connector writes with the id registered for its
 * schema, registers nothing, changes no compatibility level, and refuses to
 * start when the schema is missing or the registered one cannot read its
 * records; and a global level stricter than BACKWARD is never lowered (a
 * subject's own stricter level: schema-contract.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readCdrSchema, SCHEMA_V1_PATH } from '../../src/cdr/avro-schema.ts';
import { CdrError } from '../../src/errors.ts';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { runCli } from './helpers/cli.ts';
import { startTestIngress } from './helpers/ingress.ts';
import { readTopic, uniqueTopic } from './helpers/kafka.ts';
import { freePort } from './helpers/net.ts';
import type { TestScope } from './helpers/scope.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'registry-test-secret';

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

/** One request to the stack's registry (ccompat API). */
const registry = async (path: string, init: { method?: string; body?: unknown } = {}) => {
  const res = await fetch(`${stack.registryUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const versions = async (subject: string): Promise<unknown[]> => {
  const r = await registry(`/subjects/${subject}/versions`);
  return r.status === 404 ? [] : (r.body as unknown as unknown[]);
};

/** The CDR schema with one more field (with a default): a reader of our records. */
const widerSchema = (): string => {
  const schema = JSON.parse(readCdrSchema().text) as { fields: unknown[] };
  schema.fields.push({ name: 'governance_tag', type: ['null', 'string'], default: null });
  return JSON.stringify(schema);
};

/** The CDR schema with a field our records lack and that has no default: cannot read them. */
const narrowerReader = (): string => {
  const schema = JSON.parse(readCdrSchema().text) as { fields: unknown[] };
  schema.fields.push({ name: 'cost_centre', type: 'string' });
  return JSON.stringify(schema);
};

const startRefused = async (t: TestScope, env: Record<string, string>) => {
  const ingress = await startTestIngress(
    t,
    stack,
    { WEBHOOK_SECRETS: SECRET, ...env },
    { waitReady: false },
  );
  const startedAt = Date.now();
  return await ingress.started.then(
    () => assert.fail('the start should have been refused'),
    (e: unknown) => {
      assert.ok(e instanceof CdrError, String(e));
      assert.ok(Date.now() - startedAt < 20_000, 'refused at once, no retry loop');
      return e;
    },
  );
};

describe('schema registry', () => {
  test('a URL without /apis/ccompat/v7: the start fails at once with the hint; the CLI exits 1', async (t) => {
    const root = new URL(stack.registryUrl).origin; // Apicurio's root answers 404 for /config
    const topic = uniqueTopic('registry-path');
    const e = await startRefused(t, { CDR_TOPIC: topic, SCHEMA_REGISTRY_URL: root });
    assert.equal(e.code, 'config_invalid');
    assert.match(e.message, /404/);
    assert.match(e.message, /\/apis\/ccompat\/v7/);

    const cli = runCli(['ingress'], {
      KAFKA_BROKERS: stack.brokers.join(','),
      SCHEMA_REGISTRY_URL: root,
      CDR_TOPIC: topic,
      CDR_FEED: 'analytics',
      WEBHOOK_SECRETS: SECRET,
      PORT: String(await freePort()),
    });
    const timer = setTimeout(() => cli.child.kill('SIGKILL'), 30_000);
    const code = await cli.exited;
    clearTimeout(timer);
    const stderr = cli.err();
    assert.equal(code, 1, stderr);
    assert.match(stderr, /cannot start: .*404.*\/apis\/ccompat\/v7/);
  });

  test('governed, the schema registered: starts with that id, registers nothing, changes no level', async (t) => {
    const topic = uniqueTopic('governed');
    const subject = `${topic}-value`;
    const registered = await registry(`/subjects/${subject}/versions`, {
      method: 'POST',
      body: { schema: readCdrSchema().text },
    });
    assert.equal(registered.status, 200);
    const configBefore = await registry(`/config/${subject}`);
    const ingress = await startTestIngress(t, stack, {
      CDR_TOPIC: topic,
      WEBHOOK_SECRETS: SECRET,
      SCHEMA_AUTO_REGISTER: 'false',
    });
    const res = await postDelivery(
      ingress.webhookUrl,
      signedDelivery([rawCdr(1, 'org-g')], SECRET),
    );
    assert.equal(res.status, 200);
    const [record] = await readTopic(stack.brokers, topic, 1);
    assert.ok(record);
    assert.equal(
      record.value.readUInt32BE(1),
      registered.body.id,
      'written with the registered id',
    );
    assert.equal((await versions(subject)).length, 1, 'no version added');
    assert.deepEqual(await registry(`/config/${subject}`), configBefore, 'no level set');
  });

  test('governed, the schema absent: the start is refused and the subject stays empty', async (t) => {
    const topic = uniqueTopic('governed-absent');
    const e = await startRefused(t, { CDR_TOPIC: topic, SCHEMA_AUTO_REGISTER: 'false' });
    assert.equal(e.code, 'config_invalid');
    assert.match(e.message, /not registered/);
    assert.match(e.message, /SCHEMA_AUTO_REGISTER=false/);
    assert.deepEqual(await versions(`${topic}-value`), []);
    assert.equal((await registry(`/config/${topic}-value`)).status, 404, 'no level set');
  });

  test('governed with SCHEMA_USE_LATEST: a wider latest version is used; one that cannot read our records is refused', async (t) => {
    const wide = uniqueTopic('governed-latest');
    await registry(`/subjects/${wide}-value/versions`, {
      method: 'POST',
      body: { schema: widerSchema() },
    });
    const latest = await registry(`/subjects/${wide}-value/versions/latest`);
    const ingress = await startTestIngress(t, stack, {
      CDR_TOPIC: wide,
      WEBHOOK_SECRETS: SECRET,
      SCHEMA_AUTO_REGISTER: 'false',
      SCHEMA_USE_LATEST: 'true',
    });
    const res = await postDelivery(
      ingress.webhookUrl,
      signedDelivery([rawCdr(2, 'org-l')], SECRET),
    );
    assert.equal(res.status, 200);
    const [record] = await readTopic(stack.brokers, wide, 1);
    assert.equal(record?.value.readUInt32BE(1), latest.body.id);
    assert.equal((await versions(`${wide}-value`)).length, 1);

    const narrow = uniqueTopic('governed-unreadable');
    await registry(`/subjects/${narrow}-value/versions`, {
      method: 'POST',
      body: { schema: narrowerReader() },
    });
    const e = await startRefused(t, {
      CDR_TOPIC: narrow,
      SCHEMA_AUTO_REGISTER: 'false',
      SCHEMA_USE_LATEST: 'true',
    });
    assert.equal(e.code, 'config_invalid');
    assert.match(e.message, /cannot read/);
    assert.match(e.message, /cost_centre/);
    assert.equal((await versions(`${narrow}-value`)).length, 1);
  });

  test('governed with SCHEMA_USE_LATEST and v1 the latest: refused, since v1 would drop the fields v2 added', async (t) => {
    const topic = uniqueTopic('governed-v1');
    await registry(`/subjects/${topic}-value/versions`, {
      method: 'POST',
      body: { schema: readCdrSchema(SCHEMA_V1_PATH).text },
    });
    const e = await startRefused(t, {
      CDR_TOPIC: topic,
      SCHEMA_AUTO_REGISTER: 'false',
      SCHEMA_USE_LATEST: 'true',
    });
    assert.equal(e.code, 'config_invalid');
    assert.match(
      e.message,
      /lacks field\(s\) external_customer_id, transfer_type, transfer_type_context, answer_reason/,
    );
    assert.match(e.message, /register schemas\/cdr.avsc/);
    assert.equal((await versions(`${topic}-value`)).length, 1, 'governed: nothing registered');
  });

  test('a global level stricter than BACKWARD is kept: the subject is held at it, also after a restart', async (t) => {
    const before = await registry('/config');
    assert.equal(
      (await registry('/config', { method: 'PUT', body: { compatibility: 'FULL_TRANSITIVE' } }))
        .status,
      200,
    );
    const topic = uniqueTopic('strict-global');
    try {
      // twice: a restart finds the subject registered (Apicurio then reports NONE for it)
      for (let start = 0; start < 2; start++) {
        const ingress = await startTestIngress(t, stack, {
          CDR_TOPIC: topic,
          WEBHOOK_SECRETS: SECRET,
        });
        await ingress.close();
        const subject = await registry(`/config/${topic}-value`);
        assert.equal(subject.body.compatibilityLevel, 'FULL_TRANSITIVE', `start ${start + 1}`);
      }
      assert.equal((await registry('/config')).body.compatibilityLevel, 'FULL_TRANSITIVE');
      assert.equal((await versions(`${topic}-value`)).length, 1);
    } finally {
      await registry('/config', {
        method: 'PUT',
        body: { compatibility: String(before.body.compatibilityLevel ?? 'NONE') },
      });
    }
  });
});
