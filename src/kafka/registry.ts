/**
 * @module kafka/registry
 * Finds the schema id records are written with, under `<topic>-value`, and
 * encodes records in the Confluent wire format (magic byte 0, 4-byte schema
 * id, Avro binary). Works against Confluent Schema Registry and Apicurio's
 * ccompat API.
 *
 * By default (`autoRegister`) it registers the CDR schema with the subject at
 * least BACKWARD: Confluent answers `GET /config/{subject}` with 404 when the
 * subject has no own setting, Apicurio with 200 and NONE or the global default
 * (404 for a subject it does not know); a level already at least as strict as
 * BACKWARD, the subject's or the global one, is never lowered.
 * Governed (`autoRegister: false`): it never registers and never changes a
 * compatibility level; it looks the schema up (by content, or the subject's
 * latest version with `useLatest`) and refuses to start when the registered
 * schema cannot read what the connector writes.
 *
 * Answers that retrying cannot change fail the start with a hint: 401 and 403
 * (credentials, a read-only registry) as `auth_failed`, a 404 that is not the
 * registry's own "not found" (a URL without Apicurio's `/apis/ccompat/v7`) and
 * a schema the registry refuses as `config_invalid`. Authentication is HTTP
 * basic (username + password) or a bearer token; an https URL may name its own
 * CA. Every request, of the registry client and our own, carries the same
 * Authorization header and TLS settings.
 */
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { CdrError, describe } from '../errors.ts';
import { type AvroSchemaType, type Encoder, encoderFor, parseAvro } from './wire-encoder.ts';

export type RegistryConfig = {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** PEM CA certificate(s) for an https URL. */
  ca?: string | undefined;
  /** false: governed, never register nor change compatibility (default true). */
  autoRegister?: boolean | undefined;
  /** Governed: write with the subject's latest version instead of looking ours up by content. */
  useLatest?: boolean | undefined;
};

/** Levels that already guarantee what BACKWARD guarantees. */
const AT_LEAST_BACKWARD = new Set(['BACKWARD', 'BACKWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE']);

type Compatibility = 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE';

export type RegistryClient = {
  readonly registry: SchemaRegistry;
  /**
   * The encoder of `schemaText` under `subject`: registered (the subject kept at
   * least BACKWARD) or, governed, looked up and checked.
   */
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

const AUTH_HINT = 'check SCHEMA_REGISTRY_USERNAME/PASSWORD or SCHEMA_REGISTRY_TOKEN';

/**
 * The registry's own "not found" (subject, version, schema or setting) carries
 * an error code 404xx; any other 404 comes from a server without the API at
 * this path (Apicurio's root answers 404 for /subjects and /config).
 */
const registryNotFound = (body: unknown): boolean => {
  const code = (body as { error_code?: unknown } | null)?.error_code;
  return typeof code === 'number' && code > 40400 && code < 40500;
};

/** An answer that retrying will not change, as the error that fails the start; else null. */
export const refusal = (
  c: RegistryConfig,
  answer: { status: number; body: unknown },
  what: string,
): CdrError | null => {
  const at = `schema registry at ${redact(c.url)}`;
  const { status } = answer;
  if (status === 401)
    return new CdrError('auth_failed', `${at} refused ${what} with 401: ${AUTH_HINT}`);
  if (status === 403) {
    return new CdrError(
      'auth_failed',
      `${at} refused ${what} with 403 (forbidden): the credentials may not do this, or the registry is read-only (governed): ${AUTH_HINT}${c.autoRegister === false ? ' (governed mode only reads: the credentials need read access to the subject)' : ', or set SCHEMA_AUTO_REGISTER=false to use the schema its owners registered'}`,
    );
  }
  if (status === 404 && !registryNotFound(answer.body)) {
    return new CdrError(
      'config_invalid',
      `${at} answered 404 for ${what}: no Confluent-compatible API at this URL; check SCHEMA_REGISTRY_URL (Apicurio serves it under /apis/ccompat/v7, e.g. http://registry:8080/apis/ccompat/v7)`,
    );
  }
  return null;
};

/** The registry's message for an answer, for errors (never a schema or credentials). */
const answerText = (a: { status: number; body: unknown }): string => {
  const message = (a.body as { message?: unknown } | null)?.message;
  return `${a.status}${typeof message === 'string' ? ` (${message.slice(0, 300)})` : ''}`;
};

/** Throws the refusal, or a retriable registry_unavailable unless the answer is one of `ok`. */
const expect = (
  c: RegistryConfig,
  answer: { status: number; body: unknown },
  what: string,
  ok: readonly number[] = [200],
) => {
  const refused = refusal(c, answer, what);
  if (refused !== null) throw refused;
  if (!ok.includes(answer.status)) {
    throw new CdrError('registry_unavailable', `${what} answered ${answerText(answer)}`);
  }
};

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

const levelOf = (a: { status: number; body: unknown }): string =>
  a.status === 200
    ? String((a.body as { compatibilityLevel?: unknown }).compatibilityLevel ?? '').toUpperCase()
    : '';

/**
 * Keeps the subject at least BACKWARD, and at the global level when that is
 * stricter: a level at least as strict as BACKWARD, the subject's or the
 * global one, is never lowered. (Apicurio reports NONE for a subject without
 * rules of its own while a stricter global rule is in force: so the global
 * level is read whenever the subject's is weaker.)
 */
export const ensureBackwardCompatibility = async (
  c: RegistryConfig,
  subject: string,
  agent: Agent | undefined = agentFor(c),
): Promise<Compatibility> => {
  const path = `/config/${encodeURIComponent(subject)}`;
  const current = await registryFetch(c, path, { agent });
  expect(c, current, `GET ${path}`, [200, 404]);
  const level = levelOf(current);
  if (AT_LEAST_BACKWARD.has(level)) return level as Compatibility;
  const global = await registryFetch(c, '/config', { agent });
  expect(c, global, 'GET /config');
  const globalLevel = levelOf(global);
  const target = (AT_LEAST_BACKWARD.has(globalLevel) ? globalLevel : 'BACKWARD') as Compatibility;
  const set = await registryFetch(c, path, {
    method: 'PUT',
    body: { compatibility: target },
    agent,
  });
  expect(c, set, `PUT ${path}`);
  return target;
};

const fieldNames = (type: AvroSchemaType): string[] =>
  (type.schema() as { fields?: { name: string }[] }).fields?.map((f) => f.name) ?? [];

/**
 * Governed: the id and schema registered for what we write, by content or as
 * the subject's latest version; refused when it cannot read our records.
 */
export const findRegisteredSchema = async (
  c: RegistryConfig,
  subject: string,
  schemaText: string,
  agent: Agent | undefined = agentFor(c),
): Promise<{ id: number; type: AvroSchemaType; text: string }> => {
  const base = `/subjects/${encodeURIComponent(subject)}`;
  const what = c.useLatest ? `GET ${base}/versions/latest` : `POST ${base} (lookup)`;
  const answer = c.useLatest
    ? await registryFetch(c, `${base}/versions/latest`, { agent })
    : await registryFetch(c, base, { method: 'POST', body: { schema: schemaText }, agent });
  if (answer.status === 404 && registryNotFound(answer.body)) {
    throw new CdrError(
      'config_invalid',
      `SCHEMA_AUTO_REGISTER=false: ${c.useLatest ? `subject ${subject} has no version` : `the CDR schema is not registered under ${subject}`} (${what} answered ${answerText(answer)}); the connector does not register in governed mode: have schemas/cdr.avsc registered under ${subject}${c.useLatest ? '' : ', or set SCHEMA_USE_LATEST=true to write with its latest version'}`,
    );
  }
  expect(c, answer, what);
  const found = answer.body as { id?: unknown; schema?: unknown };
  if (typeof found.id !== 'number') {
    throw new CdrError('registry_unavailable', `${what} answered without a schema id`);
  }
  const ours = parseAvro(schemaText);
  const registered = typeof found.schema === 'string' ? parseAvro(found.schema) : ours;
  try {
    registered.createResolver(ours);
  } catch (e) {
    throw new CdrError(
      'config_invalid',
      `SCHEMA_AUTO_REGISTER=false: schema ${found.id} registered under ${subject} cannot read the records the connector writes (${describe(e)}); register a version compatible with schemas/cdr.avsc`,
    );
  }
  // Writing with a schema that lacks a field of ours would drop its values silently.
  const lacking = fieldNames(ours).filter((n) => !fieldNames(registered).includes(n));
  if (lacking.length > 0) {
    throw new CdrError(
      'config_invalid',
      `SCHEMA_AUTO_REGISTER=false: schema ${found.id} registered under ${subject} lacks field(s) ${lacking.join(', ')} of the records the connector writes, whose values would be lost; register schemas/cdr.avsc (contract v2, BACKWARD over v1) under ${subject}`,
    );
  }
  return {
    id: found.id,
    type: registered,
    text: typeof found.schema === 'string' ? found.schema : schemaText,
  };
};

/** Registers `schemaText` under `subject`; its id. */
const registerSchema = async (
  c: RegistryConfig,
  subject: string,
  schemaText: string,
  agent: Agent | undefined,
): Promise<number> => {
  const what = `POST /subjects/${subject}/versions`;
  const post = () =>
    registryFetch(c, `/subjects/${encodeURIComponent(subject)}/versions`, {
      method: 'POST',
      body: { schema: schemaText },
      agent,
    });
  let answer = await post();
  // Apicurio answers 409 "already exists" to the loser of two registrations at
  // the same moment (replicas starting together); asked again, it has the id.
  if (answer.status === 409 && /already exists/i.test(answerText(answer))) answer = await post();
  if (answer.status === 409 || answer.status === 422) {
    throw new CdrError(
      'config_invalid',
      `schema registry refused the CDR schema under ${subject}: ${answerText(answer)}; check the subject's compatibility level and versions`,
    );
  }
  expect(c, answer, what);
  const id = (answer.body as { id?: unknown }).id;
  if (typeof id !== 'number') {
    throw new CdrError('registry_unavailable', `${what} answered without a schema id`);
  }
  return id;
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
      if (c.autoRegister === false) {
        const found = await findRegisteredSchema(c, subject, schemaText, agent);
        return encoderFor(found.id, found.text, found.type);
      }
      await ensureBackwardCompatibility(c, subject, agent);
      return encoderFor(await registerSchema(c, subject, schemaText, agent), schemaText);
    },
    decode: (buffer) => registry.decode(buffer),
  };
};
