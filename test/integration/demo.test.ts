/**
 * `npm run demo` as a user runs it: a child process on the test stack (local or
 * testcontainers: its brokers and registry given as KAFKA_BROKERS and SCHEMA_REGISTRY_URL).
 *   - a whole run ends with the COMPLETE verdict and exit code 0, and its
 *     periodic status lines (stdout is not a terminal) show records from both
 *     sources and the dead letter, read from the topics;
 *   - SIGINT in the middle of the deliveries stops it: exit 130, its ports
 *     closed, none of its child processes left, the stack it did not start
 *     left running;
 *   - KAFKA_BROKERS without SCHEMA_REGISTRY_URL is refused, saying what to set;
 *   - SIGTERM once it has started a stack of its own (another STACK_DIR and
 *     ports) stops that stack too: exit 143, both JVMs gone, their ports closed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  APICURIO_VERSION,
  KAFKA_VERSION,
  portOpen,
  stackSettings,
} from '../../tools/stack/stack.ts';
import { topicSize, uniqueTopic } from './helpers/kafka.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const DEMO = fileURLToPath(new URL('../../tools/demo.ts', import.meta.url));

/** Pids whose parent is `pid`, from /proc. */
const childrenOf = (pid: number): number[] => {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const runDemo = (env: Record<string, string | undefined>) => {
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', DEMO], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream].on('data', (d) => {
      output[stream] += d;
    });
  }
  // Every process the demo ever had as a child, sampled while it runs.
  const children = new Set<number>();
  const sampler = setInterval(() => {
    if (child.pid !== undefined) for (const c of childrenOf(child.pid)) children.add(c);
  }, 200);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      clearInterval(sampler);
      resolve({ code, signal });
    }),
  );
  const waitFor = async (pattern: RegExp, ms: number): Promise<RegExpMatchArray> => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const m = output.stdout.match(pattern);
      if (m) return m;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`demo output never matched ${pattern}:\n${output.stdout}\n${output.stderr}`);
  };
  /** The exit, or within `ms` a SIGKILL and a failure showing what the demo printed. */
  const ended = async (ms: number) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new Error(
            `the demo did not end within ${ms / 1000} s:\n${output.stdout}\n${output.stderr}`,
          ),
        );
      }, ms);
    });
    try {
      return await Promise.race([exited, late]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    child,
    exited,
    ended,
    children,
    waitFor,
    out: () => output.stdout,
    err: () => output.stderr,
  };
};

const portOf = (out: string, what: string): number => {
  const m = out.match(new RegExp(`^${what} port (\\d+)$`, 'm'));
  assert.ok(m?.[1], `the demo printed its ${what} port`);
  return Number(m[1]);
};

describe('npm run demo', () => {
  let stack: TestStack;
  /** The test stack, given to the demo: it uses it as it is and leaves it running. */
  let given: Record<string, string>;
  before(async () => {
    stack = await getStack();
    given = { KAFKA_BROKERS: stack.brokers.join(','), SCHEMA_REGISTRY_URL: stack.registryUrl };
  });
  after(async () => {
    await stack.close();
  });

  test('a whole run: live status from the topics, COMPLETE verdict, exit 0', {
    timeout: 300_000,
  }, async () => {
    const demo = runDemo(given);
    const { code } = await demo.ended(240_000);
    const out = demo.out();
    assert.equal(code, 0, `${out}\n${demo.err()}`);
    const verdict = out.match(/^VERDICT: COMPLETE: all (\d+) records the Webex stand-in/m);
    assert.ok(verdict, out);
    assert.ok(Number(verdict[1]) > 50);
    assert.match(
      out,
      /Kafka and registry of KAFKA_BROKERS and SCHEMA_REGISTRY_URL: used as they are/,
    );
    assert.match(out, new RegExp(`^KAFKA_BROKERS=${given.KAFKA_BROKERS} `, 'm'));
    // The topic it names is on the test stack's broker, with every record.
    const topic = out.match(/^== 5\. (\S+): (\d+) records, (\d+) distinct Report IDs/m);
    assert.ok(topic?.[1] && topic[2] && topic[3], out);
    assert.equal(await topicSize(stack.brokers, topic[1]), Number(topic[2]));
    // Each record once (issue 14): the stand-in repeats 10 % of its deliveries, and
    // the ingress drops the repeats against the topic (before: 212 records for 180).
    assert.equal(Number(topic[2]), Number(topic[3]), 'no Report ID twice on the topic');
    // Status lines: records from both sources on the topic, the one dead letter, the run's result.
    const last = out
      .split('\n')
      .filter((l) => l.includes('on the topic'))
      .at(-1);
    assert.ok(last, 'periodic status lines are printed');
    const sources = last.match(/webhook (\d+), reconciler (\d+); (\d+) distinct/);
    assert.ok(sources, last);
    assert.ok(Number(sources[1]) > 0 && Number(sources[2]) > 0, last);
    assert.equal(Number(sources[3]), Number(verdict[1]));
    assert.match(last, /dead letters {2}1 /);
    assert.match(last, /\d+ lost on the way/);
    assert.match(last, /1 HTTP 401/);
    assert.match(last, /still missing 0, errors 0/);
    assert.ok(!(await portOpen(portOf(out, 'ingress'))), 'ingress port closed');
    assert.ok(!(await portOpen(portOf(out, 'partner API stand-in'))), 'stand-in port closed');
  });

  test('SIGINT while deliveries are sent: exit 130, nothing of it left running', {
    timeout: 300_000,
  }, async () => {
    const demo = runDemo(given);
    await demo.waitFor(/^\[\d+s\] Webex stand-in: sending deliveries/m, 120_000);
    const out = demo.out();
    const ports = [portOf(out, 'ingress'), portOf(out, 'partner API stand-in')];
    for (const p of ports) assert.ok(await portOpen(p), `port ${p} open while running`);
    demo.child.kill('SIGINT');
    const { code } = await demo.exited;
    assert.equal(code, 130, demo.out());
    assert.match(demo.out(), /stopped \(SIGINT\): ingress, reconciler and Webex stand-in closed/);
    assert.doesNotMatch(demo.out(), /VERDICT/);
    for (const p of ports) assert.ok(!(await portOpen(p)), `port ${p} closed after exit`);
    assert.ok(demo.child.pid !== undefined && !alive(demo.child.pid));
    for (const pid of demo.children) assert.ok(!alive(pid), `child ${pid} left running`);
    // It did not start the stack, so it leaves it running: the broker and the registry answer.
    assert.ok((await topicSize(stack.brokers, uniqueTopic('demo-absent'))) === 0);
    assert.equal((await fetch(`${stack.registryUrl}/subjects`)).status, 200);
  });

  test('KAFKA_BROKERS without SCHEMA_REGISTRY_URL: refused, saying what to set', async () => {
    const demo = runDemo({ KAFKA_BROKERS: given.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: '' });
    const { code } = await demo.exited;
    assert.equal(code, 1, demo.out());
    assert.match(demo.err(), /KAFKA_BROKERS is set without SCHEMA_REGISTRY_URL: set both/);
    assert.doesNotMatch(demo.err(), /\n\s+at /, 'no stack trace');
    assert.doesNotMatch(demo.out(), /== 1\./);
  });

  test('SIGTERM after it started a stack of its own: that stack is stopped too', {
    timeout: 300_000,
  }, async () => {
    // Another stack directory, sharing the downloaded jars, on ports next to the shared stack's.
    const shared = stackSettings();
    const dir = mkdtempSync(join(tmpdir(), 'demo-stack-'));
    mkdirSync(join(dir, 'kafka'));
    mkdirSync(join(dir, 'registry'));
    symlinkSync(
      join(shared.dir, 'kafka', `lib-${KAFKA_VERSION}`),
      join(dir, 'kafka', `lib-${KAFKA_VERSION}`),
    );
    symlinkSync(
      join(shared.dir, 'registry', `app-${APICURIO_VERSION}`),
      join(dir, 'registry', `app-${APICURIO_VERSION}`),
    );
    const base = shared.kafkaPort + 8;
    const env = {
      STACK_DIR: dir,
      STACK_KAFKA_PORT: String(base),
      STACK_CONTROLLER_PORT: String(base + 1),
      STACK_REGISTRY_PORT: String(base + 2),
      STACK_SASL_PORT: String(base + 3),
      KAFKA_BROKERS: undefined, // not a stack given from outside: the demo starts its own
      SCHEMA_REGISTRY_URL: undefined,
    };
    try {
      const demo = runDemo(env);
      await demo.waitFor(/^ingress port \d+$/m, 180_000);
      const pids = demo
        .out()
        .match(/^stack pids: kafka (\d+), registry (\d+) \(started by the demo\)$/m);
      assert.ok(pids, demo.out());
      const jvms = [Number(pids[1]), Number(pids[2])];
      for (const pid of jvms) assert.ok(alive(pid));
      demo.child.kill('SIGTERM');
      const { code } = await demo.exited;
      assert.equal(code, 143, `${demo.out()}\n${demo.err()}`);
      assert.match(demo.out(), /the stack the demo started is stopped/);
      for (const pid of jvms) assert.ok(!alive(pid), `JVM ${pid} left running`);
      for (const pid of demo.children) assert.ok(!alive(pid), `child ${pid} left running`);
      for (const p of [base, base + 2]) assert.ok(!(await portOpen(p)), `port ${p} closed`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
