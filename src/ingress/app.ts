/**
 * @module ingress/app
 * The HTTP face of the ingress, built from its dependencies (no globals):
 *
 *   POST {path}   verify -> read -> parse -> normalise -> encode -> produce
 *   GET  /healthz process alive
 *   GET  /readyz  producer connected and schema registered
 *   GET  /metrics counters in the Prometheus text format
 *
 * A delivery is answered 200 with counts only after Kafka acknowledged every
 * record (main and dead-letter); errors map to HTTP in one place (`onError`).
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import type { PreparedBatch } from '../cdr/batch.ts';
import type { Feed, Ingest } from '../cdr/normalise.ts';
import { CdrError, type Result } from '../errors.ts';
import type { PublishCounts } from '../kafka/publish-cdrs.ts';
import type { Logger } from '../log.ts';
import { createMetrics, type Metrics } from '../metrics.ts';
import { contentTypeAllowed } from './content-type.ts';
import { scanRecords } from './parse-body.ts';
import { publishDelivery } from './publish-delivery.ts';
import {
  type Body,
  type BodyLimits,
  type ByteBudget,
  checkDeclaredLength,
  decodeBody,
  type Encoding,
  readBody,
  readEncoding,
} from './read-body.ts';
import {
  readSignatureHeaders,
  type SignatureClaims,
  type SignatureConfig,
  verifySignature,
} from './verify-signature.ts';

export type IngressSettings = SignatureConfig &
  BodyLimits & {
    readonly path: string;
    readonly feed: Feed;
    readonly contentTypes: readonly string[];
    /** Longest Kafka may take to acknowledge one chunk of a delivery. */
    readonly ackTimeoutMs: number;
    readonly signatureOverDecoded: boolean;
    readonly retryAfterSeconds: number;
  };

export type Readiness = () => { ready: boolean; checks: Record<string, boolean> };

export type IngressDeps = {
  readonly settings: IngressSettings;
  readonly publish: (
    batch: PreparedBatch,
    ingest: Ingest,
    deadlineMs: number,
  ) => Promise<PublishCounts>;
  readonly readiness: Readiness;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Caps the body bytes held by all deliveries in flight (503 beyond it). */
  readonly budget?: ByteBudget;
  readonly now?: () => number;
};

const unwrap = <T>(r: Result<T>): T => {
  if (!r.ok) throw r.error;
  return r.value;
};

/**
 * Signature first, over the bytes received; only then is a gzip body decoded.
 * With `signatureOverDecoded` a gzip body whose wire bytes do not match may
 * match over its decoded bytes (Webex does not say which it signs).
 */
const verifyAndDecode = async (
  claims: SignatureClaims,
  body: Body,
  encoding: Encoding,
  settings: IngressSettings,
): Promise<Buffer> => {
  if (claims.claims.length === 0) return unwrap(await decodeBody(body, encoding, settings));
  const overWire = verifySignature(claims, [body.wire], settings.secrets);
  if (overWire.ok) return unwrap(await decodeBody(body, encoding, settings));
  if (encoding !== 'gzip' || !settings.signatureOverDecoded) throw overWire.error;
  const decoded = unwrap(await decodeBody(body, encoding, settings));
  unwrap(verifySignature(claims, [[decoded]], settings.secrets));
  return decoded;
};

export const createApp = (deps: IngressDeps) => {
  const { settings, logger } = deps;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createMetrics();
  const app = new Hono();

  // Every answer of the webhook route is counted, whatever ended it.
  app.use(settings.path, async (c, next) => {
    const started = now();
    await next();
    metrics.delivery(c.res.status, (now() - started) / 1000);
  });

  app.get('/metrics', (c) =>
    c.text(metrics.render(), 200, { 'Content-Type': 'text/plain; version=0.0.4' }),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', (c) => {
    const r = deps.readiness();
    return c.json(
      { status: r.ready ? 'ready' : 'not ready', checks: r.checks },
      r.ready ? 200 : 503,
    );
  });

  app.post(settings.path, async (c) => {
    const started = now();
    const headers = c.req.raw.headers;
    const claims = unwrap(readSignatureHeaders(headers, settings));
    if (!contentTypeAllowed(headers.get('content-type'), settings.contentTypes)) {
      throw new CdrError(
        'content_type_unsupported',
        `Content-Type must be one of ${settings.contentTypes.join(', ')}`,
      );
    }
    const encoding = unwrap(readEncoding(headers));
    unwrap(checkDeclaredLength(headers, settings));
    let reserved = 0;
    try {
      const body = unwrap(
        await readBody(
          c.req.raw.body,
          settings,
          deps.budget,
          (n) => {
            reserved += n;
          },
          Number(headers.get('content-length') ?? undefined),
        ),
      );
      const readAt = now();
      const bytes = body.wireBytes;
      const deliveryId = randomUUID();
      const ingest: Ingest = {
        feed: settings.feed,
        source: 'webhook',
        received_at: started,
        delivery_id: deliveryId,
      };
      // The body's bytes are held until the end: records are parsed from them chunk by chunk.
      const decoded = await verifyAndDecode(claims, body, encoding, settings);
      const slices = unwrap(scanRecords(decoded));
      const received = slices.count;
      const preparedAt = now();
      const counts = await publishDelivery(slices, ingest, deps.publish, settings.ackTimeoutMs);
      metrics.records('accepted', counts.accepted);
      metrics.records('dead_lettered', counts.deadLettered);
      metrics.records('duplicate', counts.duplicatesInBatch);
      logger.info('delivery published', {
        deliveryId,
        trackingId: headers.get('trackingid') ?? undefined,
        bytes,
        received,
        ...counts,
        ms: now() - started,
        readMs: readAt - started,
        scanMs: preparedAt - readAt,
      });
      return c.json({ deliveryId, received, ...counts });
    } finally {
      deps.budget?.release(reserved);
    }
  });

  app.notFound((c) => c.json({ error: 'not_found', message: 'no such route' }, 404));

  app.onError((err, c) => {
    if (err instanceof CdrError) {
      const level = err.status >= 500 ? 'warn' : 'info';
      logger[level]('delivery refused', {
        code: err.code,
        status: err.status,
        reason: err.message,
      });
      if (err.status === 503) c.header('Retry-After', String(settings.retryAfterSeconds));
      return c.json({ error: err.code, message: err.message }, err.status as 400);
    }
    logger.error('unexpected error', { error: err instanceof Error ? err.message : String(err) });
    return c.json({ error: 'internal', message: 'internal error' }, 500);
  });

  return app;
};

export type IngressApp = ReturnType<typeof createApp>;
