/**
 * @module ingress/app
 * The HTTP face of the ingress, built from its dependencies (no globals):
 *
 *   POST {path}   verify -> read -> parse -> normalise -> encode -> produce
 *   GET  /healthz process alive
 *   GET  /readyz  producer connected and schema registered
 *   GET  /metrics its metrics in the Prometheus text format (metrics.ts)
 *
 * A delivery is answered 200 with counts only after Kafka acknowledged every
 * record (main and dead-letter); errors map to HTTP in one place (`onError`).
 * Every webhook request ends in one log line (`info`) and is counted, whatever
 * ended it. A refusal (4xx, 5xx) and a dead-lettered record are also logged at
 * `warn` with their reason code, rate-limited per code (log-repeats.ts), and
 * counted by code. While draining (shutdown), new deliveries get 503 and
 * `/readyz` fails.
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import type { PreparedBatch } from '../cdr/batch.ts';
import type { Feed, Ingest } from '../cdr/normalise.ts';
import type { Privacy } from '../cdr/privacy.ts';
import { CdrError, type ErrorCode, type Result } from '../errors.ts';
import type { PublishCounts } from '../kafka/publish-cdrs.ts';
import type { Logger } from '../log.ts';
import { createRepeatedWarnings, type RepeatedWarnings } from '../log-repeats.ts';
import { createMetrics, type Metrics, scrape } from '../metrics.ts';
import type { BodyBytes } from './body-bytes.ts';
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

export type Readiness = () => {
  ready: boolean;
  checks: Record<string, boolean>;
  /** Why not ready: the error a delivery gets meanwhile. */
  problem?: CdrError | null;
};

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
  /** Fields to drop or hash before encoding (none when null or absent). */
  readonly privacy?: Privacy | null;
  /** Shutdown: refuses new deliveries while draining, and counts those in flight. */
  readonly drain?: Drain;
  /** Where refusals and dead letters are warned about (rate-limited); one per app by default. */
  readonly warnings?: RepeatedWarnings;
};

export type Drain = {
  draining(): boolean;
  /** Marks a delivery in flight; the function returned marks it done. */
  enter(): () => void;
};

/** What the one log line of a webhook request says, filled in as it goes. */
type DeliveryLine = Record<string, unknown>;

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
): Promise<BodyBytes> => {
  if (claims.claims.length === 0) return unwrap(await decodeBody(body, encoding, settings));
  const overWire = verifySignature(claims, [body.wire], settings.secrets);
  if (overWire.ok) return unwrap(await decodeBody(body, encoding, settings));
  if (encoding !== 'gzip' || !settings.signatureOverDecoded) throw overWire.error;
  const decoded = unwrap(await decodeBody(body, encoding, settings));
  const check = verifySignature(claims, [decoded], settings.secrets);
  if (!check.ok) {
    decoded.close();
    throw check.error;
  }
  return decoded;
};

/** Dead letters by reason code: those of the batch, the rest failed Avro encoding. */
const deadLetterReasons = (batch: PreparedBatch, deadLettered: number) => {
  const byCode = new Map<ErrorCode, number>();
  for (const d of batch.dead) byCode.set(d.error.code, (byCode.get(d.error.code) ?? 0) + 1);
  const encodeFailed = deadLettered - batch.dead.length;
  if (encodeFailed > 0) {
    byCode.set('record_encode_failed', (byCode.get('record_encode_failed') ?? 0) + encodeFailed);
  }
  return byCode;
};

export const createApp = (deps: IngressDeps) => {
  const { settings, logger } = deps;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createMetrics();
  const warnings = deps.warnings ?? createRepeatedWarnings(logger);
  const app = new Hono<{ Variables: { delivery: DeliveryLine } }>();

  // Every answer of the webhook route is counted and logged once, whatever ended it.
  app.use(settings.path, async (c, next) => {
    const started = now();
    const line: DeliveryLine = {};
    c.set('delivery', line);
    const done = deps.drain?.enter();
    metrics.inFlight(1);
    try {
      await next();
    } finally {
      metrics.inFlight(-1);
      done?.();
    }
    const status = c.res.status;
    const ms = now() - started;
    metrics.delivery(status, ms / 1000);
    if (status < 300) metrics.accepted(now());
    logger.info('delivery', { status, ...line, ms });
    if (status >= 400) {
      const code = typeof line.code === 'string' ? line.code : 'internal';
      metrics.refused(status, code);
      warnings.warn(`${status} ${code}`, 'delivery refused', {
        status,
        code,
        reason: line.reason ?? 'internal error',
        trackingId: line.trackingId,
      });
    }
  });

  app.use(settings.path, async (_c, next) => {
    if (deps.drain?.draining()) {
      throw new CdrError('not_ready', 'the ingress is shutting down; retry later');
    }
    await next();
  });

  app.get('/metrics', () => scrape(metrics));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', (c) => {
    if (deps.drain?.draining()) return c.json({ status: 'stopping', checks: {} }, 503);
    const r = deps.readiness();
    const problem = r.ready ? null : (r.problem ?? null);
    return c.json(
      {
        status: r.ready ? 'ready' : 'not ready',
        checks: r.checks,
        ...(problem === null ? {} : { error: problem.code, message: problem.message }),
      },
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
    const held: BodyBytes[] = [];
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
      held.push(body.wire);
      const readAt = now();
      const bytes = body.wireBytes;
      metrics.payload(bytes);
      const deliveryId = randomUUID();
      const line = c.get('delivery');
      Object.assign(line, {
        deliveryId,
        trackingId: headers.get('trackingid') ?? undefined,
        bytes,
      });
      const ingest: Ingest = {
        feed: settings.feed,
        source: 'webhook',
        received_at: started,
        delivery_id: deliveryId,
      };
      // The body's bytes are held until the end: records are parsed from them chunk by chunk.
      const decoded = await verifyAndDecode(claims, body, encoding, settings);
      held.push(decoded);
      if (decoded.spooled) line.spooled = true;
      const slices = unwrap(scanRecords(decoded));
      const received = slices.count;
      line.records = received;
      const preparedAt = now();
      const counts = await publishDelivery(slices, ingest, deps.publish, settings.ackTimeoutMs, {
        privacy: deps.privacy ?? null,
        onChunk(batch, chunk) {
          metrics.records('webhook', 'published', chunk.accepted);
          metrics.records('webhook', 'dead_lettered', chunk.deadLettered);
          metrics.records('webhook', 'duplicate_in_batch', chunk.duplicatesInBatch);
          for (const [code, n] of deadLetterReasons(batch, chunk.deadLettered)) {
            metrics.deadLettered(code, n);
            warnings.warn(`dead_lettered ${code}`, 'records dead-lettered', {
              code,
              records: n,
              deliveryId,
            });
          }
        },
      });
      metrics.produced((now() - preparedAt) / 1000);
      Object.assign(line, {
        published: counts.accepted,
        deadLettered: counts.deadLettered,
        duplicates: counts.duplicatesInBatch,
        ...(counts.repeats === undefined ? {} : { repeats: counts.repeats }),
        ...(counts.versions === undefined ? {} : { versions: counts.versions }),
        readMs: readAt - started,
        scanMs: preparedAt - readAt,
      });
      return c.json({ deliveryId, received, ...counts });
    } finally {
      for (const b of held) b.close();
      deps.budget?.release(reserved);
    }
  });

  app.notFound((c) => c.json({ error: 'not_found', message: 'no such route' }, 404));

  app.onError((err, c) => {
    if (err instanceof CdrError) {
      // the delivery's one log line (webhook middleware) carries the refusal
      Object.assign(c.get('delivery') ?? {}, { code: err.code, reason: err.message });
      if (err.status === 503) c.header('Retry-After', String(settings.retryAfterSeconds));
      return c.json({ error: err.code, message: err.message }, err.status as 400);
    }
    logger.error('unexpected error', { error: err instanceof Error ? err.message : String(err) });
    return c.json({ error: 'internal', message: 'internal error' }, 500);
  });

  return app;
};

export type IngressApp = ReturnType<typeof createApp>;
