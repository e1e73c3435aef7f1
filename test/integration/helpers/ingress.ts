/**
 * An ingress started in this process against the real stack, on a random port:
 * `startTestIngress(t, ...)` closes it when the test `t` ends; `startSuiteIngress`
 * is for one the suite's own `after` closes.
 */

import { startIngress } from '../../../src/ingress/server.ts';
import { createLogger } from '../../../src/log.ts';
import { parseIngressConfig } from '../../../src/settings.ts';
import { onEnd, type TestScope } from './scope.ts';
import type { TestStack } from './stack.ts';

type Options = { waitReady?: boolean };

export type TestIngress = Awaited<ReturnType<typeof startSuiteIngress>>;

export const startTestIngress = async (
  t: TestScope,
  stack: TestStack,
  env: Record<string, string>,
  opts: Options = {},
): Promise<TestIngress> => {
  const ingress = await startSuiteIngress(stack, env, { ...opts, waitReady: false });
  onEnd(t, () => ingress.close());
  if (opts.waitReady !== false) await ingress.started;
  return ingress;
};

export const startSuiteIngress = async (
  stack: TestStack,
  env: Record<string, string>,
  opts: Options = {},
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
