/**
 * The README and docs/*.md against the code and each other: every setting of
 * the code's SETTINGS list has its row in docs/configuration.md, every error
 * code of src/errors.ts its row (status, retriable) in docs/contract.md, and
 * every relative link and anchor of the pages leads somewhere (GitHub's
 * anchor rules). Each check is also shown failing on an altered copy.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { CdrError, ERROR_CODES } from '../../src/errors.ts';
import { httpStatus } from '../../src/ingress/status.ts';
import { kafkaEnv } from '../../src/kafka/options.ts';
import { FROM_FILE, SETTINGS } from '../../src/settings.ts';
import {
  brokenLinks,
  githubAnchors,
  undocumentedCodes,
  undocumentedSettings,
} from '../helpers/markdown.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const CODES = ERROR_CODES.map((code) => ({
  code,
  status: httpStatus(code),
  retriable: new CdrError(code, '').retriable,
}));
/** `text` without its first line that contains `needle` (there must be one). */
const without = (text: string, needle: string): string => {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `a line with ${needle}`);
  return [...lines.slice(0, i), ...lines.slice(i + 1)].join('\n');
};

describe('docs/configuration.md', () => {
  const page = read('docs/configuration.md');

  it('has a row for every setting of the code', () => {
    assert.ok(SETTINGS.length > 50);
    assert.deepEqual(undocumentedSettings(page, SETTINGS, FROM_FILE), []);
  });

  it('the check fails when a row or a file mark is removed', () => {
    const noLease = without(page, '| `RECONCILE_LEASE_GROUP` |');
    assert.deepEqual(undocumentedSettings(noLease, SETTINGS, FROM_FILE), ['RECONCILE_LEASE_GROUP']);
    const noHost = page.replace('| `PORT` / `HOST` |', '| `PORT` |');
    assert.deepEqual(undocumentedSettings(noHost, SETTINGS, FROM_FILE), ['HOST']);
    const noFile = page.replace(/^(\| `KAFKA_SSL_CA` \|.*\| )file \|$/m, '$1 |');
    assert.notEqual(noFile, page);
    assert.deepEqual(undocumentedSettings(noFile, SETTINGS, FROM_FILE), ['KAFKA_SSL_CA_FILE']);
  });
});

/** The Kafka settings that are a choice of names with a default (KAFKA_CLIENT, KAFKA_COMPRESSION), and it. */
const CHOICE_DEFAULTS = Object.entries(kafkaEnv.shape).flatMap(([name, schema]) =>
  schema instanceof z.ZodDefault && schema.unwrap() instanceof z.ZodEnum
    ? [{ name, value: String(schema.parse(undefined)) }]
    : [],
);
/** Settings whose row in the table does not give `value` as its default. */
const wrongDefaults = (page: string) =>
  CHOICE_DEFAULTS.filter(({ name, value }) => {
    const row = page.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
    return row?.split(' | ')[1] !== `\`${value}\``;
  }).map(({ name }) => name);

describe('docs/configuration.md: defaults', () => {
  const page = read('docs/configuration.md');

  it('shows the default of each Kafka setting that is a choice (the client, the codec)', () => {
    assert.deepEqual(
      CHOICE_DEFAULTS.map((d) => d.name),
      ['KAFKA_COMPRESSION', 'KAFKA_CLIENT'],
    );
    assert.deepEqual(wrongDefaults(page), []);
  });

  it("the check fails when a default in the table is not the code's", () => {
    const old = page.replace(
      '| `KAFKA_CLIENT` | `platformatic` |',
      '| `KAFKA_CLIENT` | `kafkajs` |',
    );
    assert.notEqual(old, page);
    assert.deepEqual(wrongDefaults(old), ['KAFKA_CLIENT']);
  });
});

describe('docs/contract.md', () => {
  const page = read('docs/contract.md');

  it('has a row for every error code, with its status and retriable flag', () => {
    assert.deepEqual(undocumentedCodes(page, CODES), []);
  });

  it('the check fails when a code is removed or its status is wrong', () => {
    assert.deepEqual(undocumentedCodes(without(page, '| `lease_unavailable` |'), CODES), [
      'lease_unavailable: no row',
    ]);
    const wrong = page.replace(
      '| `body_too_large` | 413 | no |',
      '| `body_too_large` | 400 | no |',
    );
    assert.deepEqual(undocumentedCodes(wrong, CODES), [
      'body_too_large: documented as 400, no; the code says 413, no',
    ]);
    // a code the ingress never answers with has no status
    const answered = page.replace('| `webex_http` | — | yes |', '| `webex_http` | 502 | yes |');
    assert.deepEqual(undocumentedCodes(answered, CODES), [
      'webex_http: documented as 502, yes; the code says —, yes',
    ]);
  });
});

describe('links of README.md and docs/*.md', () => {
  it('every relative link leads to a file, and every anchor to a heading', () => {
    assert.ok(PAGES.length >= 10, PAGES.join(' '));
    assert.deepEqual(
      PAGES.flatMap((p) => brokenLinks(ROOT, p)),
      [],
    );
  });

  it('the README links every docs page', () => {
    const readme = read('README.md');
    for (const p of PAGES.filter((p) => p !== 'README.md')) {
      assert.ok(readme.includes(`](${p})`), `the README links ${p}`);
    }
  });

  it("anchors follow GitHub's rules", () => {
    const anchors = githubAnchors(
      [
        '## Ingress: `POST /webhooks/cdr`',
        '## Reliability: chaos runs and hostile input',
        '```sh',
        '# not a heading',
        '```',
        '## Open Webex questions, and what the connector does about them',
        '#### WebexCdrIngressAbsent',
        '## Notes',
        '## Notes',
      ].join('\n'),
    );
    assert.deepEqual(
      [...anchors],
      [
        'ingress-post-webhookscdr',
        'reliability-chaos-runs-and-hostile-input',
        'open-webex-questions-and-what-the-connector-does-about-them',
        'webexcdringressabsent',
        'notes',
        'notes-1',
      ],
    );
  });

  it('the check fails on a missing file, a missing heading or a renamed one', () => {
    const pages: Record<string, string> = {
      'README.md': read('README.md'),
      'docs/monitoring.md': read('docs/monitoring.md'),
    };
    const altered = (path: string) => pages[path] ?? read(path);
    pages['README.md'] += '\n[gone](docs/nowhere.md) [a](docs/monitoring.md#no-such-section)\n';
    pages['docs/monitoring.md'] = (pages['docs/monitoring.md'] ?? '').replace(
      '#### WebexCdrDeadLetters',
      '#### Dead letters',
    );
    const readmeProblems = brokenLinks(ROOT, 'README.md', altered);
    assert.equal(readmeProblems.length, 2, readmeProblems.join('\n'));
    assert.match(readmeProblems[0] ?? '', /docs\/nowhere\.md: no such file/);
    assert.match(readmeProblems[1] ?? '', /has no heading #no-such-section/);
    pages['docs/reliability.md'] = '[x](monitoring.md#webexcdrdeadletters)\n';
    assert.match(
      brokenLinks(ROOT, 'docs/reliability.md', altered).join('\n'),
      /docs\/monitoring\.md has no heading #webexcdrdeadletters/,
    );
  });
});
