/** An ingress started in this process against the real stack, on a random port. */

import { startIngress } from '../../../src/ingress/server.ts';
import { createLogger } from '../../../src/log.ts';
import { parseIngressConfig } from '../../../src/settings.ts';
import type { TestStack } from './stack.ts';

export const startTestIngress = async (
  stack: TestStack,
  env: Record<string, string>,
  opts: { waitReady?: boolean } = {},
) => {
  const parsed = parseIngressConfig({
    KAFKA_BROKERS: stack.brokers.join(','),
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    CDR_FEED: 'analytics',
    PORT: '0',
    HOST: '127.0.0.1',
    CDR_TOPIC_PARTITIONS: '3',
    ...env,
  });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const ingress = await startIngress(
    parsed.config,
    createLogger((process.env.TEST_LOG_LEVEL as 'info' | undefined) ?? 'silent'),
  );
  if (opts.waitReady !== false) await ingress.started;
  return { ...ingress, config: parsed.config, webhookUrl: `${ingress.url}${parsed.config.path}` };
};
