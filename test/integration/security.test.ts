/**
 * Kafka and registry security on the real local stack:
 * - the ingress publishes through the broker's SASL listener with
 *   SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN, as a principal whose ACLs allow
 *   only WRITE + DESCRIBE on its CDR and dead-letter topics; the records
 *   arrive and decode;
 * - the same principal can neither write nor describe another topic, nor
 *   create one;
 * - the reconciler backfills what the webhook lost as a principal holding
 *   only the ACLs docs/security.md lists (READ on the ledger's consumer groups);
 * - a wrong password ends the start with a clear error at once (in process,
 *   and the CLI exits 1), instead of retrying forever;
 * - the registry client sends the configured basic or bearer Authorization
 *   on every request (a recording proxy in front of Apicurio checks it), a
 *   refused token is `auth_failed`, and an https registry is trusted through
 *   SCHEMA_REGISTRY_CA (a certificate made by openssl for this test only).
 */
import assert from 'node:assert/strict';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { readCdrSchema } from '../../src/cdr/avro-schema.ts';
import { CdrError } from '../../src/errors.ts';
import { createRegistryClient } from '../../src/kafka/registry.ts';
import { createLogger } from '../../src/log.ts';
import { createReconciler } from '../../src/reconciler/service.ts';
import { parseReconcilerConfig } from '../../src/settings.ts';
import { createPartnerApi } from '../../src/simulator/partner-api.ts';
import { createWebhookSender } from '../../src/simulator/webhook-sender.ts';
import { createWebexWorld, type WebexWorld } from '../../src/simulator/world.ts';
import { saslListener, stackSettings } from '../../tools/stack/stack.ts';
import { selfSignedFor127 } from '../helpers/self-signed.ts';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { exitWithin, runCli, startCli } from './helpers/cli.ts';
import { startTestIngress } from './helpers/ingress.ts';
import { KAFKA_CLIENTS, type KafkaClientName, readTopic, uniqueTopic } from './helpers/kafka.ts';
import { freePort, serveTest } from './helpers/net.ts';
import { tempDir } from './helpers/scope.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  Kafka,
  logLevel,
  ResourcePatternTypes,
} = kafkajs;
const SECRET = 'security-test-secret';
const sasl = saslListener(stackSettings());
const USER = 'ingress';
const PASSWORD = sasl.users.ingress;

let stack: TestStack;
before(async () => {
  assert.notEqual(
    process.env.TEST_STACK,
    'testcontainers',
    'the SASL listener and ACLs exist only in the local stack',
  );
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

const adminClient = () =>
  new Kafka({
    clientId: 'security-test-admin',
    brokers: stack.brokers,
    logLevel: logLevel.NOTHING,
  });

type Operation = 'WRITE' | 'READ' | 'DESCRIBE';

type Grant = {
  principal: string;
  topics?: Record<string, Operation[]>;
  /** Consumer groups whose names start with this prefix: READ. */
  groupPrefix?: string;
};

/** The reconciler's topic ACLs but for the lease's: the topic, its dead-letter and audit topics. */
const reconcilerTopicAcls = (topic: string): Record<string, Operation[]> => ({
  [topic]: ['READ', 'WRITE', 'DESCRIBE'],
  [`${topic}.dlq`]: ['READ', 'WRITE', 'DESCRIBE'],
  [`${topic}.reconciliation`]: ['WRITE', 'DESCRIBE'],
});

/**
 * Creates the topics (as the super user, on PLAINTEXT) and grants exactly the
 * given operations: the ACLs docs/security.md documents, nothing more.
 */
const grant = async ({ principal, topics = {}, groupPrefix }: Grant) => {
  const admin = adminClient().admin();
  await admin.connect();
  const allow = { principal, host: '*', permissionType: AclPermissionTypes.ALLOW };
  try {
    const existing = new Set(await admin.listTopics());
    const missing = Object.keys(topics).filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({ topic, numPartitions: 1 })),
      });
    }
    await admin.createAcls({
      acl: [
        ...Object.entries(topics).flatMap(([resourceName, operations]) =>
          operations.map((op) => ({
            ...allow,
            resourceType: AclResourceTypes.TOPIC,
            resourceName,
            resourcePatternType: ResourcePatternTypes.LITERAL,
            operation: AclOperationTypes[op],
          })),
        ),
        ...(groupPrefix === undefined
          ? []
          : [
              {
                ...allow,
                resourceType: AclResourceTypes.GROUP,
                resourceName: groupPrefix,
                resourcePatternType: ResourcePatternTypes.PREFIXED,
                operation: AclOperationTypes.READ,
              },
            ]),
      ],
    });
  } finally {
    await admin.disconnect();
  }
};

/** The ingress principal: WRITE + DESCRIBE on the CDR and dead-letter topics. */
const grantProducerOnly = (topics: string[], principal = `User:${USER}`) =>
  grant({
    principal,
    topics: Object.fromEntries(
      topics.map((t): [string, Operation[]] => [t, ['WRITE', 'DESCRIBE']]),
    ),
  });

const createTopic = async (topic: string) => {
  const admin = adminClient().admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
  } finally {
    await admin.disconnect();
  }
};

const saslEnv = (mechanism: string, password: string = PASSWORD) => ({
  KAFKA_BROKERS: sasl.brokers.join(','),
  KAFKA_SASL_MECHANISM: mechanism,
  KAFKA_SASL_USERNAME: USER,
  KAFKA_SASL_PASSWORD: password,
  WEBHOOK_SECRETS: SECRET,
  // The principal may not create topics: they exist already.
  KAFKA_CREATE_TOPICS: 'false',
});

/** The reconciler as the `reconciler` principal (only the documented ACLs), asking `webexUrl`, on the adapter `client`. */
const reconcilerEnv = (topic: string, webexUrl: string, client: KafkaClientName) => ({
  KAFKA_BROKERS: sasl.brokers.join(','),
  KAFKA_CLIENT: client,
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: 'reconciler',
  KAFKA_SASL_PASSWORD: sasl.users.reconciler,
  KAFKA_CREATE_TOPICS: 'false',
  SCHEMA_REGISTRY_URL: stack.registryUrl,
  CDR_FEED: 'analytics',
  CDR_TOPIC: topic,
  WEBEX_API_BASE_URL: webexUrl,
  WEBEX_ACCESS_TOKEN: 'acl-token',
});

/** The first world of per-run seeds whose webhook loses at least one delivery that holds records. */
const worldLosingRecords = (make: (seed: string) => WebexWorld): WebexWorld => {
  for (let i = 0; i < 100; i++) {
    const world = make(`security-${Date.now()}-${i}`);
    if (world.deliveries().some((d) => d.dropped && d.items.length > 0)) return world;
  }
  throw new Error('none of 100 seeds lost a delivery that holds records');
};

describe('Kafka SASL and ACLs', () => {
  const cases = [
    ['kafkajs', 'scram-sha-256'],
    ['kafkajs', 'scram-sha-512'],
    ['kafkajs', 'plain'],
    ['platformatic', 'scram-sha-512'],
    ['platformatic', 'plain'],
  ] as const;
  for (const [client, mechanism] of cases) {
    test(`the ingress (${client}) publishes with ${mechanism} as a principal that may only write its topics`, async (t) => {
      const topic = uniqueTopic(`sasl-${mechanism}`);
      await grantProducerOnly([topic, `${topic}.dlq`]);
      const ingress = await startTestIngress(t, stack, {
        ...saslEnv(mechanism),
        KAFKA_CLIENT: client,
        CDR_TOPIC: topic,
      });
      const good = [rawCdr(1, 'org-a'), rawCdr(2, 'org-b')];
      const poison = { 'Org UUID': 'org-a' }; // no Report ID: dead-lettered
      const d = signedDelivery([...good, poison], SECRET);
      const res = await postDelivery(ingress.webhookUrl, d);
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { accepted: number; deadLettered: number };
      assert.equal(body.accepted, 2);
      assert.equal(body.deadLettered, 1);

      const records = await readTopic(stack.brokers, topic, 2);
      const registry = createRegistryClient({ url: stack.registryUrl });
      const ids = await Promise.all(
        records.map(
          async (r) => ((await registry.decode(r.value)) as { report_id: string }).report_id,
        ),
      );
      assert.deepEqual(ids.sort(), good.map((g) => g['Report ID']).sort());
      const dead = await readTopic(stack.brokers, `${topic}.dlq`, 1);
      assert.equal(dead.length, 1);
      assert.equal(dead[0]?.headers['cdr-dlq-code'], 'record_missing_report_id');
    });
  }

  test('the same principal cannot write, describe or create any other topic', async () => {
    const own = uniqueTopic('acl-own');
    const other = uniqueTopic('acl-other');
    await grantProducerOnly([own]);
    await createTopic(other);
    const kafka = new Kafka({
      clientId: 'security-test-ingress',
      brokers: sasl.brokers,
      sasl: { mechanism: 'scram-sha-256', username: USER, password: PASSWORD },
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    });
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 2 },
    });
    const admin = kafka.admin();
    await producer.connect();
    await admin.connect();
    try {
      // its own topic: allowed (the idempotent producer needs no cluster ACL)
      await producer.send({ topic: own, acks: -1, messages: [{ key: 'k', value: 'v' }] });
      const authError = (e: unknown) => {
        // createTopics reports per topic, in an aggregate error
        const all = [e, ...((e as { errors?: unknown[] }).errors ?? [])];
        const text = all
          .map((x) => `${(x as { type?: string }).type ?? ''} ${String(x)}`)
          .join(' ');
        assert.match(text, /AUTHORIZATION_FAILED|authorization failed|not authorized/i);
        return true;
      };
      await assert.rejects(
        producer.send({ topic: other, acks: -1, messages: [{ key: 'k', value: 'v' }] }),
        authError,
      );
      await assert.rejects(admin.fetchTopicOffsets(other), authError);
      await assert.rejects(
        admin.createTopics({ topics: [{ topic: uniqueTopic('acl-new') }] }),
        authError,
      );
      assert.equal((await admin.listTopics()).includes(other), false, 'other topic invisible');
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
    assert.equal((await readTopic(stack.brokers, own, 1)).length, 1);
  });

  for (const client of KAFKA_CLIENTS) {
    test(`the reconciler backfills as a principal with only the documented ACLs (${client})`, {
      timeout: 180_000,
    }, async (t) => {
      const H = 3_600_000;
      const endMs = Math.floor((Date.now() - 16 * 60_000) / H) * H;
      // A seed of its own per run, among those whose webhook loses a delivery that
      // holds records (with about ten deliveries, a seed that loses none came up in CI).
      const world = worldLosingRecords((seed) =>
        createWebexWorld({
          seed,
          orgs: 4,
          callsPerHour: 4,
          startMs: endMs - H,
          endMs,
          dropRate: 0.5,
        }),
      );
      const topic = uniqueTopic(`acl-reconcile-${client}`);
      const [dlq, audit] = [`${topic}.dlq`, `${topic}.reconciliation`];
      await grantProducerOnly([topic, dlq]);
      await grant({
        principal: 'User:reconciler',
        topics: reconcilerTopicAcls(topic),
        groupPrefix: 'webex-cdr-kafka-ledger-',
      });
      const ingress = await startTestIngress(t, stack, {
        ...saslEnv('scram-sha-256'),
        CDR_TOPIC: topic,
      });
      const api = createPartnerApi({ world, tokens: ['acl-token'] });
      const server = await serveTest(t, api.fetch);
      const sent = await createWebhookSender({ url: ingress.webhookUrl, secret: SECRET }).send(
        world.deliveries(),
      );
      assert.ok(sent.dropped > 0, 'some deliveries were lost');
      const parsed = parseReconcilerConfig(reconcilerEnv(topic, server.url, client));
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('; '));
      const reconciler = createReconciler(parsed.config, createLogger('silent'));
      try {
        const run = await reconciler.runOnce(reconciler.plan({ from: world.startMs, to: endMs }));
        assert.equal(run.totals.errors, 0);
        assert.equal(run.totals.stillMissing, 0);
        assert.ok(run.totals.backfilled > 0);
      } finally {
        await reconciler.stop();
      }
      const ids = new Set(
        (await readTopic(stack.brokers, topic, world.records.length)).map(
          (m) => m.headers['cdr-report-id'],
        ),
      );
      assert.ok(
        world.records.every((r) => ids.has(r.reportId)),
        'every Webex record on the topic',
      );
      assert.ok((await readTopic(stack.brokers, audit, 1)).length > 0, 'audit records written');
    });

    test(`without the lease ACLs the reconciler service does not reconcile: error line and /readyz name the ACLs to grant (${client})`, {
      timeout: 120_000,
    }, async (t) => {
      const topic = uniqueTopic(`acl-lease-${client}`);
      const lease = `${topic}.reconciler-lease`;
      await grant({
        principal: 'User:reconciler',
        topics: { ...reconcilerTopicAcls(topic), [lease]: ['READ', 'DESCRIBE'] },
        // the ledger's groups, but not the lease's group
        groupPrefix: 'webex-cdr-kafka-ledger-',
      });
      const api = createPartnerApi({
        world: createWebexWorld({
          seed: 'acl-lease',
          orgs: 1,
          callsPerHour: 1,
          startMs: Date.now() - 3_600_000,
          endMs: Date.now(),
        }),
        tokens: ['acl-token'],
      });
      const server = await serveTest(t, api.fetch);
      const port = await freePort();
      const p = startCli(t, ['reconcile'], {
        ...reconcilerEnv(topic, server.url, client),
        RECONCILER_PORT: String(port),
      });
      // kafkajs keeps only "no coordinator" of the refusal; @platformatic/kafka keeps the broker's error
      const why =
        client === 'kafkajs'
          ? 'Kafka named no coordinator for the lease group \\S+, as it does when READ on the group is not granted'
          : 'Kafka refused the lease \\(GROUP_AUTHORIZATION_FAILED\\)';
      const refused = new RegExp(
        `${why}: grant READ on group webex-cdr-kafka-lease-\\S+ and READ, DESCRIBE on topic \\S+reconciler-lease`,
      );
      const deadline = Date.now() + 60_000;
      let ready = { status: 0, reasons: [] as string[], lease: '' };
      while (!ready.reasons.some((r) => refused.test(r)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 300));
        const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
        if (r !== null)
          ready = {
            ...((await r.json()) as { reasons: string[]; lease: string }),
            status: r.status,
          };
      }
      assert.ok(
        ready.reasons.some((r) => refused.test(r)),
        `${JSON.stringify(ready)} ${p.err()}`,
      );
      assert.equal(ready.status, 503);
      assert.equal(ready.lease, 'failed');
      const errors = p
        .err()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: string; error?: string });
      assert.ok(
        errors.some((l) => l.level === 'error' && refused.test(String(l.error))),
        'one error line names the ACLs',
      );
      assert.equal(api.requestLog().length, 0, 'nothing was reconciled');
      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0);
    });
  }

  test('a wrong password ends the start at once with a clear error (both clients)', async (t) => {
    const topic = uniqueTopic('sasl-wrong');
    await grantProducerOnly([topic, `${topic}.dlq`]);
    for (const client of ['kafkajs', 'platformatic']) {
      const startedAt = Date.now();
      const ingress = await startTestIngress(
        t,
        stack,
        { ...saslEnv('scram-sha-512', 'not-the-password'), KAFKA_CLIENT: client, CDR_TOPIC: topic },
        { waitReady: false },
      );
      await assert.rejects(ingress.started, (e: unknown) => {
        assert.ok(e instanceof CdrError, String(e));
        assert.equal(e.code, 'auth_failed', client);
        assert.match(e.message, /refused the credentials.*KAFKA_SASL_PASSWORD/);
        assert.doesNotMatch(e.message, /not-the-password/);
        return true;
      });
      assert.ok(Date.now() - startedAt < 20_000, `no retry loop (${client})`);
      await ingress.close(); // one client's ingress at a time
    }

    // the command line: exit code 1 and the reason, without the password
    const port = await freePort();
    const p = runCli(['ingress'], {
      ...saslEnv('scram-sha-256', 'not-the-password'),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      CDR_TOPIC: topic,
      CDR_FEED: 'analytics',
      PORT: String(port),
    });
    const code = await exitWithin(p, 30_000);
    const output = p.out() + p.err();
    assert.equal(code, 1, output);
    assert.match(output, /cannot start: Kafka refused the credentials/);
    assert.doesNotMatch(output, /not-the-password/);
  });
});

type Recorded = { method: string; path: string; authorization: string | undefined };

/**
 * A proxy in front of Apicurio that records each request's Authorization
 * header and forwards it; with `require`, requests without exactly that header
 * get 401 and are not forwarded.
 */
const recordingProxy = async (
  upstream: string,
  opts: { require?: string; tls?: { key: string; cert: string } } = {},
) => {
  const seen: Recorded[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', async () => {
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
      });
      if (opts.require !== undefined && req.headers.authorization !== opts.require) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error_code":401,"message":"Unauthorized"}');
        return;
      }
      const body = Buffer.concat(chunks);
      const answer = await fetch(`${upstream}${req.url ?? ''}`, {
        method: req.method ?? 'GET',
        headers: {
          'content-type': req.headers['content-type'] ?? 'application/json',
          accept: req.headers.accept ?? '*/*',
        },
        ...(body.length > 0 ? { body } : {}),
      });
      res.writeHead(answer.status, {
        'content-type': answer.headers.get('content-type') ?? 'application/json',
      });
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
  };
  const server = opts.tls ? createHttpsServer(opts.tls, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

/** The registry base path of the stack (Apicurio's ccompat API), without the host. */
const ccompatPath = () => new URL(stack.registryUrl).pathname;
const upstreamRoot = () => new URL(stack.registryUrl).origin;

/** Registers the CDR schema under a fresh subject and decodes one encoded record. */
const registerAndDecode = async (client: ReturnType<typeof createRegistryClient>) => {
  const subject = `${uniqueTopic('registry-auth')}-value`;
  const encoder = await client.registerEncoder(subject, readCdrSchema().text);
  assert.ok(encoder.schemaId > 0);
  return encoder.schemaId;
};

describe('schema registry authentication and TLS', () => {
  test('basic and bearer credentials are sent on every request', async () => {
    const proxy = await recordingProxy(upstreamRoot());
    try {
      const url = `${proxy.url}${ccompatPath()}`;
      for (const [c, expected] of [
        [{ url, token: 'registry-token' }, 'Bearer registry-token'],
        [
          { url, username: 'registry-user', password: 'pass word' },
          `Basic ${Buffer.from('registry-user:pass word').toString('base64')}`,
        ],
      ] as const) {
        proxy.seen.length = 0;
        const client = createRegistryClient(c);
        await registerAndDecode(client);
        // config read, compatibility set, registration, schema fetch: all authenticated
        assert.ok(proxy.seen.length >= 3, JSON.stringify(proxy.seen));
        assert.ok(proxy.seen.some((r) => r.method === 'POST' && r.path.includes('/subjects/')));
        assert.ok(proxy.seen.some((r) => r.path.includes('/config/')));
        for (const r of proxy.seen)
          assert.equal(r.authorization, expected, `${r.method} ${r.path}`);
      }
    } finally {
      await proxy.close();
    }
  });

  test('a refused token is auth_failed, naming the settings to check', async () => {
    const proxy = await recordingProxy(upstreamRoot(), { require: 'Bearer right' });
    try {
      const url = `${proxy.url}${ccompatPath()}`;
      await assert.rejects(
        registerAndDecode(createRegistryClient({ url, token: 'wrong' })),
        (e) => {
          assert.ok(e instanceof CdrError);
          assert.equal(e.code, 'auth_failed');
          assert.match(e.message, /SCHEMA_REGISTRY_TOKEN/);
          assert.doesNotMatch(e.message, /wrong/);
          return true;
        },
      );
      await registerAndDecode(createRegistryClient({ url, token: 'right' }));
    } finally {
      await proxy.close();
    }
  });

  test('an https registry is trusted through its CA (SCHEMA_REGISTRY_CA), and not without it', async (t) => {
    const { cert, key } = selfSignedFor127(tempDir(t, 'registry-tls-'));
    const proxy = await recordingProxy(upstreamRoot(), {
      require: 'Bearer tls-token',
      tls: { key, cert },
    });
    try {
      const url = `${proxy.url}${ccompatPath()}`;
      await assert.rejects(
        registerAndDecode(createRegistryClient({ url, token: 'tls-token' })),
        (e) => {
          assert.ok(e instanceof CdrError);
          assert.match(e.message, /certificate/i);
          return true;
        },
      );
      const id = await registerAndDecode(
        createRegistryClient({ url, token: 'tls-token', ca: cert }),
      );
      assert.ok(id > 0);
      assert.ok(proxy.seen.every((r) => r.authorization === 'Bearer tls-token'));
    } finally {
      await proxy.close();
    }
  });
});
