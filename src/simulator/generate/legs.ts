/**
 * @module simulator/generate/legs
 * The records of one planned call: one per leg, with a unique `Report ID`,
 * ids of its own (call, session and network ids) and all 83 documented
 * fields, keyed in the live spelling where Webex's live data differs from the
 * specification and typed by the field list (cdr/fields.ts). The quirks of
 * live data are reproduced on purpose: numbers sometimes as text, `"NA"` and
 * `""` for "no value", `Answered` as `"true"`/`"false"`, some records with
 * times in the specification's format (`2026-11-23 10:00:00.123`, UTC),
 * `Site timezone` as minutes in text, unknown extra keys, empty `Call ID`.
 */
import type { LiveRecord } from '../../cdr/fields.ts';
import type { Random } from '../random.ts';
import type { CallPlan, Leg } from './calls.ts';
import type { SimulatedOrg } from './orgs.ts';
import { EXTRA_KEYS } from './reference-data.ts';

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

export type CallContext = {
  readonly rng: Random;
  readonly org: SimulatedOrg;
  readonly correlationId: string;
  readonly interactionId: string;
  readonly quirks: QuirkRates;
};

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

export const buildCall = (
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
