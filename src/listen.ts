/**
 * @module listen
 * Serves a fetch handler (a Hono app) with @hono/node-server and resolves once
 * it listens, with the bound port (port 0 picks a free one) and a close().
 * An address that cannot be bound (in use, privileged, not this machine's)
 * rejects with a ListenError: one line naming the address and the setting to
 * change, which the CLI prints as is (exit code 1), never a stack trace.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';

export type Listening = {
  readonly port: number;
  /** `http://host:port`, no trailing slash. */
  readonly url: string;
  /** Stops accepting and waits for open requests; `force` also cuts open connections. */
  close(force?: boolean): Promise<void>;
};

type FetchHandler = (request: Request) => Response | Promise<Response>;

/** The settings (or flags) that choose the address, named when it cannot be bound. */
export type AddressSettings = { readonly port: string; readonly host?: string };

const WHY: Record<string, (s: AddressSettings) => string> = {
  EADDRINUSE: (s) =>
    `the port is in use by another program (or another copy of this one); set ${s.port} to a free port`,
  EACCES: (s) =>
    `permission denied (ports below 1024 need privileges); set ${s.port} to 1024 or above`,
  EADDRNOTAVAIL: (s) =>
    `not an address of this machine; set ${s.host ?? 'the host'} to one of its addresses`,
  ENOTFOUND: (s) => `no such host name; set ${s.host ?? 'the host'} to an address of this machine`,
};

export class ListenError extends Error {
  readonly code: string;
  constructor(address: string, code: string, settings: AddressSettings) {
    const why =
      WHY[code]?.(settings) ?? `check ${settings.host ?? 'the host'} and ${settings.port}`;
    super(`cannot listen on ${address} (${code}): ${why}`);
    this.name = 'ListenError';
    this.code = code;
  }
}

/**
 * `requestTimeoutMs`: the whole request (headers and body) must arrive within
 * it, else Node answers 408 and closes the connection (a slow-drip upload).
 * Checked every second; Node's own default is 300 s, checked every 30 s.
 *
 * `keepAliveTimeoutMs`: how long an idle keep-alive connection is kept open
 * (Node's default: 5 s). A client that reuses a connection just as the server
 * closes it sees the request fail mid-upload (EPIPE or ECONNRESET); a load
 * balancer or HTTP client pool that keeps connections longer than the server
 * does meets that race on every lull. The ingress keeps them longer than such
 * clients do (65 s: above the 60 s idle timeout common to load balancers).
 */
export const listen = (
  fetch: FetchHandler,
  opts: {
    port: number;
    hostname?: string;
    requestTimeoutMs?: number;
    keepAliveTimeoutMs?: number;
    /** Named in a ListenError (default: "the port"). */
    settings?: AddressSettings;
  },
): Promise<Listening> => {
  const hostname = opts.hostname ?? '127.0.0.1';
  const requestTimeout = opts.requestTimeoutMs ?? 300_000;
  const serverOptions = {
    requestTimeout,
    headersTimeout: Math.min(60_000, requestTimeout),
    connectionsCheckingInterval: 1000,
  };
  return new Promise((resolve, fail) => {
    const reject = (e: NodeJS.ErrnoException) =>
      fail(
        new ListenError(
          hostname.includes(':') ? `[${hostname}]:${opts.port}` : `${hostname}:${opts.port}`,
          e.code ?? e.message,
          opts.settings ?? { port: 'the port' },
        ),
      );
    const server = serve({ fetch, port: opts.port, hostname, serverOptions }, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        url: `http://${hostname}:${port}`,
        close: (force = false) =>
          new Promise<void>((done) => {
            // server.close() ends the connections idle now; one whose answer is still
            // being written would then stay open for keepAliveTimeout: end each as it
            // goes idle, so close() resolves once the last answer is out.
            const sweep = setInterval(() => {
              if ('closeIdleConnections' in server) server.closeIdleConnections();
            }, 50);
            server.close(() => {
              clearInterval(sweep);
              done();
            });
            if (force && 'closeAllConnections' in server) server.closeAllConnections();
          }),
      });
    });
    server.once('error', reject);
    if (opts.keepAliveTimeoutMs !== undefined && 'keepAliveTimeout' in server) {
      server.keepAliveTimeout = opts.keepAliveTimeoutMs;
    }
  });
};
