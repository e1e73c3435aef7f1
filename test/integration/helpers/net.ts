/** Ports and readiness for processes the tests start. */
import { listen } from '../../../src/listen.ts';

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
