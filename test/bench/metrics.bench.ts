/**
 * What the ingress' metrics cost, in-process and without Kafka (issue 16):
 *
 *   calls      the metrics calls one delivery makes (in flight, payload, records by
 *              outcome, a dead-letter reason, produce time, the answer), ns per delivery
 *   delivery   a signed delivery of --records records POSTed to createApp (publish
 *              answers at once), µs per delivery: the metrics' share of the ingress' work
 *   scrape     rendering /metrics after that, ms
 *
 * All in CPU time of the process (user + system), not wall time.
 *
 * Rounds alternate between the trees named by --src (default: this one), so a
 * shared machine's drift hits each alike; the median per tree is printed.
 *
 *   npm run bench:metrics
 *   npm run bench:metrics -- --src /tmp/old-tree,.    before/after (an exported tree with src/)
 */
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    src: { type: 'string', default: '.' },
    rounds: { type: 'string', default: '7' },
    records: { type: 'string', default: '100' },
    deliveries: { type: 'string', default: '400' },
    calls: { type: 'string', default: '200000' },
  },
});
const ROUNDS = Number(args.rounds);
const RECORDS = Number(args.records);
const DELIVERIES = Number(args.deliveries);
const CALLS = Number(args.calls);
const SECRET = 'bench-secret';

/** CPU time of this process (user + system), µs: on a shared machine, what waiting for a core does not inflate. */
const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

type Tree = {
  name: string;
  createMetrics: () => {
    delivery(status: number, seconds: number): void;
    records(source: 'webhook', outcome: string, n: number): void;
    deadLettered(reason: string, n: number): void;
    produced(seconds: number): void;
    payload(bytes: number): void;
    accepted(atMs: number): void;
    inFlight(delta: number): void;
    render(): string | Promise<string>;
  };
  post: (metrics: unknown) => Promise<number>;
};

const load = async (dir: string): Promise<Tree> => {
  const at = (p: string) => pathToFileURL(resolve(ROOT, dir, p)).href;
  const metrics = await import(at('src/metrics.ts'));
  const { createApp } = await import(at('src/ingress/app.ts'));
  const { sign } = await import(at('src/ingress/verify-signature.ts'));
  const { createCdrGenerator } = await import(at('src/simulator/generate.ts'));
  const start = Date.UTC(2026, 10, 23);
  const raws = createCdrGenerator({ seed: 'metrics-bench', orgs: 50 })
    .generate(start, start + 4 * 3_600_000)
    .map((c: { raw: unknown }) => c.raw);
  // one record without a Report ID: each delivery dead-letters one, as the calls below do
  const items = [...raws.slice(0, RECORDS - 1), { 'Org UUID': 'org-x' }];
  if (items.length !== RECORDS) throw new Error(`the generator made only ${raws.length} records`);
  const body = JSON.stringify({ items });
  const signature = sign(Buffer.from(body), SECRET);
  const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
  return {
    name: dir,
    createMetrics: metrics.createMetrics,
    post: async (m: unknown) => {
      const app = createApp({
        settings: {
          secrets: [SECRET],
          acceptSha256: false,
          insecureNoSignature: false,
          maxBodyBytes: 64 * 1024 * 1024,
          spoolBytes: 64 * 1024 * 1024,
          maxDecodedBytes: 64 * 1024 * 1024,
          path: '/webhooks/cdr',
          feed: 'analytics',
          contentTypes: ['application/json'],
          signatureOverDecoded: false,
          ackTimeoutMs: 5000,
          retryAfterSeconds: 1,
        },
        publish: async (batch: { records: unknown[]; dead: unknown[]; duplicates: number }) => ({
          accepted: batch.records.length,
          deadLettered: batch.dead.length,
          duplicatesInBatch: batch.duplicates,
        }),
        readiness: () => ({ ready: true, checks: {} }),
        logger: quiet,
        metrics: m,
      });
      const t0 = cpuMicros();
      for (let i = 0; i < DELIVERIES; i++) {
        const res = await app.request('/webhooks/cdr', {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', 'x-spark-signature': signature },
        });
        if (res.status !== 200) throw new Error(`${dir}: delivery answered ${res.status}`);
        await res.arrayBuffer();
      }
      return (cpuMicros() - t0) / DELIVERIES;
    },
  };
};

/** The calls app.ts makes for one accepted delivery with one dead letter. */
const callsPerDelivery = (tree: Tree) => {
  const m = tree.createMetrics();
  const t0 = cpuMicros();
  for (let i = 0; i < CALLS; i++) {
    m.inFlight(1);
    m.payload(250_000);
    m.records('webhook', 'published', 99);
    m.records('webhook', 'dead_lettered', 1);
    m.records('webhook', 'duplicate_in_batch', 0);
    m.deadLettered('record_missing_report_id', 1);
    m.produced(0.012);
    m.inFlight(-1);
    m.delivery(200, 0.02);
    m.accepted(1_700_000_000_000 + i);
  }
  return ((cpuMicros() - t0) * 1000) / CALLS;
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
/** median (min–max) */
const spread = (xs: number[], digits: number) =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

const trees = await Promise.all((args.src ?? '.').split(',').map(load));
const results = new Map(
  trees.map((t) => [
    t.name,
    { calls: [] as number[], delivery: [] as number[], scrape: [] as number[] },
  ]),
);
for (const t of trees) await t.post(t.createMetrics()); // warm-up: JIT, lazy imports
for (let r = 0; r < ROUNDS; r++) {
  for (const t of r % 2 === 0 ? trees : [...trees].reverse()) {
    const res = results.get(t.name);
    if (res === undefined) continue;
    res.calls.push(callsPerDelivery(t));
    const m = t.createMetrics();
    res.delivery.push(await t.post(m));
    const s0 = cpuMicros();
    await m.render();
    res.scrape.push((cpuMicros() - s0) / 1000);
  }
}
console.log(
  `${ROUNDS} rounds; a delivery = ${RECORDS} records; ${DELIVERIES} deliveries and ${CALLS} metric-call sets per round; median (min–max) of the rounds`,
);
console.log('tree\tcalls ns/delivery\tdelivery µs\tscrape ms');
for (const [name, r] of results) {
  console.log(`${name}\t${spread(r.calls, 0)}\t${spread(r.delivery, 0)}\t${spread(r.scrape, 2)}`);
}
