/**
 * Hostile input against the whole webhook route (read -> verify -> parse ->
 * normalise), with a publish that records what would reach Kafka.
 *
 * The playbook's bad-input catalogue and where each item is tested:
 *
 *   no signature / wrong length / non-hex / upper-case hex   verify-signature.test.ts "malformed", app.test.ts 401s, here (upper-case)
 *   signature of re-serialised JSON, body +1 byte, newline   verify-signature.test.ts, app.test.ts "changed by one byte"
 *   old secret after rotation                                verify-signature.test.ts "secret rotation"
 *   huge headers                                             test/integration/hostile-http.test.ts (431 from the server)
 *   no or wrong Content-Type, unsupported Content-Encoding   app.test.ts 415s
 *   gzip bomb                                                app.test.ts, read-body.test.ts; hostile-http.test.ts (real server)
 *   body over the limit, rejected before reading it all      app.test.ts 413 declared / streamed
 *   Content-Length mismatch                                  test/integration/hostile-http.test.ts
 *   slow-drip upload                                         test/integration/hostile-http.test.ts
 *   truncated JSON, trailing garbage, NaN                    parse-body.test.ts "invalid JSON"; here (property)
 *   BOM, invalid UTF-8, lone surrogates                      parse-body.test.ts; app.test.ts "lone surrogate"
 *   nesting 100 000 deep                                     parse-body.test.ts, app.test.ts; here (forged signature)
 *   __proto__ keys, duplicate keys                           parse-body.test.ts, normalise.test.ts
 *   wrong types, ids above 2^53, bad or future times         normalise.test.ts
 *   unknown fields kept                                      normalise.test.ts "unknown keys"
 *   missing or empty items, 100 000 items                    app.test.ts, parse-body.test.ts
 *   one poison record among good ones                        app.test.ts, batch.test.ts, integration/ingress.test.ts
 *   the same record twice in one batch                       batch.test.ts, app.test.ts "once per batch"
 *   the same batch replayed later                            chaos run (test/chaos, Webex repeats), here (replay)
 *
 * Property: 100 000 generated deliveries (fixed seed, so a failure replays):
 * no throw, no 5xx, only the expected 4xx, nothing published for a refused
 * delivery, JSON.parse never reached without a valid signature, RSS bounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { createApp, type IngressSettings } from '../../../src/ingress/app.ts';
import { sign } from '../../../src/ingress/verify-signature.ts';
import { silentLogger } from '../../../src/log.ts';
import { minimalRawCdr } from '../../helpers/fixtures.ts';
import { ingressSettings } from '../../helpers/ingress.ts';

const SECRET = 'hostile-secret';
const PATH = '/webhooks/cdr';
const SEED = 20261123;
const REFUSALS = new Set([400, 401, 413, 415, 422]);

const settings: IngressSettings = ingressSettings({
  secrets: [SECRET],
  maxBodyBytes: 1024 * 1024,
  spoolBytes: 4096, // larger hostile bodies go through a spool file
  maxDecodedBytes: 1024 * 1024,
  feed: 'analytics',
});

/** The route with a publish that counts what it is given. */
const route = () => {
  const published = { deliveries: 0, records: 0, dead: 0 };
  const app = createApp({
    settings,
    publish: async (batch) => {
      published.deliveries++;
      published.records += batch.records.length;
      published.dead += batch.dead.length;
      return {
        accepted: batch.records.length,
        deadLettered: batch.dead.length,
        duplicatesInBatch: batch.duplicates,
      };
    },
    readiness: () => ({ ready: true, checks: {} }),
    logger: silentLogger,
  });
  const post = async (body: Uint8Array, signature: string, contentType = 'application/json') =>
    await app.request(PATH, {
      method: 'POST',
      body: new Uint8Array(body),
      headers: { 'content-type': contentType, 'x-spark-signature': signature },
    });
  return { post, published };
};

setFlagsFromString('--expose-gc');

// undici parses JSON once when it first builds a Request: do that before counting.
new Request('http://localhost/');

/** Counts JSON.parse calls while `body` runs. */
const countingJsonParse = async <T>(
  body: () => Promise<T>,
): Promise<{ value: T; parses: number }> => {
  const original = JSON.parse;
  let parses = 0;
  JSON.parse = ((...args: Parameters<typeof JSON.parse>) => {
    parses++;
    return original(...args);
  }) as typeof JSON.parse;
  try {
    return { value: await body(), parses };
  } finally {
    JSON.parse = original;
  }
};

const utf8 = (s: string) => new TextEncoder().encode(s);

const cdrLike = fc
  .tuple(
    fc.oneof(fc.uuid(), fc.string(), fc.integer(), fc.constant(null)),
    fc.oneof(fc.uuid(), fc.string(), fc.constant(undefined)),
    fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
  )
  .map(([id, org, extra]) => ({
    ...extra,
    'Report ID': id,
    ...(org === undefined ? {} : { 'Org UUID': org }),
    'Release time': '2026-11-23T10:00:00.000Z',
  }));

/** Bodies a hostile or broken sender could send, most of them not valid deliveries. */
const bodies: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => utf8(JSON.stringify(v) ?? 'null')),
  fc.array(cdrLike, { maxLength: 8 }).map((items) => utf8(JSON.stringify({ items }))),
  fc
    .tuple(fc.array(cdrLike, { maxLength: 4 }), fc.nat(), fc.string({ maxLength: 8 }))
    .map(([items, cut, garbage]) => {
      const text = JSON.stringify({ items });
      return utf8(text.slice(0, cut % (text.length + 1)) + garbage);
    }),
  fc.string({ unit: 'binary', maxLength: 64 }).map(utf8),
  fc.uint8Array({ maxLength: 128 }),
  fc
    .constantFrom(
      '\uFEFF{"items":[]}',
      '{"items":[NaN]}',
      '{"items":[{"Report ID":"\\ud800","Org UUID":"o"}]}',
      '{"__proto__":{"items":[{"Report ID":"x","Org UUID":"o"}]}}',
      '{"items":[],"items":[{"Report ID":"x","Org UUID":"o"}]}',
    )
    .map(utf8),
);

describe('hostile input: property over the whole route', () => {
  it('100 000 generated deliveries: no crash, no 5xx, expected 4xx, nothing published when refused, no parse before the signature, bounded RSS', async () => {
    const { post, published } = route();
    const statuses = new Map<number, number>();
    const property = fc.asyncProperty(
      bodies,
      fc.boolean(),
      fc.nat(3),
      async (body, forged, variant) => {
        const before = { ...published };
        const good = sign(Buffer.from(body), SECRET);
        const signature = forged
          ? ([sign(Buffer.from(body), 'wrong-secret'), good.toUpperCase(), good.slice(1), 'zz'][
              variant
            ] ?? '')
          : good;
        const { value: res, parses } = await countingJsonParse(() => post(body, signature));
        const status = res.status;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const answer = (await res.json()) as Record<string, unknown>;
        assert.ok(status < 500, `no 5xx: ${status} ${JSON.stringify(answer)}`);
        if (forged) {
          assert.equal(status, 401);
          assert.equal(parses, 0, 'no JSON parse before the signature is verified');
        }
        if (status === 200) {
          assert.equal(published.deliveries, before.deliveries + 1);
          assert.equal(
            published.records - before.records + (published.dead - before.dead),
            Number(answer.accepted) + Number(answer.deadLettered),
          );
        } else {
          assert.ok(REFUSALS.has(status), `an expected refusal, got ${status}`);
          assert.equal(typeof answer.error, 'string', 'a clear error code');
          assert.deepEqual(published, before, 'nothing published for a refused delivery');
        }
      },
    );
    // Five rounds of 20 000 (seeds SEED..SEED+4). Memory after a collection must not
    // climb from round to round: nothing a request allocated outlives it.
    const gc = runInNewContext('gc') as () => void;
    const rss: number[] = [];
    for (let round = 0; round < 5; round++) {
      await fc.assert(property, { numRuns: 20_000, seed: SEED + round, endOnFailure: true });
      gc();
      rss.push(process.memoryUsage().rss / 2 ** 20);
    }
    const growthMb = (rss[4] ?? 0) - (rss[0] ?? 0);
    console.log(
      `statuses: ${[...statuses].map(([k, v]) => `${k}: ${v}`).join(', ')}; RSS after each 20 000 (MiB): ${rss.map((x) => x.toFixed(0)).join(', ')}`,
    );
    for (const s of [200, 400, 401, 422]) assert.ok((statuses.get(s) ?? 0) > 0, `${s} was reached`);
    assert.ok(
      growthMb < 64,
      `RSS growth after the first 20 000 bounded: ${growthMb.toFixed(1)} MiB`,
    );
  });
});

describe('hostile input: signature before parsing', () => {
  it('a forged signature on 100 000-deep nesting gets 401 without JSON.parse', async () => {
    const { post, published } = route();
    const body = utf8(`{"items":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    const { value: res, parses } = await countingJsonParse(() =>
      post(body, sign(Buffer.from(body), 'not-the-secret')),
    );
    assert.equal(res.status, 401);
    assert.equal(parses, 0);
    assert.equal(published.deliveries, 0);
  });

  it('a forged signature on invalid JSON gets the signature error, not the parse error', async () => {
    const { post } = route();
    const body = utf8('{"items":[{"Report ID": tru');
    const res = await post(body, sign(Buffer.from(body), 'not-the-secret'));
    assert.equal(res.status, 401);
    assert.match(((await res.json()) as { error: string }).error, /signature/);
  });

  it('refuses an upper-case hex signature of the right bytes', async () => {
    const { post, published } = route();
    const body = utf8(JSON.stringify({ items: [minimalRawCdr('r-1')] }));
    const res = await post(body, sign(Buffer.from(body), SECRET).toUpperCase());
    assert.equal(res.status, 401);
    assert.equal(published.deliveries, 0);
  });
});

describe('hostile input: replays', () => {
  it('the same signed delivery replayed later is accepted again with the same records', async () => {
    const { post, published } = route();
    const body = utf8(JSON.stringify({ items: [minimalRawCdr('r-1'), minimalRawCdr('r-2')] }));
    const signature = sign(Buffer.from(body), SECRET);
    const first = (await (await post(body, signature)).json()) as Record<string, unknown>;
    const again = (await (await post(body, signature)).json()) as Record<string, unknown>;
    assert.equal(published.deliveries, 2);
    assert.deepEqual(
      { accepted: again.accepted, deadLettered: again.deadLettered },
      { accepted: first.accepted, deadLettered: first.deadLettered },
    );
    assert.notEqual(again.deliveryId, first.deliveryId);
  });
});
