import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, rateLimited } from '../../src/log.ts';

const capture = () => {
  const lines: string[] = [];
  return { lines, stream: { write: (s: string) => void lines.push(s) } };
};

describe('log', () => {
  it('writes one JSON object per line with level, time, msg, base and fields', () => {
    const out = capture();
    const log = createLogger('info', { service: 'ingress' }, out.stream);
    log.debug('hidden');
    log.info('delivery', { status: 200, records: 3 });
    log.child({ runId: 'r1' }).warn('window reconciled', { missing: 1 });
    assert.equal(out.lines.length, 2);
    const [a, b] = out.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(a?.level, 'info');
    assert.equal(a?.msg, 'delivery');
    assert.equal(a?.service, 'ingress');
    assert.equal(a?.records, 3);
    assert.match(String(a?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual([b?.level, b?.runId, b?.missing], ['warn', 'r1', 1]);
    assert.ok(out.lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
  });

  it('redacts secrets, tokens and signatures by key, at the top level and nested', () => {
    const out = capture();
    const log = createLogger('debug', {}, out.stream);
    const values = ['sig-VALUE-1', 'Bearer TOKEN-2', 'pw-3', 'tok-4', 'sec-5', 'rt-6'];
    log.info('request', {
      headers: { 'x-webex-signature': values[0], authorization: values[1] },
      password: values[2],
      webex: { auth: { token: values[3], clientSecret: values[4] } },
      refreshToken: values[5],
      kept: 'visible',
    });
    const text = out.lines.join('');
    for (const v of values) assert.equal(text.includes(v as string), false, text);
    assert.match(text, /"kept":"visible"/);
    assert.match(text, /"x-webex-signature":"\[redacted\]"/);
  });
});

describe('rateLimited', () => {
  it('logs the first call at once, then at most once per interval, counting what it left out', () => {
    let t = 0;
    const logged: [string, Record<string, unknown> | undefined][] = [];
    const warn = rateLimited(
      (msg, fields) => logged.push([msg, fields]),
      30_000,
      () => t,
    );
    assert.equal(warn('not ready yet, retrying', { attempts: 1 }), true);
    for (let attempts = 2; attempts <= 6; attempts++) {
      t += 5_000; // a retry every 5 s: 25 s later, still inside the interval
      assert.equal(warn('not ready yet, retrying', { attempts }), false);
    }
    t += 5_000; // 30 s after the first line
    assert.equal(warn('not ready yet, retrying', { attempts: 7 }), true);
    t += 1_000;
    warn('not ready yet, retrying', { attempts: 8 });
    assert.deepEqual(logged, [
      ['not ready yet, retrying', { attempts: 1 }],
      ['not ready yet, retrying', { attempts: 7, suppressed: 5 }],
    ]);
  });
});
