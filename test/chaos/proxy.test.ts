/** The chaos TCP proxy against a real echo server: up, blackhole, heal, reset. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { freePort } from '../integration/helpers/net.ts';
import { startTcpProxy } from './proxy.ts';

const received = (sock: Socket) => {
  let text = '';
  sock.on('error', () => undefined); // the reset at the end
  sock.on('data', (b) => {
    text += b.toString();
  });
  return () => text;
};

/** Resolves on close (events.once would reject on the ECONNRESET before it). */
const closed = (sock: Socket) => new Promise((r) => sock.once('close', r));

const until = async (check: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return check();
};

test('the proxy forwards, holds bytes in a blackhole and delivers them on healing, and resets', async () => {
  const echo = createServer((s) => s.pipe(s));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const target = (echo.address() as { port: number }).port;
  const proxy = await startTcpProxy({ listenPort: await freePort(), targetPort: target });
  try {
    const client = connect({ host: '127.0.0.1', port: proxy.port });
    await once(client, 'connect');
    const text = received(client);
    client.write('one;');
    assert.ok(await until(() => text() === 'one;'), 'up: forwarded');

    proxy.setMode('blackhole');
    client.write('two;');
    assert.equal(await until(() => text() !== 'one;', 300), false, 'blackhole: nothing answered');
    const late = connect({ host: '127.0.0.1', port: proxy.port });
    await once(late, 'connect');
    const lateText = received(late);
    late.write('three;');

    proxy.setMode('up');
    assert.ok(await until(() => text() === 'one;two;'), 'healed: held bytes delivered');
    assert.ok(
      await until(() => lateText() === 'three;'),
      'healed: a connection made in the blackhole works',
    );

    proxy.setMode('reset');
    await Promise.all([closed(client), closed(late)]);
    const refused = connect({ host: '127.0.0.1', port: proxy.port });
    refused.on('error', () => undefined);
    await closed(refused);
    assert.equal(refused.bytesRead, 0);
  } finally {
    await proxy.close();
    echo.close();
  }
});
