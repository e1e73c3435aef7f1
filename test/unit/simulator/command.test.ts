import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseSimulateArgs, runSimulateCommand } from '../../../src/simulator/command.ts';
import { startReceiver } from '../../helpers/receiver.ts';

type Io = { out: (line: string) => void; err: (line: string) => void };

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  const deps: Io = {
    out: (l) => {
      out.push(l);
    },
    err: (l) => {
      err.push(l);
    },
  };
  return { out, err, deps };
};

describe('simulator/command', () => {
  it('exits 2 listing every bad argument', async () => {
    const io = capture();
    const code = await runSimulateCommand(
      ['--url', 'ftp://x', '--orgs', 'many', '--drop', '1.5', '--speedup', '5', '--fast'],
      io.deps,
    );
    assert.equal(code, 2);
    const text = io.err.join('\n');
    for (const p of [
      /--url must be/,
      /--orgs must be a number/,
      /--drop must be between 0 and 1/,
      /--secret is required/,
      /exclude each other/,
    ]) {
      assert.match(text, p);
    }
    assert.equal(await runSimulateCommand(['--bogus'], capture().deps), 2);
    assert.equal(await runSimulateCommand([], capture().deps), 2);
    assert.equal(await runSimulateCommand(['--help'], capture().deps), 0);
  });

  it('parses the options with defaults', () => {
    const parsed = parseSimulateArgs([
      '--url',
      'http://127.0.0.1:1/w',
      '--secret',
      's',
      '--hours',
      '0.5',
    ]);
    assert.ok(parsed.ok && !parsed.help);
    assert.deepEqual(parsed.settings, {
      url: 'http://127.0.0.1:1/w',
      secret: 's',
      seed: '1',
      orgs: 25,
      hours: 0.5,
      'calls-per-hour': 20,
      drop: 0,
      repeat: 0,
      late: 0,
      fast: false,
      retries: 2,
      'api-token': 'simulator',
    });
  });

  it('sends a world’s deliveries, signed, and serves the partner API until stopped', async () => {
    const rx = await startReceiver();
    const io = capture();
    const stop = new AbortController();
    const serving = new Promise<string>((resolve) => {
      io.deps.out = (line: string) => {
        io.out.push(line);
        if (line.includes('until SIGINT')) resolve(io.out.join('\n'));
      };
    });
    const run = runSimulateCommand(
      [
        '--url',
        rx.url,
        '--secret',
        'k',
        '--orgs',
        '3',
        '--hours',
        '1',
        '--drop',
        '0.1',
        '--fast',
        '--api-port',
        '0',
        '--api-token',
        'tok',
      ],
      { ...io.deps, signal: stop.signal },
    );
    const text = await serving;
    const summary = /deliveries sent (\d+), dropped (\d+), repeated (\d+), failed 0/.exec(text);
    assert.ok(summary, text);
    assert.equal(rx.received.length, Number(summary[1]));
    for (const r of rx.received) {
      assert.equal(
        r.headers['x-spark-signature'],
        createHmac('sha1', 'k').update(r.body).digest('hex'),
      );
    }
    const base = /partner API at (http:\/\/127\.0\.0\.1:\d+)\/v1\/partners/.exec(text)?.[1];
    assert.ok(base, text);
    const end = new Date(Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000);
    const start = new Date(end.getTime() - 3_600_000);
    const res = await fetch(
      `${base}/v1/partners/cdrcountbyorg?startTime=${start.toISOString()}&endTime=${end.toISOString()}`,
      { headers: { Authorization: 'Bearer tok' } },
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { cdr_counts: { count: number }[] };
    assert.ok(body.cdr_counts.length > 0);
    stop.abort();
    assert.equal(await run, 0);
    await rx.close();
  });
});
