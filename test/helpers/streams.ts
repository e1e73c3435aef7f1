/** Request bodies for unit tests that record how they were read. */

/**
 * A byte stream of the given chunks that hands out one chunk per pull (none
 * ahead of a read) and records how many pulls there were and whether it was
 * cancelled.
 */
export const watchedStream = (chunks: readonly Uint8Array[]) => {
  const state = { pulls: 0, cancelled: false };
  let i = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        state.pulls += 1;
        const next = chunks[i++];
        if (next === undefined) controller.close();
        else controller.enqueue(next);
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
};
