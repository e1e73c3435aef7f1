/**
 * Privacy settings end to end, on the real broker and registry: with phone
 * numbers hashed and the user's name dropped, the CDR topic (decoded through
 * the registry) holds the keyed HMAC of each number and no raw number, on the
 * webhook path and the reconciler's backfill alike; the dead-letter topic
 * does not show what the main topic hides. In allow-list mode only the listed
 * fields and extra_fields keys reach the topic.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { toMatchKey } from '../../src/cdr/fields.ts';
import { createPartnerApi } from '../../src/simulator/partner-api.ts';
import { createWebexWorld } from '../../src/simulator/world.ts';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { startTestIngress } from './helpers/ingress.ts';
import { type ReadMessage, readTopic, uniqueTopic } from './helpers/kafka.ts';
import { serveTest } from './helpers/net.ts';
import { createTestReconciler } from './helpers/reconciler.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const SECRET = 'privacy-webhook-secret';
const KEY = 'privacy-test-hmac-key-0123456789';
const H = 3_600_000;
const PRIVACY = {
  // every field the stand-in fills with phone numbers (a calling number recurs in several)
  PRIVACY_HASH_FIELDS: [
    'Calling number',
    'called_number',
    'user_number',
    'caller_id_number',
    'dialed_digits',
    'external_caller_id_number',
    'redirecting_number',
    'site_main_number',
  ].join(','),
  PRIVACY_DROP_FIELDS: 'user,public_calling_ip_address',
  PRIVACY_HASH_KEY: KEY,
};
const hmac = (v: string) => createHmac('sha256', KEY).update(v).digest('hex');

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

const decodeAll = async (messages: ReadMessage[]) => {
  const registry = new SchemaRegistry({ host: stack.registryUrl });
  return Promise.all(
    messages.map(async (m) => (await registry.decode(m.value)) as Record<string, unknown>),
  );
};

/** The value of a raw record's field, whatever its spelling. */
const rawField = (raw: Record<string, unknown>, field: string): string | undefined => {
  const key = Object.keys(raw).find((k) => toMatchKey(k) === toMatchKey(field));
  const v = key === undefined ? undefined : raw[key];
  return typeof v === 'string' && v !== '' && v !== 'NA' ? v : undefined;
};

describe('privacy', () => {
  test('webhook: numbers hashed, name dropped, on the topic and in dead letters', async (t) => {
    const topic = uniqueTopic('privacy');
    const ingress = await startTestIngress(t, stack, {
      CDR_TOPIC: topic,
      WEBHOOK_SECRETS: SECRET,
      ...PRIVACY,
    });
    const numbers = ['+4790000001', '+4790000002', '+4790000003'];
    const records = numbers.map((n, i) =>
      rawCdr(i, 'org-p', {
        'Calling number': n,
        'Called number': numbers[(i + 1) % 3],
        User: `Person ${i}`,
        'Public Calling IP Address': `198.51.100.${i}`,
      }),
    );
    const poison = { 'Org UUID': 'org-p', 'Calling number': '+4790000009', User: 'Nobody' };
    const d = signedDelivery([...records, poison], SECRET);
    const res = await postDelivery(ingress.webhookUrl, d);
    assert.equal(res.status, 200);

    const onTopic = await readTopic(stack.brokers, topic, 3);
    assert.equal(onTopic.length, 3);
    const raw = Buffer.concat(onTopic.map((m) => m.value)).toString('latin1');
    for (const n of [...numbers, 'Person', '198.51.100.']) {
      assert.equal(raw.includes(n), false, `${n} left the perimeter`);
    }
    const decoded = await decodeAll(onTopic);
    const byReportId = new Map(decoded.map((r) => [r.report_id, r]));
    for (const [i, r] of records.entries()) {
      const v = byReportId.get(r['Report ID']);
      assert.equal(v?.calling_number, hmac(numbers[i] as string));
      assert.equal(v?.called_number, hmac(numbers[(i + 1) % 3] as string));
      assert.equal(v?.user, null);
      assert.equal(v?.public_calling_ip_address, null);
      assert.equal(v?.direction, r.Direction, 'other fields untouched');
    }
    // a number calling and a number called join on the same hash
    assert.equal(
      byReportId.get(records[0]?.['Report ID'])?.called_number,
      byReportId.get(records[1]?.['Report ID'])?.calling_number,
    );

    const header = `drop;fields=user,public_calling_ip_address hmac-sha256:v1;fields=calling_number,called_number,`;
    assert.ok(
      onTopic.every((m) => m.headers['cdr-privacy']?.startsWith(header)),
      'consumers are told',
    );
    const dlq = await readTopic(stack.brokers, `${topic}.dlq`, 1);
    assert.equal(dlq.length, 1);
    const letter = dlq[0]?.value.toString() ?? '';
    assert.equal(letter.includes('+4790000009'), false, letter);
    assert.equal(letter.includes('Nobody'), false, letter);
    assert.ok(letter.includes(hmac('+4790000009')), letter);
    assert.ok(dlq[0]?.headers['cdr-privacy']?.startsWith(header));
  });

  test('allow-list mode: only the listed fields and extra keys reach the topic', async (t) => {
    const topic = uniqueTopic('privacy-allow');
    const ingress = await startTestIngress(t, stack, {
      CDR_TOPIC: topic,
      WEBHOOK_SECRETS: SECRET,
      PRIVACY_ALLOW_FIELDS: 'call_type,direction,duration,calling_number,extra:Queue name',
      PRIVACY_HASH_FIELDS: 'calling_number',
      PRIVACY_HASH_KEY: KEY,
    });
    const records = [0, 1].map((i) =>
      rawCdr(i, 'org-allow', {
        'Calling number': `+479100000${i}`,
        User: `Allowed Person ${i}`,
        'Queue name': `queue-${i}`,
        'Added later by Webex': `secret-${i}`,
      }),
    );
    const res = await postDelivery(ingress.webhookUrl, signedDelivery(records, SECRET));
    assert.equal(res.status, 200);
    const onTopic = await readTopic(stack.brokers, topic, 2);
    assert.equal(onTopic.length, 2);
    const raw = Buffer.concat(onTopic.map((m) => m.value)).toString('latin1');
    for (const leak of ['Allowed Person', 'secret-', '+4791', 'ext-', 'corr-']) {
      assert.equal(raw.includes(leak), false, `${leak} left the perimeter`);
    }
    const byReportId = new Map((await decodeAll(onTopic)).map((r) => [r.report_id, r]));
    for (const [i, r] of records.entries()) {
      const v = byReportId.get(r['Report ID']);
      assert.equal(v?.org_uuid, 'org-allow');
      assert.equal(v?.call_type, 'SIP_ENTERPRISE');
      assert.equal(v?.direction, r.Direction);
      assert.equal(v?.duration, 42 + i);
      assert.equal(v?.calling_number, hmac(`+479100000${i}`));
      for (const name of ['user', 'correlation_id', 'start_time', 'external_customer_id']) {
        assert.equal(v?.[name], null, `${name} is not allowed`);
      }
      assert.deepEqual({ ...(v?.extra_fields as object) }, { 'Queue name': `queue-${i}` });
    }
    assert.ok(
      onTopic.every((m) =>
        m.headers['cdr-privacy']?.startsWith(
          'allow;fields=report_id,org_uuid,call_type,direction,duration,calling_number;extra=queuename ',
        ),
      ),
    );
  });

  test('reconciler: backfilled records are hashed the same way', async (t) => {
    const endMs = Math.floor((Date.now() - 16 * 60_000) / H) * H;
    const world = createWebexWorld({
      seed: 'privacy',
      orgs: 2,
      // a set rate per org: with a mean rate the seed's orgs may be nearly silent, and the
      // hour the test reads (the clock's) then had no call at times
      callsPerHour: () => 12,
      startMs: endMs - H,
      endMs,
    });
    const api = createPartnerApi({ world, tokens: ['t'] });
    const server = await serveTest(t, api.fetch);
    const topic = uniqueTopic('privacy-reconcile');
    const reconciler = createTestReconciler(t, stack, {
      CDR_TOPIC: topic,
      WEBEX_API_BASE_URL: server.url,
      WEBEX_ACCESS_TOKEN: 't',
      ...PRIVACY,
    });
    const summary = await reconciler.runOnce(reconciler.plan({ from: endMs - H, to: endMs }));
    const expected = world.records.filter((r) => r.callEnd >= endMs - H && r.callEnd < endMs);
    assert.ok(expected.length > 0);
    assert.equal(summary.totals.backfilled, expected.length);
    const onTopic = await readTopic(stack.brokers, topic, expected.length);
    const raw = Buffer.concat(onTopic.map((m) => m.value)).toString('latin1');
    const decoded = new Map((await decodeAll(onTopic)).map((r) => [r.report_id, r]));
    let checked = 0;
    for (const r of expected) {
      const source = r.raw as Record<string, unknown>;
      const v = decoded.get(r.reportId);
      const calling = rawField(source, 'Calling number');
      if (calling !== undefined) {
        assert.equal(raw.includes(calling), false, `${calling} on the topic`);
        assert.equal(v?.calling_number, hmac(calling));
        checked += 1;
      }
      assert.equal(v?.user, null);
    }
    assert.ok(checked > 0, 'some records had a calling number');
  });
});
