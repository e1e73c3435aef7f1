import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FIELDS, FIELDS_BY_MATCH_KEY, toMatchKey } from '../../../src/cdr/fields.ts';
import { type NormalisedCdr, normalise } from '../../../src/cdr/normalise.ts';
import { parseTime, rawText } from '../../../src/cdr/parse-value.ts';
import type { CdrError, ErrorCode } from '../../../src/errors.ts';
import { fullRawCdr, INGEST, minimalRawCdr, SPEC_TIME_MS } from '../../helpers/fixtures.ts';

const normaliseOk = (raw: unknown): NormalisedCdr => {
  const r = normalise(raw, INGEST);
  if (!r.ok) assert.fail(`expected success, got ${r.error.code}: ${r.error.message}`);
  return r.value;
};

const normaliseErr = (raw: unknown): CdrError => {
  const r = normalise(raw, INGEST);
  if (r.ok) assert.fail('expected an error, normalise succeeded');
  return r.error;
};

/** Normalises a minimal record plus `extra` and returns the record. */
const withFields = (extra: Record<string, unknown>) =>
  normaliseOk(minimalRawCdr('r-1', extra)).record;

const fieldByWebex = (webex: string) => {
  const f = FIELDS.find((x) => x.webex === webex);
  if (f === undefined) throw new Error(`no field ${webex}`);
  return f;
};

describe('normalise: a complete record', () => {
  it('sets all 87 fields from the specification spelling', () => {
    const { record, reportId, orgId } = normaliseOk(fullRawCdr());
    assert.equal(reportId, 'report-1');
    assert.equal(orgId, 'org-1');
    for (const f of FIELDS) {
      assert.notEqual(record[f.name], null, `${f.name} should have a value`);
    }
    assert.deepEqual({ ...record.extra_fields }, {});
  });

  it('produces exactly the 83 fields, extra_fields and ingest', () => {
    const { record } = normaliseOk(minimalRawCdr('r-1'));
    assert.deepEqual(
      Object.keys(record).sort(),
      [...FIELDS.map((f) => f.name), 'extra_fields', 'ingest'].sort(),
    );
    assert.deepEqual(record.ingest, INGEST);
  });

  it('parses values to their kinds', () => {
    const { record } = normaliseOk(fullRawCdr());
    assert.equal(record.answered, true);
    assert.equal(record.duration, 151);
    assert.equal(record.hold_duration, 12);
    assert.equal(record.ring_duration, 7);
    assert.equal(record.release_time, SPEC_TIME_MS);
    assert.equal(record.call_transfer_time, Date.UTC(2023, 9, 12, 21, 21, 0, 500));
    assert.equal(record.start_time, Date.UTC(2023, 9, 12, 19, 20, 0, 0));
    assert.equal(record.caller_reputation_score, '4.5');
    assert.equal(record.route_list_calls_overage, '0');
    assert.equal(record.call_id, 'SSE1234@10.0.0.1');
  });

  it('does not mutate its input', () => {
    const raw = fullRawCdr({ 'Unknown thing': { nested: [1, 2] } });
    const copy = structuredClone(raw);
    normaliseOk(raw);
    assert.deepEqual(raw, copy);
  });

  it('gives callEnd from Release time, falling back to Report time', () => {
    const both = normaliseOk(
      minimalRawCdr('r', {
        'Release time': '2023-10-12T21:22:32.621Z',
        'Report time': '2023-10-12T21:30:00.000Z',
      }),
    );
    assert.equal(both.callEnd, SPEC_TIME_MS);
    assert.equal(both.reportTime, Date.UTC(2023, 9, 12, 21, 30));
    const reportOnly = normaliseOk(minimalRawCdr('r', { 'Report time': '2023-10-12T21:30:00Z' }));
    assert.equal(reportOnly.callEnd, Date.UTC(2023, 9, 12, 21, 30));
    const none = normaliseOk(minimalRawCdr('r', { 'Release time': 'garbage' }));
    assert.equal(none.callEnd, null);
    assert.equal(none.reportTime, null);
  });
});

describe('normalise: key spellings', () => {
  it('accepts every live spelling of the domain notes', () => {
    const live = FIELDS.filter((f) => f.live !== undefined);
    assert.equal(live.length, 10);
    for (const f of live) {
      const value = f.kind === 'time' ? '2023-10-12T21:22:32.621Z' : f.kind === 'long' ? '5' : 'v';
      const record = withFields({ [f.live as string]: value });
      assert.notEqual(record[f.name], null, `${f.live} -> ${f.name}`);
      assert.deepEqual({ ...record.extra_fields }, {}, f.live);
    }
  });

  it('matches the named live spellings to their fields', () => {
    const record = withFields({
      'Call transfer time': '2023-10-12T21:22:32.621Z',
      'PSTN vendor name': 'Telco',
      'Hold duration': '9',
      'Answered elsewhere': 'Yes',
      'Original called party UUID': 'x',
    });
    assert.equal(record.call_transfer_time, SPEC_TIME_MS);
    assert.equal(record.pstn_vendor_name, 'Telco');
    assert.equal(record.hold_duration, 9);
    assert.equal(record.answered_elsewhere, 'Yes');
    assert.equal(record.original_called_party_uuid, 'x');
  });

  it('accepts camelCase reportId / reportTime / orgUuid', () => {
    const n = normaliseOk({
      reportId: 'camel-1',
      reportTime: '2023-10-12T21:22:32.621Z',
      orgUuid: 'org-camel',
    });
    assert.equal(n.reportId, 'camel-1');
    assert.equal(n.orgId, 'org-camel');
    assert.equal(n.reportTime, SPEC_TIME_MS);
    assert.equal(n.record.report_id, 'camel-1');
  });

  it("accepts the partner APIs' orgId as Org UUID", () => {
    const n = normaliseOk({ reportId: 'camel-2', orgId: 'org-camel' });
    assert.equal(n.orgId, 'org-camel');
    assert.equal(n.record.org_uuid, 'org-camel');
    assert.deepEqual({ ...n.record.extra_fields }, {});
    assert.equal(normaliseOk({ 'Report ID': 'r', OrgID: 'o' }).orgId, 'o');
    // both spellings: the first fills the field, the second is kept verbatim
    const both = normaliseOk({ 'Report ID': 'r', 'Org UUID': 'o-1', orgId: 'o-2' });
    assert.equal(both.orgId, 'o-1');
    assert.deepEqual({ ...both.record.extra_fields }, { orgId: 'o-2' });
  });

  it('accepts the snake_case Avro name of every field', () => {
    const raw = Object.fromEntries(
      Object.entries(fullRawCdr()).map(([k, v]) => [
        FIELDS.find((f) => f.webex === k)?.name ?? k,
        v,
      ]),
    );
    const byName = normaliseOk(raw).record;
    const bySpec = normaliseOk(fullRawCdr()).record;
    assert.deepEqual({ ...byName.extra_fields }, {});
    for (const f of FIELDS) assert.deepEqual(byName[f.name], bySpec[f.name], f.name);
  });

  it('is case-, space- and underscore-insensitive', () => {
    for (const key of [
      'REPORT ID',
      'report id',
      'Report_Id',
      'report-id',
      ' Report  ID ',
      'ReportID',
    ]) {
      const n = normaliseOk({ [key]: 'k', 'Org UUID': 'o' });
      assert.equal(n.reportId, 'k', key);
    }
  });

  it('keeps the first spelling with a value and the second one in extra_fields', () => {
    const record = withFields({
      'Call transfer Time': '2023-10-12T21:22:32.621Z',
      'Call transfer time': '2024-01-01T00:00:00.000Z',
    });
    assert.equal(record.call_transfer_time, SPEC_TIME_MS);
    assert.deepEqual(
      { ...record.extra_fields },
      {
        'Call transfer time': '2024-01-01T00:00:00.000Z',
      },
    );
  });

  it('lets a later spelling fill a field whose first spelling had no value', () => {
    const record = withFields({ 'PSTN Vendor Name': 'NA', 'PSTN vendor name': 'Telco' });
    assert.equal(record.pstn_vendor_name, 'Telco');
    // v2: the "NA" of the first spelling is kept, not lost
    assert.deepEqual({ ...record.extra_fields }, { 'PSTN Vendor Name': 'NA' });
    const empty = withFields({ 'Hold Duration': '', 'Hold duration': 4 });
    assert.equal(empty.hold_duration, 4);
  });

  it('lets a later spelling fill a field whose first spelling did not parse, keeping both', () => {
    const record = withFields({ 'Hold Duration': 'lots', 'Hold duration': '3' });
    assert.equal(record.hold_duration, 3);
    assert.deepEqual({ ...record.extra_fields }, { 'Hold Duration': 'lots' });
  });
});

describe('normalise: values', () => {
  it('turns "" and null into null for every kind, without extra_fields', () => {
    for (const webex of ['Answered', 'Duration', 'Start time', 'Call ID', 'Site timezone']) {
      const f = fieldByWebex(webex);
      for (const empty of ['', null]) {
        const record = withFields({ [webex]: empty });
        assert.equal(record[f.name], null, `${webex}=${JSON.stringify(empty)}`);
        assert.deepEqual({ ...record.extra_fields }, {});
      }
    }
  });

  it('turns "NA" into null for every kind, keeping the text "NA" in extra_fields', () => {
    for (const webex of ['Answered', 'Duration', 'Start time', 'Call ID', 'Site timezone']) {
      const f = fieldByWebex(webex);
      const record = withFields({ [webex]: 'NA' });
      assert.equal(record[f.name], null, webex);
      assert.deepEqual({ ...record.extra_fields }, { [webex]: 'NA' }, webex);
    }
    // under the key as it was sent
    assert.deepEqual(
      { ...withFields({ 'hold duration': 'NA' }).extra_fields },
      {
        'hold duration': 'NA',
      },
    );
  });

  it('keeps "NA" as the value of the fields where it is one', () => {
    const record = withFields({
      'International country': 'NA',
      'WxCC consult merge status': 'NA',
    });
    assert.equal(record.international_country, 'NA', 'NA is Namibia');
    assert.equal(record.wxcc_consult_merge_status, 'NA');
    assert.deepEqual({ ...record.extra_fields }, {});
    // "" is still no value there
    assert.equal(withFields({ 'International country': '' }).international_country, null);
  });

  it('loses nothing of the input but "" and null: every other value is a field or an extra', () => {
    const raw = fullRawCdr({
      'Redirect reason': 'NA',
      Duration: 'NA',
      'International country': 'NA',
      'Call ID': '',
    });
    const r = normalise(raw, INGEST);
    assert.ok(r.ok);
    const { record } = r.value;
    for (const [key, value] of Object.entries(raw)) {
      if (value === '' || value === null) continue;
      const f = FIELDS.find((x) => toMatchKey(x.webex) === toMatchKey(key));
      const kept =
        record.extra_fields[key] !== undefined || (f !== undefined && record[f.name] !== null);
      assert.ok(kept, `${key}=${JSON.stringify(value)} is kept`);
    }
  });

  it('parses "true"/"false" and JSON booleans for Answered', () => {
    assert.equal(withFields({ Answered: 'true' }).answered, true);
    assert.equal(withFields({ Answered: 'false' }).answered, false);
    assert.equal(withFields({ Answered: true }).answered, true);
    assert.equal(withFields({ Answered: false }).answered, false);
    assert.equal(withFields({ Answered: 'TRUE' }).answered, true);
  });

  it('keeps a boolean that is not true/false as raw text', () => {
    for (const v of ['yes', '1', 1]) {
      const record = withFields({ Answered: v });
      assert.equal(record.answered, null);
      assert.equal(record.extra_fields.Answered, String(v));
    }
  });

  it('reads durations given as numbers and as strings', () => {
    assert.equal(withFields({ Duration: 42 }).duration, 42);
    assert.equal(withFields({ Duration: '42' }).duration, 42);
    assert.equal(withFields({ Duration: ' 42 ' }).duration, 42);
    assert.equal(withFields({ Duration: '42.0' }).duration, 42);
    assert.equal(withFields({ 'Ring duration': '0' }).ring_duration, 0);
    assert.equal(withFields({ 'Hold duration': 3600 }).hold_duration, 3600);
  });

  it('keeps non-integer durations as raw text instead of rounding', () => {
    for (const [v, text] of [
      ['42.5', '42.5'],
      [42.5, '42.5'],
      ['1e3', '1e3'],
      ['abc', 'abc'],
      ['0x10', '0x10'],
      [[1], '[1]'],
    ] as const) {
      const record = withFields({ Duration: v });
      assert.equal(record.duration, null, String(v));
      assert.equal(record.extra_fields.Duration, text);
    }
  });

  it('never rounds an id above 2^53 into a long field', () => {
    const above = '9007199254740993'; // 2^53 + 1: not representable as a double
    const s = withFields({ Duration: above });
    assert.equal(s.duration, null);
    assert.equal(s.extra_fields.Duration, above);
    const negative = withFields({ 'Ring duration': `-${above}` });
    assert.equal(negative.ring_duration, null);
    assert.equal(negative.extra_fields['Ring duration'], `-${above}`);
    const n = withFields({ 'Hold Duration': 2 ** 53 + 2 });
    assert.equal(n.hold_duration, null);
    assert.equal(n.extra_fields['Hold Duration'], '9007199254740994');
    assert.equal(withFields({ Duration: Number.MAX_SAFE_INTEGER }).duration, 2 ** 53 - 1);
  });

  it('keeps long ids that are text as the exact text', () => {
    const id = '123456789012345678901234567890';
    const record = withFields({ 'Call ID': id, 'Network call ID': id });
    assert.equal(record.call_id, id);
    assert.equal(record.network_call_id, id);
  });

  it('keeps Site timezone as a string', () => {
    assert.equal(withFields({ 'Site timezone': '-300' }).site_timezone, '-300');
    assert.equal(withFields({ 'Site timezone': '+60' }).site_timezone, '+60');
    assert.equal(withFields({ 'Site timezone': -300 }).site_timezone, '-300');
  });

  it('keeps string fields verbatim, including whitespace', () => {
    assert.equal(withFields({ User: '  Kari  ' }).user, '  Kari  ');
    assert.equal(withFields({ User: 'Ærlig Øystein 😀' }).user, 'Ærlig Øystein 😀');
  });

  it('keeps objects given for a string field as raw JSON text', () => {
    const record = withFields({ User: { first: 'Kari' } });
    assert.equal(record.user, null);
    assert.equal(record.extra_fields.User, '{"first":"Kari"}');
  });
});

describe('normalise: times', () => {
  const time = (text: unknown) => withFields({ 'Start time': text });

  it('parses ISO 8601 with Z', () => {
    assert.equal(time('2023-10-12T21:22:32.621Z').start_time, SPEC_TIME_MS);
    assert.equal(time('2023-10-12T21:22:32Z').start_time, SPEC_TIME_MS - 621);
  });

  it("reads the specification's `2023-10-12 21:22:32.621` as UTC", () => {
    assert.equal(time('2023-10-12 21:22:32.621').start_time, SPEC_TIME_MS);
    assert.equal(time('2023-10-12T21:22:32.621').start_time, SPEC_TIME_MS);
  });

  it('applies offsets', () => {
    assert.equal(time('2023-10-12T23:22:32.621+02:00').start_time, SPEC_TIME_MS);
    assert.equal(time('2023-10-12T16:22:32.621-05:00').start_time, SPEC_TIME_MS);
    assert.equal(time('2023-10-13T02:52:32.621+0530').start_time, SPEC_TIME_MS);
    assert.equal(time('2023-10-12T23:22:32.621+02').start_time, SPEC_TIME_MS);
    assert.equal(time('2023-10-13T21:21:32.621+23:59').start_time, SPEC_TIME_MS);
    assert.equal(time('2023-10-12T21:22:32.621-00:00').start_time, SPEC_TIME_MS);
  });

  it('accepts fractions of any length when nothing below the millisecond is lost', () => {
    assert.equal(time('2023-10-12T21:22:32.6Z').start_time, SPEC_TIME_MS - 21);
    assert.equal(time('2023-10-12T21:22:32.621000Z').start_time, SPEC_TIME_MS);
  });

  it('keeps invalid or lossy times as raw text in extra_fields', () => {
    for (const text of [
      'not a time',
      '2023-02-30T00:00:00Z',
      '2023-10-12T24:00:00Z',
      '2023-10-12T21:60:00Z',
      '2023-13-01T00:00:00Z',
      '2023-10-12T21:22:32.6215Z',
      '12/10/2023 21:22',
      '2023-10-12T21:22:32+25:00',
      '2023-10-12T21:22:32+02:75',
      '0099-01-01T00:00:00Z',
    ]) {
      const record = time(text);
      assert.equal(record.start_time, null, text);
      assert.equal(record.extra_fields['Start time'], text, text);
    }
  });

  it('keeps a time given as a number as its JSON text', () => {
    const record = time(1697145752621);
    assert.equal(record.start_time, null);
    assert.equal(record.extra_fields['Start time'], '1697145752621');
  });

  it('reads the common form the same without the regex (issue 15) as with it', () => {
    // a leading space sends the same text through the general path (trimmed)
    const pad = (n: number, w: number) => String(n).padStart(w, '0');
    const texts = fc.tuple(
      fc.integer({ min: 0, max: 9999 }),
      fc.integer({ min: 0, max: 14 }),
      fc.integer({ min: 0, max: 33 }),
      fc.integer({ min: 0, max: 25 }),
      fc.integer({ min: 0, max: 61 }),
      fc.integer({ min: 0, max: 61 }),
      fc.integer({ min: 0, max: 999 }),
    );
    fc.assert(
      fc.property(texts, ([y, mo, d, h, mi, s, ms]) => {
        const text = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(ms, 3)}Z`;
        assert.equal(text.length, 24);
        assert.equal(parseTime(text), parseTime(` ${text}`), text);
      }),
      { numRuns: 3000 },
    );
    for (const text of [
      '2024-02-29T23:59:59.999Z',
      '2023-02-29T00:00:00.000Z',
      '2023-10-12T21:22:32.62xZ',
      '2023-10-12t21:22:32.621Z',
      '+023-10-12T21:22:32.621Z',
      '2023-10-12T21:22:32,621Z',
    ]) {
      assert.equal(parseTime(text), parseTime(` ${text}`), text);
    }
    assert.equal(parseTime('2023-10-12T21:22:32.621Z'), SPEC_TIME_MS);
  });

  it('accepts far-future times (validity is not plausibility)', () => {
    assert.equal(time('2999-01-01T00:00:00Z').start_time, Date.UTC(2999, 0, 1));
  });
});

describe('normalise: unknown keys', () => {
  it('keeps unknown keys verbatim in extra_fields', () => {
    const record = withFields({
      'Brand new field': 'NA',
      'Another one': '',
    });
    assert.deepEqual(
      { ...record.extra_fields },
      {
        'Brand new field': 'NA',
        'Another one': '',
      },
    );
  });

  it('reads the four keys seen live but not in the spec as schema fields (v2)', () => {
    const record = withFields({
      'External customer ID': 'ext-1',
      'transfer type': 'BLIND',
      'Transfer Type Context': 'CONSULT',
      'Answer reason': '',
    });
    assert.equal(record.external_customer_id, 'ext-1');
    assert.equal(record.transfer_type, 'BLIND');
    assert.equal(record.transfer_type_context, 'CONSULT');
    assert.equal(record.answer_reason, null);
    assert.deepEqual({ ...record.extra_fields }, {});
    // not in every record: absent, they are null
    assert.equal(withFields({}).transfer_type, null);
  });

  it('keeps non-string unknown values as JSON text', () => {
    const record = withFields({
      count: 3,
      flag: false,
      nothing: null,
      list: [1, 'a', { b: null }],
      obj: { 'nested key': 'x' },
    });
    assert.deepEqual(
      { ...record.extra_fields },
      {
        count: '3',
        flag: 'false',
        nothing: 'null',
        list: '[1,"a",{"b":null}]',
        obj: '{"nested key":"x"}',
      },
    );
  });

  it('keeps a __proto__ key as data without polluting any prototype', () => {
    const raw = JSON.parse(
      '{"Report ID":"r","Org UUID":"o","__proto__":{"polluted":"yes"},"constructor":"c","toString":"t"}',
    );
    const record = normaliseOk(raw).record;
    assert.equal(Object.hasOwn(record.extra_fields, '__proto__'), true);
    assert.equal(
      Object.getOwnPropertyDescriptor(record.extra_fields, '__proto__')?.value,
      '{"polluted":"yes"}',
    );
    assert.equal(record.extra_fields.constructor, 'c');
    assert.equal(record.extra_fields.toString, 't');
    assert.equal(Object.getPrototypeOf(record), Object.prototype);
    assert.equal((record as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false);
    assert.equal(
      JSON.stringify(record.extra_fields),
      '{"__proto__":"{\\"polluted\\":\\"yes\\"}","constructor":"c","toString":"t"}',
    );
  });
});

describe('normalise: records that cannot be published', () => {
  const code = (raw: unknown): ErrorCode => normaliseErr(raw).code;

  it('refuses a record without Report ID', () => {
    assert.equal(code({ 'Org UUID': 'o' }), 'record_missing_report_id');
    assert.equal(code({ 'Report ID': '', 'Org UUID': 'o' }), 'record_missing_report_id');
    assert.equal(code({ 'Report ID': 'NA', 'Org UUID': 'o' }), 'record_missing_report_id');
    assert.equal(code({ 'Report ID': '   ', 'Org UUID': 'o' }), 'record_missing_report_id');
    assert.equal(code({ 'Report ID': { id: 1 }, 'Org UUID': 'o' }), 'record_missing_report_id');
  });

  it('refuses a record without Org UUID', () => {
    assert.equal(code({ 'Report ID': 'r' }), 'record_missing_org_uuid');
    assert.equal(code({ 'Report ID': 'r', 'Org UUID': '' }), 'record_missing_org_uuid');
    assert.equal(code({ 'Report ID': 'r', 'Org UUID': 'NA' }), 'record_missing_org_uuid');
  });

  it('accepts a numeric Report ID as its text', () => {
    assert.equal(normaliseOk({ 'Report ID': 12345, 'Org UUID': 'o' }).reportId, '12345');
  });

  it('refuses values that are not objects', () => {
    for (const raw of [null, [], ['Report ID'], 'text', 42, true]) {
      assert.equal(code(raw), 'record_not_object', JSON.stringify(raw));
    }
  });

  it('refuses lone surrogates in values and keys with record_invalid_text', () => {
    assert.equal(code(minimalRawCdr('r', { User: 'bad \ud800 text' })), 'record_invalid_text');
    assert.equal(code(minimalRawCdr('r', { Unknown: '\udfff' })), 'record_invalid_text');
    assert.equal(code(minimalRawCdr('r', { 'key \ud83d': 'v' })), 'record_invalid_text');
    assert.equal(code({ 'Report ID': 'r\ud800', 'Org UUID': 'o' }), 'record_invalid_text');
    const error = normaliseErr(minimalRawCdr('r', { 'key \ud83d': 'v' }));
    assert.equal(error.message.isWellFormed(), true);
  });

  it('refuses a value nested too deeply to keep, without throwing', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(code(minimalRawCdr('r', { Unknown: deep })), 'record_invalid_text');
  });
});

describe('normalise: property', () => {
  const KEYS = ['reportid', 'orguuid', 'orgid'];
  const knownSpellings = FIELDS.flatMap((f) => [
    f.webex,
    f.name,
    f.webex.toUpperCase(),
    ...(f.live === undefined ? [] : [f.live]),
  ]).filter((k) => !KEYS.includes(toMatchKey(k)));

  const key = fc
    .oneof(
      fc.constantFrom(...knownSpellings, '__proto__', 'constructor', 'External customer ID'),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
    )
    .filter((k) => !KEYS.includes(toMatchKey(k)));

  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' }),
    fc.constantFrom(
      '',
      'NA',
      'true',
      'false',
      '42',
      '2023-10-12 21:22:32.621',
      '2023-02-30T00:00Z',
    ),
  );

  const id = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
    .filter((s) => s.trim() !== '' && s !== 'NA');

  it('succeeds for any JSON object with a Report ID and Org UUID and loses no key', () => {
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 30 }), id, id, (rest, reportId, orgId) => {
        const raw: Record<string, unknown> = JSON.parse(
          JSON.stringify({ 'Report ID': reportId, 'Org UUID': orgId, ...rest }),
        );
        const result = normalise(raw, INGEST);
        if (!result.ok) return false;
        const { record } = result.value;
        assert.equal(result.value.reportId, reportId);
        assert.equal(result.value.orgId, orgId);
        for (const k of Object.keys(raw)) {
          const v = raw[k];
          const field = FIELDS_BY_MATCH_KEY.get(toMatchKey(k));
          const inExtra = Object.hasOwn(record.extra_fields, k);
          if (inExtra) {
            assert.equal(record.extra_fields[k], rawText(v), k);
            continue;
          }
          // only "" and null may leave no trace ("NA" is kept since v2)
          if (v === '' || v === null) continue;
          assert.ok(field !== undefined, `key ${JSON.stringify(k)} lost`);
          assert.notEqual(record[field.name], null, `key ${JSON.stringify(k)} lost`);
        }
        for (const k of Object.keys(record.extra_fields)) assert.ok(Object.hasOwn(raw, k));
        return true;
      }),
      { seed: 20231012, numRuns: 500 },
    );
  });
});
