/**
 * The load of a chaos run: signed deliveries of the Webex stand-in's plan
 * (unique Report IDs) POSTed at a steady rate, a few at once, each retried
 * until answered 2xx or the run gives up. Every attempt is recorded: status
 * (or the network error), start and duration. A canary header rides on every
 * request, so the ledger can prove request headers never reach Kafka.
 */
import { sign } from '../../src/ingress/verify-signature.ts';
import { encodeDelivery } from '../../src/simulator/webhook-sender.ts';
import type { Delivery } from '../../src/simulator/world.ts';

export const CANARY_HEADER = 'x-chaos-canary';

export type Attempt = {
  readonly deliveryId: string;
  readonly startedAt: number;
  readonly ms: number;
  /** null: no HTTP answer (refused, reset, timed out). */
  readonly status: number | null;
  readonly error?: string;
};

export type DriverResult = {
  readonly attempts: Attempt[];
  /** Delivery id -> Report IDs of deliveries answered 2xx. */
  readonly acknowledged: Map<string, readonly string[]>;
  /** Deliveries never answered 2xx. */
  readonly unacknowledged: string[];
  /** Every X-Spark-Signature value sent. */
  readonly signatures: Set<string>;
};

export type DriverOptions = {
  /** Where attempt `n` (counted over the whole run) goes: several replicas take turns. */
  readonly url: (n: number) => string;
  readonly secret: string;
  readonly canary: string;
  readonly deliveries: readonly Delivery[];
  /** Time over which the deliveries are spread evenly. */
  readonly durationMs: number;
  readonly concurrency: number;
  /** Per-request client timeout (well above the ingress's own deadline). */
  readonly timeoutMs: number;
  /** How long after the last start a delivery may still be retried. */
  readonly giveUpAfterMs: number;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export const runDriver = async (opts: DriverOptions): Promise<DriverResult> => {
  const attempts: Attempt[] = [];
  const acknowledged = new Map<string, readonly string[]>();
  const unacknowledged: string[] = [];
  const signatures = new Set<string>();
  const plan = opts.deliveries.filter((d) => !d.dropped);
  const gap = opts.durationMs / Math.max(1, plan.length);
  const t0 = Date.now();
  const giveUpAt = t0 + opts.durationMs + opts.giveUpAfterMs;
  let inFlight = 0;
  let sent = 0;
  const running: Promise<void>[] = [];

  const post = async (d: Delivery, body: Buffer, signature: string): Promise<Attempt> => {
    const startedAt = Date.now();
    try {
      const res = await fetch(opts.url(sent++), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-spark-signature': signature,
          [CANARY_HEADER]: opts.canary,
          authorization: `Bearer ${opts.canary}`,
          trackingid: `chaos_${d.id}`,
        },
        body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      return { deliveryId: d.id, startedAt, ms: Date.now() - startedAt, status: res.status };
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      return {
        deliveryId: d.id,
        startedAt,
        ms: Date.now() - startedAt,
        status: null,
        error: cause ?? (e instanceof Error ? e.name : String(e)),
      };
    }
  };

  const deliver = async (d: Delivery) => {
    const body = encodeDelivery(d.items);
    const signature = sign(body, opts.secret);
    signatures.add(signature);
    let backoff = 250;
    for (;;) {
      const a = await post(d, body, signature);
      attempts.push(a);
      if (a.status !== null && a.status >= 200 && a.status < 300) {
        acknowledged.set(
          d.id,
          d.items.map((i) => String(i['Report ID'])),
        );
        return;
      }
      if (Date.now() > giveUpAt) {
        unacknowledged.push(d.id);
        return;
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 4000);
    }
  };

  for (const [i, d] of plan.entries()) {
    await sleep(t0 + i * gap - Date.now());
    while (inFlight >= opts.concurrency) await sleep(20);
    inFlight++;
    running.push(
      deliver(d).finally(() => {
        inFlight--;
      }),
    );
  }
  await Promise.all(running);
  return { attempts, acknowledged, unacknowledged, signatures };
};
