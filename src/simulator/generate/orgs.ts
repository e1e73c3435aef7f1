/**
 * @module simulator/generate/orgs
 * One simulated customer org, deterministic from the seed and its index: its
 * id, sites (with main numbers in the site's dialling plan), departments,
 * users, places and virtual lines with their devices, three features (a hunt
 * group, a call queue, an auto attendant), a PSTN provider, an optional
 * recording platform, and a call rate of its own around the configured mean
 * (log-normal, a few orgs nearly silent).
 */
import { createRandom, type Random, type Seed } from '../random.ts';
import {
  DEVICE_ROWS,
  DIALLING,
  FIRST_NAMES,
  LAST_NAMES,
  PSTN_VENDORS,
  RECORDING_PLATFORMS,
  RECORDING_TRIGGERS,
  SITE_TEMPLATES,
} from './reference-data.ts';

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

/**
 * Mean calls per org per hour. A number gives each org its own rate around it
 * (some busy, some nearly silent); a function fixes the rate of each org by index.
 */
export type CallRate = number | ((orgIndex: number) => number);

type DeviceTemplate = Omit<SimulatedDevice, 'mac'> & { hasMac: boolean };
const DEVICES: readonly (readonly [DeviceTemplate, number])[] = DEVICE_ROWS.map(
  ([[clientType, subClientType, model, clientVersion, osType, hasMac], weight]) => [
    { clientType, subClientType, model, clientVersion, osType, hasMac },
    weight,
  ],
);

const gaussian = (rng: Random): number =>
  Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());

export const phoneNumber = (rng: Random, country: string): string => {
  const plan = DIALLING[country] ?? { cc: '1', digits: 10 };
  return `+${plan.cc}${rng.int(2, 9)}${rng.digits(plan.digits - 1)}`;
};

const mac = (rng: Random): string => rng.hex(12).toUpperCase();

const createDevice = (rng: Random): SimulatedDevice => {
  const { hasMac, ...device } = rng.weighted(DEVICES);
  return { ...device, mac: hasMac ? mac(rng) : '' };
};

export const createOrg = (seed: Seed, index: number, meanRate: CallRate | undefined) => {
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
