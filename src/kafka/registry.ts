/**
 * @module kafka/registry
 * Registers the CDR Avro schema under `<topic>-value` with compatibility
 * BACKWARD and encodes records in the Confluent wire format (magic byte 0,
 * 4-byte schema id, Avro binary). Works against Confluent Schema Registry and
 * Apicurio's ccompat API: Confluent answers `GET /config/{subject}` with 404
 * when the subject has no own setting, Apicurio with 200 and the global
 * default; both end with the subject at BACKWARD (or a stricter level the
 * operator chose), and registration never fails on that difference.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { CdrError } from '../errors.ts';

export type RegistryConfig = {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
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

const headersFor = (c: RegistryConfig): Record<string, string> => {
  const h: Record<string, string> = { Accept: 'application/vnd.schemaregistry.v1+json' };
  if (c.username !== undefined) {
    h.Authorization = `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}`;
  }
  return h;
};

const registryFetch = async (
  c: RegistryConfig,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: unknown }> => {
  const url = `${c.url.replace(/\/+$/, '')}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? 'GET',
      headers: { ...headersFor(c), 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (cause) {
    throw new CdrError(
      'registry_unavailable',
      `schema registry not reachable at ${redact(c.url)}`,
      {
        cause,
      },
    );
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error message
  }
  return { status: res.status, body };
};

/** Reads the subject's compatibility; sets BACKWARD unless it is already at least that strict. */
export const ensureBackwardCompatibility = async (
  c: RegistryConfig,
  subject: string,
): Promise<Compatibility> => {
  const path = `/config/${encodeURIComponent(subject)}`;
  const current = await registryFetch(c, path);
  const level =
    current.status === 200
      ? String((current.body as { compatibilityLevel?: unknown }).compatibilityLevel ?? '')
      : '';
  if (current.status !== 200 && current.status !== 404) {
    throw new CdrError('registry_unavailable', `GET ${path} answered ${current.status}`);
  }
  if (AT_LEAST_BACKWARD.has(level.toUpperCase())) return level.toUpperCase() as Compatibility;
  const set = await registryFetch(c, path, { method: 'PUT', body: { compatibility: 'BACKWARD' } });
  if (set.status !== 200) {
    throw new CdrError('registry_unavailable', `PUT ${path} answered ${set.status}`);
  }
  return 'BACKWARD';
};

export const createRegistryClient = (c: RegistryConfig): RegistryClient => {
  const registry = new SchemaRegistry({
    host: c.url,
    clientId: 'webex-cdr-kafka',
    retry: { retries: 2, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 2 },
    ...(c.username === undefined
      ? {}
      : { auth: { username: c.username, password: c.password ?? '' } }),
  });
  return {
    registry,
    async registerEncoder(subject, schemaText) {
      const compatibility = await ensureBackwardCompatibility(c, subject);
      let id: number;
      try {
        ({ id } = await registry.register(
          { type: 'AVRO' as never, schema: schemaText },
          { subject, compatibility: compatibility as never },
        ));
      } catch (cause) {
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
      return {
        schemaId: id,
        encode: (value) => Buffer.concat([header, schema.toBuffer(value)]),
      };
    },
    decode: (buffer) => registry.decode(buffer),
  };
};
