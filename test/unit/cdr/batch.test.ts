import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prepareBatch, prepareChunk, type SeenReports } from '../../../src/cdr/batch.ts';
import { INGEST, minimalRawCdr } from '../../helpers/fixtures.ts';

const version = (reportId: string, reportTime: string | null, user: string) =>
  minimalRawCdr(reportId, { 'Report time': reportTime, User: user });

describe('prepareBatch', () => {
  it('normalises every good record, in order', () => {
    const batch = prepareBatch(
      [minimalRawCdr('a'), minimalRawCdr('b'), minimalRawCdr('c')],
      INGEST,
    );
    assert.deepEqual(
      batch.records.map((r) => r.reportId),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(batch.dead, []);
    assert.equal(batch.duplicates, 0);
  });

  it('dead-letters a poison record and keeps the good ones next to it', () => {
    const poison = { 'Org UUID': 'org-1', User: 'no report id' };
    const batch = prepareBatch([minimalRawCdr('a'), poison, 'text', minimalRawCdr('b')], INGEST);
    assert.deepEqual(
      batch.records.map((r) => r.reportId),
      ['a', 'b'],
    );
    assert.deepEqual(
      batch.dead.map((d) => [d.index, d.error.code]),
      [
        [1, 'record_missing_report_id'],
        [2, 'record_not_object'],
      ],
    );
    assert.equal(batch.dead[0]?.raw, poison);
  });

  it('publishes a Report ID once: the latest Report time wins, in either order', () => {
    const older = version('dup', '2023-10-12T21:00:00Z', 'old');
    const newer = version('dup', '2023-10-12T22:00:00Z', 'new');
    for (const raws of [
      [older, newer],
      [newer, older],
    ]) {
      const batch = prepareBatch(raws, INGEST);
      assert.equal(batch.records.length, 1);
      assert.equal(batch.records[0]?.record.user, 'new');
      assert.equal(batch.duplicates, 1);
    }
  });

  it('keeps the later version on a tie, and a timed version over an untimed one', () => {
    const tie = prepareBatch(
      [
        version('d', '2023-10-12T21:00:00Z', 'first'),
        version('d', '2023-10-12T21:00:00Z', 'second'),
      ],
      INGEST,
    );
    assert.equal(tie.records[0]?.record.user, 'second');
    const untimedLater = prepareBatch(
      [version('d', '2023-10-12T21:00:00Z', 'timed'), version('d', null, 'untimed')],
      INGEST,
    );
    assert.equal(untimedLater.records[0]?.record.user, 'timed');
    const untimedFirst = prepareBatch(
      [version('d', null, 'untimed'), version('d', '2023-10-12T21:00:00Z', 'timed')],
      INGEST,
    );
    assert.equal(untimedFirst.records[0]?.record.user, 'timed');
  });

  it('counts every extra copy as a duplicate', () => {
    const batch = prepareBatch(
      [minimalRawCdr('x'), minimalRawCdr('x'), minimalRawCdr('y'), minimalRawCdr('x')],
      INGEST,
    );
    assert.equal(batch.records.length, 2);
    assert.equal(batch.duplicates, 2);
  });

  it('treats Report ID spellings as one key', () => {
    const batch = prepareBatch(
      [
        { 'Report ID': 'same', 'Org UUID': 'o' },
        { reportId: 'same', orgUuid: 'o' },
      ],
      INGEST,
    );
    assert.equal(batch.records.length, 1);
    assert.equal(batch.duplicates, 1);
  });
});

describe('prepareChunk', () => {
  it('numbers records from the chunk start and dead-letters as prepareBatch does', () => {
    const seen: SeenReports = new Map();
    const batch = prepareChunk([minimalRawCdr('a'), 'text'], 4000, INGEST, seen);
    assert.deepEqual(
      batch.records.map((r) => r.reportId),
      ['a'],
    );
    assert.deepEqual(
      batch.dead.map((d) => d.index),
      [4001],
    );
  });

  it('against earlier chunks: drops an older version, publishes a newer one, counts both', () => {
    const seen: SeenReports = new Map();
    const first = prepareChunk(
      [version('x', '2024-05-01T10:00:00.000Z', 'first'), version('y', null, 'y1')],
      0,
      INGEST,
      seen,
    );
    assert.equal(first.records.length, 2);
    const second = prepareChunk(
      [
        version('x', '2024-05-01T09:00:00.000Z', 'older'),
        version('y', '2024-05-01T09:00:00.000Z', 'y2'),
        version('z', null, 'z'),
      ],
      2,
      INGEST,
      seen,
    );
    assert.deepEqual(
      second.records.map((r) => [r.reportId, r.record.user]),
      [
        ['y', 'y2'],
        ['z', 'z'],
      ],
    );
    assert.equal(second.duplicates, 2);
    const third = prepareChunk(
      [version('x', '2024-05-01T11:00:00.000Z', 'latest')],
      5,
      INGEST,
      seen,
    );
    assert.deepEqual(
      third.records.map((r) => r.record.user),
      ['latest'],
    );
    assert.equal(third.duplicates, 1);
  });
});
