/**
 * @module simulator/generate/calls
 * Plans one call of an org: the scenario (outbound, inbound, internal, through
 * a queue or hunt group, consultative transfer), who calls whom, when each leg
 * starts, rings and is released, and how it ends. A call has 1-3 legs; its end
 * is the last leg's release. The plan holds no record values yet (legs.ts).
 */
import type { Random } from '../random.ts';
import { phoneNumber, type SimulatedOrg, type SimulatedUser } from './orgs.ts';
import {
  FIRST_NAMES,
  INTERNATIONAL,
  LAST_NAMES,
  OUTBOUND_CALL_TYPES,
  type Outcome,
  UNANSWERED_OUTCOMES,
} from './reference-data.ts';

type Party = {
  readonly number: string;
  /** Display name (`Calling line ID` / `Called line ID`). */
  readonly name: string;
  readonly user: SimulatedUser | null;
};

export type Leg = {
  readonly owner: SimulatedUser;
  readonly direction: 'ORIGINATING' | 'TERMINATING';
  readonly callType: string;
  readonly calling: Party;
  readonly called: Party;
  readonly dialed: string;
  readonly start: number;
  readonly ringMs: number;
  readonly release: number;
  readonly answered: boolean;
  readonly answerIndicator: string;
  readonly outcome: Outcome;
  /** PSTN leg: 'in' from the trunk, 'out' to it. */
  readonly pstn: 'in' | 'out' | null;
  readonly internationalCountry: string;
  readonly redirect: { reason: string; from: SimulatedUser } | null;
  readonly related: { reason: string; leg: number; transferTime: number } | null;
  readonly queueType: string;
  readonly autoAttendantKey: string;
};

const remoteParty = (rng: Random, country: string): Party => ({
  number: phoneNumber(rng, country),
  name: rng.chance(0.6) ? '' : `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`.toUpperCase(),
  user: null,
});

const userParty = (u: SimulatedUser): Party => ({ number: u.number, name: u.name, user: u });

export type CallPlan = { legs: Leg[] };

/** Plans the legs of one call ending at `end` (the last leg's release). */
export const planCall = (rng: Random, org: SimulatedOrg, end: number): CallPlan => {
  const users = org.users;
  const country = org.sites[0]?.country ?? 'US';
  const scenario = rng.weighted([
    ['outbound', 30],
    ['inbound', 25],
    ['internal', 30],
    ['queue', 10],
    ['transfer', 5],
  ] as const);
  const ringMs = rng.int(2_000, 25_000);
  const talkMs = Math.min(3_600_000, Math.round(rng.exponential(180_000)) + 3_000);
  const answered = scenario === 'transfer' || rng.chance(0.8);
  const start = end - ringMs - (answered ? talkMs : 0) - rng.int(0, 999);
  const answeredOutcome: Outcome = { outcome: 'Success', reason: 'Normal' };
  const outcome = answered ? answeredOutcome : rng.weighted(UNANSWERED_OUTCOMES);
  const base = {
    start,
    ringMs,
    release: end,
    answered,
    answerIndicator: answered ? 'Yes' : 'No',
    outcome,
    internationalCountry: '',
    redirect: null,
    related: null,
    queueType: '',
    autoAttendantKey: '',
  } as const;
  const a = rng.pick(users);
  switch (scenario) {
    case 'outbound': {
      const callType = rng.weighted(OUTBOUND_CALL_TYPES);
      const abroad = callType === 'SIP_INTERNATIONAL' ? rng.pick(INTERNATIONAL) : '';
      const remote = remoteParty(rng, abroad || a.site.country);
      const dialed =
        callType === 'SIP_EMERGENCY'
          ? '112'
          : rng.chance(0.7)
            ? remote.number
            : remote.number.slice(1);
      return {
        legs: [
          {
            ...base,
            owner: a,
            direction: 'ORIGINATING',
            callType,
            calling: userParty(a),
            called: remote,
            dialed,
            pstn: 'out',
            internationalCountry: abroad,
          },
        ],
      };
    }
    case 'inbound': {
      const remote = remoteParty(rng, country);
      return {
        legs: [
          {
            ...base,
            owner: a,
            direction: 'TERMINATING',
            callType: 'SIP_INBOUND',
            calling: remote,
            called: userParty(a),
            dialed: '',
            pstn: 'in',
          },
        ],
      };
    }
    case 'internal': {
      const b = rng.pick(users);
      const caller = userParty(a);
      const callee = userParty(b);
      const shared = { ...base, callType: 'SIP_ENTERPRISE', calling: caller, called: callee };
      const offset = rng.int(0, 1_500);
      return {
        legs: [
          { ...shared, owner: a, direction: 'ORIGINATING', dialed: b.extension, pstn: null },
          {
            ...shared,
            owner: b,
            direction: 'TERMINATING',
            dialed: '',
            pstn: null,
            start: start + rng.int(50, 400),
            release: end - offset,
          },
        ],
      };
    }
    case 'queue': {
      const feature = rng.pick(org.features);
      const remote = remoteParty(rng, country);
      const agent = rng.pick(users);
      const isQueue = feature.type === 'CallCenterStandard';
      const isMenu = feature.type === 'AutomatedAttendantVideo';
      // the feature answers at once and hands the call to an agent
      const pickedAt = start + Math.min(rng.int(3_000, 30_000), Math.floor((end - start) / 2));
      const agentRingMs = Math.min(ringMs, Math.floor((end - pickedAt) / 2));
      const first: Leg = {
        ...base,
        owner: feature,
        direction: 'TERMINATING',
        callType: 'SIP_INBOUND',
        calling: remote,
        called: userParty(feature),
        dialed: '',
        pstn: 'in',
        answered: true,
        answerIndicator: 'Yes',
        outcome: answeredOutcome,
        ringMs: 0,
        release: pickedAt,
        queueType: isQueue ? 'Call Queue' : '',
        autoAttendantKey: isMenu ? String(rng.int(1, 9)) : '',
      };
      const second: Leg = {
        ...base,
        owner: agent,
        direction: 'TERMINATING',
        callType: 'SIP_INBOUND',
        calling: remote,
        called: userParty(agent),
        dialed: '',
        pstn: null,
        start: pickedAt,
        ringMs: agentRingMs,
        answerIndicator: answered ? 'Yes-PostRedirection' : 'No',
        redirect: {
          reason: isQueue ? 'CallQueue' : isMenu ? 'Unconditional' : 'HuntGroup',
          from: feature,
        },
        queueType: isQueue ? 'Call Queue' : '',
      };
      return { legs: [first, second] };
    }
    case 'transfer': {
      const b = rng.pick(users);
      const c = rng.pick(users);
      const remote = remoteParty(rng, country);
      const answeredAt = start + ringMs;
      const transferTime = answeredAt + Math.round((end - answeredAt) / 3);
      const consultStart = Math.max(answeredAt, transferTime - rng.int(8_000, 40_000));
      const consultRingMs = Math.min(6_000, Math.floor((transferTime - consultStart) / 2));
      const transferred = { reason: 'ConsultativeTransfer', transferTime } as const;
      return {
        legs: [
          {
            ...base,
            owner: b,
            direction: 'TERMINATING',
            callType: 'SIP_INBOUND',
            calling: remote,
            called: userParty(b),
            dialed: '',
            pstn: 'in',
            answered: true,
            answerIndicator: 'Yes',
            outcome: answeredOutcome,
            release: transferTime,
            related: { ...transferred, leg: 2 },
          },
          {
            ...base,
            owner: b,
            direction: 'ORIGINATING',
            callType: 'SIP_ENTERPRISE',
            calling: userParty(b),
            called: userParty(c),
            dialed: c.extension,
            pstn: null,
            start: consultStart,
            ringMs: consultRingMs,
            answered: true,
            answerIndicator: 'Yes',
            outcome: answeredOutcome,
            release: transferTime,
            related: { ...transferred, leg: 0 },
          },
          {
            ...base,
            owner: c,
            direction: 'TERMINATING',
            callType: 'SIP_INBOUND',
            calling: remote,
            called: userParty(c),
            dialed: '',
            pstn: null,
            start: consultStart,
            ringMs: consultRingMs,
            related: { ...transferred, leg: 0 },
          },
        ],
      };
    }
  }
};
