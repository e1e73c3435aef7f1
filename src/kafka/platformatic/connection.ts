/**
 * @module kafka/platformatic/connection
 * What every part of the @platformatic/kafka adapter shares: the library,
 * loaded once and only when this adapter is chosen; the connection options
 * from the connector's Kafka settings (brokers, TLS, SASL); and refused
 * credentials found by code, as `auth_failed`.
 */
import { CdrError } from '../../errors.ts';
import type { KafkaOptions } from '../options.ts';

export type PlatformaticModule = typeof import('@platformatic/kafka');
export type PlatformaticConnection = Pick<KafkaOptions, 'brokers' | 'clientId' | 'ssl' | 'sasl'>;

/** The library (ESM, imported on first use: a kafkajs process never loads it). */
export const loadPlatformatic = (): Promise<PlatformaticModule> => import('@platformatic/kafka');

/** The library's SASL names for ours (kafkajs spells them in lower case). */
const SASL_MECHANISMS = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
} as const;

/** Connection options for @platformatic/kafka from the connector's Kafka settings. */
export const platformaticOptions = (config: PlatformaticConnection) => {
  const sasl = config.sasl;
  return {
    clientId: config.clientId,
    bootstrapBrokers: config.brokers,
    ...(config.ssl === false ? {} : { tls: config.ssl }),
    ...(sasl === undefined
      ? {}
      : {
          sasl: {
            mechanism: SASL_MECHANISMS[sasl.mechanism as keyof typeof SASL_MECHANISMS],
            username: sasl.username,
            password: sasl.password,
          },
        }),
  };
};

/** The options every client of the adapter starts from: the connection, and 3 s to connect. */
export const clientOptions = (config: PlatformaticConnection) => ({
  ...platformaticOptions(config),
  connectTimeout: 3000,
});

/** The library's error code of a refused authentication (its AuthenticationError). */
export const AUTHENTICATION_CODE = 'PLT_KFK_AUTHENTICATION';
/** Kafka's error for refused SASL credentials (error code 58), as the library names it. */
export const SASL_AUTHENTICATION_FAILED = 'SASL_AUTHENTICATION_FAILED';

/** Every error in `e`: itself, its causes, and the errors of a MultipleErrors, breadth first. */
export const errorsIn = (e: unknown): Error[] => {
  const seen = new Set<unknown>();
  const queue: unknown[] = [e];
  const found: Error[] = [];
  while (queue.length > 0) {
    const err = queue.shift();
    if (!(err instanceof Error) || seen.has(err)) continue;
    seen.add(err);
    found.push(err);
    queue.push(
      (err as { cause?: unknown }).cause,
      ...((err as { errors?: unknown[] }).errors ?? []),
    );
  }
  return found;
};

/**
 * Refused credentials as auth_failed: the library's AuthenticationError (by
 * its code), or Kafka's SASL_AUTHENTICATION_FAILED in a protocol error, also
 * when wrapped (causes, MultipleErrors).
 */
export const platformaticAuthFailure = (e: unknown): CdrError | null => {
  if (e instanceof CdrError) return e.code === 'auth_failed' ? e : null;
  const refused = errorsIn(e).find((err) => {
    const coded = err as { code?: unknown; apiId?: unknown };
    return coded.code === AUTHENTICATION_CODE || coded.apiId === SASL_AUTHENTICATION_FAILED;
  });
  if (refused === undefined) return null;
  return new CdrError(
    'auth_failed',
    `Kafka refused the credentials (${refused.message}): check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`,
    { cause: e },
  );
};
