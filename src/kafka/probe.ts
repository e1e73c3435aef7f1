/**
 * @module kafka/probe
 * Why Kafka cannot be reached, in words an operator can act on. When the
 * client library's start stalls or fails (its own errors say "Listing topics
 * failed." or nothing at all), each bootstrap address of KAFKA_BROKERS is
 * probed with a connection of its own and one ApiVersions request, read by
 * hand, each within a bounded time:
 *
 *   the name does not resolve, nothing listens, no route, no answer to the
 *   connection; TLS refused (a certificate, a name, a plaintext listener);
 *   an HTTP server answers (often the registry's port), a TLS listener
 *   answers a plaintext client, the connection is closed unanswered, bytes
 *   that are not Kafka's protocol, or no answer at all;
 *
 * and where Kafka does answer (without SASL, which the brokers' metadata
 * needs), one Metadata request for the addresses the brokers advertise,
 * each tried with a TCP connection: a broker that advertises a name only its
 * own network resolves (`kafka:9092` in Docker, a pod's name) is the classic
 * case where the bootstrap works and nothing else does.
 *
 * Read-only: nothing is created or changed on the cluster.
 */
import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { KafkaTls } from './options.ts';

export type ProbeOptions = {
  readonly tls: KafkaTls;
  /** SASL is configured: the brokers' metadata is then not asked for (it needs authentication). */
  readonly sasl: boolean;
  /** Per connection and per answer. */
  readonly timeoutMs: number;
};

const API_METADATA = 3;
const API_VERSIONS = 18;
/** An answer larger than this is not Kafka's to a probe (an HTTP or TLS header read as a size). */
const MAX_ANSWER = 16 * 1024 * 1024;
/**
 * The probe's client id ends in an empty line: Kafka takes any client id, and
 * an HTTP server that got the bytes before it as a (bad) request line answers
 * at once (400) instead of waiting for the rest of a request.
 */
const PROBE_CLIENT_ID = 'webex-cdr-kafka-probe\r\n\r\n';

/** A KAFKA_BROKERS entry (`host:port`, as the settings check it) split. */
export const splitAddress = (address: string): { host: string; port: number } => {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
};

/** A request of the non-flexible header (v1): size, api key, version, correlation id, client id, body. */
export const kafkaRequest = (
  apiKey: number,
  version: number,
  correlationId: number,
  clientId: string,
  body: Buffer = Buffer.alloc(0),
): Buffer => {
  const id = Buffer.from(clientId, 'utf8');
  const head = Buffer.alloc(14 + id.length);
  head.writeInt32BE(10 + id.length + body.length, 0);
  head.writeInt16BE(apiKey, 4);
  head.writeInt16BE(version, 6);
  head.writeInt32BE(correlationId, 8);
  head.writeInt16BE(id.length, 12);
  id.copy(head, 14);
  return Buffer.concat([head, body]);
};

type Answer = { kind: 'kafka'; body: Buffer } | { kind: 'problem'; reason: string };

const firstLine = (bytes: Buffer) =>
  bytes.toString('latin1', 0, Math.min(bytes.length, 80)).split(/\r?\n/)[0]?.trim() ?? '';

/** Reads one answer (size-prefixed, our correlation id) from the bytes received so far, or why they are not one. */
export const readAnswer = (bytes: Buffer, correlationId: number): Answer | null => {
  if (bytes.length >= 4 && bytes.toString('latin1', 0, 4) === 'HTTP') {
    return {
      kind: 'problem',
      reason: `an HTTP server answers here, not Kafka ("${firstLine(bytes)}"): is this another service's port, the schema registry's perhaps?`,
    };
  }
  if (bytes.length >= 2 && (bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03) {
    return {
      kind: 'problem',
      reason: 'a TLS listener answers here: set KAFKA_SSL=true (or use its plaintext port)',
    };
  }
  if (bytes.length < 8) return null;
  const size = bytes.readInt32BE(0);
  if (size < 4 || size > MAX_ANSWER || bytes.readInt32BE(4) !== correlationId) {
    return {
      kind: 'problem',
      reason: `something answers here that does not speak Kafka's protocol (first bytes ${bytes.subarray(0, 8).toString('hex')})`,
    };
  }
  if (bytes.length < 4 + size) return null;
  return { kind: 'kafka', body: bytes.subarray(8, 4 + size) };
};

/** The highest Metadata version of 1-8 (non-flexible) both sides speak, from an ApiVersions v0 answer; null if none. */
export const metadataVersion = (apiVersions: Buffer): number | null => {
  if (apiVersions.length < 6 || apiVersions.readInt16BE(0) !== 0) return null;
  const count = apiVersions.readInt32BE(2);
  for (let i = 0; i < count && 6 + 6 * i + 6 <= apiVersions.length; i++) {
    const at = 6 + 6 * i;
    if (apiVersions.readInt16BE(at) !== API_METADATA) continue;
    const min = apiVersions.readInt16BE(at + 2);
    const max = Math.min(apiVersions.readInt16BE(at + 4), 8);
    return max >= Math.max(min, 1) ? max : null;
  }
  return null;
};

/** A Metadata request's body for no topic (v1-v8): an empty array, no auto-creation, no authorised operations. */
export const metadataBody = (version: number): Buffer => {
  const body = Buffer.alloc(4 + (version >= 4 ? 1 : 0) + (version >= 8 ? 2 : 0));
  body.writeInt32BE(0, 0);
  return body;
};

/** The brokers a Metadata answer (v1-v8) lists: node id, host, port. */
export const advertisedBrokers = (
  body: Buffer,
  version: number,
): { nodeId: number; host: string; port: number }[] => {
  let at = version >= 3 ? 4 : 0; // throttle_time_ms
  const count = body.readInt32BE(at);
  at += 4;
  const brokers: { nodeId: number; host: string; port: number }[] = [];
  for (let i = 0; i < count; i++) {
    const nodeId = body.readInt32BE(at);
    const hostLength = body.readInt16BE(at + 4);
    const host = body.toString('utf8', at + 6, at + 6 + hostLength);
    at += 6 + hostLength;
    const port = body.readInt32BE(at);
    at += 4;
    const rack = body.readInt16BE(at); // nullable string (v1+)
    at += 2 + Math.max(0, rack);
    brokers.push({ nodeId, host, port });
  }
  return brokers;
};

/** Words for a connection's error, by its code. */
export const connectionProblem = (e: unknown, tls: boolean): string => {
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  const message = err.message ?? String(e);
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `the host name does not resolve (${code}): check the name in KAFKA_BROKERS`;
    case 'ECONNREFUSED':
      return 'nothing listens on that port (ECONNREFUSED): check the port, and that Kafka runs';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to that host (${code})`;
    case 'ECONNRESET':
      return tls
        ? 'the connection was reset during the TLS handshake: is this a TLS listener?'
        : 'the connection was reset without an answer';
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return 'TLS was refused: this is not a TLS listener (unset KAFKA_SSL, or use the TLS port)';
    default:
      if (tls && /certificate|self[- ]signed|altname|CERT_|issuer/i.test(`${code} ${message}`)) {
        return `the broker's TLS certificate is not trusted (${code || message}): set KAFKA_SSL_CA to the CA that signed it (or KAFKA_SSL_SERVERNAME to the name it holds)`;
      }
      return `${code ? `${code}: ` : ''}${message}`;
  }
};

type Exchange = {
  /** Sends a request and waits for its answer, or for why there is none. */
  ask(apiKey: number, version: number, body?: Buffer): Promise<Answer>;
  close(): void;
};

type Connected = { ok: true; socket: Socket } | { ok: false; reason: string };

/** A connection to host:port (TLS with `tls`) within `timeoutMs`, or why it could not be made. */
const connectWithin = (
  host: string,
  port: number,
  tls: KafkaTls,
  timeoutMs: number,
): Promise<Connected> =>
  new Promise((resolve) => {
    let socket: Socket;
    const done = (r: Connected) => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      if (!r.ok) socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () =>
        done({
          ok: false,
          reason: `no answer to the connection within ${timeoutMs} ms (a wrong host, or a firewall dropping it)`,
        }),
      timeoutMs,
    );
    const ready = () => done({ ok: true, socket });
    socket =
      tls === false
        ? tcpConnect({ host, port }, ready)
        : tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...tls }, ready);
    socket.on('error', (e) => done({ ok: false, reason: connectionProblem(e, tls !== false) }));
  });

const exchangeOn = (socket: Socket, options: ProbeOptions): Exchange => {
  let correlationId = 0x7072_0000; // 'pr' and a counter
  let received = Buffer.alloc(0);
  let closed = false;
  let waiting: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    waiting?.();
  });
  const end = () => {
    closed = true;
    waiting?.();
  };
  socket.on('close', end);
  socket.on('error', end);
  return {
    ask: (apiKey, version, body) =>
      new Promise<Answer>((resolve) => {
        correlationId += 1;
        const id = correlationId;
        received = Buffer.alloc(0);
        const timer = setTimeout(
          () =>
            finish({
              kind: 'problem',
              reason: `the connection is accepted but no Kafka answer came within ${options.timeoutMs} ms: is this a Kafka listener?`,
            }),
          options.timeoutMs,
        );
        const finish = (a: Answer) => {
          clearTimeout(timer);
          waiting = null;
          resolve(a);
        };
        waiting = () => {
          const answer = readAnswer(received, id);
          if (answer !== null) finish(answer);
          else if (closed) {
            finish({
              kind: 'problem',
              reason:
                received.length === 0
                  ? 'the connection is closed without an answer (a TLS or SASL_SSL listener, or not Kafka)'
                  : `the connection is closed after ${received.length} bytes that are not a Kafka answer`,
            });
          }
        };
        socket.write(kafkaRequest(apiKey, version, id, PROBE_CLIENT_ID, body));
        if (closed) waiting();
      }),
    close: () => socket.destroy(),
  };
};

/** Whether a TCP connection to host:port opens within `timeoutMs`: null, or why not. */
const reachable = async (host: string, port: number, timeoutMs: number): Promise<string | null> => {
  const connected = await connectWithin(host, port, false, timeoutMs);
  if (!connected.ok) return connected.reason;
  connected.socket.destroy();
  return null;
};

/** What is wrong with one bootstrap address; null when Kafka answers there and its brokers can be reached. */
export const probeBroker = async (
  address: string,
  options: ProbeOptions,
): Promise<string | null> => {
  const { host, port } = splitAddress(address);
  const connected = await connectWithin(host, port, options.tls, options.timeoutMs);
  if (!connected.ok) return `${address}: ${connected.reason}`;
  const exchange = exchangeOn(connected.socket, options);
  try {
    const versions = await exchange.ask(API_VERSIONS, 0);
    if (versions.kind === 'problem') return `${address}: ${versions.reason}`;
    const version = metadataVersion(versions.body);
    if (options.sasl || version === null) return null;
    const metadata = await exchange.ask(API_METADATA, version, metadataBody(version));
    if (metadata.kind === 'problem') return null; // Kafka answered: the library's error says the rest
    let brokers: { nodeId: number; host: string; port: number }[];
    try {
      brokers = advertisedBrokers(metadata.body, version);
    } catch {
      return null;
    }
    const unreachable = (
      await Promise.all(
        brokers.map(async (b) => {
          const why = await reachable(b.host, b.port, options.timeoutMs);
          return why === null ? null : `${b.host}:${b.port} (node ${b.nodeId}: ${why})`;
        }),
      )
    ).filter((u) => u !== null);
    if (unreachable.length === 0) return null;
    return `${address}: Kafka answers here, but the brokers advertise ${unreachable.join(', ')}, which cannot be reached from here: the brokers' advertised.listeners must name addresses this client can reach`;
  } finally {
    exchange.close();
  }
};

/**
 * What is wrong with KAFKA_BROKERS, address by address (at most
 * `timeoutMs` per connection and per answer, the addresses at once); null
 * when Kafka answers at every address and its brokers can be reached.
 */
export const diagnoseBrokers = async (
  brokers: readonly string[],
  options: ProbeOptions,
): Promise<string | null> => {
  const found = await Promise.all(
    brokers.map((b) => probeBroker(b, options).catch((e) => `${b}: ${String(e)}`)),
  );
  const problems = found.filter((p): p is string => p !== null);
  return problems.length === 0 ? null : problems.join('; ');
};
