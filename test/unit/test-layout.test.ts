/**
 * How the tests run: `npm test` runs every test file (format, lint and types
 * first), and the unit tests run under the coverage gate, with Node's own
 * coverage flags over `src/`, so a drop in coverage fails the build.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const scripts = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;
const script = (name: string): string => {
  const s = scripts[name];
  assert.ok(s !== undefined, `npm run ${name}`);
  return s;
};
/** The quoted globs a script hands `node --test`, as directory prefixes. */
const globDirs = (s: string): string[] =>
  [...s.matchAll(/'(test\/[^'*]*)\*\*\/\*\.test\.ts'/g)].map((m) => m[1] ?? '');

describe('how the tests run', () => {
  it('the unit tests run under a coverage gate on src/', () => {
    const unit = script('test:unit');
    assert.match(unit, /--experimental-test-coverage/);
    assert.match(unit, /--test-coverage-include='src\/\*\*'/);
    for (const kind of ['lines', 'branches', 'functions']) {
      const level = Number(new RegExp(`--test-coverage-${kind}=(\\d+)`).exec(unit)?.[1]);
      assert.ok(level >= 80 && level <= 100, `--test-coverage-${kind}: ${level}`);
    }
  });

  it('npm test runs the checks, the gated unit tests, and every other test file', () => {
    const test = script('test');
    assert.match(test, /^npm run check && npm run test:unit && /);
    const dirs = [...globDirs(script('test:unit')), ...globDirs(test)];
    const files = readdirSync(join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => `test/${f}`);
    assert.ok(files.length > 50, 'the test files are found');
    const missed = files.filter((f) => !dirs.some((d) => f.startsWith(d)));
    assert.deepEqual(missed, [], 'every test file runs in npm test');
  });
});
