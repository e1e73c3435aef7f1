/**
 * @module ingress/server
 * Runs the ingress: wires configuration into the sink and the Hono app and
 * serves it with @hono/node-server.
 *
 * Shutdown (`close(deadlineMs)`, on SIGTERM/SIGINT): new deliveries get 503
 * with Retry-After and `/readyz` fails at once; deliveries in flight finish;
 * then the listener closes and the producer disconnects (sends are
 * acknowledged before a delivery is answered, so nothing is left to flush).
 * If that is not over by the deadline, it gives up and says what it abandoned:
 * those deliveries were never answered 2xx, so Webex sends them again or the
 * reconciler backfills them.
 */
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { registerDedupMetrics } from '../dedup/metrics.ts';
import { type CdrSinkOptions, createCdrSink } from '../kafka/cdr-sink.ts';
import { listen } from '../listen.ts';
import type { Logger } from '../log.ts';
import { createRepeatedWarnings } from '../log-repeats.ts';
import { createMetrics } from '../metrics.ts';
import { createApp } from './app.ts';
import { spoolDirProblem } from './body-bytes.ts';
import { createDrain } from './drain.ts';
import type { IngressConfig } from './options.ts';
import { createChunkWorkers } from './publish-parallel.ts';
import { createByteBudget } from './read-body.ts';

export type Shutdown =
  | { clean: true }
  | { clean: false; stage: 'deliveries' | 'producer'; inFlight: number };

export type RunningIngress = {
  readonly port: number;
  readonly url: string;
  readonly started: Promise<void>;
  /** Drains and stops; gives up after `deadlineMs` (default: never). */
  close(deadlineMs?: number): Promise<Shutdown>;
};

export const startIngress = async (
  config: IngressConfig,
  logger: Logger,
  /** A one-shot caller (the demo) gives up after STARTUP_TIMEOUT; the service keeps trying. */
  sinkOptions: CdrSinkOptions = {},
): Promise<RunningIngress> => {
  if (config.secrets.length === 0) {
    logger.warn(
      'WEBHOOK_INSECURE_NO_SIGNATURE is set and no WEBHOOK_SECRETS: deliveries are NOT authenticated',
    );
  }
  const spoolProblem = spoolDirProblem(config.spoolDir);
  if (spoolProblem !== null) {
    // small deliveries still work: say loudly that large ones will get 503
    logger.error('the spool directory is not usable: deliveries over SPOOL_BYTES will get 503', {
      spoolDir: config.spoolDir ?? tmpdir(),
      error: spoolProblem,
    });
  }
  const sink = createCdrSink(config, logger, [], {
    ...sinkOptions,
    ...(config.dedupWindowMs === null ? {} : { dedupWindowMs: config.dedupWindowMs }),
  });
  const metrics = createMetrics();
  const { dedup } = sink;
  if (dedup !== null) registerDedupMetrics(metrics.registry, dedup.stats);
  const drain = createDrain();
  const warnings = createRepeatedWarnings(logger);
  const workers =
    config.workers === 0
      ? null
      : createChunkWorkers({
          size: config.workers,
          minBytes: config.workersMinBytes,
          privacy: config.privacy,
          encoder: sink.encoder,
        });
  const app = createApp({
    settings: config,
    publish: (batch, ingest, deadlineMs) => sink.publisher.publish(batch, ingest, deadlineMs),
    readiness: sink.readiness,
    logger,
    metrics,
    budget: createByteBudget(config.maxInflightBytes),
    privacy: config.privacy,
    drain,
    warnings,
    workers,
    encoder: sink.encoder,
  });
  const server = await listen(app.fetch, {
    port: config.port,
    hostname: config.host,
    requestTimeoutMs: config.requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    settings: { port: 'PORT', host: 'HOST' },
  });
  const { port, url } = server;
  logger.info('ingress listening', {
    url: `${url}${config.path}`,
    topic: config.topic,
    dlqTopic: config.dlqTopic,
    feed: config.feed,
    secretCount: config.secrets.length,
    privacy: config.privacy?.header ?? 'none',
    dedupWindowMs: config.dedupWindowMs,
    workers: config.workers,
  });

  let closing: Promise<Shutdown> | undefined;
  const stop = async (deadlineMs: number): Promise<Shutdown> => {
    const started = Date.now();
    drain.start();
    logger.info('draining: new deliveries get 503', { inFlight: drain.inFlight() });
    let stage: 'deliveries' | 'producer' = 'deliveries';
    const timeout = new AbortController();
    const work = (async () => {
      await drain.idle();
      stage = 'producer';
      // waits for the last answers to be written; idle keep-alive connections close at once
      await server.close();
      await workers?.close();
      await sink.close();
    })();
    const expired = sleep(deadlineMs, 'expired' as const, { signal: timeout.signal }).catch(
      () => 'done' as const,
    );
    const outcome = await Promise.race([work.then(() => 'done' as const), expired]);
    timeout.abort();
    warnings.flush(); // the counts of repeated refusals not yet logged
    if (outcome === 'done') {
      logger.info('stopped', { ms: Date.now() - started });
      return { clean: true };
    }
    const inFlight = drain.inFlight();
    logger.error('shutdown deadline passed: abandoning', {
      deadlineMs,
      stage,
      abandonedDeliveries: inFlight,
      note: 'abandoned deliveries were not answered 2xx: Webex retries them or the reconciler backfills them',
    });
    void server.close(true);
    void workers?.close();
    return { clean: false, stage, inFlight };
  };

  return {
    port,
    url,
    started: sink.started,
    close(deadlineMs = 2 ** 31 - 1) {
      closing ??= stop(deadlineMs);
      return closing;
    },
  };
};
