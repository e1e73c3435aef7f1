/**
 * A reconciler built in this process against the real stack and a Webex
 * stand-in's URL, stopped when the test `t` ends.
 */

import { createLogger, type Logger } from '../../../src/log.ts';
import { createReconciler } from '../../../src/reconciler/service.ts';
import { parseReconcilerConfig } from '../../../src/settings.ts';
import { onEnd, type TestScope } from './scope.ts';
import type { TestStack } from './stack.ts';

export const createTestReconciler = (
  t: TestScope,
  stack: TestStack,
  env: Record<string, string> & { CDR_TOPIC: string; WEBEX_API_BASE_URL: string },
  logger: Logger = createLogger('silent'),
) => {
  const parsed = parseReconcilerConfig({
    KAFKA_BROKERS: stack.brokers.join(','),
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    CDR_FEED: 'analytics',
    WEBEX_ACCESS_TOKEN: 'test-token',
    ...env,
  });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const reconciler = createReconciler(parsed.config, logger);
  onEnd(t, () => reconciler.stop());
  return reconciler;
};
