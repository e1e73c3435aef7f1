/**
 * Webex's region redirect, end to end on the real broker and registry: the
 * home region's stand-in answers cdrsbyorg with 451 for one org whose data
 * another region holds, and a second stand-in (on another port: tests cannot
 * use DNS) plays that region. Nothing came by webhook, so every record is
 * missing: the reconciler must fetch the moved org's records from its region,
 * asking home only once, and fail that org with the host named when the
 * region is not on WEBEX_REDIRECT_HOSTS (never sending the token there).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { listen } from '../../src/listen.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { createPartnerApi } from '../../src/simulator/partner-api.ts';
import { createWebexWorld } from '../../src/simulator/world.ts';
import { readTopic, uniqueTopic } from './helpers/kafka.ts';
import { createTestReconciler } from './helpers/reconciler.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const H = 3_600_000;
const TOKEN = 'region-token';

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

/** Two full hours of records for 3 orgs; the first org's data is in the other region. */
const twoRegions = async () => {
  const endMs = Math.floor((Date.now() - 16 * 60_000) / H) * H;
  const startMs = endMs - 2 * H;
  const world = createWebexWorld({
    seed: 'region-451',
    orgs: 3,
    // a set rate per org: every org has calls in the two hours, whichever hours they are
    callsPerHour: () => 6,
    startMs,
    endMs,
  });
  const moved = world.orgs[0]?.orgId ?? '';
  const region = createPartnerApi({ world, tokens: [TOKEN] });
  const regionServer = await listen(region.fetch, { port: 0 });
  const home = createPartnerApi({
    world,
    tokens: [TOKEN],
    regionOf: (org) => (org === moved ? regionServer.url : undefined),
  });
  const homeServer = await listen(home.fetch, { port: 0 });
  const inRange = world.records.filter((r) => r.callEnd >= startMs && r.callEnd < endMs);
  const movedRecords = inRange.filter((r) => r.orgId === moved);
  assert.ok(movedRecords.length > 0 && inRange.length > movedRecords.length);
  return {
    startMs,
    endMs,
    moved,
    inRange,
    movedRecords,
    home,
    homeUrl: homeServer.url,
    region,
    regionUrl: regionServer.url,
    close: async () => {
      await homeServer.close();
      await regionServer.close();
    },
  };
};

const capturingLogger = () => {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: (msg, fields = {}) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields = {}) => lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields = {}) => lines.push({ level: 'error', msg, fields }),
    child: () => logger,
  };
  return { logger, lines };
};

const recordsAsked = (api: ReturnType<typeof createPartnerApi>, org: string) =>
  api
    .requestLog()
    .filter(
      (r) => r.path.endsWith('cdrsbyorg') && new URLSearchParams(r.query).get('orgId') === org,
    );

test('an org behind a 451 is backfilled from the region it names, asked there directly afterwards', {
  timeout: 120_000,
}, async (t) => {
  const w = await twoRegions();
  const topic = uniqueTopic('region');
  const { logger, lines } = capturingLogger();
  const reconciler = createTestReconciler(
    t,
    stack,
    {
      CDR_TOPIC: topic,
      WEBEX_API_BASE_URL: w.homeUrl,
      WEBEX_ACCESS_TOKEN: TOKEN,
      // tests cannot use DNS: the other region is another port on loopback
      WEBEX_REDIRECT_HOSTS: `*.webexapis.com,${w.regionUrl}`,
    },
    logger,
  );
  try {
    const windows = reconciler.plan({ from: w.startMs, to: w.endMs });
    assert.equal(windows.length, 2);
    const run = await reconciler.runOnce(windows);
    const errors = run.windows.flatMap((x) => x.errors);
    assert.deepEqual(errors, []);
    assert.equal(run.totals.stillMissing, 0);
    assert.equal(run.totals.backfilled, w.inRange.length);

    const onTopic = await readTopic(stack.brokers, topic, w.inRange.length);
    const ids = new Set(onTopic.map((m) => m.headers['cdr-report-id']));
    for (const r of w.movedRecords) assert.ok(ids.has(r.reportId), `${r.reportId} backfilled`);
    assert.equal(ids.size, w.inRange.length);

    // home answered 451 once; both windows of the moved org were then read in its region
    const atHome = recordsAsked(w.home, w.moved);
    assert.deepEqual(
      atHome.map((r) => r.status),
      [451],
    );
    const inRegion = recordsAsked(w.region, w.moved);
    assert.deepEqual(
      inRegion.map((r) => [new URLSearchParams(r.query).get('startTime'), r.status]),
      windows.map((x) => [new Date(x.start).toISOString(), 200]),
    );
    assert.equal(
      w.region.requestLog().length,
      inRegion.length,
      'only the moved org is asked in the region',
    );
    const said = lines.filter((l) => /region redirect/.test(l.msg));
    assert.equal(said.length, 1, 'logged once');
    assert.deepEqual(said[0]?.fields, {
      orgId: w.moved,
      host: new URL(w.regionUrl).origin,
      from: new URL(w.homeUrl).origin,
    });
  } finally {
    await w.close();
  }
});

test('a 451 naming a host off WEBEX_REDIRECT_HOSTS fails that org, names the host, sends it nothing', {
  timeout: 120_000,
}, async (t) => {
  const w = await twoRegions();
  const topic = uniqueTopic('region-refused');
  const reconciler = createTestReconciler(
    t,
    stack,
    { CDR_TOPIC: topic, WEBEX_API_BASE_URL: w.homeUrl, WEBEX_ACCESS_TOKEN: TOKEN },
    createLogger('silent'),
  );
  try {
    const windows = reconciler.plan({ from: w.startMs, to: w.endMs });
    const run = await reconciler.runOnce(windows);
    const errors = run.windows.flatMap((x) => x.errors);
    assert.equal(errors.length, windows.length, errors.join('\n'));
    for (const e of errors) {
      assert.ok(e.startsWith(`${w.moved}: `), e);
      assert.match(e, /HTTP 451/);
      assert.ok(
        e.includes(`${new URL(w.regionUrl).origin}, which is not in WEBEX_REDIRECT_HOSTS`),
        e,
      );
    }
    assert.equal(run.totals.stillMissing, w.movedRecords.length, 'the moved org stays missing');
    assert.equal(run.totals.backfilled, w.inRange.length - w.movedRecords.length);
    assert.equal(w.region.requestLog().length, 0, 'the region host was never asked');
  } finally {
    await w.close();
  }
});
