/**
 * @module kafka/partition-memo
 * The partition of each message key, hashed once: a delivery has thousands of
 * records of a few hundred orgs, and both clients' murmur2 partitioners hash
 * every key again. Exact, as long as the hash depends on the key alone (the
 * adapters keep one memo per partition count where the answer depends on it
 * too). Bounded: past `limit` keys the memo starts empty again.
 */

/** Keys remembered before the memo is emptied (a few MiB at most). */
export const MEMO_KEYS = 100_000;

export const createPartitionMemo = (limit = MEMO_KEYS) => {
  let known = new Map<string, number>();
  // get and set rather than one call with a callback: no closure per message
  return {
    /** The partition remembered for `key`, if any. */
    get: (key: string): number | undefined => known.get(key),
    remember(key: string, partition: number): number {
      if (known.size >= limit) known = new Map();
      known.set(key, partition);
      return partition;
    },
  };
};

export type PartitionMemo = ReturnType<typeof createPartitionMemo>;
