import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { readCdrSchema } from '../../../src/cdr/avro-schema.ts';
import { FIELD_SPECS, FIELDS, toFieldName } from '../../../src/cdr/fields.ts';
import { normalise } from '../../../src/cdr/normalise.ts';
import {
  createTranscoder,
  NEEDS_ROOM,
  NOT_TRANSCODED,
  type Transcoded,
} from '../../../src/cdr/transcode.ts';
import { contentHash } from '../../../src/dedup/content-hash.ts';
import { encoderFor } from '../../../src/kafka/wire-encoder.ts';
import { createCdrGenerator } from '../../../src/simulator/generate.ts';
import { fullRawCdr, INGEST } from '../../helpers/fixtures.ts';

const SCHEMA_ID = 4242;
const encoder = encoderFor(SCHEMA_ID, readCdrSchema().text);
const MAX = 900 * 1024;

/** What the usual path makes of the record's JSON text (null: it refuses the record). */
const usual = (text: string) => {
  const result = normalise(JSON.parse(text), INGEST);
  if (!result.ok) return null;
  const cdr = result.value;
  return {
    value: Buffer.from(encoder.encode(cdr.record)).toString('hex'),
    hash: contentHash(cdr.record),
    reportId: cdr.reportId,
    orgId: cdr.orgId,
    reportTime: cdr.reportTime,
    callEnd: cdr.callEnd,
    reportTimeIso: cdr.reportTimeIso,
    callEndIso: cdr.callEndIso,
  };
};

const asUsual = (t: Transcoded, value: Buffer) => ({
  value: value.toString('hex'),
  hash: t.hash,
  reportId: t.reportId,
  orgId: t.orgId,
  reportTime: Number.isNaN(t.reportTime) ? null : t.reportTime,
  callEnd: Number.isNaN(t.callEnd) ? null : t.callEnd,
  reportTimeIso: t.reportTimeIso,
  callEndIso: t.callEndIso,
});

/** The transcoder's reading of `text` (padded, to show it reads at an offset), or null when it gave up. */
const transcoded = (text: string, transcoder = createTranscoder(SCHEMA_ID, INGEST, MAX)) => {
  const src = Buffer.from(`  [${text}]  `);
  const out = Buffer.alloc(transcoder.room(src.length) + 16);
  const end = transcoder.transcode(src, 3, src.length, out, 16);
  if (end === NOT_TRANSCODED) return null;
  assert.equal(transcoder.result.end, src.length - 3, 'the record ends where its JSON does');
  return asUsual(transcoder.result, out.subarray(16, end));
};

/** Every quirk the stand-in knows, often. */
const QUIRKY = {
  specTimeFormat: 0.5,
  durationAsText: 0.5,
  ringDurationAsNumber: 0.5,
  extraKeys: 0.5,
  emptyCallId: 0.5,
};

const generated = (seed: string, quirky: 'usual' | 'quirky', n: number) => {
  const start = Date.UTC(2026, 10, 23);
  return createCdrGenerator({ seed, orgs: 40, ...(quirky === 'quirky' ? { quirks: QUIRKY } : {}) })
    .generate(start, start + 6 * 3_600_000)
    .slice(0, n)
    .map((c) => JSON.stringify(c.raw));
};

describe('transcode: a CDR from its JSON bytes, as the usual path makes it', () => {
  it('gives the same value, hash, ids and times as normalise + contentHash + Avro, for every record of the stand-in (none left to the usual path)', () => {
    const transcoder = createTranscoder(SCHEMA_ID, INGEST, MAX);
    const texts = [
      ...generated('transcode-a', 'usual', 1500),
      ...generated('transcode-b', 'quirky', 500),
    ];
    for (const text of texts) {
      assert.deepEqual(transcoded(text, transcoder), usual(text), text);
    }
  });

  it('gives the same for the fixture with every field set (both time formats, "NA" as a value)', () => {
    const text = JSON.stringify(fullRawCdr());
    assert.notEqual(transcoded(text), null);
    assert.deepEqual(transcoded(text), usual(text));
  });

  it('reads the usual key spellings, values of every JSON kind, "NA", "" and extra keys as the normaliser does', () => {
    const base = JSON.parse(generated('kinds', 'usual', 1)[0] as string) as Record<string, unknown>;
    const variants: Record<string, unknown>[] = [
      { ...base, Duration: '00042', 'Hold duration': '+7', 'Ring duration': '3.000' },
      { ...base, Duration: -12, Answered: 'TRUE', 'Answer time': '2023-10-12 21:22:32.6' },
      { ...base, Duration: 'soon', Answered: 1, 'Answer time': 17, Location: 42 },
      { ...base, Location: true, 'Call ID': false, Answered: false, 'Release time': null },
      { ...base, 'International country': 'NA', 'Called number': 'NA', 'Answer time': '' },
      { ...base, 'Not a field': 'x', '42': 'digits first', __proto__x: 1, Extra: null },
      { ...base, 'Site timezone': ' 60 ', 'Ring duration': '', Answered: ' false ' },
      { ...base, 'Calling line ID': 'Zoë Ångström 😀', 'Called line ID': 'é' },
      { ...base, 'Release time': '2026-13-01T00:00:00.000Z', 'Report time': '2026-11-23 00:01:59' },
      { ...base, Duration: 123456789012345, 'Hold duration': 900719925474099 },
      {
        ...base,
        'Start time': '2026-02-30T10:00:00.000Z',
        'Answer time': '2026-02-28T24:00:00.000Z',
      },
      {
        ...base,
        'Start time': '2024-02-29T23:59:59.999Z',
        'Answer time': '2026-11-2XT00:00:00.000Z',
      },
      {
        ...base,
        Duration: '0022',
        'Ring duration': '１２',
        Answered: 'True',
        'Hold duration': '-0',
      },
    ];
    for (const raw of variants) {
      const text = JSON.stringify(raw);
      const mine = transcoded(text);
      assert.notEqual(mine, null, text);
      assert.deepEqual(mine, usual(text), text);
    }
  });

  it('writes extra fields as the usual path does: keys matching alike, digit keys, keys without letters, values not ASCII, a key met twice, many keys', () => {
    const base = JSON.parse(generated('extras', 'usual', 1)[0] as string) as Record<
      string,
      unknown
    >;
    const many = Object.fromEntries(
      Array.from({ length: 40 }, (_, k) => [`Zeta ${39 - k} key`, `v${k}`]),
    );
    const variants: string[] = [
      JSON.stringify({ ...base, 'Foo Bar': 'a', foo_bar: 'b' }),
      JSON.stringify({ ...base, 'Later thing': 'x', '42': 'digits', Alpha: 'y' }),
      JSON.stringify({ ...base, '4294967295': 'not an index', Beta: 'z' }),
      JSON.stringify({ ...base, ___: 'no letters', Gamma: 'g' }),
      JSON.stringify({ ...base, '7up': 'letters and digits', Delta: 'd' }),
      JSON.stringify({
        ...base,
        Slash: 'c/d',
        Tilde: '~\x7f',
        Umlaut: 'Zoë',
        Emoji: '😀',
      }),
      JSON.stringify({
        ...base,
        Zed: 'last',
        Able: 'first',
        'Middle Name': 'mid',
        ÄÖ: 'umlaut key',
      }),
      JSON.stringify({ ...base, ...many }),
      // digit keys after others in the text: an object puts them first, in numeric order
      `${JSON.stringify({ ...base, 'Later thing': 'x' }).slice(0, -1)},"42":"digits","7":"seven"}`,
      `${JSON.stringify({ ...base, Alpha: 'x' }).slice(0, -1)},"10!":"ten","9!":"nine"}`,
      // a key met twice keeps its first place and its last value, as JSON.parse does
      `${JSON.stringify({ ...base, Again: 'one', Other: 'o' }).slice(0, -1)},"Again":"two"}`,
    ];
    const transcoder = createTranscoder(SCHEMA_ID, INGEST, MAX);
    for (const text of variants) {
      const mine = transcoded(text, transcoder);
      assert.notEqual(mine, null, text);
      assert.deepEqual(mine, usual(text), text);
    }
    // and a record without extra fields after them, with the same transcoder
    const plain = generated('extras-none', 'usual', 1)[0] as string;
    assert.deepEqual(transcoded(plain, transcoder), usual(plain));
  });

  it('keeps the hash an older ingress gave: a record of match keys hashes as before', () => {
    const text = generated('hash', 'usual', 1)[0] as string;
    const snake = Object.fromEntries(
      Object.entries(JSON.parse(text) as Record<string, unknown>).map(([k, v]) => [
        toFieldName(k),
        v,
      ]),
    );
    assert.equal(transcoded(JSON.stringify(snake))?.hash, usual(text)?.hash);
  });

  it('gives up on what it does not read, and leaves it to the usual path', () => {
    const base = generated('give-up', 'usual', 1)[0] as string;
    const raw = JSON.parse(base) as Record<string, unknown>;
    const cases = [
      JSON.stringify({ ...raw, Location: 'a "quoted" word' }), // an escape
      JSON.stringify({ ...raw, Location: 'tab\there' }),
      JSON.stringify({ ...raw, Nested: { a: 1 } }),
      JSON.stringify({ ...raw, Listed: [1] }),
      JSON.stringify({ ...raw, Duration: 1.5 }),
      JSON.stringify({ ...raw, Duration: 1e21 }),
      JSON.stringify({ ...raw, Duration: 0 }).replace('"Duration":0', '"Duration":-0'),
      JSON.stringify({ ...raw, 'Hold duration': 1234567890123456 }), // 16 digits
      base.replace('"Location":', '"Location":"A","Location":'), // a key twice
      JSON.stringify({ ...raw, location: 'B' }), // a field twice, spelt two ways
      JSON.stringify({ ...raw, 'Report ID': '' }),
      JSON.stringify({ ...raw, 'Org UUID': '   ' }),
      JSON.stringify({ ...raw, 'Report ID': null }),
      '{}',
      '[]',
      '"text"',
      `${base.slice(0, -1)},}`, // a trailing comma: not JSON
      base.replace('"Duration":', '"Duration": 01, "y":'), // a leading zero: not JSON
    ];
    for (const text of cases) assert.equal(transcoded(text), null, text);
  });

  it('asks for room rather than write past the buffer, then writes the same value', () => {
    const transcoder = createTranscoder(SCHEMA_ID, INGEST, MAX);
    const text = generated('room', 'usual', 1)[0] as string;
    const src = Buffer.from(text);
    const small = Buffer.alloc(100);
    assert.equal(transcoder.transcode(src, 0, src.length, small, 10), NEEDS_ROOM);
    assert.equal(transcoder.result.end, src.length);
    const out = Buffer.alloc(transcoder.room(src.length));
    const end = transcoder.transcode(src, 0, src.length, out, 0);
    assert.deepEqual(asUsual(transcoder.result, out.subarray(0, end)), usual(text));
  });

  it('leaves a record over the size limit to the usual path (which dead-letters it)', () => {
    const text = generated('limit', 'usual', 1)[0] as string;
    assert.notEqual(transcoded(text, createTranscoder(SCHEMA_ID, INGEST, 2000)), null);
    assert.equal(transcoded(text, createTranscoder(SCHEMA_ID, INGEST, 500)), null);
  });

  it('writes the delivery, schema id and feed it was made for', () => {
    const ingest = {
      ...INGEST,
      feed: 'billing',
      source: 'reconciler',
      delivery_id: 'ü-9',
    } as const;
    const text = generated('ingest', 'quirky', 1)[0] as string;
    const transcoder = createTranscoder(7_654_321, ingest, MAX);
    const src = Buffer.from(text);
    const out = Buffer.alloc(transcoder.room(src.length));
    const end = transcoder.transcode(src, 0, src.length, out, 0);
    const other = encoderFor(7_654_321, readCdrSchema().text);
    const result = normalise(JSON.parse(text), ingest);
    assert.ok(result.ok);
    assert.deepEqual(out.subarray(0, end), other.encode(result.value.record));
  });

  it('agrees with the usual path on generated records wherever it does not give up (property)', () => {
    // keys: each field's spellings, near-misses, unknown keys
    const spellings = FIELD_SPECS.flatMap((f) => [
      f.webex,
      toFieldName(f.webex),
      f.webex.toUpperCase(),
      ...('live' in f ? [f.live as string] : []),
      ...('aliases' in f ? (f.aliases as readonly string[]) : []),
    ]);
    const key = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...spellings) },
      { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
      { weight: 1, arbitrary: fc.constantFrom('123', '__proto__', 'Ünknown', 'a b', '') },
    );
    const text = fc.oneof(
      fc.constantFrom('', 'NA', 'na', 'true', ' FALSE', '12', '-3', '+4', '5.00', '1e3', ' 7 '),
      fc.constantFrom(
        '2023-10-12T21:22:32.621Z',
        '2023-10-12 21:22:32.621',
        '2023-10-12T21:22:32+02:00',
        '2023-02-30T00:00:00.000Z',
        '9007199254740993',
      ),
      fc.string({ maxLength: 20 }),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
    );
    const value = fc.oneof(
      { weight: 5, arbitrary: text },
      { weight: 2, arbitrary: fc.integer({ min: -1e6, max: 1e15 }) },
      { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
      { weight: 1, arbitrary: fc.constantFrom(true, false, null) },
      { weight: 1, arbitrary: fc.constantFrom({ a: 1 }, [], [1, 'x']) },
    );
    const id = fc.constantFrom('5bb9c8c6-0f39-4b47-9b8f-9ae1e1b35d51', 'r-1', ' x ', '7');
    let read = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(key, value), { maxLength: 25 }),
        id,
        id,
        fc.boolean(),
        (pairs, reportId, orgId, spaced) => {
          // built as text, so keys may repeat as JSON allows; the ids first or last
          const entries = [
            ['Report ID', reportId] as const,
            ...pairs,
            ['Org UUID', orgId] as const,
          ];
          const sep = spaced ? ' ,\n ' : ',';
          const json = `{${entries.map(([k, v]) => `${JSON.stringify(k)}${spaced ? ' : ' : ':'}${JSON.stringify(v)}`).join(sep)}}`;
          const mine = transcoded(json);
          if (mine === null) return;
          read += 1;
          assert.deepEqual(mine, usual(json));
        },
      ),
      { numRuns: 3000 },
    );
    assert.ok(read > 300, `only ${read} of 3000 generated records were read on the bytes`);
  });

  it('reads every schema field (a field added to fields.ts is read too)', () => {
    assert.equal(FIELDS.length, 87);
    const raw = fullRawCdr() as Record<string, unknown>;
    assert.equal(Object.keys(raw).length, FIELDS.length);
    const mine = transcoded(JSON.stringify(raw));
    assert.deepEqual(mine, usual(JSON.stringify(raw)));
  });
});
