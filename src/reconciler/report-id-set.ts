/**
 * @module reconciler/report-id-set
 * An exact set of Report IDs that costs about 32 bytes per ID instead of about
 * 100: the ledger of a pass holds every Report ID on the topic (a million for
 * a big partner), and a `Set<string>` of them was its largest part. Webex's
 * Report IDs are UUIDs: a canonical lowercase UUID is kept as its 16 bytes in
 * an open-addressing table of 32-bit words; anything else (another form, upper
 * case, the all-zero UUID) goes to a plain Set. Membership is exact either
 * way, never a hash that could collide: a Report ID taken for present when it
 * is not would be a missing record never backfilled.
 */
import { mixUuid as mix, parseUuid } from '../cdr/uuid-words.ts';

export type ReportIdSet = {
  add(id: string): void;
  has(id: string): boolean;
  readonly size: number;
};

/** Whether the slot at word `at` holds an ID (all-zero words: empty). */
const occupied = (t: Uint32Array, at: number): boolean =>
  ((t[at] as number) | (t[at + 1] as number) | (t[at + 2] as number) | (t[at + 3] as number)) !== 0;

export const createReportIdSet = (initialSlots = 1 << 16): ReportIdSet => {
  let capacity = 1;
  while (capacity < initialSlots) capacity *= 2;
  let table = new Uint32Array(capacity * 4); // an all-zero slot is empty
  let used = 0;
  const others = new Set<string>();
  const words = new Uint32Array(4);

  /** Slot index of `w`, or of the empty slot where it would go. */
  const find = (t: Uint32Array, cap: number, w: Uint32Array): number => {
    let slot = mix(w) & (cap - 1);
    for (;;) {
      const at = slot * 4;
      const a = t[at] as number;
      const b = t[at + 1] as number;
      const c = t[at + 2] as number;
      const d = t[at + 3] as number;
      if ((a | b | c | d) === 0) return slot;
      if (a === w[0] && b === w[1] && c === w[2] && d === w[3]) return slot;
      slot = (slot + 1) & (cap - 1);
    }
  };

  const grow = () => {
    const old = table;
    capacity *= 2;
    table = new Uint32Array(capacity * 4);
    const w = new Uint32Array(4);
    for (let at = 0; at < old.length; at += 4) {
      if (!occupied(old, at)) continue;
      w.set(old.subarray(at, at + 4));
      table.set(w, find(table, capacity, w) * 4);
    }
  };

  return {
    add(id) {
      if (!parseUuid(id, words)) {
        others.add(id);
        return;
      }
      const at = find(table, capacity, words) * 4;
      if (occupied(table, at)) return;
      table.set(words, at);
      used += 1;
      if (used * 2 > capacity) grow();
    },
    has(id) {
      if (!parseUuid(id, words)) return others.has(id);
      const at = find(table, capacity, words) * 4;
      return occupied(table, at);
    },
    get size() {
      return used + others.size;
    },
  };
};
