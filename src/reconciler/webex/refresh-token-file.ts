/**
 * @module reconciler/webex/refresh-token-file
 * Webex may answer an OAuth refresh with a new refresh token and retire the
 * old one. With `WEBEX_REFRESH_TOKEN_FILE` the refresh token is read from that
 * file at start, and every rotated one is written back atomically (a temporary
 * file beside it, synced, then renamed over it), so a restart uses the newest.
 * Without the file, a warning is logged once when Webex rotates the token.
 * The token itself is never logged.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describe } from '../../errors.ts';
import type { Logger } from '../../log.ts';

export type RefreshTokenRead = { ok: true; token: string } | { ok: false; problem: string };

/** Reads the token (trimmed) and checks that a rotated one can be written back beside it. */
export const readRefreshTokenFile = (path: string): RefreshTokenRead => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { ok: false, problem: `cannot read ${path}: ${describe(e)}` };
  }
  const token = text.trim();
  if (token === '') return { ok: false, problem: `${path} is empty` };
  try {
    accessSync(dirname(path), constants.W_OK);
  } catch {
    return {
      ok: false,
      problem: `the directory of ${path} is not writable (rotated refresh tokens are written back there)`,
    };
  }
  return { ok: true, token };
};

/** Replaces `path` with `text` atomically: a temporary file in the same directory, synced, renamed. */
export const writeFileAtomically = async (path: string, text: string): Promise<void> => {
  const temp = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw e;
  }
};

export type RefreshTokenStore = {
  /** For the Webex client's `onRefreshTokenRotated`. */
  onRotated(refreshToken: string): void;
  /** Resolves when every rotated token handed over so far is written (or failed). */
  flush(): Promise<void>;
};

export const createRefreshTokenStore = (options: {
  path?: string | undefined;
  logger: Logger;
}): RefreshTokenStore => {
  const { path, logger } = options;
  let writes: Promise<void> = Promise.resolve();
  let warned = false;
  return {
    onRotated(refreshToken) {
      if (path === undefined) {
        if (!warned) {
          warned = true;
          logger.warn(
            'webex rotated the OAuth refresh token; the new one is kept in memory only and is lost on restart: set WEBEX_REFRESH_TOKEN_FILE to keep it',
          );
        }
        return;
      }
      writes = writes.then(async () => {
        try {
          await writeFileAtomically(path, `${refreshToken}\n`);
          logger.info('webex rotated the OAuth refresh token; saved', { path });
        } catch (e) {
          logger.error('webex rotated the OAuth refresh token but it could not be saved', {
            path,
            error: describe(e),
          });
        }
      });
    },
    flush: () => writes,
  };
};
