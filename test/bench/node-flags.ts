/**
 * The node flags the CLI ships with: those in the shebang of src/bin.ts, the
 * executable (what `npx webex-cdr-kafka` runs with; the Dockerfile's ENTRYPOINT repeats them,
 * test/unit/node-flags.test.ts checks that). The benchmarks run the measured
 * processes with them, so the figures are those of the shipped defaults.
 */
import { readFileSync } from 'node:fs';

export const BIN_PATH = new URL('../../src/bin.ts', import.meta.url);

export const shippedNodeFlags = (): string[] => {
  const first = readFileSync(BIN_PATH, 'utf8').split('\n', 1)[0] ?? '';
  return first.split(' ').filter((w) => w.startsWith('--'));
};
