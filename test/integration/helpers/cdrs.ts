/** Raw CDRs with the live quirks, and signed deliveries of them. */
import { randomUUID } from 'node:crypto';
import { sign } from '../../../src/ingress/verify-signature.ts';

export const rawCdr = (i: number, org: string, extra: Record<string, unknown> = {}) => {
  const end = Date.UTC(2026, 10, 23, 10, 0, 0) + i * 1000;
  return {
    'Report ID': randomUUID() as string,
    'Org UUID': org,
    'Correlation ID': `corr-${Math.floor(i / 2)}`,
    'Call ID': i % 5 === 0 ? '' : `SSE${i}@10.0.0.1`,
    Answered: i % 3 === 0 ? 'false' : 'true',
    'Answer indicator': 'Yes',
    Duration: i % 2 === 0 ? 42 + i : String(42 + i),
    'Ring duration': String(i % 7),
    'Hold duration': 'NA',
    'Start time': new Date(end - 60_000).toISOString(),
    'Answer time': new Date(end - 55_000).toISOString().replace('T', ' ').replace('Z', ''),
    'Release time': new Date(end).toISOString(),
    'Report time': new Date(end + 30_000).toISOString(),
    'Call transfer time': '',
    'Site timezone': '-300',
    Direction: i % 2 === 0 ? 'ORIGINATING' : 'TERMINATING',
    'Call type': 'SIP_ENTERPRISE',
    'PSTN vendor name': 'NA',
    'User type': 'User',
    'External customer ID': `ext-${i}`,
    ...extra,
  };
};

export const signedDelivery = (items: unknown[], secret: string, wrap = true) => {
  const body = JSON.stringify(wrap ? { items } : items);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-spark-signature': sign(body, secret),
    },
  };
};

/** POSTs a delivery built by signedDelivery (or any body and headers) to the webhook. */
export const postDelivery = (url: string, d: { body: string; headers: Record<string, string> }) =>
  fetch(url, { method: 'POST', body: d.body, headers: d.headers });
