/**
 * @module reconciler/webex/tokens
 * Where the partner access token comes from: a static token, a file (read
 * when first needed, re-read once when a request gets 401), or the OAuth
 * refresh-token grant (refreshed shortly before expiry and after a 401, one
 * refresh at a time, a rotated refresh token handed to `onRefreshTokenRotated`).
 * A source answers `get()` and, after a 401, `renew(rejected)`: is another
 * token worth a try? Tokens are never logged.
 */
import { readFile } from 'node:fs/promises';
import { CdrError, describe } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { WebexAuth, WebexClientOptions } from './options.ts';
import { describeFetchError, withTimeout } from './request.ts';
import { describeIssues, errorDetail, parseJson, tokenResponseSchema } from './schemas.ts';

/** Refresh an OAuth token this long before it expires (at most half its lifetime). */
const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;

export type TokenSource = {
  get(signal?: AbortSignal): Promise<string>;
  /** After a 401 with `rejected`: true when a different token is now worth a try. */
  renew(rejected: string, signal?: AbortSignal): Promise<boolean>;
};

export type TokenSourceContext = {
  fetch: typeof fetch;
  now: () => number;
  timeoutMs: number;
  logger: Logger;
  /** Counts tokens obtained or re-read after the first. */
  stats: { tokenRenewals: number };
  onRefreshTokenRotated?: (refreshToken: string) => void;
};

/** What to fix when Webex refuses the token and renewing it did not help. */
export const tokenRefused = (auth: WebexAuth): string => {
  switch (auth.kind) {
    case 'static':
      return 'Webex refused WEBEX_ACCESS_TOKEN (wrong or expired): set a valid partner token, or use the OAuth refresh flow (WEBEX_CLIENT_ID, WEBEX_CLIENT_SECRET, WEBEX_REFRESH_TOKEN), which renews it';
    case 'file':
      return `Webex refused the token in WEBEX_ACCESS_TOKEN_FILE (${auth.path}), also after re-reading the file: write a valid partner token into it`;
    case 'oauth':
      return 'Webex refused an access token just obtained by the OAuth refresh flow: check that WEBEX_CLIENT_ID, WEBEX_CLIENT_SECRET and WEBEX_REFRESH_TOKEN belong to a partner administrator';
  }
};
const REFRESH_REFUSED =
  'the OAuth refresh flow is refused: renew WEBEX_REFRESH_TOKEN (or WEBEX_REFRESH_TOKEN_FILE) and check WEBEX_CLIENT_ID and WEBEX_CLIENT_SECRET';

const staticToken = (token: string): TokenSource => ({
  get: async () => token,
  renew: async () => false,
});

const tokenFile = (path: string, ctx: TokenSourceContext): TokenSource => {
  let current: Promise<string> | undefined;
  const read = async (): Promise<string> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new CdrError('config_invalid', `cannot read Webex token file ${path}: ${describe(e)}`);
    }
    const token = text.trim().replace(/^Bearer\s+/i, '');
    if (token === '') throw new CdrError('config_invalid', `Webex token file ${path} is empty`);
    return token;
  };
  const start = (): Promise<string> => {
    const p = read();
    current = p;
    p.catch(() => {
      if (current === p) current = undefined;
    });
    return p;
  };
  return {
    get: () => current ?? start(),
    renew: async (rejected) => {
      ctx.stats.tokenRenewals++;
      const token = await start();
      if (token === rejected) {
        ctx.logger.warn('webex token file still holds the rejected token', { path });
      }
      return token !== rejected;
    },
  };
};

type OAuth = Extract<WebexClientOptions['auth'], { kind: 'oauth' }>;

const oauthRefresh = (auth: OAuth, ctx: TokenSourceContext): TokenSource => {
  let refreshToken = auth.refreshToken;
  let token: { value: string; refreshAt: number } | undefined;
  let inflight: Promise<string> | undefined;

  const refresh = async (signal?: AbortSignal): Promise<string> => {
    const body = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: auth.clientId,
      client_secret: auth.clientSecret,
      refresh_token: refreshToken,
    });
    let res: Response;
    let text: string;
    try {
      res = await ctx.fetch(auth.tokenUrl, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json',
        },
        body,
        redirect: 'manual',
        signal: withTimeout(ctx.timeoutMs, signal),
      });
      text = await res.text();
    } catch (e) {
      signal?.throwIfAborted();
      throw new CdrError(
        'webex_http',
        `Webex OAuth token refresh failed: ${describeFetchError(e, ctx.timeoutMs)}`,
        { cause: e },
      );
    }
    if (!res.ok) {
      const retriable = res.status === 429 || res.status >= 500;
      throw new CdrError(
        retriable ? 'webex_http' : 'webex_auth_failed',
        `Webex OAuth token refresh answered HTTP ${res.status}${errorDetail(text, res.headers)}${retriable ? '' : `: ${REFRESH_REFUSED}`}`,
        { retriable },
      );
    }
    const parsed = tokenResponseSchema.safeParse(parseJson(text));
    if (!parsed.success) {
      throw new CdrError(
        'webex_invalid_response',
        `Webex OAuth token response: ${describeIssues(parsed.error)}`,
      );
    }
    const { access_token, expires_in, refresh_token } = parsed.data;
    const lifetimeMs = expires_in * 1000;
    token = {
      value: access_token,
      refreshAt: ctx.now() + lifetimeMs - Math.min(TOKEN_REFRESH_MARGIN_MS, lifetimeMs / 2),
    };
    if (refresh_token !== undefined && refresh_token !== refreshToken) {
      refreshToken = refresh_token;
      ctx.logger.info('webex oauth refresh token rotated');
      ctx.onRefreshTokenRotated?.(refresh_token);
    }
    ctx.logger.debug('webex oauth access token obtained', { expiresInS: expires_in });
    return access_token;
  };
  const refreshOnce = (signal?: AbortSignal): Promise<string> => {
    inflight ??= refresh(signal).finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
  return {
    get: async (signal) => {
      if (inflight !== undefined) return inflight;
      if (token !== undefined && ctx.now() < token.refreshAt) return token.value;
      if (token !== undefined) ctx.stats.tokenRenewals++;
      return refreshOnce(signal);
    },
    renew: async (rejected, signal) => {
      if (inflight === undefined && token !== undefined && token.value !== rejected) return true;
      if (inflight === undefined) ctx.stats.tokenRenewals++;
      await refreshOnce(signal);
      return true;
    },
  };
};

export const createTokenSource = (
  auth: WebexClientOptions['auth'],
  ctx: TokenSourceContext,
): TokenSource => {
  switch (auth.kind) {
    case 'static':
      return staticToken(auth.token);
    case 'file':
      return tokenFile(auth.path, ctx);
    case 'oauth':
      return oauthRefresh(auth, ctx);
  }
};
