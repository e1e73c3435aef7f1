/**
 * @module simulator/generate
 * Realistic Webex Calling CDRs for N customer orgs, deterministic from a seed.
 *
 * Each org has stable ids (from the seed and its index), sites, users and a
 * call rate of its own around the configured mean. Calls arrive as a Poisson
 * process; each call has 1-3 legs sharing a `Correlation ID`, and each leg is
 * one record with a unique `Report ID` and all 83 documented fields, keyed in
 * the live spelling where Webex's live data differs from the specification.
 * The quirks of live data are reproduced on purpose: numbers sometimes as
 * text, `"NA"` and `""` for "no value", `Answered` as `"true"`/`"false"`, some
 * records with times in the specification's format (`2026-11-23 10:00:00.123`,
 * UTC), `Site timezone` as minutes in text, unknown extra keys, empty `Call ID`.
 *
 * A record's call end is its `Release time`: the time the reconciliation APIs
 * filter on.
 */
import type { LiveRecord } from '../cdr/fields.ts';
import { createRandom, type Random, type Seed } from './random.ts';

/** One record as Webex sends it: human-readable keys, mostly text values. */
export type RawCdr = Record<string, string | number>;

export type SimulatedCdr = {
  readonly reportId: string;
  readonly orgId: string;
  readonly correlationId: string;
  /** `Release time` in epoch milliseconds. */
  readonly callEnd: number;
  readonly raw: RawCdr;
};

export type SimulatedSite = {
  readonly uuid: string;
  readonly name: string;
  readonly country: string;
  /** Offset from UTC in minutes, as Webex sends it: `"-300"`. */
  readonly timezone: string;
  readonly mainNumber: string;
};

export type SimulatedDevice = {
  readonly clientType: string;
  readonly subClientType: string;
  readonly model: string;
  readonly clientVersion: string;
  readonly osType: string;
  readonly mac: string;
};

export type SimulatedUser = {
  readonly uuid: string;
  readonly name: string;
  readonly number: string;
  readonly extension: string;
  /** `User type`: User, Place, VirtualLine, HuntGroup, ... */
  readonly type: string;
  readonly site: SimulatedSite;
  readonly departmentId: string;
  readonly device: SimulatedDevice;
};

export type SimulatedPstn = {
  readonly vendorName: string;
  readonly vendorOrgId: string;
  readonly providerId: string;
  readonly legalEntity: string;
  /** Premises PSTN through a local gateway: trunk and route group names, else "". */
  readonly trunk: string;
  readonly routeGroup: string;
};

export type SimulatedOrg = {
  readonly index: number;
  readonly orgId: string;
  readonly externalId: string;
  /** Mean calls per hour of this org. */
  readonly callsPerHour: number;
  readonly sites: readonly SimulatedSite[];
  readonly users: readonly SimulatedUser[];
  /** Hunt groups, call queues, auto attendants. */
  readonly features: readonly SimulatedUser[];
  readonly pstn: SimulatedPstn;
  readonly recording: { readonly platform: string; readonly trigger: string } | null;
};

/** How often (share of records) each quirk of live data appears. */
export type QuirkRates = {
  /** Times as `2026-11-23 10:00:00.123` (spec format) instead of ISO with `Z`. */
  readonly specTimeFormat: number;
  /** `Duration` and `Hold duration` as text instead of a number. */
  readonly durationAsText: number;
  /** `Ring duration` as a number (live data sends it as text). */
  readonly ringDurationAsNumber: number;
  /** Keys not in the specification (`External customer ID`, `Transfer type`, ...). */
  readonly extraKeys: number;
  /** An empty `Call ID`. */
  readonly emptyCallId: number;
};

export const DEFAULT_QUIRKS: QuirkRates = {
  specTimeFormat: 0.1,
  durationAsText: 0.3,
  ringDurationAsNumber: 0.1,
  extraKeys: 0.05,
  emptyCallId: 0.02,
};

/** Keys seen in live data that the specification does not list. */
export const EXTRA_KEYS = [
  'External customer ID',
  'Transfer type',
  'Transfer type context',
  'Answer reason',
] as const;

export type GeneratorOptions = {
  readonly seed: Seed;
  /** Number of customer orgs. */
  readonly orgs: number;
  /**
   * Mean calls per org per hour (default 20). A number gives each org its own
   * rate around it (some busy, some nearly silent); a function fixes the rate
   * of each org by index.
   */
  readonly callsPerHour?: number | ((orgIndex: number) => number);
  readonly quirks?: Partial<QuirkRates>;
};

export type CdrGenerator = {
  readonly orgs: readonly SimulatedOrg[];
  /** Records whose call ended in [startMs, endMs), ordered by call end, then Report ID. */
  generate(startMs: number, endMs: number): SimulatedCdr[];
};

const HOUR_MS = 3_600_000;

// --- reference data ---------------------------------------------------------

type SiteTemplate = { name: string; country: string; timezone: string };
const SITE_TEMPLATES: readonly SiteTemplate[] = [
  { name: 'Oslo HQ', country: 'NO', timezone: '60' },
  { name: 'Bergen', country: 'NO', timezone: '60' },
  { name: 'Trondheim', country: 'NO', timezone: '60' },
  { name: 'Stockholm', country: 'SE', timezone: '60' },
  { name: 'Berlin', country: 'DE', timezone: '60' },
  { name: 'London', country: 'GB', timezone: '0' },
  { name: 'New York', country: 'US', timezone: '-300' },
  { name: 'Chicago', country: 'US', timezone: '-360' },
  { name: 'San Jose', country: 'US', timezone: '-480' },
  { name: 'Sydney', country: 'AU', timezone: '600' },
  { name: 'Bangalore', country: 'IN', timezone: '330' },
];

const DIALLING: Record<string, { cc: string; digits: number }> = {
  NO: { cc: '47', digits: 8 },
  SE: { cc: '46', digits: 9 },
  DE: { cc: '49', digits: 10 },
  GB: { cc: '44', digits: 10 },
  US: { cc: '1', digits: 10 },
  AU: { cc: '61', digits: 9 },
  IN: { cc: '91', digits: 10 },
  FR: { cc: '33', digits: 9 },
  ES: { cc: '34', digits: 9 },
};
const INTERNATIONAL = ['GB', 'DE', 'SE', 'US', 'FR', 'ES', 'IN'] as const;

const FIRST_NAMES: readonly string[] = [
  'Kari Ola Ingrid Lars Sofie Magnus Nora Henrik Emma Jonas Maja Erik Sara Anders Ida',
  'Mohammed Priya James Olivia Lukas Chen Aisha Mateo Hanna Omar Elin Noah Freya Ravi Zofia',
]
  .join(' ')
  .split(' ');
const LAST_NAMES: readonly string[] = [
  'Nordmann Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Berg Haugen Smith Khan',
  'Patel Schmidt Garcia Lindqvist Novak Okafor Tanaka Dubois Rossi Kowalski Svensson Jensen',
]
  .join(' ')
  .split(' ');

type DeviceTemplate = Omit<SimulatedDevice, 'mac'> & { hasMac: boolean };
type DeviceRow = readonly [string, string, string, string, string, boolean];
// client type, sub client type, model, client version, OS type, has a MAC; weight
const DEVICE_ROWS: readonly (readonly [DeviceRow, number])[] = [
  [['SIP', '', 'DMS Cisco 8865', 'sip88xx.14-2-1-0001-14', 'NA', true], 20],
  [['SIP', '', 'DMS Cisco 8851', 'sip88xx.14-1-1-0001-125', 'NA', true], 12],
  [['SIP', '', 'Poly VVX 450', '6.4.3.5156', 'NA', true], 5],
  [['SIP', '', 'Yealink T54W', '96.86.0.30', 'NA', true], 5],
  [['WXC_CLIENT', '', 'Webex Desktop', '44.10.0.31012', 'windows', false], 25],
  [['WXC_CLIENT', '', 'Webex Desktop', '44.10.0.31012', 'mac', false], 12],
  [['WXC_CLIENT', 'MOBILE_NETWORK', 'Webex Mobile', '44.9.1.30809', 'ios', false], 8],
  [['WXC_CLIENT', '', 'Webex Mobile', '44.9.1.30809', 'android', false], 6],
  [['TEAMS_WXC_CLIENT', '', 'Microsoft Teams', '1.6.00.27573', 'windows', false], 4],
  [['WXC_DEVICE', '', 'Cisco Desk Pro', 'RoomOS 11.14.2.3', 'NA', true], 3],
];
const DEVICES: readonly (readonly [DeviceTemplate, number])[] = DEVICE_ROWS.map(
  ([[clientType, subClientType, model, clientVersion, osType, hasMac], weight]) => [
    { clientType, subClientType, model, clientVersion, osType, hasMac },
    weight,
  ],
);

const PSTN_VENDORS = [
  { vendorName: 'Cisco Calling Plan', legalEntity: 'Cisco Systems Norway AS', premises: false },
  { vendorName: 'IntelePeer', legalEntity: 'IntelePeer Cloud Communications LLC', premises: false },
  { vendorName: 'Telenor Norge', legalEntity: 'Telenor Norge AS', premises: false },
  { vendorName: 'Local Gateway', legalEntity: '', premises: true },
] as const;

const RECORDING_PLATFORMS = ['Webex', 'Dubber', 'Imagicle'] as const;
const RECORDING_TRIGGERS = ['always', 'always-pause-resume', 'on-demand'] as const;

const OUTBOUND_CALL_TYPES: readonly (readonly [string, number])[] = [
  ['SIP_NATIONAL', 45],
  ['SIP_MOBILE', 30],
  ['SIP_MEETING', 8],
  ['SIP_INTERNATIONAL', 6],
  ['SIP_TOLLFREE', 6],
  ['SIP_PREMIUM', 0.5],
  ['SIP_SHORTCODE', 0.5],
  ['SIP_EMERGENCY', 0.3],
  ['UNKNOWN', 1],
];

type Outcome = { outcome: string; reason: string };
const UNANSWERED_OUTCOMES: readonly (readonly [Outcome, number])[] = [
  [{ outcome: 'Failure', reason: 'NoAnswer' }, 40],
  [{ outcome: 'Success', reason: 'Normal' }, 20],
  [{ outcome: 'Refusal', reason: 'UserBusy' }, 20],
  [{ outcome: 'Refusal', reason: 'CallRejected' }, 10],
  [{ outcome: 'Failure', reason: 'UnassignedNumber' }, 5],
  [{ outcome: 'Failure', reason: 'SIP408' }, 3],
  [{ outcome: 'Failure', reason: 'InternalError' }, 2],
];

// --- orgs -------------------------------------------------------------------

const gaussian = (rng: Random): number =>
  Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());

const phoneNumber = (rng: Random, country: string): string => {
  const plan = DIALLING[country] ?? { cc: '1', digits: 10 };
  return `+${plan.cc}${rng.int(2, 9)}${rng.digits(plan.digits - 1)}`;
};

const mac = (rng: Random): string => rng.hex(12).toUpperCase();

const createDevice = (rng: Random): SimulatedDevice => {
  const { hasMac, ...device } = rng.weighted(DEVICES);
  return { ...device, mac: hasMac ? mac(rng) : '' };
};

const createOrg = (seed: Seed, index: number, meanRate: GeneratorOptions['callsPerHour']) => {
  const rng = createRandom(seed).fork(`org:${index}`);
  const orgId = rng.uuid();
  const sites: SimulatedSite[] = [];
  const siteCount = rng.weighted([
    [1, 6],
    [2, 3],
    [3, 1],
  ] as const);
  const firstSite = rng.int(0, SITE_TEMPLATES.length - 1);
  for (let i = 0; i < siteCount; i++) {
    const t = SITE_TEMPLATES[(firstSite + i * 3) % SITE_TEMPLATES.length] ?? SITE_TEMPLATES[0];
    if (t === undefined) throw new Error('no site templates');
    sites.push({
      uuid: rng.uuid(),
      name: t.name,
      country: t.country,
      timezone: t.timezone,
      mainNumber: phoneNumber(rng, t.country),
    });
  }
  const departments = Array.from({ length: rng.int(0, 4) }, () => rng.uuid());
  const person = (type: string, name: string): SimulatedUser => {
    const site = rng.pick(sites);
    return {
      uuid: rng.uuid(),
      name,
      number: phoneNumber(rng, site.country),
      extension: String(rng.int(1000, 8999)),
      type,
      site,
      departmentId: departments.length > 0 && rng.chance(0.7) ? rng.pick(departments) : '',
      device: createDevice(rng),
    };
  };
  const users = Array.from({ length: rng.int(5, 60) }, () => {
    const type = rng.weighted([
      ['User', 80],
      ['Place', 12],
      ['VirtualLine', 8],
    ] as const);
    const name =
      type === 'Place'
        ? `${rng.pick(['Reception', 'Meeting room', 'Lobby', 'Warehouse'])} ${rng.int(1, 9)}`
        : `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
    return person(type, name);
  });
  const features = [
    person('HuntGroup', 'Sales'),
    person('CallCenterStandard', 'Support queue'),
    person('AutomatedAttendantVideo', 'Main menu'),
  ];
  const vendor = rng.pick(PSTN_VENDORS);
  const pstn: SimulatedPstn = {
    vendorName: vendor.vendorName,
    vendorOrgId: vendor.premises ? '' : rng.uuid(),
    providerId: vendor.premises ? '' : rng.uuid(),
    legalEntity: vendor.legalEntity,
    trunk: vendor.premises ? `LGW-${sites[0]?.name.replace(/\s+/g, '-') ?? 'Main'}` : '',
    routeGroup: vendor.premises && rng.chance(0.5) ? 'RG-Primary' : '',
  };
  let callsPerHour: number;
  if (typeof meanRate === 'function') {
    callsPerHour = Math.max(0, meanRate(index));
  } else {
    const mean = meanRate ?? 20;
    // log-normal around the mean (E = mean), a few orgs nearly silent
    const factor = rng.chance(0.05) ? 0.03 : Math.exp(0.7 * gaussian(rng) - 0.245);
    callsPerHour = mean * Math.min(6, Math.max(0.05, factor));
  }
  const org: SimulatedOrg = {
    index,
    orgId,
    externalId: `CUST-${String(100000 + rng.int(0, 899999))}`,
    callsPerHour,
    sites,
    users,
    features,
    pstn,
    recording: rng.chance(0.2)
      ? { platform: rng.pick(RECORDING_PLATFORMS), trigger: rng.pick(RECORDING_TRIGGERS) }
      : null,
  };
  return org;
};

// --- records ----------------------------------------------------------------

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);
const DAY_MS = 86_400_000;
const dayPrefixes = new Map<number, string>();

/** `2026-11-23T10:00:00.123Z`, or the spec's `2026-11-23 10:00:00.123` (UTC). */
export const formatTime = (ms: number, specFormat = false): string => {
  const day = Math.floor(ms / DAY_MS);
  let date = dayPrefixes.get(day);
  if (date === undefined) {
    date = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (dayPrefixes.size < 10_000) dayPrefixes.set(day, date);
  }
  const t = ms - day * DAY_MS;
  const clock = `${pad2(Math.floor(t / 3_600_000))}:${pad2(Math.floor(t / 60_000) % 60)}:${pad2(Math.floor(t / 1000) % 60)}.${pad3(t % 1000)}`;
  return specFormat ? `${date} ${clock}` : `${date}T${clock}Z`;
};

type Party = {
  readonly number: string;
  /** Display name (`Calling line ID` / `Called line ID`). */
  readonly name: string;
  readonly user: SimulatedUser | null;
};

type Leg = {
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

type CallContext = {
  readonly rng: Random;
  readonly org: SimulatedOrg;
  readonly correlationId: string;
  readonly interactionId: string;
  readonly quirks: QuirkRates;
};

const remoteParty = (rng: Random, country: string): Party => ({
  number: phoneNumber(rng, country),
  name: rng.chance(0.6) ? '' : `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`.toUpperCase(),
  user: null,
});

const userParty = (u: SimulatedUser): Party => ({ number: u.number, name: u.name, user: u });

const numberAsSent = (n: number, asText: boolean): string | number => (asText ? String(n) : n);

/**
 * What Webex sends for a field of each kind: text, except the durations, which
 * come as numbers or as text.
 */
export type LegValues = LiveRecord<{
  string: string;
  boolean: string;
  time: string;
  long: string | number;
}>;

/**
 * The 83 fields of one leg, in FIELD_SPECS order, keyed in the live spelling
 * where it differs (one object literal keeps V8's fast object layout, which
 * matters at tens of thousands of records). Typed by the field list: `tsc`
 * names a field missing here; a unit test checks the key set at run time.
 */
const legValues = (
  ctx: CallContext,
  leg: Leg,
  ids: LegIds,
  legIds: readonly LegIds[],
): LegValues => {
  const { rng, org, quirks } = ctx;
  const owner = leg.owner;
  const site = owner.site;
  const spec = rng.chance(quirks.specTimeFormat);
  const time = (ms: number | null) => (ms === null ? '' : formatTime(ms, spec));
  const answerAt = leg.answered ? leg.start + leg.ringMs : null;
  const durationS =
    answerAt === null ? 0 : Math.max(0, Math.round((leg.release - answerAt) / 1000));
  const holdS = leg.answered && rng.chance(0.1) ? rng.int(5, Math.max(5, durationS)) : 0;
  const ringS = Math.round(leg.ringMs / 1000);
  const durationText = rng.chance(quirks.durationAsText);
  const pstn = leg.pstn !== null;
  const inboundPstn = leg.pstn === 'in';
  const related = leg.related === null ? undefined : legIds[leg.related.leg];
  const recorded = org.recording !== null && leg.answered && owner.type === 'User';
  const na = (p = 0.5) => (rng.chance(p) ? 'NA' : '');
  const device = owner.device;
  const isEmergency = leg.callType === 'SIP_EMERGENCY';
  return {
    'Answer indicator': leg.answerIndicator,
    'Answer time': time(answerAt),
    Answered: leg.answered ? 'true' : 'false',
    'Answered elsewhere': leg.answered
      ? 'NA'
      : rng.weighted([
          ['NA', 8],
          ['', 1],
          ['No', 1],
        ]),
    'Authorization code': leg.direction === 'ORIGINATING' && rng.chance(0.01) ? rng.digits(4) : '',
    'Auto Attendant Key Pressed': leg.autoAttendantKey,
    'Call ID': rng.chance(quirks.emptyCallId) ? '' : ids.callId,
    'Call outcome': leg.outcome.outcome,
    'Call outcome reason': leg.outcome.reason,
    'Call Recording Platform Name': recorded ? (org.recording?.platform ?? '') : na(0.3),
    'Call Recording Result': recorded
      ? rng.weighted([
          ['successful', 95],
          ['failed', 3],
          ['successful but not kept', 2],
        ])
      : na(0.3),
    'Call Recording Trigger': recorded ? (org.recording?.trigger ?? '') : na(0.3),
    'Call transfer time': time(leg.related?.transferTime ?? null),
    'Call type': leg.callType,
    'Called line ID': leg.called.name,
    'Called number': leg.called.number,
    'Caller ID number': leg.calling.number,
    'Caller Reputation Score': inboundPstn ? (rng.int(10, 50) / 10).toFixed(1) : 'NA',
    'Caller Reputation Score Reason': inboundPstn
      ? rng.weighted([
          ['', 9],
          ['NA', 1],
        ])
      : 'NA',
    'Caller Reputation Service Result': inboundPstn
      ? rng.weighted([
          ['allow', 90],
          ['captcha-allow', 8],
          ['block', 2],
        ])
      : 'NA',
    'Calling line ID': leg.calling.name,
    'Calling number': leg.calling.number,
    'Client type': device.clientType,
    'Client version': device.clientVersion,
    'Correlation ID': ctx.correlationId,
    'Department ID': owner.departmentId,
    'Device MAC': device.mac,
    'Device owner UUID': device.mac === '' ? '' : owner.uuid,
    'Dialed digits': leg.dialed,
    Direction: leg.direction,
    Duration: numberAsSent(durationS, durationText),
    ELIN: isEmergency ? site.mainNumber : '',
    'Emergency number source': isEmergency ? 'ELIN' : '',
    'External caller ID number': leg.pstn === 'out' ? site.mainNumber : '',
    'Final local SessionID': ids.finalLocalSession,
    'Final remote SessionID': ids.finalRemoteSession,
    'Hold duration': rng.chance(0.02) ? '' : numberAsSent(holdS, durationText),
    'Inbound trunk': inboundPstn ? org.pstn.trunk : '',
    'Interaction ID': ctx.interactionId,
    'International country': leg.internationalCountry,
    'Local call ID': ids.localCallId,
    'Local SessionID': ids.localSession,
    Location: site.name,
    Model: device.model,
    'Network call ID': ids.networkCallId,
    'Org UUID': org.orgId,
    'Original called party UUID': leg.redirect === null ? '' : leg.redirect.from.uuid,
    'Original reason': leg.redirect === null ? '' : leg.redirect.reason,
    'OS type': device.osType,
    'Outbound trunk': leg.pstn === 'out' ? org.pstn.trunk : '',
    'PSTN legal entity': pstn ? org.pstn.legalEntity : '',
    'PSTN provider ID': pstn ? org.pstn.providerId : '',
    'PSTN vendor name': pstn ? org.pstn.vendorName : '',
    'PSTN vendor org ID': pstn ? org.pstn.vendorOrgId : '',
    'Public Called IP Address': leg.direction === 'TERMINATING' ? ids.publicIp : '',
    'Public Calling IP Address': leg.direction === 'ORIGINATING' ? ids.publicIp : '',
    'Queue type': leg.queueType,
    'Recall type': rng.chance(0.005) ? 'ParkRecall' : '',
    'Redirect reason': leg.redirect === null ? '' : leg.redirect.reason,
    'Redirecting number': leg.redirect === null ? '' : leg.redirect.from.number,
    'Redirecting party UUID': leg.redirect === null ? '' : leg.redirect.from.uuid,
    'Related call ID': related === undefined ? '' : related.localCallId,
    'Related reason': leg.related === null ? '' : leg.related.reason,
    'Release time': time(leg.release),
    'Releasing party': leg.answered
      ? rng.weighted([
          ['Local', 5],
          ['Remote', 5],
          ['Unknown', 1],
        ])
      : rng.weighted([
          ['Remote', 6],
          ['Local', 3],
          ['Unknown', 1],
        ]),
    'Remote call ID': ids.remoteCallId,
    'Remote SessionID': ids.remoteSession,
    'Report ID': ids.reportId,
    'Report time': time(leg.release + rng.int(5_000, 150_000)),
    'Ring duration': rng.chance(quirks.ringDurationAsNumber) ? ringS : String(ringS),
    'Route group': pstn ? org.pstn.routeGroup : '',
    'Route list calls overage': pstn && org.pstn.routeGroup !== '' ? '0' : '',
    'Site main number': site.mainNumber,
    'Site timezone': site.timezone,
    'Site UUID': site.uuid,
    'Start time': time(leg.start),
    'Sub client type': device.subClientType,
    'Transfer related call ID':
      leg.related?.reason === 'ConsultativeTransfer' && related !== undefined ? related.callId : '',
    User: owner.name,
    'User number': owner.number,
    'User type': owner.type,
    'User UUID': owner.uuid,
    'WxCC consult merge status': 'NA',
  };
};

type LegIds = {
  readonly reportId: string;
  readonly callId: string;
  readonly localCallId: string;
  readonly remoteCallId: string;
  readonly networkCallId: string;
  readonly localSession: string;
  readonly remoteSession: string;
  readonly finalLocalSession: string;
  readonly finalRemoteSession: string;
  readonly publicIp: string;
};

const createLegIds = (rng: Random): LegIds => {
  const host = `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
  const localSession = rng.hex(32);
  const remoteSession = rng.hex(32);
  return {
    reportId: rng.uuid(),
    callId: `SSE${rng.digits(24)}@${host}`,
    localCallId: `${rng.int(100000, 999999)}:0`,
    remoteCallId: `${rng.int(100000, 999999)}:0`,
    networkCallId: `BW${rng.digits(22)}@${host}`,
    localSession,
    remoteSession,
    finalLocalSession: rng.chance(0.9) ? localSession : rng.hex(32),
    finalRemoteSession: rng.chance(0.9) ? remoteSession : rng.hex(32),
    publicIp: rng.chance(0.3)
      ? ''
      : `${rng.pick(['203.0.113', '198.51.100', '192.0.2'])}.${rng.int(1, 254)}`,
  };
};

type CallPlan = { legs: Leg[] };

/** Plans the legs of one call ending at `end` (the last leg's release). */
const planCall = (rng: Random, org: SimulatedOrg, end: number): CallPlan => {
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

/** Some of the keys Webex sends beyond the specification (at least one). */
const extraKeys = (rng: Random, org: SimulatedOrg, leg: Leg): Record<string, string> => {
  const extra: Record<string, string> = {};
  for (const key of EXTRA_KEYS) {
    if (!rng.chance(0.5)) continue;
    switch (key) {
      case 'External customer ID':
        extra[key] = org.externalId;
        break;
      case 'Transfer type':
        extra[key] = leg.related === null ? '' : 'ATTENDED';
        break;
      case 'Transfer type context':
        extra[key] = leg.related === null ? 'NA' : 'CONSULT';
        break;
      case 'Answer reason':
        extra[key] = leg.answered ? 'Answered' : '';
        break;
    }
  }
  return Object.keys(extra).length > 0 ? extra : { 'External customer ID': org.externalId };
};

const buildCall = (
  ctx: CallContext,
  plan: CallPlan,
  out: SimulatedCdr[],
  startMs: number,
  endMs: number,
) => {
  const ids = plan.legs.map(() => createLegIds(ctx.rng));
  for (const [i, leg] of plan.legs.entries()) {
    const legIds = ids[i];
    if (legIds === undefined) continue;
    // draw every value before filtering, so the window does not shift the stream
    const values = legValues(ctx, leg, legIds, ids);
    const extra = ctx.rng.chance(ctx.quirks.extraKeys) ? extraKeys(ctx.rng, ctx.org, leg) : null;
    if (leg.release < startMs || leg.release >= endMs) continue;
    const raw: RawCdr = values;
    if (extra !== null) Object.assign(raw, extra);
    out.push({
      reportId: legIds.reportId,
      orgId: ctx.org.orgId,
      correlationId: ctx.correlationId,
      callEnd: leg.release,
      raw,
    });
  }
};

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
