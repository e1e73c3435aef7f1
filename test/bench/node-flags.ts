/**
 * The node flags the CLI ships with: those in the shebang of src/cli.ts (what
 * `npx webex-cdr-kafka` runs with; the Dockerfile's ENTRYPOINT repeats them,
 * test/unit/node-flags.test.ts checks that). The benchmarks run the measured
 * processes with them, so the figures are those of the shipped defaults.
 */
import { readFileSync } from 'node:fs';

export const CLI_PATH = new URL('../../src/cli.ts', import.meta.url);

export const shippedNodeFlags = (): string[] => {
  const first = readFileSync(CLI_PATH, 'utf8').split('\n', 1)[0] ?? '';
  return first.split(' ').filter((w) => w.startsWith('--'));
};
