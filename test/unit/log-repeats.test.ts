import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from '../../src/log.ts';
import { createRepeatedWarnings } from '../../src/log-repeats.ts';

/** A logger that keeps warn lines and tells when the next one arrives. */
const capture = () => {
  const lines: [string, Record<string, unknown> | undefined][] = [];
  let waiting: (() => void) | undefined;
  const ignore = () => undefined;
  const logger: Logger = {
    debug: ignore,
    info: ignore,
    error: ignore,
    warn: (msg, fields) => {
      lines.push([msg, fields]);
      waiting?.();
    },
    child: () => logger,
  };
  const next = () =>
    new Promise<void>((resolve) => {
      waiting = resolve;
    });
  return { logger, lines, next };
};

describe('repeated warnings', () => {
  it('logs the first at once, then one count per interval while they keep coming', async () => {
    const c = capture();
    const w = createRepeatedWarnings(c.logger, 30);
    w.warn('401 signature_invalid', 'delivery refused', { code: 'signature_invalid', n: 1 });
    w.warn('401 signature_invalid', 'delivery refused', { code: 'signature_invalid', n: 2 });
    w.warn('415 content_type_unsupported', 'delivery refused', {
      code: 'content_type_unsupported',
    });
    w.warn('401 signature_invalid', 'delivery refused', { code: 'signature_invalid', n: 3 });
    assert.deepEqual(
      c.lines.map(([, f]) => f?.code),
      ['signature_invalid', 'content_type_unsupported'],
    );
    await c.next(); // the end of the first interval
    assert.deepEqual(c.lines[2], [
      'delivery refused',
      { code: 'signature_invalid', n: 3, repeated: 2, withinSeconds: 0.03 },
    ]);
    // quiet for an interval: the next one is logged at once again
    w.flush();
    w.warn('401 signature_invalid', 'delivery refused', { code: 'signature_invalid', n: 4 });
    assert.deepEqual(c.lines.at(-1), ['delivery refused', { code: 'signature_invalid', n: 4 }]);
    w.flush();
    assert.equal(c.lines.length, 4);
  });
});
