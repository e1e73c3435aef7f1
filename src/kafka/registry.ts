/**
 * @module kafka/registry
 * Registers the CDR Avro schema under `<topic>-value` with compatibility
 * BACKWARD and encodes records in the Confluent wire format (magic byte 0,
 * 4-byte schema id, Avro binary). Works against Confluent Schema Registry and
 * Apicurio's ccompat API: Confluent answers `GET /config/{subject}` with 404
 * when the subject has no own setting, Apicurio with 200 and the global
 * default; both end with the subject at BACKWARD (or a stricter level the
 * operator chose), and registration never fails on that difference.
 * Authentication is HTTP basic (username + password) or a bearer token; an
 * https URL may name its own CA. Every request, of the registry client and
 * our own, carries the same Authorization header and TLS settings.
 */
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { CdrError } from '../errors.ts';

export type RegistryConfig = {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** PEM CA certificate(s) for an https URL. */
  ca?: string | undefined;
};

/** Levels that already guarantee what BACKWARD guarantees. */
const AT_LEAST_BACKWARD = new Set(['BACKWARD', 'BACKWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE']);

type Compatibility = 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE';

export type Encoder = {
  readonly schemaId: number;
  /** Confluent wire format of one record; throws when the value does not fit the schema. */
  encode(value: object): Buffer;
};

export type RegistryClient = {
  readonly registry: SchemaRegistry;
  /** Makes sure the subject is at least BACKWARD, registers the schema, returns an encoder. */
  registerEncoder(subject: string, schemaText: string): Promise<Encoder>;
  decode(buffer: Buffer): Promise<unknown>;
};

/** The URL without user:password, for messages and logs. */
export const redact = (url: string): string => {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return '(invalid URL)';
  }
};

/** The Authorization header value, if the registry needs one. */
export const authorizationFor = (c: RegistryConfig): string | undefined => {
  if (c.token !== undefined) return `Bearer ${c.token}`;
  if (c.username !== undefined) {
    return `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}`;
  }
  return undefined;
};

/** An https agent trusting the configured CA (undefined: Node's default trust). */
const agentFor = (c: RegistryConfig): Agent | undefined =>
  c.ca !== undefined && c.url.startsWith('https:')
    ? new Agent({ ca: c.ca, keepAlive: true })
    : undefined;

// 401 only: the credentials are wrong. A 403 (not allowed) may be granted while we retry.
const AUTH_STATUSES = new Set([401]);

const refused = (c: RegistryConfig, status: number, what: string) =>
  new CdrError(
    'auth_failed',
    `schema registry at ${redact(c.url)} refused ${what} with ${status}: check SCHEMA_REGISTRY_USERNAME/PASSWORD or SCHEMA_REGISTRY_TOKEN`,
  );

const registryFetch = (
  c: RegistryConfig,
  path: string,
  init: { method?: string; body?: unknown; agent?: Agent | undefined } = {},
): Promise<{ status: number; body: unknown }> => {
  const url = new URL(`${c.url.replace(/\/+$/, '')}${path}`);
  const authorization = authorizationFor(c);
  const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: init.method ?? 'GET',
        headers: {
          Accept: 'application/vnd.schemaregistry.v1+json',
          'Content-Type': 'application/vnd.schemaregistry.v1+json',
          ...(authorization === undefined ? {} : { Authorization: authorization }),
        },
        ...(init.agent === undefined ? {} : { agent: init.agent }),
        signal: AbortSignal.timeout(10_000),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: keep the text for the error message
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', (cause) =>
      reject(
        new CdrError(
          'registry_unavailable',
          `schema registry not reachable at ${redact(c.url)}: ${cause.message}`,
          { cause },
        ),
      ),
    );
    req.end(payload);
  });
};

/** Reads the subject's compatibility; sets BACKWARD unless it is already at least that strict. */
export const ensureBackwardCompatibility = async (
  c: RegistryConfig,
  subject: string,
  agent: Agent | undefined = agentFor(c),
): Promise<Compatibility> => {
  const path = `/config/${encodeURIComponent(subject)}`;
  const current = await registryFetch(c, path, { agent });
  if (AUTH_STATUSES.has(current.status)) throw refused(c, current.status, `GET ${path}`);
  const level =
    current.status === 200
      ? String((current.body as { compatibilityLevel?: unknown }).compatibilityLevel ?? '')
      : '';
  if (current.status !== 200 && current.status !== 404) {
    throw new CdrError('registry_unavailable', `GET ${path} answered ${current.status}`);
  }
  if (AT_LEAST_BACKWARD.has(level.toUpperCase())) return level.toUpperCase() as Compatibility;
  const set = await registryFetch(c, path, {
    method: 'PUT',
    body: { compatibility: 'BACKWARD' },
    agent,
  });
  if (AUTH_STATUSES.has(set.status)) throw refused(c, set.status, `PUT ${path}`);
  if (set.status !== 200) {
    throw new CdrError('registry_unavailable', `PUT ${path} answered ${set.status}`);
  }
  return 'BACKWARD';
};

export const createRegistryClient = (c: RegistryConfig): RegistryClient => {
  const agent = agentFor(c);
  const authorization = authorizationFor(c);
  const registry = new SchemaRegistry({
    host: c.url,
    clientId: 'webex-cdr-kafka',
    retry: { retries: 2, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 2 },
    ...(agent === undefined ? {} : { agent }),
    // One header for basic and bearer alike (the client's own `auth` knows only basic).
    ...(authorization === undefined
      ? {}
      : {
          middlewares: [
            () => ({
              request: (req) => req.enhance({ headers: { Authorization: authorization } }),
            }),
          ],
        }),
  });
  return {
    registry,
    async registerEncoder(subject, schemaText) {
      const compatibility = await ensureBackwardCompatibility(c, subject, agent);
      let id: number;
      try {
        ({ id } = await registry.register(
          { type: 'AVRO' as never, schema: schemaText },
          { subject, compatibility: compatibility as never },
        ));
      } catch (cause) {
        const status = (cause as { status?: unknown }).status;
        if (typeof status === 'number' && AUTH_STATUSES.has(status)) {
          throw refused(c, status, `registering ${subject}`);
        }
        throw new CdrError(
          'registry_unavailable',
          `registering ${subject} failed: ${String(cause)}`,
          {
            cause,
          },
        );
      }
      const schema = await registry.getSchema(id);
      const header = Buffer.alloc(5);
      header.writeUInt8(0, 0);
      header.writeUInt32BE(id, 1);
      return { schemaId: id, encode: wireEncoder(header, schema) };
    },
    decode: (buffer) => registry.decode(buffer),
  };
};

/** Bytes of the slabs records are encoded into. */
const SLAB_BYTES = 1024 * 1024;

type AvroType = {
  toBuffer(value: unknown): Buffer;
  /** avsc: writes at `pos`; returns the end, or a negative number when `buf` is too short. */
  encode?(value: unknown, buf: Buffer, pos: number): number;
};

/**
 * The Confluent wire format (magic byte, schema id, Avro body) of one record,
 * written straight into a shared slab: no buffer per record, no copy. A
 * record's bytes are a view of the slab, which lives as long as any of them.
 */
export const wireEncoder = (header: Buffer, type: AvroType): ((value: object) => Buffer) => {
  const encode = type.encode?.bind(type);
  if (encode === undefined) return (value) => Buffer.concat([header, type.toBuffer(value)]);
  let slab = Buffer.allocUnsafe(SLAB_BYTES);
  let used = 0;
  return (value) => {
    for (let size = SLAB_BYTES; ; size *= 2) {
      if (slab.length - used < header.length + 1) {
        slab = Buffer.allocUnsafe(size);
        used = 0;
      }
      const start = used;
      header.copy(slab, start);
      const end = encode(value, slab, start + header.length);
      if (end >= 0) {
        used = end;
        return slab.subarray(start, end);
      }
      // too long for what is left: a fresh slab, larger when the record alone does not fit
      slab = Buffer.allocUnsafe(start === 0 ? size * 2 : size);
      used = 0;
    }
  };
};
