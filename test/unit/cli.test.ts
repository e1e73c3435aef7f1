/**
 * The command line without Kafka: every subcommand's `--help` prints its
 * usage, exit 0, with no settings at all (nothing is started); `--version`;
 * and the executable (src/bin.ts, built as dist/bin.js) on the machine's
 * /usr/bin/node, Node 20 here and in CI: one line saying which Node is
 * needed, exit code 2, where the CLI used to crash with a raw SyntaxError.
 * On Node 24 the shebang's V8 flags reach the process that runs the CLI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { nodeVersionProblem, REQUIRED_NODE_MAJOR } from '../../src/node-version.ts';
import { shippedNodeFlags } from '../bench/node-flags.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'src/cli.ts');
const OLD_NODE = '/usr/bin/node';
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  engines: { node: string };
};

const run = (args: string[]) =>
  spawnSync(process.execPath, ['--disable-warning=TimeoutNegativeWarning', CLI, ...args], {
    env: { PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
    timeout: 60_000,
  });

describe('--help and --version', () => {
  for (const command of ['ingress', 'reconcile', 'simulate', 'tail', 'schema', 'config']) {
    it(`${command} --help prints its usage and starts nothing, without any setting`, () => {
      // -h too, for a few (each run loads the whole CLI)
      for (const flag of ['ingress', 'tail'].includes(command) ? ['--help', '-h'] : ['--help']) {
        const r = run([command, flag]);
        assert.equal(r.status, 0, `${command} ${flag}: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`^usage: webex-cdr-kafka ${command}`), r.stdout);
        assert.equal(r.stderr, '');
      }
    });
  }

  it('the local stack is a developer tool: not a command of the CLI, its own --help', () => {
    const r = run(['stack', '--help']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^unknown command "stack"/);
    for (const flag of ['--help', '-h']) {
      const tool = spawnSync(process.execPath, [join(ROOT, 'tools/stack/cli.ts'), flag], {
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(tool.status, 0, `stack ${flag}: ${tool.stderr}`);
      assert.match(tool.stdout, /^usage: npm run stack -- up\|down\|status/, tool.stdout);
      assert.equal(tool.stderr, '');
    }
  });

  it('help <command> is the same as <command> --help; --version prints the version', () => {
    assert.equal(run(['help', 'tail']).stdout, run(['tail', '--help']).stdout);
    assert.equal(run(['config', 'check', '--help']).stdout, run(['help', 'config']).stdout);
    const v = run(['--version']);
    assert.equal(v.status, 0);
    assert.equal(v.stdout, `${pkg.version}\n`);
  });
});

describe('what ships: the product without the developer tools', () => {
  it('nothing under src/ imports tools/ (the local stack, the demo)', () => {
    const sources = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.ts'),
    );
    assert.ok(sources.length > 10, 'the sources are found');
    for (const file of sources) {
      const text = readFileSync(join(ROOT, 'src', file), 'utf8');
      assert.doesNotMatch(text, /from '(\.\.\/)+tools\/|import\('(\.\.\/)+tools\//, file);
    }
  });

  it('the image copies only package*.json, tsconfig*.json, src/ and schemas/; tools/ is ignored', () => {
    const copied = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    assert.deepEqual([...new Set(copied)].sort(), [
      'package-lock.json',
      'package.json',
      'schemas',
      'src',
      'tsconfig.build.json',
      'tsconfig.json',
    ]);
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    assert.ok(ignored.includes('tools'), '.dockerignore lists tools');
    const build = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    assert.deepEqual(build.include, ['src']);
  });
});

describe('the Node version', () => {
  it('needs Node 24: says so in one line, with how to get it', () => {
    for (const old of ['20.20.2', 'v18.19.1', '23.11.0', '22.15.0']) {
      const p = nodeVersionProblem(old, '/usr/bin/node');
      assert.ok(p !== undefined, old);
      assert.equal(p.includes('\n'), false);
      assert.match(p, /needs Node\.js 24 or later/);
      assert.ok(p.includes(old) && p.includes('/usr/bin/node'), p);
      assert.match(p, /npx webex-cdr-kafka/);
      assert.match(p, /nvm install 24/);
    }
    for (const ok of ['24.0.0', '24.21.0', '25.2.1', 'v26.0.0']) {
      assert.equal(nodeVersionProblem(ok, '/x/node'), undefined, ok);
    }
  });

  it('agrees with package.json "engines" and "bin", .node-version and the Dockerfile', () => {
    assert.equal(REQUIRED_NODE_MAJOR, 24);
    assert.equal(pkg.engines.node, `>=${REQUIRED_NODE_MAJOR}`);
    assert.equal(readFileSync(join(ROOT, '.node-version'), 'utf8').trim(), '24');
    assert.deepEqual(pkg.bin, { 'webex-cdr-kafka': 'dist/bin.js' });
    assert.match(
      readFileSync(join(ROOT, 'Dockerfile'), 'utf8'),
      /^ENTRYPOINT \[.*"dist\/bin\.js"\]$/m,
    );
  });

  describe('the executable, built as tsc builds it', () => {
    let dir: string;
    before(() => {
      // src/bin.ts and src/node-version.ts compiled with tsconfig.build.json's options,
      // and in place of the CLI a stand-in that prints the flags its Node runs with.
      dir = mkdtempSync(join(tmpdir(), 'bin-'));
      const config = ts.getParsedCommandLineOfConfigFile(
        join(ROOT, 'tsconfig.build.json'),
        {},
        {
          ...ts.sys,
          onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)),
        },
      );
      assert.ok(config !== undefined);
      for (const name of ['bin', 'node-version']) {
        const source = readFileSync(join(ROOT, 'src', `${name}.ts`), 'utf8');
        const out = ts.transpileModule(source, {
          compilerOptions: config.options,
          // .mts: ESM, as package.json's "type": "module" makes it for tsc
          fileName: `${name}.mts`,
        });
        writeFileSync(join(dir, `${name}.js`), out.outputText);
      }
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
      writeFileSync(
        join(dir, 'cli.js'),
        'console.log(JSON.stringify({ version: process.version, execArgv: process.execArgv }));\n',
      );
      chmodSync(join(dir, 'bin.js'), 0o755);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it(`on ${OLD_NODE} (Node 20): one line naming the Node needed, exit code 2`, () => {
      const version = spawnSync(OLD_NODE, ['--version'], { encoding: 'utf8' }).stdout.trim();
      assert.ok(Number(version.slice(1).split('.')[0]) < 24, `${OLD_NODE} is ${version}`);
      const viaNode = spawnSync(OLD_NODE, [join(dir, 'bin.js'), 'ingress'], { encoding: 'utf8' });
      // and through the shebang, with that Node first on PATH (a global install, `./dist/bin.js`)
      const viaShebang = spawnSync(join(dir, 'bin.js'), ['ingress'], {
        encoding: 'utf8',
        env: { PATH: `${dirname(OLD_NODE)}:/bin` },
      });
      for (const r of [viaNode, viaShebang]) {
        assert.equal(r.status, 2, r.stderr);
        assert.equal(r.stdout, '', 'the CLI was not loaded');
        const lines = r.stderr.split('\n').filter((l) => l !== '');
        assert.equal(lines.length, 1, r.stderr);
        assert.match(
          lines[0] ?? '',
          new RegExp(`needs Node\\.js 24 or later, not ${version.slice(1)}`),
        );
      }
    });

    it('on Node 24 it loads the CLI, with the V8 flags of its shebang', () => {
      const r = spawnSync(join(dir, 'bin.js'), [], {
        encoding: 'utf8',
        env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` },
      });
      assert.equal(r.status, 0, r.stderr);
      const seen = JSON.parse(r.stdout) as { version: string; execArgv: string[] };
      assert.equal(seen.version, process.version);
      assert.deepEqual(seen.execArgv, shippedNodeFlags());
      assert.ok(seen.execArgv.includes('--max-semi-space-size=8'));
    });
  });
});
