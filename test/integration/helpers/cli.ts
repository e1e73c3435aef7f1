/** The `webex-cdr-kafka` command run as a child process, its output collected. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onEnd, type TestScope } from './scope.ts';

export const CLI = fileURLToPath(new URL('../../../src/cli.ts', import.meta.url));

export type CliRun = ReturnType<typeof runCli>;

/**
 * Runs the CLI with only PATH and `env` in its environment, stdout and stderr
 * as pipes. `until(re)` resolves once stdout + stderr match, `until(n)` once
 * stdout holds n lines (both reject if the child exits first).
 */
export const runCli = (args: string[], env: Record<string, string>) => {
  const child = spawn(
    process.execPath,
    ['--disable-warning=TimeoutNegativeWarning', CLI, ...args],
    {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const check = () => {
    for (const w of waiters) w();
  };
  child.stdout.on('data', (d) => {
    stdout += d;
    check();
  });
  child.stderr.on('data', (d) => {
    stderr += d;
    check();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const lines = () => stdout.split('\n').length - 1;
  const until = (what: RegExp | number) =>
    new Promise<void>((resolve, reject) => {
      const w = () => {
        if (typeof what === 'number' ? lines() >= what : what.test(stdout + stderr)) {
          waiters.delete(w);
          resolve();
        }
      };
      waiters.add(w);
      w();
      void exited.then(() => {
        if (!waiters.has(w)) return;
        w();
        waiters.delete(w);
        reject(new Error(`exited before ${what}: ${stderr}`));
      });
    });
  return { child, exited, out: () => stdout, err: () => stderr, until };
};

/**
 * `runCli` for a process that runs until it is stopped (`ingress`, `tail
 * --follow`): when the test `t` ends, one still running gets SIGTERM, and
 * SIGKILL if it has not exited 10 s later.
 */
export const startCli = (t: TestScope, args: string[], env: Record<string, string>): CliRun => {
  const p = runCli(args, env);
  onEnd(t, async () => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill('SIGTERM');
    if ((await exitWithin(p, 10_000)) === 'hung') await p.exited;
  });
  return p;
};

/**
 * The exit code, or 'hung' after `ms` (the child is then killed): a test of a
 * bounded wait fails instead of waiting for ever.
 */
export const exitWithin = async (p: CliRun, ms: number): Promise<number | null | 'hung'> => {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      resolve('hung');
    }, ms);
  });
  try {
    return await Promise.race([p.exited, hung]);
  } finally {
    clearTimeout(timer);
  }
};
