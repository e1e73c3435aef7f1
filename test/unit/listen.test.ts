import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListenError, listen } from '../../src/listen.ts';

type Answer = { status: number; keepAlive: string; reused: boolean; body: string };

/** One POST over `agent`, saying whether it went over a connection used before. */
const post = (url: string, agent: Agent, body: string) =>
  new Promise<Answer>((resolve, reject) => {
    const req = request(`${url}/`, { method: 'POST', agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          keepAlive: String(res.headers['keep-alive']),
          reused: req.reusedSocket,
          body: text,
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });

const echo = async (req: Request) => new Response(await req.text());

describe('listen: keep-alive', () => {
  it('keeps an idle connection for keepAliveTimeoutMs and tells clients so', async () => {
    // headersTimeout (1 s here) must not count the idle time between two requests
    const server = await listen(echo, {
      port: 0,
      requestTimeoutMs: 1000,
      keepAliveTimeoutMs: 4000,
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await post(server.url, agent, 'one');
      assert.deepEqual(first, { status: 200, keepAlive: 'timeout=4', reused: false, body: 'one' });
      await sleep(1500); // idle for longer than headersTimeout, shorter than keepAliveTimeout
      const second = await post(server.url, agent, 'two');
      assert.deepEqual(second, { status: 200, keepAlive: 'timeout=4', reused: true, body: 'two' });
    } finally {
      agent.destroy();
      await server.close(true);
    }
  });

  it("closes an idle connection after keepAliveTimeoutMs (Node's 5 s when not given)", async () => {
    const plain = await listen(echo, { port: 0 });
    const short = await listen(echo, { port: 0, keepAliveTimeoutMs: 1000 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      assert.equal((await post(plain.url, agent, 'x')).keepAlive, 'timeout=5');
      // a raw connection: one request, then idle until the server ends it
      const socket = connect(short.port, '127.0.0.1');
      const ended = new Promise<string>((resolve) => {
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => {
          text += d;
        });
        socket.on('close', () => resolve(text));
        setTimeout(() => resolve('still open'), 4000).unref();
      });
      socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na');
      const text = await ended;
      socket.destroy();
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(text, /\r\nKeep-Alive: timeout=1\r\n/i);
    } finally {
      agent.destroy();
      await short.close(true);
      await plain.close(true);
    }
  });

  it('close() waits for an answer being written, then ends its connection without waiting for keep-alive', async () => {
    let entered: () => void = () => {};
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    const slow = async (req: Request) => {
      entered();
      await sleep(300);
      return new Response(await req.text());
    };
    const server = await listen(slow, { port: 0, keepAliveTimeoutMs: 60_000 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const answer = post(server.url, agent, 'in flight');
      await inHandler;
      const closed = server.close().then(() => 'closed' as const);
      const timer = new AbortController();
      const open = sleep(10_000, 'still open' as const, { signal: timer.signal }).catch(() => 'x');
      const outcome = await Promise.race([closed, open]);
      timer.abort();
      assert.equal(outcome, 'closed', 'close() resolved long before the 60 s keep-alive');
      assert.equal((await answer).body, 'in flight');
    } finally {
      agent.destroy();
      await server.close(true);
    }
  });
});

describe('listen: an address that cannot be bound', () => {
  it('rejects with one line naming the address and the setting to change', async () => {
    const first = await listen(echo, { port: 0 });
    try {
      const taken = listen(echo, { port: first.port, settings: { port: 'PORT', host: 'HOST' } });
      await assert.rejects(taken, (e: unknown) => {
        assert.ok(e instanceof ListenError);
        assert.equal(e.code, 'EADDRINUSE');
        assert.equal(
          e.message,
          `cannot listen on 127.0.0.1:${first.port} (EADDRINUSE): the port is in use by another program (or another copy of this one); set PORT to a free port`,
        );
        return true;
      });
      const elsewhere = listen(echo, {
        port: 0,
        hostname: '192.0.2.1',
        settings: { port: 'P', host: 'H' },
      });
      await assert.rejects(
        elsewhere,
        /cannot listen on 192\.0\.2\.1:0 \(EADDRNOTAVAIL\): .*set H /,
      );
    } finally {
      await first.close(true);
    }
  });
});
