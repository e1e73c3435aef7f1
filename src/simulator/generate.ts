/**
 * @module simulator/generate
 * Realistic Webex Calling CDRs for N customer orgs, deterministic from a seed.
 *
 * Each org has stable ids (from the seed and its index), sites, users and a
 * call rate of its own around the configured mean (generate/orgs.ts). Calls
 * arrive as a Poisson process; each call has 1-3 legs sharing a `Correlation
 * ID` (generate/calls.ts), and each leg is one record with a unique `Report
 * ID` and all 83 documented fields, with the quirks of live data
 * (generate/legs.ts). The tables they draw from are in
 * generate/reference-data.ts.
 *
 * A record's call end is its `Release time`: the time the reconciliation APIs
 * filter on.
 */
import { planCall } from './generate/calls.ts';
import {
  buildCall,
  type CallContext,
  DEFAULT_QUIRKS,
  type QuirkRates,
  type SimulatedCdr,
} from './generate/legs.ts';
import { type CallRate, createOrg, type SimulatedOrg } from './generate/orgs.ts';
import { createRandom, type Seed } from './random.ts';

export type GeneratorOptions = {
  readonly seed: Seed;
  /** Number of customer orgs. */
  readonly orgs: number;
  /** Mean calls per org per hour (default 20; see CallRate). */
  readonly callsPerHour?: CallRate;
  readonly quirks?: Partial<QuirkRates>;
};

export type CdrGenerator = {
  readonly orgs: readonly SimulatedOrg[];
  /** Records whose call ended in [startMs, endMs), ordered by call end, then Report ID. */
  generate(startMs: number, endMs: number): SimulatedCdr[];
};

const HOUR_MS = 3_600_000;

export const createCdrGenerator = (opts: GeneratorOptions): CdrGenerator => {
  if (!Number.isInteger(opts.orgs) || opts.orgs < 0) {
    throw new RangeError(`orgs must be a non-negative integer, got ${opts.orgs}`);
  }
  const quirks: QuirkRates = { ...DEFAULT_QUIRKS, ...opts.quirks };
  const orgs = Array.from({ length: opts.orgs }, (_, i) =>
    createOrg(opts.seed, i, opts.callsPerHour),
  );
  const root = createRandom(opts.seed);

  const generate = (startMs: number, endMs: number): SimulatedCdr[] => {
    const out: SimulatedCdr[] = [];
    for (const org of orgs) {
      if (org.callsPerHour <= 0 || org.users.length === 0) continue;
      const rng = root.fork(`calls:${org.index}:${startMs}:${endMs}`);
      const meanGap = HOUR_MS / org.callsPerHour;
      // call ends form a Poisson process over [startMs, endMs)
      for (let end = startMs + rng.exponential(meanGap); end < endMs; ) {
        const callEnd = Math.floor(end);
        const ctx: CallContext = {
          rng,
          org,
          correlationId: rng.uuid(),
          interactionId: rng.chance(0.1) ? rng.uuid() : '',
          quirks,
        };
        buildCall(ctx, planCall(rng, org, callEnd), out, startMs, endMs);
        end += rng.exponential(meanGap);
      }
    }
    out.sort((x, y) => x.callEnd - y.callEnd || (x.reportId < y.reportId ? -1 : 1));
    return out;
  };

  return { orgs, generate };
};
