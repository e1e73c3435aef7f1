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
 * table, 36 bytes (the UUID, the 8 bytes of the content hash whole, publish
 * second, version word, and the Report time exactly, as ms after the publish
 * second in 32 bits; one further than 24.8 days from it, only a backfill of a
 * record reported weeks before, goes to a Map). A table grows by half at 3/4
 * full, so 1.33 to 2 slots per ID: 48 to 72 bytes per Report ID
 * (test/bench/dedup-index.bench.ts measures it); `reserve` sizes the tables
 * once for a count known up front (the records of a read's offsets range),
 * 1.33 slots per ID. The UUIDs are spread over 16 tables that grow one at a
 * time, and a table left behind by a growth is freed at once (`transfer(0)`),
 * so a growth holds a sixteenth twice, not the whole. Other Report IDs (not a
 * lowercase UUID) go to a Map at a few
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
  /** Takes what the topic says of a record in; true when its Report ID was not held before. */
  observe(seen: Seen): boolean;
  /** Drops what was published before `now - windowMs`; the number dropped. */
  prune(now: number): number;
  /**
   * Makes room for `ids` Report IDs in all (held ones included) before they
   * are observed, so the tables are sized once, 3/4 full, instead of growing.
   */
  reserve(ids: number): void;
  readonly size: number;
  /** Bytes held by the table (not counting the Maps of other IDs and earlier hashes). */
  readonly tableBytes: number;
};

const WORDS = 9; // id 0-3, hash 4-5, published second 6, version word 7, Report time word 8
const NO_HASH = 0x8000_0000; // in the version word: published without a hash
const VERSION_MASK = 0x7fff_ffff;
/** In the Report time word (ms after the publish second, signed): no Report time. */
const NO_TIME = -0x8000_0000;
/** In the Report time word: more than 24.8 days from the publish second, held in a Map. */
const FAR_TIME = -0x7fff_ffff;
/** A table grows by half when 3/4 full. */
const MAX_LOAD = 0.75;
const GROWTH = 1.5;

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
/** The slot a mix starts at in a table of `cap` slots (any size: by the mix's low 28 bits, not the shard's). */
const homeOf = (mix: number, cap: number): number =>
  Math.floor(((mix & 0x0fff_ffff) * cap) / 0x1000_0000);

/** One table: `WORDS` words per slot; an all-zero id is an empty slot. */
type Shard = {
  table: Uint32Array<ArrayBuffer>;
  capacity: number;
  used: number;
};

const newShard = (capacity: number): Shard => ({
  table: new Uint32Array(capacity * WORDS),
  capacity,
  used: 0,
});

/** Slots a table needs to hold `ids` without growing (at most 3/4 full). */
const slotsFor = (ids: number): number => Math.ceil(ids / MAX_LOAD) + 1;

export const createReportIndex = (windowMs: number, initialSlots = 1 << 12): ReportIndex => {
  const shards = Array.from({ length: SHARDS }, () =>
    newShard(Math.max(16, Math.ceil(initialSlots / SHARDS))),
  );
  const others = new Map<string, Entry>();
  /** Earlier hashes of Report IDs with more than one version. */
  const earlier = new Map<string, Set<string>>();
  /** Report times too far from their publish second for the table's word (FAR_TIME). */
  const farTimes = new Map<string, number>();
  const words = new Uint32Array(4);
  /** The shard of the ID `slotOf` parsed last. */
  let cur = shards[0] as Shard;

  const find = (t: Uint32Array, cap: number, w: Uint32Array): number => {
    let slot = homeOf(mixUuid(w), cap);
    for (;;) {
      const at = slot * WORDS;
      const a = t[at] as number;
      const b = t[at + 1] as number;
      const c = t[at + 2] as number;
      const d = t[at + 3] as number;
      if ((a | b | c | d) === 0) return slot;
      if (a === w[0] && b === w[1] && c === w[2] && d === w[3]) return slot;
      slot = slot + 1 === cap ? 0 : slot + 1;
    }
  };
  const occupied = (t: Uint32Array, at: number) =>
    ((t[at] as number) | (t[at + 1] as number) | (t[at + 2] as number) | (t[at + 3] as number)) !==
    0;

  /** Moves every live slot of `shard` into a table of `cap` slots, keeping those published at or after `keepSec`. */
  const rebuild = (shard: Shard, cap: number, keepSec: number): number => {
    const { table: oldTable, capacity: oldCap } = shard;
    const { table } = newShard(cap);
    let dropped = 0;
    const w = new Uint32Array(4);
    for (let s = 0; s < oldCap; s++) {
      const at = s * WORDS;
      if (!occupied(oldTable, at)) continue;
      if ((oldTable[at + 6] as number) < keepSec) {
        dropped += 1;
        continue;
      }
      w.set(oldTable.subarray(at, at + 4));
      table.set(oldTable.subarray(at, at + WORDS), find(table, cap, w) * WORDS);
    }
    // freed now, not at the next full collection (they would linger past the next growths)
    oldTable.buffer.transfer(0);
    Object.assign(shard, { table, capacity: cap, used: shard.used - dropped });
    return dropped;
  };

  /** The slot of a UUID Report ID (parsed into `words`), found or where it would go; -1 for other IDs. */
  const slotOf = (reportId: string): number => {
    if (!parseUuid(reportId, words)) return -1;
    cur = shards[mixUuid(words) >>> SHARD_SHIFT] as Shard;
    return find(cur.table, cur.capacity, words);
  };

  /** The entry at `slot` of the shard `slotOf` just chose. */
  const entryAt = (reportId: string, slot: number): Entry | undefined => {
    const { table } = cur;
    const at = slot * WORDS;
    if (!occupied(table, at)) return undefined;
    const v = table[at + 7] as number;
    const publishedSec = table[at + 6] as number;
    const offset = (table[at + 8] as number) | 0;
    return {
      hash: (v & NO_HASH) !== 0 ? null : hashText(table[at + 4] as number, table[at + 5] as number),
      version: v & VERSION_MASK,
      reportTime:
        offset === NO_TIME
          ? null
          : offset === FAR_TIME
            ? (farTimes.get(reportId) ?? null)
            : publishedSec * 1000 + offset,
      publishedSec,
    };
  };

  const read = (reportId: string): Entry | undefined => {
    const slot = slotOf(reportId);
    return slot < 0 ? others.get(reportId) : entryAt(reportId, slot);
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
      if (shard.used > shard.capacity * MAX_LOAD) {
        rebuild(shard, Math.ceil(shard.capacity * GROWTH), 0);
        slot = find(shard.table, shard.capacity, words);
        at = slot * WORDS;
      }
      shard.table.set(words, at);
    }
    const { table } = shard;
    // one call per record read: no arrays or objects made here
    table[at + 4] = hash === null ? 0 : Number.parseInt(hash.slice(0, 8), 16);
    table[at + 5] = hash === null ? 0 : Number.parseInt(hash.slice(8, 16), 16);
    table[at + 6] = publishedSec;
    table[at + 7] = (version & VERSION_MASK) | (hash === null ? NO_HASH : 0);
    // the Report time exactly, in ms after the publish second when it fits 32 bits (it nearly always does)
    const offset = reportTime === null ? NO_TIME : reportTime - publishedSec * 1000;
    if (farTimes.size > 0) farTimes.delete(reportId);
    if (
      reportTime === null ||
      (Number.isInteger(offset) && offset > FAR_TIME && offset < 2 ** 31)
    ) {
      table[at + 8] = offset;
    } else {
      table[at + 8] = FAR_TIME;
      farTimes.set(reportId, reportTime as number);
    }
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
      const e = slot < 0 ? others.get(seen.reportId) : entryAt(seen.reportId, slot);
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
          return false;
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
      return e === undefined;
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
      for (const id of farTimes.keys()) if (read(id) === undefined) farTimes.delete(id);
      return dropped;
    },
    reserve(ids) {
      // each table's share, with room for the spread between tables (4 standard deviations)
      const share = ids / SHARDS;
      const slots = slotsFor(share + 4 * Math.sqrt(share));
      for (const shard of shards) {
        if (shard.capacity < slots) rebuild(shard, slots, 0);
      }
    },
    get size() {
      let used = 0;
      for (const shard of shards) used += shard.used;
      return used + others.size;
    },
    get tableBytes() {
      let bytes = 0;
      for (const shard of shards) bytes += shard.table.byteLength;
      return bytes;
    },
  };
};
