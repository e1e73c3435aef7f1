import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { readCdrSchema } from '../../../src/cdr/avro-schema.ts';
import { normalise } from '../../../src/cdr/normalise.ts';
import { encoderFor, wireEncoder } from '../../../src/kafka/wire-encoder.ts';
import { fullRawCdr, INGEST } from '../../helpers/fixtures.ts';

const type = avro.Type.forSchema({
  type: 'record',
  name: 'T',
  fields: [
    { name: 'n', type: 'long' },
    { name: 's', type: 'string' },
  ],
});
const header = Buffer.from([0, 0, 0, 1, 2]);
const expected = (v: object) => Buffer.concat([header, type.toBuffer(v)]);

describe('wireEncoder', () => {
  it('writes the same bytes as header + toBuffer, across slab boundaries', () => {
    const encode = wireEncoder(header, type);
    const out: Buffer[] = [];
    const values = Array.from({ length: 3000 }, (_, n) => ({ n, s: `${'x'.repeat(n % 997)}é` }));
    for (const v of values) out.push(encode(v));
    for (const [i, v] of values.entries()) assert.deepEqual(out[i], expected(v));
    assert.deepEqual({ ...type.fromBuffer((out[1234] as Buffer).subarray(5)) }, values[1234]);
  });

  it('encodes a record larger than a slab', () => {
    const encode = wireEncoder(header, type);
    encode({ n: 1, s: 'a' });
    const big = { n: 2, s: 'b'.repeat(3 * 1024 * 1024) };
    assert.deepEqual(encode(big), expected(big));
    assert.deepEqual(encode({ n: 3, s: 'c' }), expected({ n: 3, s: 'c' }));
  });

  it('throws for a value the schema refuses, and goes on after it', () => {
    const encode = wireEncoder(header, type);
    assert.throws(() => encode({ n: 'not a long', s: 'x' }));
    assert.deepEqual(encode({ n: 4, s: 'ok' }), expected({ n: 4, s: 'ok' }));
  });
});

describe('encoderFor', () => {
  it('writes a record in the Confluent wire format under the schema id, its text kept for the workers', () => {
    const { text } = readCdrSchema();
    const encoder = encoderFor(258, text);
    assert.equal(encoder.schemaId, 258);
    assert.equal(encoder.schemaText, text);
    const r = normalise(fullRawCdr(), INGEST);
    assert.ok(r.ok);
    const bytes = encoder.encode(r.value.record);
    assert.deepEqual([...bytes.subarray(0, 5)], [0, 0, 0, 1, 2]);
    const read = avro.Type.forSchema(JSON.parse(text)).fromBuffer(bytes.subarray(5));
    assert.equal(JSON.stringify(read), JSON.stringify(r.value.record));
  });
});
