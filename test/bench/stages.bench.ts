/**
 * What one record costs the ingress, stage by stage, in isolation: the
 * bench's records (the stand-in's generator), 2,000 to a delivery, each stage
 * timed over all of them, on one thread with the shipped V8 flags (this
 * script runs itself again with them). Figures only, µs a record: the
 * signature, JSON.parse, normalising, the content hash, Avro (and those four
 * as the ingress does them, transcoded from the bytes: cdr/transcode.ts), the
 * messages, and the Produce request as the default producer writes it
 * (kafka/platformatic/produce-request.ts) beside the library's own encoding
 * of the same messages.
 *
 *   npm run bench:stages              30 rounds after 5 of warm-up
 *   ROUNDS=100 npm run bench:stages
 */
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as lib from '@platformatic/kafka';
import { readCdrSchema } from '../../src/cdr/avro-schema.ts';
import { normalise } from '../../src/cdr/normalise.ts';
import { contentHash } from '../../src/dedup/content-hash.ts';
import { encodeBody } from '../../src/ingress/encode-chunk.ts';
import { parseWholeRecords } from '../../src/ingress/parse-body.ts';
import { toCdrMessage } from '../../src/kafka/messages.ts';
import { encodeProduceRequest } from '../../src/kafka/platformatic/produce-request.ts';
import { serialized } from '../../src/kafka/platformatic/producer.ts';
import { encoderFor } from '../../src/kafka/wire-encoder.ts';
import { createCdrGenerator } from '../../src/simulator/generate.ts';
import { shippedNodeFlags } from './node-flags.ts';

const flags = shippedNodeFlags();
if (process.env.STAGES_CHILD === undefined) {
  const child = spawnSync(process.execPath, [...flags, fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
    env: { ...process.env, STAGES_CHILD: '1' },
  });
  process.exit(child.status ?? 1);
}

const RECORDS = 2000;
const ROUNDS = Number(process.env.ROUNDS ?? 30);
const start = Date.UTC(2026, 10, 23);
const raws = createCdrGenerator({ seed: 'bench', orgs: 250 })
  .generate(start, start + 4 * 3_600_000)
  .map((c) => c.raw)
  .slice(0, RECORDS);
const body = Buffer.from(JSON.stringify({ items: raws }));
const { text } = readCdrSchema();
const encoder = encoderFor(1, text);
const ingest = {
  delivery_id: 'bench',
  received_at: Date.now(),
  source: 'webhook',
  feed: 'analytics',
} as const;
const sequences = { getWithDefault: () => 0 };
const produceOptions = { producerId: 1n, producerEpoch: 0, sequences };

const spent = new Map<string, number>();
/** The four stages above done as the ingress does them since issue 15 (cdr/transcode.ts). */
const TRANSCODED = '... all four transcoded from the bytes';
const time = <T>(stage: string, f: () => T): T => {
  const t0 = performance.now();
  const result = f();
  spent.set(stage, (spent.get(stage) ?? 0) + performance.now() - t0);
  return result;
};

for (let round = 0; round < ROUNDS + 5; round++) {
  if (round === 5) spent.clear();
  time('signature (HMAC-SHA1)', () => createHmac('sha1', 'secret').update(body).digest());
  const parsed = time('JSON.parse', () => parseWholeRecords(body));
  const cdrs = time('normalise', () =>
    parsed.map((raw) => {
      const result = normalise(raw, ingest);
      if (!result.ok) throw result.error;
      return result.value;
    }),
  );
  const hashes = time('content hash', () => cdrs.map((c) => contentHash(c.record)));
  const values = time('Avro', () => cdrs.map((c) => encoder.encode(c.record)));
  time(TRANSCODED, () => {
    const encoded = encodeBody(body, RECORDS, ingest, encoder, null);
    if (encoded.chunks[0]?.transcoded !== RECORDS) throw new Error('not every record transcoded');
  });
  const out = time('messages (key, headers)', () =>
    cdrs.map((c, i) => toCdrMessage(c, values[i] as Buffer, hashes[i])),
  );
  const messages = out.map((m, i) => ({
    topic: 'cdr',
    partition: i % 6,
    key: m.key,
    value: m.value,
    headers: new Map(Object.entries(m.headers)),
  }));
  // as the producer hands them over (kafka/platformatic/producer.ts): each message as the value
  const carried = out.map((m, i) => ({
    topic: 'cdr',
    partition: i % 6,
    key: m.key,
    value: { value: m.value, headers: m.headers },
  }));
  time('Produce request (this writer)', () =>
    encodeProduceRequest(-1, 30_000, carried, produceOptions, lib.crc32c as never),
  );
  time('... the library, for comparison', () => {
    const bytes = serialized(messages);
    return (
      lib.produceV11.createRequest(
        -1,
        30_000,
        bytes as never,
        produceOptions as never,
      ) as lib.Writer
    ).buffer;
  });
}

console.log(`${RECORDS} records a delivery, ${ROUNDS} rounds, node ${flags.join(' ')}:`);
const usOf = (stage: string) => ((spent.get(stage) ?? 0) / ROUNDS / RECORDS) * 1000;
let total = 0;
for (const stage of spent.keys()) {
  const us = usOf(stage);
  if (!stage.startsWith('...')) total += us;
  console.log(`  ${stage.padEnd(40)} ${us.toFixed(2).padStart(6)} µs a record`);
}
console.log(
  `  ${'total, records as objects'.padEnd(40)} ${total.toFixed(2).padStart(6)} µs a record`,
);
const replaced = ['JSON.parse', 'normalise', 'content hash', 'Avro'].reduce(
  (n, s) => n + usOf(s),
  0,
);
const transcoded = total - replaced + usOf(TRANSCODED);
console.log(
  `  ${'total, records transcoded (as shipped)'.padEnd(40)} ${transcoded.toFixed(2).padStart(6)} µs a record`,
);
