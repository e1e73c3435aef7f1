/**
 * @module cdr/uuid-words
 * A Report ID as four 32-bit words, for the compact tables that hold millions
 * of them (dedup/report-index.ts, also the reconciler ledger's): Webex's
 * Report IDs are UUIDs, and a canonical lowercase UUID is 16 bytes where the
 * string costs about 100. Anything else (upper case, another form, the
 * all-zero UUID, which the tables use for an empty slot) is not one.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The 4 words of a canonical UUID into `out`; false when `id` is not one (or is all zeros). */
export const parseUuid = (id: string, out: Uint32Array): boolean => {
  if (id.length !== 36 || !UUID.test(id)) return false;
  out[0] = Number.parseInt(id.slice(0, 8), 16);
  out[1] = Number.parseInt(id.slice(9, 13) + id.slice(14, 18), 16);
  out[2] = Number.parseInt(id.slice(19, 23) + id.slice(24, 28), 16);
  out[3] = Number.parseInt(id.slice(28, 36), 16);
  return (out[0] | out[1] | out[2] | out[3]) !== 0;
};

/** A table slot of the 4 words: a 32-bit mix of them (the table masks it). */
export const mixUuid = (w: ArrayLike<number>): number => {
  let h = Math.imul(w[0] as number, 0x9e3779b1) ^ (w[1] as number);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ (w[2] as number);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ (w[3] as number);
  return (h ^ (h >>> 16)) >>> 0;
};
