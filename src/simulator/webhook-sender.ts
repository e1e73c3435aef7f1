/**
 * @module simulator/webhook-sender
 * Plays a world's delivery plan against a webhook URL the way Partner Hub
 * would: one POST per delivery that is not dropped, body `{"items":[...]}`,
 * `Content-Type: application/json`, and with a secret `X-Spark-Signature` =
 * hex HMAC-SHA1 over exactly the bytes sent (optionally also
 * `X-Webex-Signature`, HMAC-SHA256). Deliveries go one at a time, in order;
 * the 5-minute cadence is compressed by `speedup` (or skipped: 'fast'). A
 * non-2xx answer or a network error can be retried (`retries`, exponential
 * back-off), modelling Webex retrying; Webex's real policy is not documented.
 */
import { sign } from '../ingress/verify-signature.ts';
import type { Delivery } from './world.ts';

export type SendableDelivery = Pick<Delivery, 'id' | 'at' | 'items' | 'dropped' | 'repeatOf'>;

export type WebhookSenderOptions = {
  readonly url: string;
  /** Secret token; without one the deliveries are not signed. */
  readonly secret?: string;
  /** Also sign as `X-Webex-Signature` (HMAC-SHA256). Default false. */
  readonly sha256?: boolean;
  /** Wall-clock compression of the plan's timeline (60: 5 min in 5 s), or 'fast'. Default 'fast'. */
  readonly speedup?: number | 'fast';
  /** Extra attempts after a non-2xx answer or a network error. Default 0. */
  readonly retries?: number;
  /** First back-off; doubles per attempt. Default 500 ms. */
  readonly backoffMs?: number;
  /** Per-request timeout. Default 30 s. */
  readonly timeoutMs?: number;
  /** Body shape: `{"items":[...]}` (default), a bare array, or `{"data":{"items":[...]}}`. */
  readonly wrap?: 'items' | 'array' | 'data';
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly now?: () => number;
  /** Called after each delivery is settled (sent, failed or dropped). */
  readonly onDelivery?: (result: DeliveryResult) => void;
};

export type DeliveryResult = {
  readonly id: string;
  readonly at: number;
  readonly items: number;
  readonly outcome: 'sent' | 'failed' | 'dropped';
  /** Last HTTP status; null when dropped or no answer (network error, timeout). */
  readonly status: number | null;
  readonly attempts: number;
  readonly repeatOf?: string;
  readonly error?: string;
};

export type WebhookSendReport = {
  /** Deliveries answered 2xx (repeats included). */
  readonly sent: number;
  /** Deliveries never sent because the plan drops them. */
  readonly dropped: number;
  /** Repeat deliveries POSTed (whatever the answer). */
  readonly repeated: number;
  /** Deliveries POSTed without a 2xx in the end. */
  readonly failed: number;
  /** Records in deliveries answered 2xx (repeats counted again). */
  readonly recordsSent: number;
  /** True when stopped by the abort signal before the end of the plan. */
  readonly aborted: boolean;
  readonly deliveries: readonly DeliveryResult[];
};

export type WebhookSender = {
  send(deliveries: readonly SendableDelivery[], signal?: AbortSignal): Promise<WebhookSendReport>;
};

/** The bytes of one delivery's body. */
export const encodeDelivery = (
  items: SendableDelivery['items'],
  wrap: WebhookSenderOptions['wrap'] = 'items',
): Buffer => {
  const doc = wrap === 'array' ? items : wrap === 'data' ? { data: { items } } : { items };
  return Buffer.from(JSON.stringify(doc), 'utf8');
};

const abortableSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export const createWebhookSender = (opts: WebhookSenderOptions): WebhookSender => {
  const doFetch = opts.fetch ?? fetch;
  const sleep = opts.sleep ?? abortableSleep;
  const now = opts.now ?? Date.now;
  const speedup = opts.speedup ?? 'fast';
  if (speedup !== 'fast' && !(speedup > 0)) throw new RangeError('speedup must be > 0 or "fast"');
  const retries = opts.retries ?? 0;
  const backoffMs = opts.backoffMs ?? 500;
  const timeoutMs = opts.timeoutMs ?? 30_000;

  const post = async (
    body: Buffer,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number | null; error?: string }> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.secret !== undefined && opts.secret !== '') {
      headers['x-spark-signature'] = sign(body, opts.secret);
      if (opts.sha256) headers['x-webex-signature'] = sign(body, opts.secret, 'sha256');
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const res = await doFetch(opts.url, {
        method: 'POST',
        headers,
        body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
      await res.arrayBuffer().catch(() => undefined);
      return { status: res.status };
    } catch (e) {
      return { status: null, error: e instanceof Error ? e.message : String(e) };
    }
  };

  const deliver = async (
    d: SendableDelivery,
    signal: AbortSignal | undefined,
  ): Promise<DeliveryResult> => {
    const base = {
      id: d.id,
      at: d.at,
      items: d.items.length,
      ...(d.repeatOf === undefined ? {} : { repeatOf: d.repeatOf }),
    };
    if (d.dropped) return { ...base, outcome: 'dropped', status: null, attempts: 0 };
    const body = encodeDelivery(d.items, opts.wrap);
    let attempts = 0;
    for (;;) {
      attempts++;
      const answer = await post(body, signal);
      const ok = answer.status !== null && answer.status >= 200 && answer.status < 300;
      if (ok || attempts > retries || signal?.aborted) {
        return {
          ...base,
          outcome: ok ? 'sent' : 'failed',
          status: answer.status,
          attempts,
          ...(answer.error === undefined ? {} : { error: answer.error }),
        };
      }
      await sleep(backoffMs * 2 ** (attempts - 1), signal);
    }
  };

  return {
    async send(deliveries, signal) {
      const results: DeliveryResult[] = [];
      const first = deliveries[0]?.at ?? 0;
      const started = now();
      let aborted = false;
      for (const d of deliveries) {
        if (signal?.aborted) {
          aborted = true;
          break;
        }
        if (speedup !== 'fast' && !d.dropped) {
          await sleep((d.at - first) / speedup - (now() - started), signal);
          if (signal?.aborted) {
            aborted = true;
            break;
          }
        }
        const result = await deliver(d, signal);
        results.push(result);
        opts.onDelivery?.(result);
      }
      let sent = 0;
      let failed = 0;
      let dropped = 0;
      let repeated = 0;
      let recordsSent = 0;
      for (const r of results) {
        if (r.outcome === 'dropped') dropped++;
        else {
          if (r.repeatOf !== undefined) repeated++;
          if (r.outcome === 'sent') {
            sent++;
            recordsSent += r.items;
          } else failed++;
        }
      }
      return { sent, dropped, repeated, failed, recordsSent, aborted, deliveries: results };
    },
  };
};
