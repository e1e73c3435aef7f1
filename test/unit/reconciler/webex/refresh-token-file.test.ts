import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  createRefreshTokenStore,
  readRefreshTokenFile,
} from '../../../../src/reconciler/webex/refresh-token-file.ts';
import { recordingLogger } from '../../../helpers/logger.ts';
import { suiteTempDir } from '../../../helpers/temp.ts';

/** The recording logger, with its lines as JSON (lines without fields have none there). */
const textLogger = () => {
  const log = recordingLogger();
  return { ...log, text: () => JSON.stringify(log.lines) };
};

describe('refresh token file', () => {
  const dir = suiteTempDir('webex-refresh-');

  it('reads the token, and refuses a missing or empty file', async () => {
    const path = join(dir, 'refresh');
    await writeFile(path, '  refresh-1\n');
    assert.deepEqual(readRefreshTokenFile(path), { ok: true, token: 'refresh-1' });
    const missing = readRefreshTokenFile(join(dir, 'nope'));
    assert.equal(missing.ok, false);
    await writeFile(join(dir, 'empty'), '\n');
    const empty = readRefreshTokenFile(join(dir, 'empty'));
    assert.ok(!empty.ok && /empty/.test(empty.problem));
  });

  it('writes a rotated token back atomically, in order, leaving no temporary file', async () => {
    const path = join(dir, 'rotating');
    await writeFile(path, 'refresh-1\n');
    const log = textLogger();
    const store = createRefreshTokenStore({ path, logger: log.logger });
    store.onRotated('rotated-secret-2');
    store.onRotated('rotated-secret-3');
    await store.flush();
    assert.equal(await readFile(path, 'utf8'), 'rotated-secret-3\n');
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.includes('rotating')),
      ['rotating'],
    );
    assert.ok(!log.text().includes('rotated-secret'));
  });

  it('logs a failed write without the token, and keeps going', async () => {
    const log = textLogger();
    const store = createRefreshTokenStore({
      path: join(dir, 'no-such-dir', 'refresh'),
      logger: log.logger,
    });
    store.onRotated('refresh-secret-9');
    await store.flush();
    assert.equal(log.lines.filter((l) => l.level === 'error').length, 1);
    assert.ok(!log.text().includes('refresh-secret-9'));
  });

  it('without a file: one warning on the first rotation, never the token', () => {
    const log = textLogger();
    const store = createRefreshTokenStore({ logger: log.logger });
    store.onRotated('refresh-secret-2');
    store.onRotated('refresh-secret-3');
    const warnings = log.lines.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]?.msg ?? '', /WEBEX_REFRESH_TOKEN_FILE/);
    assert.ok(!log.text().includes('refresh-secret'));
  });
});
