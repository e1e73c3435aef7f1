/**
 * The CI step that builds and runs the image (.ci/docker-smoke, docs/operations.md "In a container"):
 * CI calls it and requires Docker there; a dockerd it starts never gets a bridge network;
 * every build and container it runs is on the host network; and without Docker it says
 * so and is skipped, unless REQUIRE_DOCKER=1 makes that a failure. The step itself runs
 * in .ci/run (a real engine, the real image); this test needs no Docker.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

describe('CI builds and runs the image (.ci/docker-smoke)', () => {
  it('.ci/run calls it after npm test, with Docker required', () => {
    const lines = read('.ci/run').split('\n');
    const test = lines.findIndex((l) => l.trim() === 'npm test');
    const smoke = lines.findIndex((l) => /^REQUIRE_DOCKER=1 .*\.ci\/docker-smoke$/.test(l));
    assert.ok(test >= 0 && smoke > test, 'REQUIRE_DOCKER=1 ... .ci/docker-smoke after npm test');
  });

  it('.ci/run brings compose up after the smoke test and the compose plugin, with Docker required', () => {
    const lines = read('.ci/run').split('\n');
    const smoke = lines.findIndex((l) => /^REQUIRE_DOCKER=1 .*\.ci\/docker-smoke$/.test(l));
    const plugin = lines.findIndex((l) => /\.ci\/go-tool .*cli-plugins\/docker-compose/.test(l));
    const up = lines.findIndex((l) => /^REQUIRE_DOCKER=1 .*\.ci\/compose-up$/.test(l));
    assert.ok(smoke >= 0 && plugin > smoke && up > plugin, 'REQUIRE_DOCKER=1 .ci/compose-up last');
  });

  it('.ci/run runs the integration tests under testcontainers after compose, with Docker required', () => {
    const lines = read('.ci/run').split('\n');
    const up = lines.findIndex((l) => /^REQUIRE_DOCKER=1 .*\.ci\/compose-up$/.test(l));
    const tc = lines.findIndex((l) => /^REQUIRE_DOCKER=1 .*\.ci\/testcontainers$/.test(l));
    assert.ok(up >= 0 && tc > up, 'REQUIRE_DOCKER=1 .ci/testcontainers after .ci/compose-up');
    // every integration file but the SASL one (the local stack's alone), the helper's images
    const script = read('.ci/testcontainers');
    assert.match(script, /TEST_STACK=testcontainers TESTCONTAINERS_NETWORK=host/);
    assert.match(script, /== test\/integration\/security\.test\.ts \]\] \|\| files\+=/);
    assert.match(script, /^standin_images "\$\{KAFKA_IMAGE\}" "\$\{REGISTRY_IMAGE\}"$/m);
    // CI's default set: files that exist, with the fault test and the files issue 16 named
    const set = /^CI_FILES=\(([^)]*)\)$/m.exec(script)?.[1]?.split(' ') ?? [];
    for (const name of ['stack-faults', 'unavailable', 'demo', 'bench-smoke', 'examples-python']) {
      assert.ok(set.includes(name), `${name} in CI_FILES`);
    }
    for (const name of set) read(`test/integration/${name}.test.ts`); // throws when missing
  });

  it('both steps start the engine the same way (.ci/docker-engine)', () => {
    for (const file of ['.ci/docker-smoke', '.ci/compose-up', '.ci/testcontainers']) {
      const lines = read(file).split('\n');
      const lib = lines.findIndex((l) => l.trim() === '. .ci/docker-engine');
      assert.ok(lib >= 0 && lines[lib + 1]?.trim() === 'engine_up', file);
      assert.doesNotMatch(
        read(file),
        /^\s*(setsid )?dockerd /m,
        `${file} starts no dockerd of its own`,
      );
    }
  });

  it('starts dockerd only with no bridge, no iptables, no forwarding, no NAT, no proxy', () => {
    const script = read('.ci/docker-engine');
    const want = /^\s*want='(\{.*\})'$/m.exec(script)?.[1];
    assert.ok(want !== undefined, 'the daemon.json it writes');
    assert.deepEqual(JSON.parse(want), {
      bridge: 'none',
      iptables: false,
      ip6tables: false,
      'ip-forward': false,
      'ip-masq': false,
      'userland-proxy': false,
    });
    const starts = script.split('\n').filter((l) => /^\s*(setsid )?dockerd /.test(l));
    assert.ok(starts.length > 0);
    for (const l of starts) assert.match(l, /--config-file "\$\{DAEMON_JSON\}"/);
    // the network check follows the start, and fails the step
    assert.match(script, /only_host_and_none \|\| fail/);
  });

  it('runs every build and container on the host network', () => {
    const counted: Record<string, number> = {};
    for (const file of [
      '.ci/docker-engine',
      '.ci/docker-smoke',
      '.ci/docker-smoke-run',
      '.ci/compose-up',
      '.ci/testcontainers',
    ]) {
      // a command continues on the next line after a trailing backslash
      const commands = read(file).replace(/\\\n/g, ' ').split('\n');
      const runs = commands.filter((l) => /(^|[|&;(]|\$\()\s*docker (run|build)\b/.test(l));
      counted[file] = runs.length;
      for (const l of runs) assert.match(l, /--network host/, `${file}: ${l.trim()}`);
    }
    // the base images' and the stand-ins' builds (.ci/docker-engine), the project image's, the smoke runs
    assert.ok((counted['.ci/docker-engine'] ?? 0) >= 3, JSON.stringify(counted));
    assert.ok((counted['.ci/docker-smoke'] ?? 0) >= 1, JSON.stringify(counted));
    assert.ok((counted['.ci/docker-smoke-run'] ?? 0) >= 1, JSON.stringify(counted));
  });

  // A PATH without docker, as on a laptop without it.
  const withoutDocker = (env: Record<string, string>, script = '.ci/docker-smoke') => {
    const bin = mkdtempSync(join(tmpdir(), 'no-docker-'));
    try {
      for (const tool of ['bash', 'mktemp', 'rm', 'awk', 'dirname', 'id']) {
        const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
        symlinkSync(found.stdout.trim(), join(bin, tool));
      }
      return spawnSync(join(root, script), {
        cwd: root,
        encoding: 'utf8',
        env: { PATH: bin, ...env },
        timeout: 30_000,
      });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  };

  it('without Docker: says so and is skipped (exit 0)', () => {
    const r = withoutDocker({});
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /docker-smoke: SKIPPED: no docker CLI .*REQUIRE_DOCKER=1/);
  });

  it('without Docker but REQUIRE_DOCKER=1 (CI): fails (exit 1), saying why', () => {
    const r = withoutDocker({ REQUIRE_DOCKER: '1' });
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /docker-smoke: FAILED: no docker CLI \(REQUIRE_DOCKER=1/);
  });

  it('testcontainers without Docker: skipped (exit 0), or a failure with REQUIRE_DOCKER=1', () => {
    const skipped = withoutDocker({}, '.ci/testcontainers');
    assert.equal(skipped.status, 0, skipped.stderr);
    assert.match(
      skipped.stdout,
      /testcontainers: SKIPPED: no docker CLI \(the integration tests do not run under testcontainers;/,
    );
    const failed = withoutDocker({ REQUIRE_DOCKER: '1' }, '.ci/testcontainers');
    assert.equal(failed.status, 1, failed.stdout);
    assert.match(failed.stderr, /testcontainers: FAILED: no docker CLI \(REQUIRE_DOCKER=1/);
  });

  it('compose-up without Docker: skipped (exit 0), or a failure with REQUIRE_DOCKER=1', () => {
    const skipped = withoutDocker({}, '.ci/compose-up');
    assert.equal(skipped.status, 0, skipped.stderr);
    assert.match(skipped.stdout, /compose-up: SKIPPED: no docker CLI \(compose is not brought up;/);
    const failed = withoutDocker({ REQUIRE_DOCKER: '1' }, '.ci/compose-up');
    assert.equal(failed.status, 1, failed.stdout);
    assert.match(failed.stderr, /compose-up: FAILED: no docker CLI \(REQUIRE_DOCKER=1/);
  });
});
