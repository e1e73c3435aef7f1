import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CdrError } from '../../../src/errors.ts';
import { beginRead, stalled, unlessAborted } from '../../../src/kafka/abort.ts';

describe('unlessAborted', () => {
  it('settles as the call does while the signal stays quiet', async () => {
    assert.equal(await unlessAborted(Promise.resolve(1), new AbortController().signal), 1);
    assert.equal(await unlessAborted(Promise.resolve(2), undefined), 2);
    const failure = new Error('refused');
    await assert.rejects(unlessAborted(Promise.reject(failure), undefined), (e) => e === failure);
  });

  it('rejects with the reason at once when the signal aborts, or has aborted', async () => {
    const stop = new AbortController();
    const never = new Promise<number>(() => undefined);
    const waiting = unlessAborted(never, stop.signal);
    const reason = new Error('stopped');
    stop.abort(reason);
    await assert.rejects(waiting, (e) => e === reason);
    await assert.rejects(unlessAborted(Promise.resolve(3), stop.signal), (e) => e === reason);
  });
});

describe('beginRead', () => {
  const read = { topic: 't', fromTimestamp: 0, onRecord: () => undefined };

  it('the start aborts with kafka_timeout after startTimeoutMs, not once started', async () => {
    const late = beginRead({ ...read, startTimeoutMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.ok(late.starting.reason instanceof CdrError);
    assert.equal((late.starting.reason as CdrError).code, 'kafka_timeout');
    const quick = beginRead({ ...read, startTimeoutMs: 20 });
    quick.started();
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(quick.starting.aborted, false);
    assert.deepEqual(
      { ...quick.stats(true, 2, 5), ms: 0 },
      { exists: true, partitions: 2, records: 5, ms: 0 },
    );
  });

  it("follows the caller's signal, and refuses to begin once it has aborted", () => {
    const stop = new AbortController();
    const begun = beginRead({ ...read, signal: stop.signal });
    stop.abort(new Error('stopped'));
    assert.equal(begun.starting.aborted, true);
    assert.throws(() => beginRead({ ...read, signal: stop.signal }), /stopped/);
  });

  it('a stall is kafka_timeout naming the topic and the partitions left', () => {
    const e = stalled('t', 2, 60_000);
    assert.equal(e.code, 'kafka_timeout');
    assert.equal(e.message, 'reading t stalled: 2 partition(s) unread after 60000 ms');
  });
});
