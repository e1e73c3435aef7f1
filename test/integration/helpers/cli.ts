/** The command line (`src/cli.ts`) run as a child process, as deployments run it. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../../src/cli.ts', import.meta.url));

/** Runs the CLI with exactly `env` (plus PATH); its output is collected as it comes. */
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
