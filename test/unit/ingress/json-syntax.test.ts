import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isJsonText } from '../../../src/ingress/json-syntax.ts';

const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};
const check = (text: string) => isJsonText(Buffer.from(text));

/** Valid JSON with one character inserted, replaced or deleted, from JSON's own alphabet mostly. */
const mutated = fc
  .tuple(
    fc.json(),
    fc.nat(),
    fc.constantFrom('insert', 'replace', 'delete'),
    fc.oneof(
      fc.constantFrom(...'{}[]",:\\/ -+.0123456789eEtrufalsn\t\n\r\u0000\u001fé'),
      fc.string({ minLength: 1, maxLength: 1 }),
    ),
  )
  .map(([json, at, how, c]) => {
    const i = at % (json.length + 1);
    if (how === 'insert') return json.slice(0, i) + c + json.slice(i);
    if (how === 'replace') return json.slice(0, i) + c + json.slice(i + 1);
    return json.slice(0, i) + json.slice(i + 1);
  });

describe('isJsonText', () => {
  it('accepts exactly what JSON.parse accepts, on valid JSON and on one-character mutations of it', () => {
    fc.assert(
      fc.property(fc.json(), (text) => assert.equal(check(text), true, text)),
      { seed: 815, numRuns: 3000 },
    );
    fc.assert(
      fc.property(mutated, (text) => assert.equal(check(text), parses(text), JSON.stringify(text))),
      { seed: 816, numRuns: 20_000 },
    );
  });

  it('follows the grammar at its edges', () => {
    const cases = [
      '0',
      '-0',
      '-0.5e+10',
      '1E-2',
      '01',
      '1.',
      '.5',
      '-',
      '1e',
      '+1',
      '[1,]',
      '{"a":1,}',
      '[,1]',
      '{"a"}',
      '{"a":}',
      '{1:2}',
      '"\\u00e9"',
      '"\\u00g9"',
      '"\\x"',
      '"a\u0001"',
      '"\\/"',
      'tru',
      'nul',
      'true false',
      '[]',
      '{}',
      ' [ ] ',
      '[[[[]]]]',
      '[[[]]',
      '{"a":[{"b":null}]}',
      '',
      ' ',
      '"',
      '"\\"',
      'NaN',
      'Infinity',
      '[1 2]',
      '{"a" 1}',
      '\u00a0[]',
      '[]\u00a0',
    ];
    for (const text of cases) assert.equal(check(text), parses(text), JSON.stringify(text));
  });

  it('reads only the bytes it is given: a text cut short of its end is refused', () => {
    const b = Buffer.from('["abc\\u0041", "d\\"e"] trailing');
    assert.equal(isJsonText(b, 0, 21), true);
    for (let end = 1; end < 21; end++) assert.equal(isJsonText(b, 0, end), false, `end ${end}`);
    assert.equal(isJsonText(Buffer.from('x{"a":1}x'), 1, 8), true);
  });

  it('takes deep nesting without recursion', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    assert.equal(check(deep), true);
    assert.equal(check(`${deep}]`), false);
  });
});
