import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalise } from '../../../src/cdr/normalise.ts';
import { contentHash, isContentHash } from '../../../src/dedup/content-hash.ts';
import { fullRawCdr, INGEST } from '../../helpers/fixtures.ts';

const hashOf = (raw: unknown, ingest = INGEST) => {
  const r = normalise(raw, ingest);
  assert.ok(r.ok);
  return contentHash(r.value.record);
};

describe('content hash', () => {
  it('is 16 hex digits, the same for the same record delivered twice', () => {
    const h = hashOf(fullRawCdr());
    assert.ok(isContentHash(h), h);
    const again = { ...INGEST, delivery_id: 'another', received_at: INGEST.received_at + 5000 };
    assert.equal(hashOf(fullRawCdr(), again), h);
    assert.equal(hashOf(fullRawCdr(), { ...INGEST, source: 'reconciler' }), h);
  });

  it('ignores key order and spelling of the raw record, extra fields included', () => {
    const a = { ...fullRawCdr(), 'Some new key': 'x', 'Another key': 'y' };
    const b = Object.fromEntries(Object.entries(a).reverse());
    assert.equal(hashOf(b), hashOf(a));
  });

  it('changes with any value Webex sent, an "NA" text and an extra field included', () => {
    const h = hashOf(fullRawCdr());
    assert.notEqual(hashOf(fullRawCdr({ Duration: 999 })), h);
    assert.notEqual(hashOf(fullRawCdr({ 'International country': 'NA' })), h);
    assert.notEqual(hashOf({ ...fullRawCdr(), 'Some new key': 'x' }), h);
  });
});
