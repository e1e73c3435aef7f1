/**
 * examples/python/consume_cdrs.py against the real stack: it decodes through
 * the registry, reads the headers, and deduplicates by Report ID, keeping the
 * latest Report time, and names the four contract v2 columns. The topic gets
 * six records, two of them delivered again, a newer version of a third, then
 * an older one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { postDelivery, rawCdr, signedDelivery } from './helpers/cdrs.ts';
import { startTestIngress } from './helpers/ingress.ts';
import { uniqueTopic } from './helpers/kafka.ts';
import { python } from './helpers/python.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const run = promisify(execFile);
const EXAMPLE = fileURLToPath(new URL('../../examples/python/consume_cdrs.py', import.meta.url));

type Kept = {
  org: string;
  report_id: string;
  report_time: string;
  call_end: string | null;
  source: string;
  feed: string;
  replaces_earlier_version: boolean;
  external_customer_id: string | null;
  transfer_type: string | null;
  transfer_type_context: string | null;
  answer_reason: string | null;
  value: Record<string, unknown>;
};

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close(); // under testcontainers, the containers are removed
});

test('the Python consumer example decodes, reads headers and keeps one version per Report ID', {
  timeout: 600_000,
}, async (t) => {
  const py = await python();
  const topic = uniqueTopic('example-py');
  // DEDUP off: the topic then holds the repeats a consumer must still expect
  // (copies published by two replicas within the dedup index's lag).
  const ingress = await startTestIngress(t, stack, {
    CDR_TOPIC: topic,
    WEBHOOK_SECRETS: 's',
    DEDUP: 'false',
  });
  // the four keys seen in live data, schema fields since contract v2 (rawCdr sends
  // External customer ID; the other three on every other record)
  const items = Array.from({ length: 6 }, (_, i) => ({
    ...rawCdr(i, `org-${i % 2}`),
    ...(i % 2 === 0
      ? {
          'Transfer type': 'BLIND',
          'Transfer type context': `ctx-${i}`,
          'Answer reason': 'ANSWERED_BY_AGENT',
        }
      : {}),
  }));
  const first = items[2];
  assert.ok(first);
  const newer = {
    ...first,
    Duration: '999',
    'Report time': new Date(Date.parse(first['Report time']) + 60_000).toISOString(),
  };
  const older = {
    ...first,
    Duration: '1',
    'Report time': new Date(Date.parse(first['Report time']) - 60_000).toISOString(),
  };
  for (const delivery of [items, items.slice(0, 2), [newer], [older]]) {
    const d = signedDelivery(delivery, 's');
    const res = await postDelivery(ingress.webhookUrl, d);
    assert.equal(res.status, 200);
  }

  const { stdout, stderr } = await run(
    py,
    [
      EXAMPLE,
      '--bootstrap',
      stack.brokers.join(','),
      '--registry',
      stack.registryUrl,
      '--topic',
      topic,
      '--group',
      `example-${randomUUID()}`,
      '--idle-exit',
      '10',
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const kept = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Kept);
  const stats = JSON.parse(stderr.trim().split('\n').at(-1) ?? '{}') as Record<string, number>;
  assert.deepEqual(stats, { read: 10, kept: 7, duplicates: 2, older_versions: 1 });
  assert.equal(kept.length, 7);
  assert.deepEqual(
    new Set(kept.map((k) => k.report_id)),
    new Set(items.map((r) => r['Report ID'])),
  );
  for (const k of kept) {
    const raw = items.find((r) => r['Report ID'] === k.report_id);
    assert.ok(raw);
    assert.equal(k.org, raw['Org UUID']);
    assert.equal(k.value.report_id, k.report_id);
    assert.equal(k.source, 'webhook');
    assert.equal(k.feed, 'analytics');
    assert.equal(k.call_end, raw['Release time']);
    assert.equal((k.value.ingest as Record<string, unknown>).source, 'webhook');
    assert.deepEqual(
      [k.external_customer_id, k.transfer_type, k.transfer_type_context, k.answer_reason],
      'Transfer type' in raw
        ? [raw['External customer ID'], 'BLIND', raw['Transfer type context'], 'ANSWERED_BY_AGENT']
        : [raw['External customer ID'], null, null, null],
    );
    assert.equal(k.value.transfer_type, k.transfer_type);
    const extra = Object.keys(k.value.extra_fields as Record<string, string>);
    assert.ok(!extra.some((x) => /transfer|answer reason|external/i.test(x)), extra.join());
  }
  const versions = kept.filter((k) => k.report_id === first['Report ID']);
  assert.deepEqual(
    versions.map((v) => [v.report_time, v.value.duration, v.replaces_earlier_version]),
    [
      [first['Report time'], 42 + 2, false],
      [newer['Report time'], 999, true],
    ],
  );
});
