/**
 * @module cdr/fields
 * The 83 documented Webex Calling CDR fields, in the spelling of Webex's
 * specification, with the type the connector publishes them as, then the four
 * keys seen in live data but not in the specification (`origin: 'live'`,
 * schema fields since contract v2). This list is the single source for the
 * Avro schema (`schemas/cdr.avsc`) and the normaliser; a test keeps the three
 * in agreement.
 *
 * The list is `as const`, so its names are types: `FieldName` (the Avro
 * names), `SpecName` and `LiveName` (the spellings Webex sends),
 * `RecordFields` (the typed fields of a published record) and `LiveRecord`
 * (a record as Webex sends it) derive from it. A field added here makes `tsc`
 * name every other place it must go (the simulator's values, the test
 * fixture).
 */

/** How a field's value is parsed and which Avro type carries it. */
export type FieldKind = 'string' | 'boolean' | 'long' | 'time';

export type FieldSpec = {
  /** Webex's spelling in the specification. */
  readonly webex: string;
  readonly kind: FieldKind;
  /** Live data spelling where it differs from the specification. */
  readonly live?: string;
  /** Other spellings Webex uses for the field, e.g. the partner APIs' camelCase `orgId`. */
  readonly aliases?: readonly string[];
  /** `"NA"` is a value of this field, not "no value" (`International country` NA is Namibia). */
  readonly naIsValue?: true;
  /** `live`: seen in live data, not in the specification (a schema field since contract v2). */
  readonly origin?: 'live';
  readonly note?: string;
};

type SpecExtra = Omit<FieldSpec, 'webex' | 'kind'>;

const spec = <
  const W extends string,
  const K extends FieldKind = 'string',
  const E extends SpecExtra = Record<never, never>,
>(
  webex: W,
  kind: K = 'string' as K,
  extra: E = {} as E,
): FieldSpec & { readonly webex: W; readonly kind: K } & E => ({ webex, kind, ...extra });

const LIVE_ONLY = 'seen in live data, not in the specification (since contract v2)';

export const FIELD_SPECS = [
  spec('Answer indicator', 'string', { note: 'Yes / No / Yes-PostRedirection' }),
  spec('Answer time', 'time'),
  spec('Answered', 'boolean'),
  spec('Answered Elsewhere', 'string', { live: 'Answered elsewhere' }),
  spec('Authorization code'),
  spec('Auto Attendant Key Pressed'),
  spec('Call ID', 'string', { note: 'SIP call id, may be empty: never a key' }),
  spec('Call outcome', 'string', { note: 'Success / Failure / Refusal' }),
  spec('Call outcome reason'),
  spec('Call Recording Platform Name'),
  spec('Call Recording Result'),
  spec('Call Recording Trigger'),
  spec('Call transfer Time', 'time', { live: 'Call transfer time' }),
  spec('Call type', 'string', { note: 'SIP_ENTERPRISE, SIP_NATIONAL, ...' }),
  spec('Called line ID'),
  spec('Called number', 'string', { note: 'personal data' }),
  spec('Caller ID number', 'string', { note: 'personal data' }),
  spec('Caller Reputation Score', 'string', { note: 'decimal as text' }),
  spec('Caller Reputation Score Reason'),
  spec('Caller Reputation Service Result'),
  spec('Calling line ID'),
  spec('Calling number', 'string', { note: 'personal data' }),
  spec('Client type'),
  spec('Client version'),
  spec('Correlation ID', 'string', { note: 'ties the legs of one call together' }),
  spec('Department ID'),
  spec('Device MAC'),
  spec('Device owner UUID'),
  spec('Dialed digits', 'string', { note: 'personal data' }),
  spec('Direction', 'string', { note: 'ORIGINATING / TERMINATING' }),
  spec('Duration', 'long', { note: 'seconds' }),
  spec('ELIN'),
  spec('Emergency number source'),
  spec('External caller ID number'),
  spec('Final local SessionID'),
  spec('Final remote SessionID'),
  spec('Hold Duration', 'long', { live: 'Hold duration', note: 'seconds' }),
  spec('Inbound trunk'),
  spec('Interaction ID'),
  spec('International country', 'string', {
    naIsValue: true,
    note: 'country code; "NA" is Namibia, not "no value"',
  }),
  spec('Local call ID'),
  spec('Local SessionID'),
  spec('Location'),
  spec('Model'),
  spec('Network call ID'),
  spec('Org UUID', 'string', {
    aliases: ['orgId'],
    note: 'customer org: the Kafka key',
  }),
  spec('Original Called Party UUID', 'string', { live: 'Original called party UUID' }),
  spec('Original reason'),
  spec('OS type'),
  spec('Outbound trunk'),
  spec('PSTN Legal Entity', 'string', { live: 'PSTN legal entity' }),
  spec('PSTN Provider ID', 'string', { live: 'PSTN provider ID' }),
  spec('PSTN Vendor Name', 'string', { live: 'PSTN vendor name' }),
  spec('PSTN Vendor Org ID', 'string', { live: 'PSTN vendor org ID' }),
  spec('Public Called IP Address', 'string', { note: 'personal data' }),
  spec('Public Calling IP Address', 'string', { note: 'personal data' }),
  spec('Queue Type', 'string', { live: 'Queue type' }),
  spec('Recall Type', 'string', { live: 'Recall type' }),
  spec('Redirect reason'),
  spec('Redirecting number', 'string', { note: 'personal data' }),
  spec('Redirecting party UUID'),
  spec('Related call ID'),
  spec('Related reason'),
  spec('Release time', 'time', { note: 'call end: reconciliation windows use it' }),
  spec('Releasing party', 'string', { note: 'Local / Remote / Unknown' }),
  spec('Remote call ID'),
  spec('Remote SessionID'),
  spec('Report ID', 'string', { note: 'unique record id: the dedup key' }),
  spec('Report time', 'time', { note: 'when the record was created; orders versions' }),
  spec('Ring duration', 'long', { note: 'seconds' }),
  spec('Route group'),
  spec('Route list calls overage', 'string', { note: 'integer as text' }),
  spec('Site main number'),
  spec('Site timezone', 'string', { note: 'offset in minutes as text, e.g. "-300"' }),
  spec('Site UUID'),
  spec('Start time', 'time'),
  spec('Sub client type'),
  spec('Transfer related call ID'),
  spec('User', 'string', { note: 'display name, personal data' }),
  spec('User number', 'string', { note: 'personal data' }),
  spec('User type', 'string', { note: 'User, Place, VirtualLine, HuntGroup, ...' }),
  spec('User UUID'),
  spec('WxCC consult merge status', 'string', {
    naIsValue: true,
    note: 'Webex documents "NA" as one of its values',
  }),
  // Seen in live data, not in the specification: schema fields since contract v2.
  spec('External customer ID', 'string', { origin: 'live', note: LIVE_ONLY }),
  spec('Transfer type', 'string', { origin: 'live', note: LIVE_ONLY }),
  spec('Transfer type context', 'string', { origin: 'live', note: LIVE_ONLY }),
  spec('Answer reason', 'string', { origin: 'live', note: LIVE_ONLY }),
] as const satisfies readonly FieldSpec[];

type SpecEntry = (typeof FIELD_SPECS)[number];
/** The 83 fields of Webex's specification. */
type DocumentedEntry = Exclude<SpecEntry, { readonly origin: 'live' }>;
type LiveOnlyEntry = Extract<SpecEntry, { readonly origin: 'live' }>;

/** Webex's spelling in the specification (or, for the four live-only keys, in live data): `'Report ID'`. */
export type SpecName = SpecEntry['webex'];

type LiveOf<S> = S extends { readonly live: infer L extends string }
  ? L
  : S extends { readonly webex: infer W extends string }
    ? W
    : never;

/** The spelling of live data: the specification's, unless the field has a `live` one. */
export type LiveName = LiveOf<SpecEntry>;

/**
 * One value per field keyed by its live spelling, each typed by its field's
 * kind (`V` maps kinds to types): the shape of a record as Webex sends it.
 * The keys outside the specification are not in every record: optional.
 */
export type LiveRecord<V extends Record<FieldKind, unknown>> = {
  [S in DocumentedEntry as LiveOf<S>]: V[S['kind']];
} & { [S in LiveOnlyEntry as LiveOf<S>]?: V[S['kind']] };

type Chars<S extends string> = S extends `${infer C}${infer Rest}` ? C | Chars<Rest> : never;
type Alphanumeric = Chars<'abcdefghijklmnopqrstuvwxyz0123456789'>;

/** `toFieldName` in the type system, one character at a time. */
type Snake<
  S extends string,
  Out extends string = '',
  Gap extends boolean = false,
> = S extends `${infer C}${infer Rest}`
  ? C extends Alphanumeric
    ? Snake<Rest, `${Out}${Gap extends true ? (Out extends '' ? '' : '_') : ''}${C}`>
    : Snake<Rest, Out, true>
  : Out;

/** The Avro name of a Webex spelling: `'Call transfer Time'` -> `'call_transfer_time'`. */
export type ToFieldName<W extends string> = string extends W ? string : Snake<Lowercase<W>>;

/** Avro field name: lower-cased, every run of non-alphanumerics turned into `_`. */
export const toFieldName = <W extends string>(webex: W): ToFieldName<W> =>
  webex
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '') as ToFieldName<W>;

/** Key used to match incoming keys: case-, space-, underscore- and punctuation-insensitive. */
export const toMatchKey = (key: string): string => key.toLowerCase().replace(/[^a-z0-9]/g, '');

type WithName<S> = S extends SpecEntry
  ? S & { readonly name: ToFieldName<S['webex']>; readonly matchKey: string }
  : never;

/** One field of the list with its Avro name and match key (a union: one member per field). */
export type Field = WithName<SpecEntry>;

/** An Avro field name of the schema: `'report_id'`. */
export type FieldName = Field['name'];

/** The text fields (the ones that can be hashed) and their names. */
export type TextField = Extract<Field, { readonly kind: 'string' }>;
export type TextFieldName = TextField['name'];

/** The value a field of this kind has in a published record (times in epoch ms). */
export type KindValue<K extends FieldKind> = K extends 'string'
  ? string
  : K extends 'boolean'
    ? boolean
    : number;

/** The 87 typed fields of a published record; null where Webex gave no value. */
export type RecordFields = { -readonly [F in Field as F['name']]: KindValue<F['kind']> | null };

export const FIELDS: readonly Field[] = FIELD_SPECS.map(
  (f) => ({ ...f, name: toFieldName(f.webex), matchKey: toMatchKey(f.webex) }) as Field,
);

/** The fields of Webex's specification (the first 83). */
export const DOCUMENTED_FIELD_COUNT = FIELDS.filter((f) => f.origin !== 'live').length;

/** Lookup from match key (`reportid`, or an alias's: `orgid`) to field. */
export const FIELDS_BY_MATCH_KEY: ReadonlyMap<string, Field> = new Map(
  FIELDS.flatMap((f) => [
    [f.matchKey, f] as const,
    ...(f.aliases ?? []).map((a) => [toMatchKey(a), f] as const),
  ]),
);

export const FIELD_NAMES: readonly FieldName[] = FIELDS.map((f) => f.name);
