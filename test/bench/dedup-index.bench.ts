/**
 * Memory of the dedup index (issue 14, item 2): `--records` Report IDs
 * (default 1 000 000, random UUIDs, as Webex's are) observed with a content
 * hash, a Report time and a publish time, the way the topic tail feeds them;
 * prints the table's bytes (all the index holds for UUID Report IDs with one version) per Report ID, and as
 * sized up front by `reserve` (as the ledger does), the time to observe
 * them all and the time of one `check` and of a `prune`. No Kafka: the figure
 * is the index's own (reading the headers is bench:ledger's figure).
 *
 *   npm run bench:dedup                        (-- --records 10000000 for the 10 M figure)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createReportIndex } from '../../src/dedup/report-index.ts';

const { values: args } = parseArgs({
  options: { records: { type: 'string', default: '1000000' } },
});
const n = Number(args.records);
const HOUR = 3_600_000;

const now = Date.now();
const ids = Array.from({ length: n }, () => randomUUID());
const hash = randomBytes(8).toString('hex');
const index = createReportIndex(48 * HOUR);
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  index.observe({
    reportId: ids[i] as string,
    hash,
    version: 1,
    reportTime: now - (i % 48) * HOUR,
    publishedAt: now - (i % 48) * HOUR,
  });
}
const observeMs = performance.now() - t0;
const t1 = performance.now();
let repeats = 0;
for (let i = 0; i < n; i += 10)
  if (index.check(ids[i] as string, hash).kind === 'repeat') repeats++;
const checkUs = ((performance.now() - t1) * 1000) / Math.ceil(n / 10);
const t2 = performance.now();
const dropped = index.prune(now + 24 * HOUR); // half the window has left it
const pruneMs = performance.now() - t2;
// what a read that knows its count up front holds instead (the ledger: reserve from the offsets range)
const reserved = createReportIndex(48 * HOUR);
reserved.reserve(n);
console.log(
  JSON.stringify(
    {
      reportIds: n,
      tableBytes: index.tableBytes,
      reservedTableBytes: reserved.tableBytes,
      reservedBytesPerReportId: Math.round(reserved.tableBytes / n),
      tableBytesPerReportId: Math.round(index.tableBytes / n),
      observeMs: Math.round(observeMs),
      checkMicros: Number(checkUs.toFixed(2)),
      repeatsFound: repeats,
      pruneMs: Math.round(pruneMs),
      prunedAway: dropped,
      left: index.size,
    },
    null,
    2,
  ),
);
