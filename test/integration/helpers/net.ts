/** Ports, servers and readiness for processes the tests start. */
import { type Listening, listen } from '../../../src/listen.ts';
import { onEnd, type TestScope } from './scope.ts';

/**
 * `listen(fetch, options)` on 127.0.0.1 (port 0: a free one), closed when the
 * test `t` ends (`force`: its open connections too).
 */
export const serveTest = async (
  t: TestScope,
  fetch: Parameters<typeof listen>[0],
  options: Parameters<typeof listen>[1] = { port: 0 },
  { force = false }: { force?: boolean } = {},
): Promise<Listening> => {
  const server = await listen(fetch, options);
  onEnd(t, () => server.close(force));
  return server;
};

/** A port that was free a moment ago (for a child process that must know its port). */
export const freePort = async (): Promise<number> => {
  const l = await listen(() => new Response(), { port: 0 });
  await l.close();
  return l.port;
};

/** Resolves once `GET {baseUrl}/readyz` answers 200. */
export const waitReady = async (baseUrl: string, ms = 60_000): Promise<void> => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (
      await fetch(`${baseUrl}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${baseUrl} was not ready within ${ms} ms`);
};
