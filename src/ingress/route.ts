/**
 * @module ingress/route
 * The steps of a delivery, each a Hono middleware that hands its output to the
 * next through the context (`c.set`), in the order `app.ts` lists them:
 *
 *   readClaims      a well-formed signature header is there (401)
 *   requireType     the Content-Type is allowed (415)
 *   readBody        Content-Encoding and declared length (415, 413), then the
 *                   body under its limit and the shared byte budget (413, 503);
 *                   its bytes are held, and the budget, until the answer
 *   verify          the signature over the bytes received (or, for gzip, the
 *                   decoded ones), then the body is decoded (401, 400, 413);
 *                   a spooled body's digests and scan were taken on a worker
 *                   while it was read (spool-analysis.ts)
 *   findRecords     the records array (400, 413, 422), parsed chunk by chunk later,
 *                   or the body handed whole to a worker (parsed there)
 *   publish         normalise, encode and produce chunk by chunk; 200 with the
 *                   counts once Kafka acknowledged every record
 *
 * A step throws a coded error to refuse; `app.onError` maps it to a status.
 * The delivery's log line (`delivery`) is filled in as the steps go.
 */
import { randomUUID } from 'node:crypto';
import type { HttpBindings } from '@hono/node-server';
import { createMiddleware } from 'hono/factory';
import type { PreparedBatch } from '../cdr/batch.ts';
import type { Feed, Ingest } from '../cdr/normalise.ts';
import type { Privacy } from '../cdr/privacy.ts';
import { CdrError, type ErrorCode } from '../errors.ts';
import type { PublishCounts } from '../kafka/publish-cdrs.ts';
import type { Encoder } from '../kafka/wire-encoder.ts';
import type { RepeatedWarnings } from '../log-repeats.ts';
import type { Metrics } from '../metrics.ts';
import type { BodyBytes } from './body-bytes.ts';
import { contentTypeAllowed } from './content-type.ts';
import {
  type BodyScanned,
  type RecordSlices,
  readRecords,
  WHOLE_PARSE_BYTES,
} from './parse-body.ts';
import { type DeliveryOptions, type Publish, publishDelivery } from './publish-delivery.ts';
import {
  type ChunkSchema,
  type ChunkWorkers,
  publishBodyHere,
  publishBodyOnWorker,
  publishInParallel,
} from './publish-parallel.ts';
import {
  type Body,
  type BodyLimits,
  type ByteBudget,
  checkDeclaredLength,
  decodeBody,
  type Encoding,
  leaseBytes,
  readBody as readBodyBytes,
  readEncoding,
} from './read-body.ts';
import { type SpoolWatch, watchSpool } from './spool-analysis.ts';
import {
  claimedAlgorithms,
  readSignatureHeaders,
  type SignatureClaims,
  type SignatureConfig,
  verifyDigests,
  verifySignature,
} from './verify-signature.ts';

export type IngressSettings = SignatureConfig &
  BodyLimits & {
    readonly path: string;
    readonly feed: Feed;
    readonly contentTypes: readonly string[];
    /** Longest Kafka may take to acknowledge one chunk of a delivery. */
    readonly ackTimeoutMs: number;
    readonly signatureOverDecoded: boolean;
    readonly retryAfterSeconds: number;
  };

/** What the one log line of a webhook request says, filled in as it goes. */
export type DeliveryLine = Record<string, unknown>;

/**
 * Where a delivery's records are parsed and encoded (findRecords): inline, on
 * the main thread; in chunks found by a scan and spread over the workers (a
 * body too large to parse whole); or whole on one worker: a body in memory
 * small enough to parse whole that comes while another delivery is in hand
 * (no scan here: the main thread keeps HTTP, the signature and Kafka, and
 * deliveries in flight at once use the cores). The workers only
 * once the schema is known and for bodies of at least
 * INGRESS_WORKERS_MIN_BYTES.
 */
type OnWorkers = { readonly schema: ChunkSchema; readonly workers: ChunkWorkers };
type Work =
  | { readonly kind: 'inline'; readonly slices: RecordSlices; readonly encoder: Encoder | null }
  | { readonly kind: 'here'; readonly bytes: Buffer; readonly encoder: Encoder }
  | ({ readonly kind: 'chunks'; readonly slices: RecordSlices } & OnWorkers)
  | ({ readonly kind: 'body'; readonly bytes: Uint8Array<ArrayBuffer> } & OnWorkers);

/** What the steps hand on, each set by the step named. */
export type DeliveryEnv = {
  /**
   * Served by @hono/node-server: Node's request itself, whose body is read
   * directly; absent under `app.request` (then `env` itself is undefined).
   */
  Bindings: Partial<HttpBindings>;
  Variables: {
    /** The log line; set by the app's first middleware, with the time the request came in. */
    delivery: DeliveryLine;
    receivedAt: number;
    claims: SignatureClaims; // readClaims
    body: Body; // readBody
    encoding: Encoding; // readBody
    deliveryId: string; // readBody
    readAt: number; // readBody
    /** Told of the body's spooling, when a worker hashes and scans it as it comes. */
    watch: SpoolWatch | undefined; // readBody
    decoded: BodyBytes; // verify
    /** The scan of the body made on a worker (or the error it found); absent otherwise. */
    scanned: BodyScanned | CdrError | undefined; // verify
    /** How the records are read and encoded: here, on the workers by chunk, or whole on one worker. */
    work: Work; // findRecords
  };
};

export type StepDeps = {
  readonly settings: IngressSettings;
  readonly publish: Publish;
  readonly budget: ByteBudget | undefined;
  readonly privacy: Privacy | null;
  readonly workers: ChunkWorkers | null;
  /** The publisher's encoder, once the schema is known. */
  readonly encoder: () => Encoder | null;
  readonly metrics: Metrics;
  readonly warnings: RepeatedWarnings;
  readonly now: () => number;
};

/**
 * Signature first, over the bytes received; only then is a gzip body decoded.
 * With `signatureOverDecoded` a gzip body whose wire bytes do not match may
 * match over its decoded bytes (Webex does not say which it signs).
 */
const verifyAndDecode = async (
  claims: SignatureClaims,
  body: Body,
  encoding: Encoding,
  settings: IngressSettings,
): Promise<BodyBytes> => {
  if (claims.claims.length === 0) return decodeBody(body, encoding, settings);
  const overWire = verifySignature(claims, [body.wire], settings.secrets);
  if (overWire.ok) return decodeBody(body, encoding, settings);
  if (encoding !== 'gzip' || !settings.signatureOverDecoded) throw overWire.error;
  const decoded = await decodeBody(body, encoding, settings);
  const overDecoded = verifySignature(claims, [decoded], settings.secrets);
  if (!overDecoded.ok) {
    decoded.close();
    throw overDecoded.error;
  }
  return decoded;
};

/** Dead letters by reason code: those of the batch, the rest failed Avro encoding. */
const deadLetterReasons = (batch: Pick<PreparedBatch, 'dead'>, deadLettered: number) => {
  const byCode = new Map<ErrorCode, number>();
  for (const d of batch.dead) byCode.set(d.error.code, (byCode.get(d.error.code) ?? 0) + 1);
  const encodeFailed = deadLettered - batch.dead.length;
  if (encodeFailed > 0) {
    byCode.set('record_encode_failed', (byCode.get('record_encode_failed') ?? 0) + encodeFailed);
  }
  return byCode;
};

const publishWork = async (
  work: Work,
  options: DeliveryOptions,
): Promise<{ received: number; counts: PublishCounts }> => {
  if (work.kind === 'inline') {
    const counts = await publishDelivery(work.slices, { ...options, encoder: work.encoder });
    return { received: work.slices.count, counts };
  }
  if (work.kind === 'here')
    return publishBodyHere(work.bytes, { ...options, encoder: work.encoder });
  const parallel = { ...options, schema: work.schema, workers: work.workers };
  if (work.kind === 'body') return publishBodyOnWorker(work.bytes, parallel);
  return { received: work.slices.count, counts: await publishInParallel(work.slices, parallel) };
};

export const createDeliverySteps = (deps: StepDeps) => {
  const { settings, metrics, warnings, now } = deps;
  const step = createMiddleware<DeliveryEnv>;

  // Deliveries being read or published now, and those of them whose records
  // the main thread reads and publishes itself. While another delivery is in
  // hand, a body small enough to parse whole goes to a worker (deliveries at
  // once use the cores); alone, it stays here (no hand-over to wait for: a
  // single delivery is answered as soon as without workers).
  let readingNow = 0;
  let inlineNow = 0;

  const readClaims = step(async (c, next) => {
    c.set('claims', readSignatureHeaders(c.req.raw.headers, settings));
    await next();
  });

  const requireType = step(async (c, next) => {
    if (!contentTypeAllowed(c.req.raw.headers.get('content-type'), settings.contentTypes)) {
      throw new CdrError(
        'content_type_unsupported',
        `Content-Type must be one of ${settings.contentTypes.join(', ')}`,
      );
    }
    await next();
  });

  const readBody = step(async (c, next) => {
    const headers = c.req.raw.headers;
    const encoding = readEncoding(headers);
    c.set('encoding', encoding);
    checkDeclaredLength(headers, settings);
    const lease = leaseBytes(deps.budget);
    // a body that goes to a spool file is hashed and scanned on a worker as it comes
    const watch =
      deps.workers === null || encoding !== 'identity'
        ? undefined
        : watchSpool(deps.workers, claimedAlgorithms(c.get('claims')), settings.secrets);
    c.set('watch', watch);
    let body: Body | undefined;
    readingNow += 1;
    try {
      body = await readBodyBytes(c.env?.incoming ?? c.req.raw.body, {
        limits: settings,
        lease,
        expectedBytes: Number(headers.get('content-length') ?? undefined),
        ...(watch === undefined ? {} : { watch }),
      });
      c.set('body', body);
      c.set('readAt', now());
      metrics.payload(body.wireBytes);
      const deliveryId = randomUUID();
      c.set('deliveryId', deliveryId);
      Object.assign(c.get('delivery'), {
        deliveryId,
        trackingId: headers.get('trackingid') ?? undefined,
        bytes: body.wireBytes,
      });
      // the bytes are held until the answer: records are parsed from them chunk by chunk
      await next();
    } finally {
      readingNow -= 1;
      await watch?.stop(); // before its file closes
      body?.wire.close();
      lease.release();
    }
  });

  const verify = step(async (c, next) => {
    const body = c.get('body');
    const analysed = (await c.get('watch')?.end(body.wireBytes)) ?? null;
    let decoded: BodyBytes;
    if (analysed === null) {
      decoded = await verifyAndDecode(c.get('claims'), body, c.get('encoding'), settings);
    } else {
      // the digests were taken on the worker; the scan's outcome is findRecords' to give
      const verdict = verifyDigests(c.get('claims'), analysed.digests);
      if (!verdict.ok) throw verdict.error;
      decoded = body.wire;
      c.set('scanned', analysed.scanned);
      c.get('delivery').analysedOnWorker = true;
    }
    try {
      if (decoded.spooled) c.get('delivery').spooled = true;
      c.set('decoded', decoded);
      await next();
    } finally {
      decoded.close();
    }
  });

  const findRecords = step(async (c, next) => {
    const decoded = c.get('decoded');
    const scanned = c.get('scanned');
    if (scanned instanceof CdrError) throw scanned;
    const { workers } = deps;
    const schema = workers !== null && decoded.length >= workers.minBytes ? workers.schema() : null;
    const onWorkers = workers === null || schema === null ? null : { workers, schema };
    const line = c.get('delivery');
    const whole = !decoded.spooled && decoded.length <= WHOLE_PARSE_BYTES;
    if (onWorkers !== null && whole && (inlineNow > 0 || readingNow > 1)) {
      line.workers = true;
      metrics.onWorkers('whole');
      // moved to the worker, not copied (nothing reads the body after this)
      c.set('work', { kind: 'body', bytes: decoded.take(), ...onWorkers });
      return next();
    }
    const inline = onWorkers === null || whole;
    if (inline) inlineNow += 1;
    const encoder = whole ? deps.encoder() : null;
    if (encoder !== null) {
      // encoded here as a worker would (encodeBody: transcoded from the bytes when it can be)
      try {
        c.set('work', { kind: 'here', bytes: decoded.read(0, decoded.length), encoder });
        return await next();
      } finally {
        inlineNow -= 1;
      }
    }
    try {
      // for the workers, the records are found on the bytes (not parsed here)
      const slices = readRecords(decoded, inline ? WHOLE_PARSE_BYTES : 0, scanned);
      const parallel = onWorkers !== null && slices.take !== undefined;
      if (parallel) {
        line.workers = true;
        metrics.onWorkers('chunks');
      }
      line.records = slices.count;
      c.set(
        'work',
        parallel
          ? { kind: 'chunks', slices, ...onWorkers }
          : { kind: 'inline', slices, encoder: deps.encoder() },
      );
      await next();
    } finally {
      if (inline) inlineNow -= 1;
    }
  });

  const publish = step(async (c) => {
    const deliveryId = c.get('deliveryId');
    const work = c.get('work');
    const ingest: Ingest = {
      feed: settings.feed,
      source: 'webhook',
      received_at: c.get('receivedAt'),
      delivery_id: deliveryId,
    };
    const preparedAt = now();
    const options: DeliveryOptions = {
      ingest,
      publish: deps.publish,
      deadlineMs: settings.ackTimeoutMs,
      privacy: deps.privacy,
      onChunk(batch, chunk) {
        metrics.records('webhook', 'published', chunk.accepted);
        metrics.records('webhook', 'dead_lettered', chunk.deadLettered);
        metrics.records('webhook', 'duplicate_in_batch', chunk.duplicatesInBatch);
        for (const [code, n] of deadLetterReasons(batch, chunk.deadLettered)) {
          metrics.deadLettered(code, n);
          warnings.warn(`dead_lettered ${code}`, 'records dead-lettered', {
            code,
            records: n,
            deliveryId,
          });
        }
      },
    };
    const { received, counts } = await publishWork(work, options);
    if (work.kind === 'body' || work.kind === 'here') c.get('delivery').records = received;
    metrics.produced((now() - preparedAt) / 1000);
    const readAt = c.get('readAt');
    Object.assign(c.get('delivery'), {
      published: counts.accepted,
      deadLettered: counts.deadLettered,
      duplicates: counts.duplicatesInBatch,
      ...(counts.repeats === undefined ? {} : { repeats: counts.repeats }),
      ...(counts.versions === undefined ? {} : { versions: counts.versions }),
      readMs: readAt - c.get('receivedAt'),
      scanMs: preparedAt - readAt,
    });
    return c.json({ deliveryId, received, ...counts });
  });

  return { readClaims, requireType, readBody, verify, findRecords, publish };
};
