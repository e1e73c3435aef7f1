/**
 * Shared test data: a raw Webex CDR with every documented field set, in the
 * shapes Webex sends (strings almost everywhere, both time formats).
 */
import type { SpecName } from '../../src/cdr/fields.ts';
import type { Ingest } from '../../src/cdr/normalise.ts';
import { type OrgResult, summariseRun } from '../../src/reconciler/rules.ts';
import type { ReconcilerStatus } from '../../src/reconciler/service.ts';

export const INGEST: Ingest = {
  feed: 'analytics',
  source: 'webhook',
  received_at: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
  delivery_id: 'delivery-1',
};

/** Epoch ms of `2023-10-12T21:22:32.621Z`, the specification's example time. */
export const SPEC_TIME_MS = Date.UTC(2023, 9, 12, 21, 22, 32, 621);

/** All 87 fields (the 83 of the spec, the 4 seen live) in the spec spellings, live value shapes (typed: a field added to fields.ts is missing here). */
const ALL_FIELDS: { readonly [N in SpecName]: string | number } = {
  'Answer indicator': 'Yes',
  'Answer time': '2023-10-12T21:20:01.000Z',
  Answered: 'true',
  'Answered Elsewhere': 'No',
  'Authorization code': '1234',
  'Auto Attendant Key Pressed': '1',
  'Call ID': 'SSE1234@10.0.0.1',
  'Call outcome': 'Success',
  'Call outcome reason': 'Normal',
  'Call Recording Platform Name': 'Webex',
  'Call Recording Result': 'successful',
  'Call Recording Trigger': 'always',
  'Call transfer Time': '2023-10-12 21:21:00.500',
  'Call type': 'SIP_ENTERPRISE',
  'Called line ID': 'Reception',
  'Called number': '+4722000000',
  'Caller ID number': '+4722000001',
  'Caller Reputation Score': '4.5',
  'Caller Reputation Score Reason': 'good',
  'Caller Reputation Service Result': 'allow',
  'Calling line ID': 'Ola Nordmann',
  'Calling number': '+4722000002',
  'Client type': 'WXC_CLIENT',
  'Client version': '44.1.0',
  'Correlation ID': 'corr-1',
  'Department ID': 'dep-1',
  'Device MAC': '00:11:22:33:44:55',
  'Device owner UUID': 'owner-1',
  'Dialed digits': '22000000',
  Direction: 'ORIGINATING',
  Duration: 151,
  ELIN: '+4722000003',
  'Emergency number source': 'user',
  'External caller ID number': '+4722000004',
  'Final local SessionID': 'fls-1',
  'Final remote SessionID': 'frs-1',
  'Hold Duration': '12',
  'Inbound trunk': 'trunk-in',
  'Interaction ID': 'int-1',
  'International country': 'NO',
  'Local call ID': 'lc-1',
  'Local SessionID': 'ls-1',
  Location: 'Oslo',
  Model: 'DMS Cisco 8865',
  'Network call ID': 'nc-1',
  'Org UUID': 'org-1',
  'Original Called Party UUID': 'ocp-1',
  'Original reason': 'Unconditional',
  'OS type': 'linux',
  'Outbound trunk': 'trunk-out',
  'PSTN Legal Entity': 'Telco AS',
  'PSTN Provider ID': 'prov-1',
  'PSTN Vendor Name': 'Telco',
  'PSTN Vendor Org ID': 'vendor-org-1',
  'Public Called IP Address': '192.0.2.1',
  'Public Calling IP Address': '192.0.2.2',
  'Queue Type': 'CustomerAssist',
  'Recall Type': 'ParkRecall',
  'Redirect reason': 'CallForwardBusy',
  'Redirecting number': '+4722000005',
  'Redirecting party UUID': 'rp-1',
  'Related call ID': 'rc-1',
  'Related reason': 'CallPark',
  'Release time': '2023-10-12T21:22:32.621Z',
  'Releasing party': 'Remote',
  'Remote call ID': 'rmc-1',
  'Remote SessionID': 'rs-1',
  'Report ID': 'report-1',
  'Report time': '2023-10-12 21:23:00.000',
  'Ring duration': '7',
  'Route group': 'rg-1',
  'Route list calls overage': '0',
  'Site main number': '+4722000006',
  'Site timezone': '-300',
  'Site UUID': 'site-1',
  'Start time': '2023-10-12T21:20:00.000+02:00',
  'Sub client type': 'MOBILE_NETWORK',
  'Transfer related call ID': 'trc-1',
  User: 'Kari Nordmann',
  'User number': '+4722000007',
  'User type': 'User',
  'User UUID': 'user-1',
  'WxCC consult merge status': 'merged',
  'External customer ID': 'ext-1',
  'Transfer type': 'ATTENDED',
  'Transfer type context': 'CONSULT',
  'Answer reason': 'Answered',
};

/** One raw record with all 87 fields set (spec spellings, live value shapes). */
export const fullRawCdr = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...ALL_FIELDS,
  ...overrides,
});

/** A minimal valid raw record. */
export const minimalRawCdr = (
  reportId: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> => ({
  'Report ID': reportId,
  'Org UUID': 'org-1',
  ...overrides,
});

/** A reconciler that has not run yet and waits for Kafka (its `/readyz` answers 503). */
export const IDLE_RECONCILER: ReconcilerStatus = {
  ready: false,
  reasons: ['Kafka or the registry not ready: topics'],
  running: false,
  runs: 0,
  backfilledTotal: 0,
  sums: summariseRun('', [], 0, false).totals,
  failedByCode: { windows: {}, orgs: {} },
  lastRun: null,
  lastFinishedAt: null,
  lastSuccessAt: null,
  lease: null,
};

type Counts = Pick<
  OrgResult,
  'backfilled' | 'versions' | 'deadLettered' | 'unpublishable' | 'stillMissing' | 'surplus'
>;
const COUNT_NAMES = [
  'backfilled',
  'versions',
  'deadLettered',
  'unpublishable',
  'stillMissing',
  'surplus',
] as const;

/** The counts of an expected org result or run total: the ones given, every other 0. */
export const counts = (given: Partial<Counts> = {}): Counts => ({
  ...(Object.fromEntries(COUNT_NAMES.map((name) => [name, 0])) as Counts),
  ...given,
});
