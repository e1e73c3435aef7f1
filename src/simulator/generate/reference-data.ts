/**
 * @module simulator/generate/reference-data
 * The tables the generator draws from: site templates and dialling plans,
 * names, devices (weighted by how common they are), PSTN vendors, recording
 * platforms, outbound call types and the outcomes of unanswered calls, and the
 * keys live data carries beyond the specification. Data only, no logic.
 */

/** Keys seen in live data that the specification does not list. */
export const EXTRA_KEYS = [
  'External customer ID',
  'Transfer type',
  'Transfer type context',
  'Answer reason',
] as const;

type SiteTemplate = { name: string; country: string; timezone: string };
export const SITE_TEMPLATES: readonly SiteTemplate[] = [
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

export const DIALLING: Record<string, { cc: string; digits: number }> = {
  NO: { cc: '47', digits: 8 },
  SE: { cc: '46', digits: 9 },
  DE: { cc: '49', digits: 10 },
  GB: { cc: '44', digits: 10 },
  US: { cc: '1', digits: 10 },
  AU: { cc: '61', digits: 9 },
  IN: { cc: '91', digits: 10 },
  FR: { cc: '33', digits: 9 },
  ES: { cc: '34', digits: 9 },
  NA: { cc: '264', digits: 9 },
};
/** `NA` is Namibia: the country code Webex would send, which is not "no value" (contract v2). */
export const INTERNATIONAL = ['GB', 'DE', 'SE', 'US', 'FR', 'ES', 'IN', 'NA'] as const;

export const FIRST_NAMES: readonly string[] = [
  'Kari Ola Ingrid Lars Sofie Magnus Nora Henrik Emma Jonas Maja Erik Sara Anders Ida',
  'Mohammed Priya James Olivia Lukas Chen Aisha Mateo Hanna Omar Elin Noah Freya Ravi Zofia',
]
  .join(' ')
  .split(' ');
export const LAST_NAMES: readonly string[] = [
  'Nordmann Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Berg Haugen Smith Khan',
  'Patel Schmidt Garcia Lindqvist Novak Okafor Tanaka Dubois Rossi Kowalski Svensson Jensen',
]
  .join(' ')
  .split(' ');

export type DeviceRow = readonly [string, string, string, string, string, boolean];
// client type, sub client type, model, client version, OS type, has a MAC; weight
export const DEVICE_ROWS: readonly (readonly [DeviceRow, number])[] = [
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

export const PSTN_VENDORS = [
  { vendorName: 'Cisco Calling Plan', legalEntity: 'Cisco Systems Norway AS', premises: false },
  { vendorName: 'IntelePeer', legalEntity: 'IntelePeer Cloud Communications LLC', premises: false },
  { vendorName: 'Telenor Norge', legalEntity: 'Telenor Norge AS', premises: false },
  { vendorName: 'Local Gateway', legalEntity: '', premises: true },
] as const;

export const RECORDING_PLATFORMS = ['Webex', 'Dubber', 'Imagicle'] as const;
export const RECORDING_TRIGGERS = ['always', 'always-pause-resume', 'on-demand'] as const;

export const OUTBOUND_CALL_TYPES: readonly (readonly [string, number])[] = [
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

export type Outcome = { outcome: string; reason: string };
export const UNANSWERED_OUTCOMES: readonly (readonly [Outcome, number])[] = [
  [{ outcome: 'Failure', reason: 'NoAnswer' }, 40],
  [{ outcome: 'Success', reason: 'Normal' }, 20],
  [{ outcome: 'Refusal', reason: 'UserBusy' }, 20],
  [{ outcome: 'Refusal', reason: 'CallRejected' }, 10],
  [{ outcome: 'Failure', reason: 'UnassignedNumber' }, 5],
  [{ outcome: 'Failure', reason: 'SIP408' }, 3],
  [{ outcome: 'Failure', reason: 'InternalError' }, 2],
];
