import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CdrError } from '../../../src/errors.ts';
import { HEADER, rawHash, toDeadLetterMessage } from '../../../src/kafka/messages.ts';

const ingest = {
  feed: 'analytics',
  source: 'reconciler',
  received_at: 0,
  delivery_id: 'run-1',
} as const;

describe('dead-letter raw hash', () => {
  it('is the cdr-raw-sha256 header the dead-letter message carries', () => {
    const deep: unknown[] = [];
    let cursor = deep;
    for (let i = 0; i < 20_000; i++) {
      const next: unknown[] = [];
      cursor.push(next);
      cursor = next;
    }
    for (const raw of [
      { 'Report ID': 'r1', 'Org UUID': 'o1', Duration: 12, Answered: 'true' },
      { 'Report ID': 'ü ✓ \u{1F600}' },
      'a string',
      null,
      undefined,
      { big: 'x'.repeat(600 * 1024) }, // cut in the value, hashed whole
      deep, // not serialisable
    ]) {
      const message = toDeadLetterMessage(
        { raw, error: new CdrError('record_missing_org_uuid', 'no org'), index: 0 },
        ingest,
      );
      assert.equal(message.headers?.[HEADER.rawSha256], rawHash(raw));
    }
  });

  it('differs for different records and is stable for the same one', () => {
    assert.equal(rawHash({ a: 1 }), rawHash({ a: 1 }));
    assert.notEqual(rawHash({ a: 1 }), rawHash({ a: 2 }));
    assert.match(rawHash({ a: 1 }), /^[0-9a-f]{64}$/);
  });
});
