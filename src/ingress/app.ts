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
 * record (main and dead-letter). The POST route is a chain of steps (route.ts),
 * listed below in the order they run; a step refuses by throwing a coded
 * error, and `onError` is the one place that maps codes to HTTP (status.ts).
 * Every webhook request ends in one log line (`info`) and is counted, whatever
 * ended it. A refusal (4xx, 5xx) and a dead-lettered record are also logged at
 * `warn` with their reason code, rate-limited per code (log-repeats.ts), and
 * counted by code. While draining (shutdown), new deliveries get 503 and
 * `/readyz` fails.
 */
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { Privacy } from '../cdr/privacy.ts';
import { CdrError } from '../errors.ts';
import type { Encoder } from '../kafka/wire-encoder.ts';
import type { Logger } from '../log.ts';
import { createRepeatedWarnings, type RepeatedWarnings } from '../log-repeats.ts';
import { createMetrics, type Metrics, scrape } from '../metrics.ts';
import type { Drain } from './drain.ts';
import type { Publish } from './publish-delivery.ts';
import type { ChunkWorkers } from './publish-parallel.ts';
import type { ByteBudget } from './read-body.ts';
import {
  createDeliverySteps,
  type DeliveryEnv,
  type DeliveryLine,
  type IngressSettings,
} from './route.ts';
import { httpStatus } from './status.ts';

export type { Drain } from './drain.ts';
export type { IngressSettings } from './route.ts';

export type Readiness = () => {
  ready: boolean;
  checks: Record<string, boolean>;
  /** Why not ready: the error a delivery gets meanwhile. */
  problem?: CdrError | null;
};

export type IngressDeps = {
  readonly settings: IngressSettings;
  readonly publish: Publish;
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
  /** Worker threads for large deliveries (ingress/publish-parallel.ts); none when null or absent. */
  readonly workers?: ChunkWorkers | null;
  /**
   * The encoder the publisher writes with, once the schema is known: a body
   * encoded on the main thread is transcoded with its schema id (ingress/
   * encode-chunk.ts). Absent: such bodies are parsed and normalised as objects.
   */
  readonly encoder?: () => Encoder | null;
  /** Where refusals and dead letters are warned about (rate-limited); one per app by default. */
  readonly warnings?: RepeatedWarnings;
};

export const createApp = (deps: IngressDeps) => {
  const { settings, logger } = deps;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createMetrics();
  const warnings = deps.warnings ?? createRepeatedWarnings(logger);
  const app = new Hono<DeliveryEnv>();
  const step = createDeliverySteps({
    settings,
    publish: deps.publish,
    budget: deps.budget,
    privacy: deps.privacy ?? null,
    workers: deps.workers ?? null,
    encoder: deps.encoder ?? (() => null),
    metrics,
    warnings,
    now,
  });

  /** Every answer of the webhook route is counted and logged once, whatever ended it. */
  const countAndLog = createMiddleware<DeliveryEnv>(async (c, next) => {
    const started = now();
    const line: DeliveryLine = {};
    c.set('delivery', line);
    c.set('receivedAt', started);
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

  const refuseWhileDraining = createMiddleware<DeliveryEnv>(async (_c, next) => {
    if (deps.drain?.draining()) {
      throw new CdrError('not_ready', 'the ingress is shutting down; retry later');
    }
    await next();
  });

  // The webhook's data path, in the order it runs (any method is counted and refused while draining).
  app.use(settings.path, countAndLog, refuseWhileDraining);
  app.post(
    settings.path,
    step.readClaims,
    step.requireType,
    step.readBody,
    step.verify,
    step.findRecords,
    step.publish,
  );

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

  app.notFound((c) => c.json({ error: 'not_found', message: 'no such route' }, 404));

  app.onError((err, c) => {
    if (err instanceof CdrError) {
      // the delivery's one log line (webhook middleware) carries the refusal
      Object.assign(c.get('delivery') ?? {}, { code: err.code, reason: err.message });
      const status = httpStatus(err.code) ?? 500;
      if (status === 503) c.header('Retry-After', String(settings.retryAfterSeconds));
      return c.json({ error: err.code, message: err.message }, status);
    }
    logger.error('unexpected error', { error: err instanceof Error ? err.message : String(err) });
    return c.json({ error: 'internal', message: 'internal error' }, 500);
  });

  return app;
};

export type IngressApp = ReturnType<typeof createApp>;
