/**
 * @module simulator/world
 * Webex's side of one simulated time range [startMs, endMs): every record it
 * knows (what the reconciliation APIs answer from) and the plan of its
 * webhook deliveries (what the receiver gets), both deterministic from a seed.
 *
 * Delivery plan, after the Partner Hub article: one POST every 5 minutes at
 * tick T (aligned to 5-minute marks) holding the records whose call ended in
 * [T-10min, T-5min); a tick without records sends nothing. Fault knobs, each
 * drawn from its own stream so one knob does not move the others:
 *   - lateRate: share of records moved into a later delivery, 1-6 ticks late
 *   - dropRate: share of deliveries never sent (the receiver never sees them)
 *   - repeatRate: share of sent deliveries Webex sends again later (1-12
 *     ticks later, 30 s after the tick), with the same records.
 * The counts and record lookups always cover every record, delivered or not:
 * that is Webex's truth the reconciler compares against.
 */

import type { RawCdr, SimulatedCdr } from './generate/legs.ts';
import type { SimulatedOrg } from './generate/orgs.ts';
import { type CdrGenerator, createCdrGenerator, type GeneratorOptions } from './generate.ts';
import { createRandom } from './random.ts';

export const TICK_MS = 5 * 60_000;

export type WorldOptions = GeneratorOptions & {
  readonly startMs: number;
  readonly endMs: number;
  /** Share of deliveries never sent. Default 0. */
  readonly dropRate?: number;
  /** Share of sent deliveries sent a second time, later. Default 0. */
  readonly repeatRate?: number;
  /** Share of records delivered 1..maxLateTicks ticks after their own tick. Default 0. */
  readonly lateRate?: number;
  /** Default 6. */
  readonly maxLateTicks?: number;
  /** List orgs without records in `countsByOrg` (count 0). Default false. */
  readonly countEmptyOrgs?: boolean;
};

export type Delivery = {
  /** `d-20261123T170000Z`, a repeat `d-20261123T170000Z-r`. */
  readonly id: string;
  /** When Webex sends it, epoch ms. */
  readonly at: number;
  /** The window whose calls it holds on time: [at-10min, at-5min). */
  readonly window: { readonly startMs: number; readonly endMs: number };
  readonly items: readonly RawCdr[];
  /** Report IDs of items that belong to an earlier window (late). */
  readonly lateReportIds: readonly string[];
  readonly dropped: boolean;
  readonly repeatOf?: string;
};

export type OrgCount = { readonly orgId: string; readonly count: number };

export type WebexWorld = {
  readonly seed: GeneratorOptions['seed'];
  readonly startMs: number;
  readonly endMs: number;
  readonly orgs: readonly SimulatedOrg[];
  /** Every record, ordered by call end, then Report ID. */
  readonly records: readonly SimulatedCdr[];
  /** The webhook plan, ordered by `at` (computed once). */
  deliveries(): readonly Delivery[];
  /** Records whose call ended in [startMs, endMs), per org, sorted by orgId. */
  countsByOrg(startMs: number, endMs: number): OrgCount[];
  /** The org's records whose call ended in [startMs, endMs), ordered by call end. */
  recordsOf(orgId: string, startMs: number, endMs: number): SimulatedCdr[];
};

/** First index whose call end is >= t (records sorted by call end). */
const lowerBound = (records: readonly SimulatedCdr[], t: number): number => {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((records[mid]?.callEnd ?? Number.POSITIVE_INFINITY) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

const deliveryId = (at: number) =>
  `d-${new Date(at)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')}`;

const checkRate = (name: string, v: number | undefined): number => {
  const rate = v ?? 0;
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${v}`);
  return rate;
};

/** The tick whose delivery holds calls ending at `callEnd` on time. */
export const tickOf = (callEnd: number): number =>
  Math.floor(callEnd / TICK_MS) * TICK_MS + 2 * TICK_MS;

type Faults = { dropRate: number; repeatRate: number; lateRate: number; maxLateTicks: number };

const checkFaults = (opts: WorldOptions): Faults => {
  const maxLateTicks = opts.maxLateTicks ?? 6;
  if (!(Number.isInteger(maxLateTicks) && maxLateTicks >= 1)) {
    throw new RangeError(`maxLateTicks must be a positive integer, got ${opts.maxLateTicks}`);
  }
  return {
    dropRate: checkRate('dropRate', opts.dropRate),
    repeatRate: checkRate('repeatRate', opts.repeatRate),
    lateRate: checkRate('lateRate', opts.lateRate),
    maxLateTicks,
  };
};

const planDeliveries = (
  seed: WorldOptions['seed'],
  faults: Faults,
  records: readonly SimulatedCdr[],
): readonly Delivery[] => {
  const { dropRate, repeatRate, lateRate, maxLateTicks: maxLate } = faults;
  const root = createRandom(seed).fork('delivery-plan');
  const lateRng = root.fork('late');
  const dropRng = root.fork('drop');
  const repeatRng = root.fork('repeat');

  type Bucket = { items: RawCdr[]; late: string[] };
  const buckets = new Map<number, Bucket>();
  for (const r of records) {
    const late = lateRng.chance(lateRate) ? lateRng.int(1, maxLate) : 0;
    const tick = tickOf(r.callEnd) + late * TICK_MS;
    let bucket = buckets.get(tick);
    if (bucket === undefined) {
      bucket = { items: [], late: [] };
      buckets.set(tick, bucket);
    }
    bucket.items.push(r.raw);
    if (late > 0) bucket.late.push(r.reportId);
  }

  const out: Delivery[] = [];
  for (const tick of [...buckets.keys()].sort((a, b) => a - b)) {
    const bucket = buckets.get(tick);
    if (bucket === undefined) continue;
    const base: Delivery = {
      id: deliveryId(tick),
      at: tick,
      window: { startMs: tick - 2 * TICK_MS, endMs: tick - TICK_MS },
      items: bucket.items,
      lateReportIds: bucket.late,
      dropped: dropRng.chance(dropRate),
    };
    out.push(base);
    if (!base.dropped && repeatRng.chance(repeatRate)) {
      out.push({
        ...base,
        id: `${base.id}-r`,
        at: tick + repeatRng.int(1, 12) * TICK_MS + 30_000,
        repeatOf: base.id,
      });
    }
  }
  return out.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1));
};

export const createWebexWorld = (opts: WorldOptions): WebexWorld => {
  if (!(opts.endMs > opts.startMs)) throw new RangeError('endMs must be after startMs');
  const faults = checkFaults(opts);
  const generator: CdrGenerator = createCdrGenerator(opts);
  const records = generator.generate(opts.startMs, opts.endMs);
  const byOrg = new Map<string, SimulatedCdr[]>(generator.orgs.map((o) => [o.orgId, []]));
  for (const r of records) byOrg.get(r.orgId)?.push(r);
  const orgIds = generator.orgs.map((o) => o.orgId).sort();
  let plan: readonly Delivery[] | undefined;

  return {
    seed: opts.seed,
    startMs: opts.startMs,
    endMs: opts.endMs,
    orgs: generator.orgs,
    records,
    deliveries() {
      plan ??= planDeliveries(opts.seed, faults, records);
      return plan;
    },
    countsByOrg(startMs, endMs) {
      const counts = new Map<string, number>();
      if (opts.countEmptyOrgs) for (const id of orgIds) counts.set(id, 0);
      const to = lowerBound(records, endMs);
      for (let i = lowerBound(records, startMs); i < to; i++) {
        const r = records[i];
        if (r !== undefined) counts.set(r.orgId, (counts.get(r.orgId) ?? 0) + 1);
      }
      return [...counts]
        .map(([orgId, count]) => ({ orgId, count }))
        .sort((a, b) => (a.orgId < b.orgId ? -1 : a.orgId > b.orgId ? 1 : 0));
    },
    recordsOf(orgId, startMs, endMs) {
      const own = byOrg.get(orgId);
      if (own === undefined) return [];
      return own.slice(lowerBound(own, startMs), lowerBound(own, endMs));
    },
  };
};
