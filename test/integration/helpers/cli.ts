/** The `webex-cdr-kafka` command line as a child process, its output collected. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../../src/cli.ts', import.meta.url));

export type CliRun = ReturnType<typeof runCli>;

/** Starts the CLI with `args` and only `env` (plus PATH). */
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
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, exited, out: () => stdout, err: () => stderr };
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
