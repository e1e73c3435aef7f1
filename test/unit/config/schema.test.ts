import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { acrossSettings, bool, flag, int, parseSettings } from '../../../src/config/schema.ts';
import { parseIngressConfig } from '../../../src/settings.ts';

/** The data, or the messages of the issues. */
const outcome = (schema: z.ZodType, input: unknown) => {
  const r = schema.safeParse(input);
  return r.success ? { data: r.data } : { messages: r.error.issues.map((i) => i.message) };
};

const problems = (schema: z.ZodType, values: Record<string, string>) => {
  const r = parseSettings(schema, (e) => e, { values, problems: [] });
  return r.ok ? [] : r.problems;
};

describe('value shapes', () => {
  it("flag and bool read and refuse what zod's stringbool does, with its message", () => {
    for (const text of ['true', 'TRUE', 'Yes', 'on', 'y', 'enabled', '1', 'false', 'No', 'OFF']) {
      assert.deepEqual(outcome(flag(), text), outcome(z.stringbool(), text), text);
    }
    for (const text of ['garbage', ' true', 'false ', '2', '']) {
      assert.deepEqual(outcome(flag(), text), outcome(z.stringbool(), text), text);
      assert.ok('messages' in outcome(flag(), text), text);
    }
    assert.deepEqual(outcome(bool(true), undefined), { data: true });
    assert.deepEqual(outcome(bool(false), undefined), { data: false });
  });

  it("int reads and refuses what zod's coerce.number().int() with the same bounds does", () => {
    const zods = z.coerce.number().int().min(1).max(65535).default(8);
    for (const text of ['1', ' 42 ', '65535', '0', '-3', '65536', '1.5', '0.5', 'x', '1e400', '']) {
      assert.deepEqual(outcome(int(8, 1, 65535), text), outcome(zods, text), text);
    }
    assert.deepEqual(outcome(int(8, 1, 65535), undefined), { data: 8 });
  });
});

describe('acrossSettings', () => {
  const fields = z.object({ A: flag().optional(), N: int(5), B: z.string().optional() });
  const rule = acrossSettings<z.infer<typeof fields>>((e) =>
    e.B !== undefined && e.A !== true ? ['A/B: B needs A=true'] : [],
  );

  it("turns a rule's `NAMES: message` into an issue at NAMES, after the settings' own", () => {
    const schema = fields.check(rule);
    assert.deepEqual(problems(schema, { B: 'b' }), ['A/B: B needs A=true']);
    assert.deepEqual(problems(schema, { B: 'b', A: 'true' }), []);
    assert.deepEqual(problems(schema, { B: 'b', N: 'x' }), [
      'N: Invalid input: expected number, received NaN',
      'A/B: B needs A=true',
    ]);
  });

  it('runs while another setting is refused, even by a refusal that aborts in zod', () => {
    const schema = fields.check(rule);
    for (const refused of [{ N: '1.5' }, { A: 'garbage' }]) {
      const list = problems(schema, { B: 'b', ...refused });
      assert.equal(list.length, 2, JSON.stringify(list));
      assert.equal(list[1], 'A/B: B needs A=true');
    }
    // Why flag() and int() exist: zod's own stringbool and .int() stop every refinement.
    const withZods = z
      .object({ A: z.stringbool().optional(), N: z.coerce.number().int(), B: z.string() })
      .check(rule);
    assert.deepEqual(problems(withZods, { B: 'b', N: '1.5' }), [
      'N: Invalid input: expected int, received number',
    ]);
  });

  it('is skipped while a setting it needs is refused', () => {
    const needsN = acrossSettings<z.infer<typeof fields>>(() => ['N: judged'], ['N']);
    assert.deepEqual(problems(fields.check(needsN), { N: '7' }), ['N: judged']);
    assert.deepEqual(problems(fields.check(needsN), { N: 'x' }), [
      'N: Invalid input: expected number, received NaN',
    ]);
  });
});

describe('the rules of the components, composed', () => {
  it('list their problems together with refused values of every kind', () => {
    const r = parseIngressConfig({
      KAFKA_BROKERS: 'k:9092',
      SCHEMA_REGISTRY_URL: 'http://r',
      CDR_FEED: 'analytics',
      KAFKA_SSL: 'garbage',
      PORT: '1.5',
      KAFKA_SASL_MECHANISM: 'plain',
      PRIVACY_DROP_FIELDS: 'calling_number',
      PRIVACY_HASH_FIELDS: 'calling_number',
    });
    assert.equal(r.ok, false);
    const names = r.ok ? [] : r.problems.map((p) => p.slice(0, p.indexOf(':')));
    assert.deepEqual(names, [
      'KAFKA_SSL',
      'PORT',
      'KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD',
      'PRIVACY_DROP_FIELDS/PRIVACY_HASH_FIELDS',
      'PRIVACY_HASH_KEY',
      'WEBHOOK_SECRETS',
    ]);
  });
});
