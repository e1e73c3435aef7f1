/**
 * A small TCP proxy in front of one broker, the client's only way to it (the
 * broker advertises the proxy's port). Modes: `up` forwards, `blackhole`
 * accepts connections but moves no bytes either way (reading stops, so TCP
 * holds them, as in a partition: no reset, no FIN, nothing answered; they flow
 * again on healing), `reset` destroys every connection and refuses new ones.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'up' | 'blackhole' | 'reset';

export type TcpProxy = {
  readonly port: number;
  mode(): ProxyMode;
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
};

export const startTcpProxy = async (opts: {
  listenPort: number;
  targetPort: number;
  host?: string;
}): Promise<TcpProxy> => {
  const host = opts.host ?? '127.0.0.1';
  let mode: ProxyMode = 'up';
  const pairs = new Set<[Socket, Socket]>();

  const server: Server = createServer((client) => {
    client.on('error', () => undefined);
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ host, port: opts.targetPort });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const forget = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', forget);
    upstream.on('close', forget);
    client.pipe(upstream);
    upstream.pipe(client);
    if (mode === 'blackhole') {
      client.pause();
      upstream.pause();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort, host, () => resolve());
  });

  return {
    port: opts.listenPort,
    mode: () => mode,
    setMode: (next) => {
      mode = next;
      for (const [a, b] of pairs) {
        if (next === 'blackhole') {
          a.pause();
          b.pause();
        } else if (next === 'up') {
          a.resume();
          b.resume();
        } else {
          a.resetAndDestroy();
          b.destroy();
        }
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => resolve());
      }),
  };
};
