/**
 * @module ingress/drain
 * Shutdown's bookkeeping: whether the ingress is draining (new deliveries get
 * 503, `/readyz` fails) and how many deliveries are still in flight.
 */

/** What the app needs of a drain: the guard's question and the in-flight count. */
export type Drain = {
  draining(): boolean;
  /** Marks a delivery in flight; the function returned marks it done. */
  enter(): () => void;
};

/** Counts deliveries in flight; `idle()` resolves when none is left. */
export const createDrain = () => {
  let draining = false;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  const drain: Drain & { start(): void; inFlight(): number; idle(): Promise<void> } = {
    draining: () => draining,
    enter() {
      inFlight += 1;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        inFlight -= 1;
        if (inFlight === 0) onIdle?.();
      };
    },
    start() {
      draining = true;
    },
    inFlight: () => inFlight,
    idle: () =>
      inFlight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            onIdle = resolve;
          }),
  };
  return drain;
};
