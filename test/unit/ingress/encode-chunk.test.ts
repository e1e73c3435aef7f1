import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCdrSchema, SCHEMA_V1_PATH } from '../../../src/cdr/avro-schema.ts';
import { createPrivacy } from '../../../src/cdr/privacy.ts';
import {
  canTranscode,
  type EncodedChunk,
  encodeBody,
  encodeChunk,
} from '../../../src/ingress/encode-chunk.ts';
import { readRecords } from '../../../src/ingress/parse-body.ts';
import { encoderFor } from '../../../src/kafka/wire-encoder.ts';
import { createCdrGenerator } from '../../../src/simulator/generate.ts';
import { INGEST } from '../../helpers/fixtures.ts';

const TEXT = readCdrSchema().text;
/** The contract's encoder: records are transcoded from their bytes. */
const encoder = encoderFor(11, TEXT);
/** The same encoder without its schema text: every record takes the usual path (objects). */
const usualEncoder = { schemaId: 11, encode: encoder.encode };

const records = (n: number, seed = 'encode-chunk') => {
  const start = Date.UTC(2026, 0, 5);
  return createCdrGenerator({ seed, orgs: 10 })
    .generate(start, start + 24 * 3_600_000)
    .slice(0, n)
    .map((c) => c.raw as Record<string, unknown>);
};

/** A chunk as the publisher sees it (values as hex), without the count of records transcoded. */
const seen = (chunk: EncodedChunk) => {
  const { transcoded: _transcoded, values, ...rest } = chunk;
  return {
    ...rest,
    values: Buffer.from(values).toString('hex'),
    reportTimes: [...chunk.reportTimes],
    callEnds: [...chunk.callEnds],
    valueEnds: [...chunk.valueEnds],
  };
};

const bothWays = (body: Buffer, chunkRecords = 100) => {
  const fast = encodeBody(body, chunkRecords, INGEST, encoder, null);
  const slow = encodeBody(body, chunkRecords, INGEST, usualEncoder, null);
  assert.equal(fast.received, slow.received);
  assert.deepEqual(fast.chunks.map(seen), slow.chunks.map(seen));
  assert.equal(
    slow.chunks.reduce((n, c) => n + c.transcoded, 0),
    0,
  );
  return fast.chunks.reduce((n, c) => n + c.transcoded, 0);
};

const errorOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return { code: (e as { code?: string }).code, message: (e as Error).message };
  }
  assert.fail('no error');
};

describe('encodeBody: a body in memory, its records transcoded from the bytes', () => {
  it('transcodes every record of the usual shapes, with the same chunks as the usual path', () => {
    const raws = records(250);
    for (const body of [
      JSON.stringify({ items: raws }),
      JSON.stringify(raws),
      JSON.stringify({ items: raws }, null, 2),
      ` \n${JSON.stringify(raws, null, '\t')}\r\n `,
    ]) {
      assert.equal(bothWays(Buffer.from(body)), 250);
    }
  });

  it('chunks as the usual path does, one chunk for an empty delivery', () => {
    const raws = records(250);
    const fast = encodeBody(Buffer.from(JSON.stringify(raws)), 100, INGEST, encoder, null);
    assert.deepEqual(
      fast.chunks.map((c) => c.reportIds.length),
      [100, 100, 50],
    );
    for (const empty of ['{"items":[]}', '[ ]']) {
      const body = encodeBody(Buffer.from(empty), 100, INGEST, encoder, null);
      assert.equal(body.received, 0);
      assert.equal(body.chunks.length, 1);
      assert.equal(bothWays(Buffer.from(empty)), 0);
    }
  });

  it('leaves odd records to the usual path, record by record, and refuses the same ones', () => {
    const raws: unknown[] = records(60);
    raws[3] = { ...(raws[3] as object), Location: 'a "quoted" place' }; // escapes
    raws[7] = { ...(raws[7] as object), Nested: { deep: [1, 2] } };
    raws[9] = { ...(raws[9] as object), 'Report ID': '' }; // dead-lettered
    raws[11] = 'not an object'; // dead-lettered
    raws[13] = { ...(raws[13] as object), Duration: 2.5 };
    const body = Buffer.from(JSON.stringify({ items: raws }));
    assert.equal(bothWays(body, 25), 55);
    const fast = encodeBody(body, 25, INGEST, encoder, null);
    assert.deepEqual(
      fast.chunks.flatMap((c) => c.dead.map((d) => [d.index, d.code])),
      [
        [9, 'record_missing_report_id'],
        [11, 'record_not_object'],
      ],
    );
  });

  it('reads another envelope the usual way, with the same answer', () => {
    const raws = records(30);
    for (const body of [
      { data: { items: raws } },
      { body: { items: raws } },
      { items: raws, next: null },
      { before: 1, items: raws },
    ]) {
      assert.equal(bothWays(Buffer.from(JSON.stringify(body))), 0);
    }
  });

  it("refuses a syntax error anywhere, with the usual path's words", () => {
    const raws = records(300).map((r) => JSON.stringify(r));
    raws[270] = (raws[270] as string).replace('"Duration":', '"Duration":NaN,"x":');
    const body = Buffer.from(`{"items":[${raws.join(',')}]}`);
    const fast = errorOf(() => encodeBody(body, 100, INGEST, encoder, null));
    assert.equal(fast.code, 'body_invalid_json');
    assert.deepEqual(
      fast,
      errorOf(() => encodeBody(body, 100, INGEST, usualEncoder, null)),
    );
  });

  it('answers a broken body as the usual path does', () => {
    const whole = JSON.stringify({ items: records(20) });
    const bodies = [
      Buffer.from(whole.slice(0, -40)), // cut short
      Buffer.from(`${whole}x`),
      Buffer.from(`${whole.slice(0, -2)},]}`),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(whole)]),
      Buffer.concat([
        Buffer.from(whole.slice(0, 100)),
        Buffer.from([0xff]),
        Buffer.from(whole.slice(100)),
      ]),
      Buffer.from('{"items":{}}'),
      Buffer.from(''),
    ];
    for (const body of bodies) {
      assert.deepEqual(
        errorOf(() => encodeBody(body, 100, INGEST, encoder, null)),
        errorOf(() => encodeBody(body, 100, INGEST, usualEncoder, null)),
        body.toString('latin1', 0, 60),
      );
    }
  });
});

describe('encodeChunk: records found by the scan, transcoded from their bytes', () => {
  it('transcodes each record and gives the same chunk as the usual path', () => {
    const raws: unknown[] = records(120);
    raws[5] = { ...(raws[5] as object), Location: 'back\\slash' };
    const slices = readRecords(Buffer.from(JSON.stringify({ items: raws }, null, 1)), 0);
    assert.ok(slices.take !== undefined);
    const fast = encodeChunk(slices.take(0, 120), INGEST, encoder, null);
    const slow = encodeChunk(slices.take(0, 120), INGEST, usualEncoder, null);
    assert.equal(fast.transcoded, 119);
    assert.equal(slow.transcoded, 0);
    assert.deepEqual(seen(fast), seen(slow));
  });
});

describe('canTranscode: only for the contract, without privacy settings', () => {
  it('says yes for the contract, however its text is laid out', () => {
    assert.equal(canTranscode(encoder, null), true);
    assert.equal(canTranscode({ schemaText: JSON.stringify(JSON.parse(TEXT)) }, null), true);
  });

  it('says no for another schema, no schema text, or privacy settings', () => {
    assert.equal(canTranscode({ schemaText: readCdrSchema(SCHEMA_V1_PATH).text }, null), false);
    assert.equal(canTranscode({}, null), false);
    const privacy = createPrivacy({ drop: ['calling_number'], hash: [], key: 'k' });
    assert.equal(canTranscode(encoder, privacy), false);
  });

  it('with privacy settings, a body takes the usual path and its fields are dropped', () => {
    const privacy = createPrivacy({ drop: ['calling_number'], hash: [], key: 'k' });
    const body = Buffer.from(JSON.stringify({ items: records(20) }));
    const out = encodeBody(body, 100, INGEST, encoder, privacy);
    assert.equal(out.chunks[0]?.transcoded, 0);
    assert.equal(out.received, 20);
  });
});
