/**
 * A Python venv with confluent-kafka (Avro + schema registry) from PyPI,
 * created once and cached under .stack/, for tests that read our topics with
 * clients nobody on this project wrote.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stackSettings } from '../../../tools/stack/stack.ts';

const run = promisify(execFile);
const VENV = join(stackSettings().dir, 'python-venv');
const PIP_SPEC = 'confluent-kafka[avro,schemaregistry]==2.16.0';

/** The venv's python, installing it the first time. */
export const python = async (): Promise<string> => {
  const bin = join(VENV, 'bin', 'python');
  const marker = join(VENV, '.installed');
  if (!existsSync(marker)) {
    await run('python3', ['-m', 'venv', VENV]);
    await run(bin, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', PIP_SPEC], {
      maxBuffer: 16 * 1024 * 1024,
    });
    await run('touch', [marker]);
  }
  return bin;
};
