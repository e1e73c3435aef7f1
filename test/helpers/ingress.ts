/** Ingress settings for unit tests. */
import type { IngressSettings } from '../../src/ingress/app.ts';

/**
 * Settings for an app under test: JSON bodies at /webhooks/cdr signed with
 * HMAC-SHA1 over the body as received, 64 KiB limits, a 5 s ack deadline;
 * `set` gives the secrets and whatever else the test depends on.
 */
export const ingressSettings = (
  set: Pick<IngressSettings, 'secrets'> & Partial<IngressSettings>,
): IngressSettings => ({
  acceptSha256: false,
  insecureNoSignature: false,
  maxBodyBytes: 64 * 1024,
  spoolBytes: 64 * 1024,
  maxDecodedBytes: 64 * 1024,
  path: '/webhooks/cdr',
  feed: 'billing',
  contentTypes: ['application/json', 'application/*+json'],
  signatureOverDecoded: false,
  ackTimeoutMs: 5000,
  retryAfterSeconds: 1,
  ...set,
});
