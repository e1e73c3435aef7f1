/**
 * docs/going-live.md against the code: its env files pass `webex-cdr-kafka
 * config check` (run for real, their `*_FILE` paths swapped for files made
 * here); every `webex-cdr-kafka ...` command in it names a command of the CLI
 * and only flags that command's usage lists; its times parse, and a
 * `reconcile --once` range is one a run may ask Webex about; a `tail --topic`
 * is a topic of those settings; every setting name it mentions exists; its
 * links lead to files and sections (README, docs/*.md) that exist; the README links it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { plannableRange } from '../../src/reconciler/plan.ts';
import { parseIngressConfig, parseReconcilerConfig, SETTINGS } from '../../src/settings.ts';
import { parseTimeArg } from '../../src/time-arg.ts';
import { brokenLinks } from '../helpers/markdown.ts';
import { readText } from '../helpers/monitoring.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GUIDE = 'docs/going-live.md';
const guide = readText(GUIDE);

const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(
    process.execPath,
    ['--disable-warning=TimeoutNegativeWarning', join(ROOT, 'src/cli.ts'), ...args],
    { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 60_000 },
  );

/** The fenced blocks of a language, with their text. */
const blocks = (lang: string) =>
  [...guide.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)]
    .filter((m) => m[1] === lang)
    .map((m) => m[2] ?? '');

const dir = mkdtempSync(join(tmpdir(), 'going-live-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The env file whose first line is `# <name>`, with each `*_FILE` pointing at a real file. */
const envFile = (name: string): Record<string, string> => {
  const block = blocks('sh').find((b) => b.startsWith(`# ${name}\n`));
  assert.ok(block, `${GUIDE} has the env file ${name}`);
  const env: Record<string, string> = {};
  for (const line of block.split('\n').slice(1)) {
    if (line.trim() === '') continue;
    const m = /^([A-Z][A-Z0-9_]*)=(\S+)$/.exec(line);
    assert.ok(m?.[1] && m[2], `${name}: not NAME=value: ${line}`);
    env[m[1]] = m[2];
    if (m[1].endsWith('_FILE')) {
      const file = join(dir, m[1]);
      writeFileSync(file, 'a-placeholder-of-32-characters-0123456789\n');
      env[m[1]] = file;
    }
  }
  return env;
};

/** `webex-cdr-kafka ...` in the guide's shell blocks and inline code, as argument lists. */
const commands = (): string[][] => {
  const lines = [
    ...blocks('sh').flatMap((b) => b.split('\n')),
    ...[...guide.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? ''),
  ];
  return lines
    .map(
      (l) =>
        /^(?:npx )?webex-cdr-kafka((?: +[^\s#]+)+)$/.exec(l.trim().replace(/\s+#.*$/, ''))?.[1],
    )
    .filter((args): args is string => args !== undefined)
    .map((args) => args.trim().split(/ +/).filter(Boolean));
};

describe(GUIDE, () => {
  const ingressEnv = envFile('ingress.env');
  const reconcilerEnv = envFile('reconciler.env');

  it('its env files pass `webex-cdr-kafka config check`, run for real', () => {
    for (const [which, env] of [
      ['ingress', ingressEnv],
      ['reconcile', reconcilerEnv],
    ] as const) {
      const r = cli(['config', 'check', which], env);
      assert.equal(r.status, 0, `${which}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^${which}: valid`));
    }
  });

  it('every command is a command of the CLI, with flags its usage lists', () => {
    const all = commands();
    assert.ok(all.length >= 6, `found ${all.length} commands`);
    const top = cli(['--help']).stdout;
    const known = new Set(
      [...(top.split('commands:')[1]?.split('options:')[0] ?? '').matchAll(/^ {2}(\S+)/gm)].map(
        (m) => m[1],
      ),
    );
    assert.ok(known.has('reconcile') && known.has('ingress'), top);
    const usage = new Map<string, string>();
    for (const args of all) {
      const [command = '', ...rest] = args;
      assert.ok(known.has(command), `webex-cdr-kafka ${args.join(' ')}: no command ${command}`);
      const text = usage.get(command) ?? cli([command, '--help']).stdout;
      usage.set(command, text);
      for (const flag of rest.filter((a) => a.startsWith('-') && !/^-\d/.test(a))) {
        assert.ok(
          text.includes(flag),
          `webex-cdr-kafka ${args.join(' ')}: ${flag} is not in its usage`,
        );
      }
      if (command === 'config') {
        assert.equal(rest[0], 'check', args.join(' '));
        assert.ok(['ingress', 'reconcile', undefined].includes(rest[1]), args.join(' '));
      }
    }
  });

  it('times parse; a --once range is one a run may ask Webex about; tail reads a topic of the settings', () => {
    const now = Date.now();
    const reconciler = parseReconcilerConfig(reconcilerEnv);
    const ingress = parseIngressConfig(ingressEnv);
    assert.ok(reconciler.ok && ingress.ok);
    const allowed = plannableRange({ now, ...reconciler.config });
    const value = (args: string[], flag: string) => {
      const i = args.indexOf(flag);
      return i < 0 ? undefined : args[i + 1];
    };
    let ranges = 0;
    for (const args of commands()) {
      const time = (flag: string) => {
        const v = value(args, flag);
        if (v === undefined) return undefined;
        const t = parseTimeArg(v, { now, bareDuration: flag === '--since' });
        assert.ok(t.ok, `webex-cdr-kafka ${args.join(' ')}: ${flag} ${v}`);
        return t.value;
      };
      const from = time('--from');
      const to = time('--to');
      time('--since');
      if (args[0] === 'reconcile' && (from !== undefined || to !== undefined)) {
        ranges += 1;
        assert.ok(args.includes('--once'), args.join(' '));
        assert.ok(from !== undefined && from >= allowed.from && from < (to ?? allowed.to));
        assert.ok(to === undefined || to <= allowed.to, args.join(' '));
      }
      const topic = value(args, '--topic');
      if (topic !== undefined) {
        assert.ok([ingress.config.topic, ingress.config.dlqTopic].includes(topic), topic);
      }
    }
    assert.ok(ranges > 0, 'the first reconcile --once with a range is there');
  });

  it('names only settings that exist', () => {
    const names = new Set(
      [...guide.matchAll(/\b[A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+\b/g)].map((m) => m[0]),
    );
    assert.ok(names.size > 10);
    for (const n of names) assert.ok(SETTINGS.includes(n), `${n} is not a setting`);
  });

  it('its links lead to files and sections that exist; the README links it', () => {
    assert.ok([...guide.matchAll(/\]\(([^)\s]+)\)/g)].length > 3);
    assert.deepEqual(brokenLinks(ROOT, GUIDE), []);
    assert.ok(readText('README.md').includes(`](${GUIDE})`), 'the README links the guide');
  });
});
