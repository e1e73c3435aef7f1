/**
 * kafka/probe.ts against servers of our own on 127.0.0.1: an HTTP server, a
 * listener that says nothing, one that hangs up, a closed port, TLS bytes, bytes
 * of no protocol, and a small Kafka of our own that answers ApiVersions and
 * Metadata as a broker does (the real broker's answers are in
 * test/integration/broker-probe.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import {
  advertisedBrokers,
  connectionProblem,
  diagnoseBrokers,
  kafkaRequest,
  metadataBody,
  metadataVersion,
  probeBroker,
  readAnswer,
  splitAddress,
} from '../../../src/kafka/probe.ts';
import { selfSignedFor127 } from '../../helpers/self-signed.ts';

const TIMEOUT = 1000;
const plain = { tls: false as const, sasl: false, timeoutMs: TIMEOUT };

const servers: { close(): void }[] = [];
after(() => {
  for (const s of servers) s.close();
});

const listening = async (server: Server | ReturnType<typeof createHttpServer>) => {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
};

/** A port nothing listens on (a server opened and closed). */
const closedPort = async () => {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
};

/** The requests a socket sends, one per callback: api key, version, correlation id, body. */
const onRequests = (
  socket: Socket,
  answer: (r: { apiKey: number; version: number; id: number; body: Buffer }) => Buffer | null,
) => {
  let got = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    got = Buffer.concat([got, chunk]);
    while (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
      const size = got.readInt32BE(0);
      const req = got.subarray(4, 4 + size);
      got = got.subarray(4 + size);
      const idLength = req.readInt16BE(8);
      const out = answer({
        apiKey: req.readInt16BE(0),
        version: req.readInt16BE(2),
        id: req.readInt32BE(4),
        body: req.subarray(10 + idLength),
      });
      if (out !== null) socket.write(out);
    }
  });
};

const framed = (id: number, body: Buffer) => {
  const head = Buffer.alloc(8);
  head.writeInt32BE(4 + body.length, 0);
  head.writeInt32BE(id, 4);
  return Buffer.concat([head, body]);
};

/** ApiVersions v0's body: no error, the given [key, min, max] triples. */
const apiVersionsBody = (apis: [number, number, number][]) => {
  const b = Buffer.alloc(6 + 6 * apis.length);
  b.writeInt16BE(0, 0);
  b.writeInt32BE(apis.length, 2);
  apis.forEach(([key, min, max], i) => {
    b.writeInt16BE(key, 6 + 6 * i);
    b.writeInt16BE(min, 8 + 6 * i);
    b.writeInt16BE(max, 10 + 6 * i);
  });
  return b;
};

/** A Metadata answer's start (v3+: throttle time first): the brokers, each with a null rack. */
const metadataAnswerBody = (version: number, brokers: { host: string; port: number }[]) => {
  const parts: Buffer[] = [];
  if (version >= 3) parts.push(Buffer.alloc(4));
  const count = Buffer.alloc(4);
  count.writeInt32BE(brokers.length, 0);
  parts.push(count);
  brokers.forEach((b, i) => {
    const host = Buffer.from(b.host);
    const entry = Buffer.alloc(4 + 2 + host.length + 4 + 2);
    entry.writeInt32BE(i + 1, 0);
    entry.writeInt16BE(host.length, 4);
    host.copy(entry, 6);
    entry.writeInt32BE(b.port, 6 + host.length);
    entry.writeInt16BE(-1, 10 + host.length);
    parts.push(entry);
  });
  parts.push(Buffer.alloc(4, 0xff)); // controller id and the rest: not read
  return Buffer.concat(parts);
};

/** A small Kafka: answers ApiVersions (Metadata 0-12) and Metadata with `advertised`; records what it was asked. */
const fakeKafka = async (advertised: { host: string; port: number }[]) => {
  const asked: { apiKey: number; version: number; body: Buffer }[] = [];
  const address = await listening(
    createServer((socket) =>
      onRequests(socket, ({ apiKey, version, id, body }) => {
        asked.push({ apiKey, version, body });
        if (apiKey === 18)
          return framed(
            id,
            apiVersionsBody([
              [3, 0, 12],
              [18, 0, 4],
            ]),
          );
        if (apiKey === 3) return framed(id, metadataAnswerBody(version, advertised));
        return null;
      }),
    ),
  );
  return { address, asked };
};

describe('probeBroker: what answers at a bootstrap address', () => {
  it('an HTTP server (the registry port given as a broker) is named at once, not after the timeout', async () => {
    const address = await listening(
      createHttpServer((_, res) => res.end('not kafka')).on('clientError', (_, socket) =>
        socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'),
      ),
    );
    const t0 = performance.now();
    const found = await probeBroker(address, plain);
    assert.match(
      found ?? '',
      /an HTTP server answers here, not Kafka \("HTTP\/1\.1 400 Bad Request"\)/,
    );
    assert.ok(found?.startsWith(`${address}: `));
    assert.ok(performance.now() - t0 < TIMEOUT, 'answered, not timed out');
  });

  it('a listener that says nothing: accepted, no Kafka answer within the timeout', async () => {
    const address = await listening(createServer(() => undefined));
    const t0 = performance.now();
    assert.match(
      (await probeBroker(address, plain)) ?? '',
      /the connection is accepted but no Kafka answer came within 1000 ms/,
    );
    assert.ok(performance.now() - t0 < TIMEOUT * 3, 'bounded');
  });

  it('a listener that hangs up, and one that answers in TLS, or in no protocol', async () => {
    const hangsUp = await listening(createServer((s) => s.destroy()));
    assert.match((await probeBroker(hangsUp, plain)) ?? '', /closed without an answer/);
    const tls = await listening(
      createServer((s) => s.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]))),
    );
    assert.match(
      (await probeBroker(tls, plain)) ?? '',
      /a TLS listener answers here: set KAFKA_SSL=true/,
    );
    const noise = await listening(createServer((s) => s.end(Buffer.from('0123456789abcdef'))));
    assert.match((await probeBroker(noise, plain)) ?? '', /does not speak Kafka's protocol/);
  });

  it('a closed port: nothing listens (ECONNREFUSED)', async () => {
    const port = await closedPort();
    assert.equal(
      await probeBroker(`127.0.0.1:${port}`, plain),
      `127.0.0.1:${port}: nothing listens on that port (ECONNREFUSED): check the port, and that Kafka runs`,
    );
  });

  it('Kafka whose brokers advertise an address that cannot be reached: says which, and advertised.listeners', async () => {
    const port = await closedPort();
    const kafka = await fakeKafka([{ host: '127.0.0.1', port }]);
    const found = await probeBroker(kafka.address, plain);
    assert.match(
      found ?? '',
      /Kafka answers here, but the brokers advertise 127\.0\.0\.1:\d+ \(node 1: nothing listens/,
    );
    assert.match(found ?? '', /advertised\.listeners/);
    // ApiVersions v0, then Metadata at the highest non-flexible version both speak (8), for no topic
    assert.deepEqual(
      kafka.asked.map((a) => [a.apiKey, a.version]),
      [
        [18, 0],
        [3, 8],
      ],
    );
    assert.deepEqual([...(kafka.asked[1]?.body ?? [])], [0, 0, 0, 0, 0, 0, 0]);
  });

  it('Kafka whose brokers can be reached: nothing to say; with SASL the metadata is not asked', async () => {
    const kafka = await fakeKafka([]);
    const reachable = await fakeKafka([
      { host: '127.0.0.1', port: Number(kafka.address.split(':')[1]) },
    ]);
    assert.equal(await probeBroker(reachable.address, plain), null);
    const port = await closedPort();
    const sasl = await fakeKafka([{ host: '127.0.0.1', port }]);
    assert.equal(await probeBroker(sasl.address, { ...plain, sasl: true }), null);
    assert.deepEqual(
      sasl.asked.map((a) => a.apiKey),
      [18],
    );
  });

  it('diagnoseBrokers: every address at once, only the ones with a problem', async () => {
    const kafka = await fakeKafka([]);
    const port = await closedPort();
    assert.equal(await diagnoseBrokers([kafka.address], plain), null);
    assert.equal(
      await diagnoseBrokers([kafka.address, `127.0.0.1:${port}`], plain),
      `127.0.0.1:${port}: nothing listens on that port (ECONNREFUSED): check the port, and that Kafka runs`,
    );
  });
});

describe('probeBroker over TLS (KAFKA_SSL)', () => {
  // a certificate for 127.0.0.1 made by openssl for this test only
  const dir = mkdtempSync(join(tmpdir(), 'probe-tls-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const { cert, key } = selfSignedFor127(dir);
  /** A TLS listener that answers ApiVersions as Kafka does (SASL assumed: no Metadata asked). */
  const tlsKafka = () =>
    listening(
      createTlsServer({ key, cert }, (socket) =>
        onRequests(socket, ({ apiKey, id }) =>
          apiKey === 18 ? framed(id, apiVersionsBody([[3, 0, 12]])) : null,
        ),
      ),
    );

  it('with its CA: Kafka answers through TLS, nothing to say', async () => {
    const address = await tlsKafka();
    assert.equal(
      await probeBroker(address, {
        ...plain,
        sasl: true,
        tls: { ca: cert, rejectUnauthorized: true },
      }),
      null,
    );
  });

  it('without its CA: the certificate is not trusted, and KAFKA_SSL_CA is named', async () => {
    const address = await tlsKafka();
    const found = await probeBroker(address, { ...plain, tls: { rejectUnauthorized: true } });
    assert.match(found ?? '', /TLS certificate is not trusted .*KAFKA_SSL_CA/);
  });

  it('a plaintext client at a TLS listener, and a TLS client at a plaintext one, are told which', async () => {
    const address = await tlsKafka();
    assert.match(
      (await probeBroker(address, plain)) ?? '',
      /a TLS listener answers here|closed without an answer \(a TLS/,
    );
    const hangsUp = await listening(createServer((s) => s.destroy()));
    assert.match(
      (await probeBroker(hangsUp, { ...plain, tls: { ca: cert, rejectUnauthorized: true } })) ?? '',
      /during the TLS handshake: is this a TLS listener\?/,
    );
  });
});

describe('the pieces', () => {
  it('connectionProblem: words for the codes of a name, a port, a route and TLS', () => {
    assert.match(
      connectionProblem({ code: 'ENOTFOUND' }, false),
      /host name does not resolve \(ENOTFOUND\)/,
    );
    assert.match(connectionProblem({ code: 'EAI_AGAIN' }, false), /does not resolve/);
    assert.match(connectionProblem({ code: 'EHOSTUNREACH' }, false), /no route/);
    assert.match(
      connectionProblem({ code: 'ERR_SSL_WRONG_VERSION_NUMBER' }, true),
      /not a TLS listener \(unset KAFKA_SSL/,
    );
    assert.match(
      connectionProblem(
        {
          code: 'SELF_SIGNED_CERT_IN_CHAIN',
          message: 'self-signed certificate in certificate chain',
        },
        true,
      ),
      /not trusted .*KAFKA_SSL_CA/,
    );
    assert.equal(connectionProblem({ code: 'EPIPE', message: 'broken' }, false), 'EPIPE: broken');
  });

  it('splitAddress: host:port as KAFKA_BROKERS holds it (a name or an IPv4 address)', () => {
    assert.deepEqual(splitAddress('kafka-1:19092'), { host: 'kafka-1', port: 19092 });
    assert.deepEqual(splitAddress('10.0.0.7:9093'), { host: '10.0.0.7', port: 9093 });
  });

  it('kafkaRequest and readAnswer: a request framed as Kafka reads it, an answer only when whole and ours', () => {
    const req = kafkaRequest(18, 0, 7, 'id', Buffer.from([1, 2]));
    assert.deepEqual([...req], [0, 0, 0, 14, 0, 18, 0, 0, 0, 0, 0, 7, 0, 2, 105, 100, 1, 2]);
    const whole = framed(7, Buffer.from([9, 9]));
    assert.equal(readAnswer(whole.subarray(0, 9), 7), null, 'not yet whole');
    assert.deepEqual(readAnswer(whole, 7), { kind: 'kafka', body: Buffer.from([9, 9]) });
    assert.match((readAnswer(whole, 8) as { reason: string }).reason, /does not speak Kafka/);
  });

  it('metadataVersion: the highest of 1-8 both speak, none when the broker speaks only flexible ones', () => {
    assert.equal(metadataVersion(apiVersionsBody([[3, 0, 12]])), 8);
    assert.equal(metadataVersion(apiVersionsBody([[3, 0, 2]])), 2);
    assert.equal(metadataVersion(apiVersionsBody([[3, 9, 12]])), null);
    assert.equal(metadataVersion(apiVersionsBody([[18, 0, 4]])), null);
    const refused = apiVersionsBody([[3, 0, 12]]);
    refused.writeInt16BE(35, 0);
    assert.equal(metadataVersion(refused), null, 'an error code');
  });

  it('metadataBody and advertisedBrokers: the layout of each version', () => {
    assert.equal(metadataBody(1).length, 4);
    assert.equal(metadataBody(4).length, 5);
    assert.equal(metadataBody(8).length, 7);
    for (const v of [1, 2, 3, 8]) {
      const brokers = [
        { host: 'kafka', port: 9092 },
        { host: 'b-2.example', port: 19092 },
      ];
      assert.deepEqual(
        advertisedBrokers(metadataAnswerBody(v, brokers), v),
        brokers.map((b, i) => ({ nodeId: i + 1, ...b })),
        `v${v}`,
      );
    }
  });
});
