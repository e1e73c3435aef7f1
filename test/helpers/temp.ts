/** Temporary directories for unit tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/**
 * A fresh directory under the OS's temporary one for the suite (`describe`)
 * this is called in, removed with its contents after the suite's tests.
 */
export const suiteTempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
