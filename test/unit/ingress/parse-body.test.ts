import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type CdrError,
  type ErrorCode,
  fail,
  isCdrError,
  ok,
  type Result,
} from '../../../src/errors.ts';
import type { BodyBytes } from '../../../src/ingress/body-bytes.ts';
import { MAX_RECORDS } from '../../../src/ingress/json-records-scanner.ts';
import {
  decodeJson,
  parseRecords,
  type RecordSlices,
  readRecords,
  WHOLE_PARSE_BYTES,
} from '../../../src/ingress/parse-body.ts';
import { httpStatus } from '../../../src/ingress/status.ts';

/** What a throwing call gives as a Result (as zod's safeParse gives parse's): to compare outcomes. */
const settle = <T>(f: () => T): Result<T> => {
  try {
    return ok(f());
  } catch (e) {
    if (isCdrError(e)) return fail(e);
    throw e;
  }
};
const tryParseRecords = (bytes: Buffer) => settle(() => parseRecords(bytes));
const tryReadRecords = (body: Buffer | BodyBytes, wholeParseBytes?: number) =>
  settle(() => readRecords(body, wholeParseBytes));
const tryParse = (slices: RecordSlices, from: number, to: number) =>
  settle(() => slices.parse(from, to));

const MARKER = 'PAYLOAD-MARKER-4711';

const records = (body: string | Buffer): unknown[] => {
  const r = tryParseRecords(Buffer.isBuffer(body) ? body : Buffer.from(body));
  if (!r.ok) assert.fail(`expected records, got ${r.error.code}: ${r.error.message}`);
  return r.value;
};

const refusal = (body: string | Buffer): CdrError => {
  const r = tryParseRecords(Buffer.isBuffer(body) ? body : Buffer.from(body));
  if (r.ok) assert.fail('expected a refusal');
  return r.error;
};
const code = (body: string | Buffer): ErrorCode => refusal(body).code;

const ONE = { 'Report ID': 'r-1', 'Org UUID': 'o-1' };

/** A body handed out in blocks of the given sizes (cycled), as a spooled body is read. */
const inBlocks = (buffer: Buffer, sizes: readonly number[]): BodyBytes => ({
  length: buffer.length,
  spooled: true,
  read: (start, end) => Buffer.from(buffer.subarray(start, end)),
  take: () => new Uint8Array(buffer),
  close: () => undefined,
  *[Symbol.iterator]() {
    let k = 0;
    for (let at = 0; at < buffer.length; k++) {
      const size = Math.max(1, sizes[k % sizes.length] ?? 1);
      yield Buffer.from(buffer.subarray(at, at + size));
      at += size;
    }
  },
});

describe('parseRecords: accepted shapes', () => {
  it('accepts {"items": [...]}', () => {
    assert.deepEqual(records(JSON.stringify({ items: [ONE] })), [ONE]);
  });

  it('accepts a bare array', () => {
    assert.deepEqual(records(JSON.stringify([ONE, ONE])), [ONE, ONE]);
  });

  it('accepts {"data": {"items": [...]}} and {"body": {"items": [...]}}', () => {
    assert.deepEqual(records(JSON.stringify({ data: { items: [ONE] } })), [ONE]);
    assert.deepEqual(records(JSON.stringify({ body: { items: [ONE] }, id: 'x' })), [ONE]);
  });

  it('accepts an empty items array (a delivery without calls)', () => {
    assert.deepEqual(records('{"items":[]}'), []);
  });

  it('returns non-object items as they are (the normaliser dead-letters them)', () => {
    assert.deepEqual(records('{"items":[1,"x",null]}'), [1, 'x', null]);
  });

  it('accepts leading and trailing whitespace', () => {
    assert.deepEqual(records(' \r\n{"items":[]}\n'), []);
  });

  it('accepts a deeply nested value without crashing', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    assert.equal(records(`{"items":[{"x":${deep}}]}`).length, 1);
  });
});

describe('parseRecords: refused shapes', () => {
  it('refuses any other shape with body_no_records (422)', () => {
    for (const body of [
      '{}',
      '{"items":{}}',
      '{"items":"[]"}',
      '{"Items":[]}',
      '{"data":[]}',
      '{"data":{"items":{}}}',
      '{"body":"{\\"items\\":[]}"}',
      '{"payload":{"items":[]}}',
      '{"data":{"data":{"items":[]}}}',
      '"text"',
      '42',
      'null',
      'true',
    ]) {
      const e = refusal(body);
      assert.equal(e.code, 'body_no_records', body);
      assert.equal(httpStatus(e.code), 422);
    }
  });

  it('does not follow a __proto__ key to find items', () => {
    assert.equal(code('{"__proto__":{"items":[{"Report ID":"r"}]}}'), 'body_no_records');
    assert.equal(Object.hasOwn(Object.prototype, 'items'), false);
  });
});

describe('parseRecords: bytes that are not UTF-8 JSON', () => {
  it('refuses a byte order mark', () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"items":[]}')]);
    assert.equal(code(bom), 'body_invalid_encoding');
  });

  it('refuses invalid UTF-8', () => {
    for (const bytes of [
      [0xff],
      [0xc3, 0x28],
      [0xc0, 0xaf], // overlong "/"
      [0xed, 0xa0, 0x80], // an encoded surrogate
      [0xe2, 0x82], // truncated sequence
    ]) {
      const body = Buffer.concat([
        Buffer.from('{"items":[{"User":"'),
        Buffer.from(bytes),
        Buffer.from('"}]}'),
      ]);
      const e = refusal(body);
      assert.equal(e.code, 'body_invalid_encoding', JSON.stringify(bytes));
      assert.equal(httpStatus(e.code), 400);
    }
  });

  it('refuses UTF-16', () => {
    assert.equal(code(Buffer.from('{"items":[]}', 'utf16le')), 'body_invalid_json');
  });

  it('refuses invalid JSON with body_invalid_json (400)', () => {
    for (const body of [
      '',
      '   ',
      '{"items":[',
      '{"items":[{"Report ID":"r"',
      '{"items":[]} garbage',
      '{"items":[]}{"items":[]}',
      '{"items":[NaN]}',
      '{"items":[Infinity]}',
      "{'items':[]}",
      '{"items":[1,]}',
      '{items:[]}',
      '{"items":["\u0001"]}',
    ]) {
      const e = refusal(body);
      assert.equal(e.code, 'body_invalid_json', JSON.stringify(body));
      assert.equal(httpStatus(e.code), 400);
    }
  });

  it('never puts the payload into the error message', () => {
    for (const body of [
      `{"items":[{"Report ID":"${MARKER}", NaN}]}`,
      `{"${MARKER}": NaN}`,
      `{"items":[{"User":"${MARKER}"}]} ${MARKER}`,
      `{"items":[{"User":"${MARKER}"`,
      `[${MARKER}]`,
      `${MARKER}`,
      `{"items":{"x":"${MARKER}"}}`,
    ]) {
      const e = refusal(body);
      assert.equal(e.message.includes(MARKER), false, e.message);
      assert.equal(e.message.includes('4711'), false, e.message);
    }
  });

  it('keeps the position of the syntax error when the message allows it', () => {
    assert.match(refusal('{"items":[]} x').message, /position 13/);
  });

  it('keeps a lone surrogate escape as text for the normaliser to refuse', () => {
    const [first] = records('{"items":[{"User":"\\ud800"}]}') as [{ User: string }];
    assert.equal(first.User.isWellFormed(), false);
  });
});

describe('decodeJson', () => {
  it('parses duplicate keys with the last value (JSON.parse semantics)', () => {
    assert.deepEqual(decodeJson(Buffer.from('{"a":1,"a":2}')), { a: 2 });
  });
});

describe('readRecords: the same answer as parsing the body whole', () => {
  const scanned = (body: string | Buffer) => {
    const r = tryReadRecords(Buffer.isBuffer(body) ? body : Buffer.from(body), 0);
    if (!r.ok) return r;
    return tryParse(r.value, 0, r.value.count);
  };

  const bodies = [
    JSON.stringify({ items: [ONE, { ...ONE, 'Report ID': 'r-"2"\\' }] }),
    JSON.stringify([ONE, [1, [2]], 'x]', null]),
    JSON.stringify({ data: { items: [ONE] }, items: 'not an array' }),
    JSON.stringify({ body: { items: [ONE] }, data: { items: {} } }),
    '{"items":[1],"items":[2,3]}',
    '{"items":[1,"x",null, true ,-1.5e3]}',
    ' \r\n{"items":[]}\n',
    '{ "id" : "x" , "data" : { "items" : [ {"a":"}"} , {"b":"\\\\"} ] } }',
    '{"__proto__":{"items":[{"Report ID":"r"}]}}',
    '{"items":[{"Report ID":"r"',
    '{"items":[]} garbage',
    '{"items":[]}{"items":[]}',
    '{"items":[NaN]}',
    '{"items":[1,]}',
    '{"items":[1 2]}',
    '{"items":[{"a":1]}',
    '{"items":["\u0001"]}',
    '{items:[]}',
    '[1]]',
    '',
    '{}',
    '42',
  ];

  for (const body of bodies) {
    it(`agrees on ${JSON.stringify(body).slice(0, 60)}`, () => {
      const whole = tryParseRecords(Buffer.from(body));
      const scan = scanned(body);
      assert.equal(scan.ok, whole.ok);
      if (scan.ok && whole.ok) assert.deepEqual(scan.value, whole.value);
      if (!scan.ok && !whole.ok) assert.equal(scan.error.code, whole.error.code);
    });
  }

  it('parses any range of records on its own', () => {
    const items = Array.from({ length: 25 }, (_, i) => ({ n: i, s: `a"b\\${i}]` }));
    const r = tryReadRecords(Buffer.from(JSON.stringify({ items })), 0);
    assert.ok(r.ok);
    assert.equal(r.value.streamed, true);
    assert.equal(r.value.count, 25);
    assert.deepEqual(tryParse(r.value, 3, 9), { ok: true, value: items.slice(3, 9) });
    assert.deepEqual(tryParse(r.value, 24, 25), { ok: true, value: items.slice(24) });
    assert.deepEqual(tryParse(r.value, 5, 5), { ok: true, value: [] });
  });

  it('refuses invalid UTF-8 and a byte order mark before scanning', () => {
    const bad = Buffer.concat([
      Buffer.from('{"items":["'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"]}'),
    ]);
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"items":[]}')]);
    for (const body of [bad, bom]) {
      const r = tryReadRecords(body, 0);
      assert.equal(r.ok ? 'ok' : r.error.code, 'body_invalid_encoding');
    }
  });

  it('names the records of a group that is not valid JSON, without the payload', () => {
    const r = tryReadRecords(Buffer.from(`{"items":[1,2,{"x":${MARKER}}]}`), 0);
    assert.ok(r.ok);
    assert.deepEqual(tryParse(r.value, 0, 2), { ok: true, value: [1, 2] });
    const bad = tryParse(r.value, 2, 3);
    assert.equal(bad.ok ? 'ok' : bad.error.code, 'body_invalid_json');
    assert.ok(!bad.ok && bad.error.message.includes('(record 3)'));
    assert.ok(!bad.ok && !bad.error.message.includes('4711'));
  });

  it('agrees with parsing the body whole on generated bodies, split into any groups', () => {
    const shapes = [
      (items: unknown[]) => items,
      (items: unknown[]) => ({ items }),
      (items: unknown[]) => ({ id: 'x', data: { items } }),
      (items: unknown[]) => ({ body: { items }, tail: [1, '"]'] }),
    ];
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 12 }),
        fc.nat(shapes.length - 1),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        (items, shape, group, pretty) => {
          const doc = (shapes[shape] as (i: unknown[]) => unknown)(items);
          const text = pretty ? JSON.stringify(doc, null, 2) : JSON.stringify(doc);
          const r = tryReadRecords(Buffer.from(text), 0);
          assert.ok(r.ok);
          const whole = records(text);
          assert.equal(r.value.count, whole.length);
          const parsed: unknown[] = [];
          for (let from = 0; from < r.value.count; from += group) {
            const part = tryParse(r.value, from, Math.min(from + group, r.value.count));
            assert.ok(part.ok);
            parsed.push(...part.value);
          }
          assert.deepEqual(parsed, whole);
        },
      ),
      { seed: 4711, numRuns: 2000 },
    );
  });

  it('checks records on their bytes with the verdict and message parse gives', () => {
    // records as the scan bounds them, some broken the ways JSON.parse refuses
    const broken = [
      '{"x":NaN}',
      '{"x":01}',
      '{"x":"a\u0001"}',
      '{"x":"\\q"}',
      '[1,]',
      'tru',
      '"\\u12"',
    ];
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.json({ maxDepth: 3 }), fc.constantFrom(...broken)), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.integer({ min: 1, max: 5 }),
        (texts, group) => {
          const r = tryReadRecords(Buffer.from(`{"items":[${texts.join(',')}]}`), 0);
          assert.ok(r.ok);
          const slices = r.value;
          for (let from = 0; from < slices.count; from += group) {
            const to = Math.min(from + group, slices.count);
            const checked = settle(() => slices.check(from, to));
            const parsed = settle(() => slices.parse(from, to));
            assert.equal(checked.ok, parsed.ok);
            if (!checked.ok && !parsed.ok)
              assert.equal(checked.error.message, parsed.error.message);
          }
        },
      ),
      { seed: 4712, numRuns: 1000 },
    );
  });

  it('agrees with parsing the body whole when bytes of a valid body are changed', () => {
    const base = JSON.stringify({ items: [ONE, { s: 'a\\"b\\\\', n: [1, { x: '}' }] }, 'q"]'] });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.constantFrom(...'"\\[]{},: 0an')), {
          minLength: 1,
          maxLength: 3,
        }),
        (edits) => {
          const chars = [...base];
          for (const [at, c] of edits) chars[at] = c;
          const body = chars.join('');
          const whole = tryParseRecords(Buffer.from(body));
          const r = tryReadRecords(Buffer.from(body), 0);
          const scan = r.ok ? tryParse(r.value, 0, r.value.count) : r;
          assert.equal(scan.ok, whole.ok, body);
          if (scan.ok && whole.ok) assert.deepEqual(scan.value, whole.value);
          if (!scan.ok && !whole.ok) assert.equal(scan.error.code, whole.error.code, body);
        },
      ),
      { seed: 4712, numRuns: 5000 },
    );
  });

  it('gives the same answer whatever the block boundaries (a spooled body)', () => {
    const samples = [
      ...bodies,
      JSON.stringify({ items: [{ k: 'a\\"\\\\', u: 'é€😀' }, 'x\\'], data: { items: [1] } }),
      JSON.stringify({ 'it\u0065ms': 1, data: { items: [{ a: '😀' }] } }).replace(
        'ite',
        'it\\u0065',
      ),
      // a character cut by the first three bytes, and a byte order mark cut by a block's end
      '["é", "€"]',
      `\ufeff${JSON.stringify({ items: [ONE] })}`,
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }),
        (body, sizes) => {
          const buffer = Buffer.from(body);
          const whole = tryParseRecords(buffer);
          const r = tryReadRecords(inBlocks(buffer, sizes));
          const scan = r.ok ? tryParse(r.value, 0, r.value.count) : r;
          const inOne = tryReadRecords(buffer, 0);
          // the scan follows the body in blocks whenever it does in one piece
          if (inOne.ok && r.ok) assert.equal(r.value.streamed, inOne.value.streamed, body);
          assert.equal(scan.ok, whole.ok, body);
          if (scan.ok && whole.ok) assert.deepEqual(scan.value, whole.value);
          if (!scan.ok && !whole.ok) assert.equal(scan.error.code, whole.error.code, body);
        },
      ),
      { seed: 4713, numRuns: 3000 },
    );
  });

  it('refuses UTF-8 broken across or at the end of blocks', () => {
    const good = Buffer.from('{"items":["é€😀"]}');
    const cut = good.subarray(0, good.length - 5); // ends inside the emoji
    const r = tryReadRecords(inBlocks(Buffer.concat([cut, Buffer.from('"]}')]), [3, 5]));
    assert.equal(r.ok ? 'ok' : r.error.code, 'body_invalid_encoding');
    for (const size of [1, 2, 3, 4, 7]) {
      const ok = tryReadRecords(inBlocks(good, [size]));
      assert.ok(ok.ok);
      assert.deepEqual(tryParse(ok.value, 0, 1), { ok: true, value: ['é€😀'] });
    }
  });

  it('refuses (413) a body of more records than MAX_RECORDS, without keeping them all', () => {
    const many = Buffer.from(`[${'1,'.repeat(MAX_RECORDS)}1]`);
    const enough = Buffer.from(`[${'1,'.repeat(MAX_RECORDS - 1)}1]`);
    // scanned (0), and parsed whole (the body, 4 MB, is under WHOLE_PARSE_BYTES)
    for (const wholeParseBytes of [0, WHOLE_PARSE_BYTES]) {
      const r = tryReadRecords(many, wholeParseBytes);
      assert.equal(r.ok ? 'ok' : r.error.code, 'body_too_large');
      assert.ok(
        !r.ok &&
          httpStatus(r.error.code) === 413 &&
          /more than 2000000 records/.test(r.error.message),
      );
      const fits = tryReadRecords(enough, wholeParseBytes);
      assert.ok(fits.ok && fits.value.count === MAX_RECORDS);
      assert.equal(fits.value.streamed, wholeParseBytes === 0);
    }
  });

  it('parses a small body in memory whole, with the same answer', () => {
    const text = JSON.stringify({ items: [ONE, { ...ONE, 'Report ID': 'r-2' }] });
    const whole = tryReadRecords(Buffer.from(text));
    const scanned = tryReadRecords(Buffer.from(text), 0);
    assert.ok(whole.ok && scanned.ok);
    assert.equal(whole.value.streamed, false);
    assert.equal(scanned.value.streamed, true);
    assert.deepEqual(tryParse(whole.value, 0, 2), tryParse(scanned.value, 0, 2));
    const bad = tryReadRecords(Buffer.from('{"items":[NaN]}'));
    assert.equal(bad.ok ? 'ok' : bad.error.code, 'body_invalid_json');
  });
});
