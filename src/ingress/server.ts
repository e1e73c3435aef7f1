/**
 * @module ingress/server
 * Runs the ingress: wires configuration into the sink and the Hono app and
 * serves it with @hono/node-server. On SIGTERM/SIGINT it stops accepting,
 * lets deliveries in flight finish, then disconnects from Kafka.
 */
import type { IngressConfig } from '../config.ts';
import { createCdrSink } from '../kafka/cdr-sink.ts';
import { listen } from '../listen.ts';
import type { Logger } from '../log.ts';
import { createApp } from './app.ts';
import { createByteBudget } from './read-body.ts';

export type RunningIngress = {
  readonly port: number;
  readonly url: string;
  readonly started: Promise<void>;
  close(): Promise<void>;
};

export const startIngress = async (
  config: IngressConfig,
  logger: Logger,
): Promise<RunningIngress> => {
  if (config.secrets.length === 0) {
    logger.warn(
      'WEBHOOK_INSECURE_NO_SIGNATURE is set and no WEBHOOK_SECRETS: deliveries are NOT authenticated',
    );
  }
  const sink = createCdrSink(config, logger);
  const app = createApp({
    settings: config,
    publish: (batch, ingest, deadlineMs) => sink.publisher.publish(batch, ingest, deadlineMs),
    readiness: sink.readiness,
    logger,
    budget: createByteBudget(config.maxInflightBytes),
  });
  const server = await listen(app.fetch, {
    port: config.port,
    hostname: config.host,
    requestTimeoutMs: config.requestTimeoutMs,
  });
  const { port, url } = server;
  logger.info('ingress listening', {
    url: `${url}${config.path}`,
    topic: config.topic,
    dlqTopic: config.dlqTopic,
    feed: config.feed,
    secrets: config.secrets.length,
  });
  return {
    port,
    url,
    started: sink.started,
    async close() {
      await server.close();
      await sink.close();
    },
  };
};
