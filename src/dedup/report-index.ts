/**
 * @module dedup/report-index
 * What the CDR topic holds per Report ID over the last DEDUP_WINDOW: the
 * content hash of its latest version (dedup/content-hash.ts), the version
 * number, that version's Report time, and when it was published (the Kafka
 * timestamp, for the window). Pure: the topic tail (dedup/topic-index.ts)
 * and the publisher feed it, `check` answers what to do with a record. The
 * reconciler's ledger holds one per pass (reconciler/topic-ledger.ts), so a
 * backfill follows the same rules.
 *
 * Memory: a canonical UUID Report ID takes one slot of an open-addressing
 * table, 40 bytes (the UUID, 8 bytes of hash, publish second, version word,
 * Report time as a double); the table doubles at 3/4 full, so 1.33 to 2.67
 * slots per ID: 53 to 107 bytes per Report ID (test/bench/dedup-index.bench.ts
 * measures it). The UUIDs are spread over 16 tables that grow one at a time,
 * and a table left behind by a growth is freed at once (`transfer(0)`), so a
 * growth holds a sixteenth twice, not the whole. Other Report IDs (not a lowercase UUID) go to a Map at a few
 * hundred bytes each. A Report ID with more than one version also keeps its
 * earlier hashes in a Map (rare: Webex re-sends a record far more often than
 * it corrects one). `prune` drops what was published before the window, by
 * rebuilding the tables.
 */
import { mixUuid, parseUuid } from '../cdr/uuid-words.ts';

/** What the topic already holds of a record, and so what to do with it. */
export type Verdict =
  | { kind: 'new' }
  /** The same content is on the topic: drop it. */
  | { kind: 'repeat'; version: number }
  /**
   * Other content under the same Report ID: publish it as `version`, superseding
   * `earlier` (whose `hash` is null when it was published without one, before dedup).
   */
  | {
      kind: 'version';
      version: number;
      earlier: { version: number; reportTime: number | null; hash: string | null };
    };

/** One record as seen on the topic or just published. `hash` null: published without one (before dedup). */
export type Seen = {
  reportId: string;
  hash: string | null;
  /** 1 unless the record says otherwise (`cdr-version`). */
  version: number;
  reportTime: number | null;
  /** Epoch ms it was published (the Kafka timestamp). */
  publishedAt: number;
};

export type ReportIndex = {
  check(reportId: string, hash: string): Verdict;
  /** Whether the Report ID is held, whatever its content. */
  has(reportId: string): boolean;
  observe(seen: Seen): void;
  /** Drops what was published before `now - windowMs`; the number dropped. */
  prune(now: number): number;
  readonly size: number;
  /** Bytes held by the table (not counting the Maps of other IDs and earlier hashes). */
  readonly tableBytes: number;
};

const WORDS = 8; // id 0-3, hash 4-5, published second 6, version word 7
const NO_HASH = 0x8000_0000; // in the version word: published without a hash
const VERSION_MASK = 0x7fff_ffff;

type Entry = {
  hash: string | null;
  version: number;
  reportTime: number | null;
  publishedSec: number;
};

const hashText = (a: number, b: number): string =>
  a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');

/** Tables the UUIDs are spread over (by the top bits of their mix): each grows alone, so a growth holds two copies of one sixteenth. */
const SHARDS = 16;
const SHARD_SHIFT = 28;

/** One table: `WORDS` words and a Report time per slot; an all-zero id is an empty slot. */
type Shard = {
  table: Uint32Array<ArrayBuffer>;
  times: Float64Array<ArrayBuffer>;
  capacity: number;
  used: number;
};

const newShard = (capacity: number): Shard => ({
  table: new Uint32Array(capacity * WORDS),
  times: new Float64Array(capacity), // Report time (ms), NaN when unknown
  capacity,
  used: 0,
});

export const createReportIndex = (windowMs: number, initialSlots = 1 << 12): ReportIndex => {
  let perShard = 16;
  while (perShard * SHARDS < initialSlots) perShard *= 2;
  const shards = Array.from({ length: SHARDS }, () => newShard(perShard));
  const others = new Map<string, Entry>();
  /** Earlier hashes of Report IDs with more than one version. */
  const earlier = new Map<string, Set<string>>();
  const words = new Uint32Array(4);
  /** The shard of the ID `slotOf` parsed last. */
  let cur = shards[0] as Shard;

  const find = (t: Uint32Array, cap: number, w: Uint32Array): number => {
    let slot = mixUuid(w) & (cap - 1);
    for (;;) {
      const at = slot * WORDS;
      const a = t[at] as number;
      const b = t[at + 1] as number;
      const c = t[at + 2] as number;
      const d = t[at + 3] as number;
      if ((a | b | c | d) === 0) return slot;
      if (a === w[0] && b === w[1] && c === w[2] && d === w[3]) return slot;
      slot = (slot + 1) & (cap - 1);
    }
  };
  const occupied = (t: Uint32Array, at: number) =>
    ((t[at] as number) | (t[at + 1] as number) | (t[at + 2] as number) | (t[at + 3] as number)) !==
    0;

  /** Moves every live slot of `shard` into a table of `cap` slots, keeping those published at or after `keepSec`. */
  const rebuild = (shard: Shard, cap: number, keepSec: number): number => {
    const { table: oldTable, times: oldTimes } = shard;
    const { table, times } = newShard(cap);
    let dropped = 0;
    const w = new Uint32Array(4);
    for (let s = 0; s < oldTimes.length; s++) {
      const at = s * WORDS;
      if (!occupied(oldTable, at)) continue;
      if ((oldTable[at + 6] as number) < keepSec) {
        dropped += 1;
        continue;
      }
      w.set(oldTable.subarray(at, at + 4));
      const to = find(table, cap, w);
      table.set(oldTable.subarray(at, at + WORDS), to * WORDS);
      times[to] = oldTimes[s] as number;
    }
    // freed now, not at the next full collection (they would linger past the next growths)
    oldTable.buffer.transfer(0);
    oldTimes.buffer.transfer(0);
    Object.assign(shard, { table, times, capacity: cap, used: shard.used - dropped });
    return dropped;
  };

  /** The slot of a UUID Report ID (parsed into `words`), found or where it would go; -1 for other IDs. */
  const slotOf = (reportId: string): number => {
    if (!parseUuid(reportId, words)) return -1;
    cur = shards[mixUuid(words) >>> SHARD_SHIFT] as Shard;
    return find(cur.table, cur.capacity, words);
  };

  /** The entry at `slot` of the shard `slotOf` just chose. */
  const entryAt = (slot: number): Entry | undefined => {
    const { table, times } = cur;
    const at = slot * WORDS;
    if (!occupied(table, at)) return undefined;
    const v = table[at + 7] as number;
    const time = times[slot] as number;
    return {
      hash: (v & NO_HASH) !== 0 ? null : hashText(table[at + 4] as number, table[at + 5] as number),
      version: v & VERSION_MASK,
      reportTime: Number.isNaN(time) ? null : time,
      publishedSec: table[at + 6] as number,
    };
  };

  const read = (reportId: string): Entry | undefined => {
    const slot = slotOf(reportId);
    return slot < 0 ? others.get(reportId) : entryAt(slot);
  };

  /** Writes `e` for the ID whose slot `slotOf` just gave (its words still in `words`). */
  const write = (
    reportId: string,
    slot: number,
    hash: string | null,
    version: number,
    reportTime: number | null,
    publishedSec: number,
  ) => {
    if (slot < 0) {
      others.set(reportId, { hash, version, reportTime, publishedSec });
      return;
    }
    const shard = cur;
    let at = slot * WORDS;
    if (!occupied(shard.table, at)) {
      shard.used += 1;
      if (shard.used * 4 > shard.capacity * 3) {
        rebuild(shard, shard.capacity * 2, 0);
        slot = find(shard.table, shard.capacity, words);
        at = slot * WORDS;
      }
      shard.table.set(words, at);
    }
    const { table, times } = shard;
    // one call per record read: no arrays or objects made here
    table[at + 4] = hash === null ? 0 : Number.parseInt(hash.slice(0, 8), 16);
    table[at + 5] = hash === null ? 0 : Number.parseInt(hash.slice(8, 16), 16);
    table[at + 6] = publishedSec;
    table[at + 7] = (version & VERSION_MASK) | (hash === null ? NO_HASH : 0);
    times[slot] = reportTime ?? Number.NaN;
  };

  return {
    check(reportId, hash) {
      const e = read(reportId);
      if (e === undefined) return { kind: 'new' };
      if (e.hash === hash || earlier.get(reportId)?.has(hash) === true) {
        return { kind: 'repeat', version: e.version };
      }
      return {
        kind: 'version',
        version: e.version + 1,
        earlier: { version: e.version, reportTime: e.reportTime, hash: e.hash },
      };
    },
    has: (reportId) => read(reportId) !== undefined,
    observe(seen) {
      const slot = slotOf(seen.reportId);
      const e = slot < 0 ? others.get(seen.reportId) : entryAt(slot);
      const publishedSec = Math.floor(seen.publishedAt / 1000);
      if (e !== undefined && e.hash !== seen.hash) {
        // another version: the one with the higher number is the latest
        const older = seen.version >= e.version ? e.hash : seen.hash;
        if (older !== null) {
          const set = earlier.get(seen.reportId) ?? new Set<string>();
          set.add(older);
          earlier.set(seen.reportId, set);
        }
        if (seen.version < e.version) {
          const at = Math.max(e.publishedSec, publishedSec);
          write(seen.reportId, slot, e.hash, e.version, e.reportTime, at);
          return;
        }
      }
      write(
        seen.reportId,
        slot,
        seen.hash,
        Math.max(seen.version, e?.version ?? 0),
        seen.reportTime,
        Math.max(publishedSec, e?.publishedSec ?? 0),
      );
    },
    prune(now) {
      const keepSec = Math.floor((now - windowMs) / 1000);
      let dropped = 0;
      for (const shard of shards) dropped += rebuild(shard, shard.capacity, keepSec);
      for (const [id, e] of others) {
        if (e.publishedSec < keepSec) {
          others.delete(id);
          dropped += 1;
        }
      }
      for (const id of earlier.keys()) if (read(id) === undefined) earlier.delete(id);
      return dropped;
    },
    get size() {
      let used = 0;
      for (const shard of shards) used += shard.used;
      return used + others.size;
    },
    get tableBytes() {
      let bytes = 0;
      for (const shard of shards) bytes += shard.table.byteLength + shard.times.byteLength;
      return bytes;
    },
  };
};
