/**
 * @module kafka/lease
 * The rules of the reconciler lease that hold whatever the client library
 * (the membership itself is kafka/kafkajs/lease.ts): who is given partition 0
 * of the lease topic, and until when the holder counts the lease as held
 * (fencing by time: S - S/5 after the earliest moment its last acknowledged
 * heartbeat could have been sent, S the session timeout).
 */

export const LEASE_PARTITION = 0;

/** The part of the session timeout the holder gives up early. */
export const fenceMarginMs = (sessionTimeoutMs: number): number => Math.ceil(sessionTimeoutMs / 5);
export const heartbeatIntervalMs = (sessionTimeoutMs: number): number =>
  Math.max(100, Math.floor(sessionTimeoutMs / 10));

/**
 * Until when the lease counts as held, from what the member heard from the
 * coordinator: `joined` when a join completed (after `durationMs`), `beat`
 * when a heartbeat was acknowledged.
 */
export const createFence = (sessionTimeoutMs: number, now: () => number) => {
  let floor = Number.NEGATIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  return {
    joined(durationMs: number) {
      last = now();
      floor = last - Math.max(0, durationMs);
    },
    beat() {
      // sent no earlier than the previous acknowledgement
      floor = last;
      last = now();
    },
    deadline: () => floor + sessionTimeoutMs - fenceMarginMs(sessionTimeoutMs),
  };
};

/** The member given partition 0: the one that holds it, else the first by id. */
export const chooseHolder = (
  members: readonly { memberId: string; claims: boolean }[],
): { holder: string | undefined; claimants: number } => {
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
  const claimants = sorted.filter((m) => m.claims);
  return { holder: (claimants[0] ?? sorted[0])?.memberId, claimants: claimants.length };
};
