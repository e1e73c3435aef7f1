import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attachRelativeTimes, parseTimeArg, type TimeArg } from '../../src/time-arg.ts';

const NOW = Date.parse('2026-12-01T19:30:00.000Z');
const H = 3_600_000;

const value = (r: TimeArg): number => {
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.value;
};
const refusal = (r: TimeArg): string => {
  assert.ok(!r.ok, `accepted as ${r.ok ? new Date(r.value).toISOString() : ''}`);
  return r.error;
};

describe('time arguments (--from, --to, --since)', () => {
  it('reads ISO 8601 with Z or an offset', () => {
    const at = (text: string) => new Date(value(parseTimeArg(text, { now: NOW }))).toISOString();
    assert.equal(at('2026-12-01T10:00:00Z'), '2026-12-01T10:00:00.000Z');
    assert.equal(at('2026-12-01T10:00:00.123Z'), '2026-12-01T10:00:00.123Z');
    assert.equal(at('2026-12-01T10:00:00.5Z'), '2026-12-01T10:00:00.500Z');
    assert.equal(at('2026-12-01T10:00:00.035999Z'), '2026-12-01T10:00:00.035Z');
    assert.equal(at('2026-12-01t10:00z'), '2026-12-01T10:00:00.000Z');
    assert.equal(at('2026-12-01T10:00:00+01:00'), '2026-12-01T09:00:00.000Z');
    assert.equal(at('2026-12-01T10:00:00-0530'), '2026-12-01T15:30:00.000Z');
    assert.equal(at('2026-12-01T10:00:00+02'), '2026-12-01T08:00:00.000Z');
    assert.equal(at('2026-12-01T00:30:00+01:00'), '2026-11-30T23:30:00.000Z');
    assert.equal(at(' 2026-12-01T10:00:00Z '), '2026-12-01T10:00:00.000Z');
  });

  it('reads a date alone as UTC midnight, whatever the local time zone', () => {
    assert.equal(value(parseTimeArg('2026-12-01', { now: NOW })), Date.UTC(2026, 11, 1));
    assert.equal(value(parseTimeArg('2024-02-29', { now: NOW })), Date.UTC(2024, 1, 29));
  });

  it('reads now and times relative to now in the duration syntax', () => {
    assert.equal(value(parseTimeArg('now', { now: NOW })), NOW);
    assert.equal(value(parseTimeArg('NOW', { now: NOW })), NOW);
    assert.equal(value(parseTimeArg('-48h', { now: NOW })), NOW - 48 * H);
    assert.equal(value(parseTimeArg('-90m', { now: NOW })), NOW - 90 * 60_000);
    assert.equal(value(parseTimeArg('-1h30m', { now: NOW })), NOW - 90 * 60_000);
    assert.equal(value(parseTimeArg('-2d', { now: NOW })), NOW - 48 * H);
  });

  it('reads a bare duration as that long ago only where allowed (tail --since)', () => {
    assert.equal(value(parseTimeArg('1h', { now: NOW, bareDuration: true })), NOW - H);
    assert.equal(
      value(parseTimeArg('1h', { now: NOW, bareDuration: true })),
      value(parseTimeArg('-1h', { now: NOW })),
    );
    assert.match(refusal(parseTimeArg('1h', { now: NOW })), /"1h" is not a time/);
    assert.match(
      refusal(parseTimeArg('2026/12/01', { now: NOW, bareDuration: true })),
      /^"2026\/12\/01" is not a time; .*or 1h \(a duration: that long ago, the same as -1h\)$/,
    );
    assert.equal(
      value(parseTimeArg('2026-12-01', { now: NOW, bareDuration: true })),
      Date.UTC(2026, 11, 1),
    );
  });

  it('refuses a time without an offset instead of reading it as local time', () => {
    const error = refusal(parseTimeArg('2026-12-01T10:00:00', { now: NOW }));
    assert.match(error, /^"2026-12-01T10:00:00" has no offset \(it would be read as local time\)/);
    refusal(parseTimeArg('2026-12-01T10:00', { now: NOW }));
    refusal(parseTimeArg('2026-12-01T10:00:00.5', { now: NOW }));
  });

  it('refuses every other shape with one message giving an example of each form', () => {
    for (const text of [
      '2026/12/01', // Date.parse: local midnight
      '12/01/2026',
      '2026-12-01 10:00:00Z',
      'Tue Dec 01 2026',
      '1764547200000',
      '2026-12',
      '',
      '-',
      '-48',
      '-1.5h',
      '--1h',
      '-30m1h', // units from largest to smallest
      '+1h',
      'yesterday',
    ]) {
      const error = refusal(parseTimeArg(text, { now: NOW }));
      assert.ok(error.startsWith(`"${text}" `), error);
      for (const example of [
        '2026-12-01T10:00:00Z',
        '2026-12-01T10:00:00+01:00',
        '2026-12-01 (a date: UTC midnight)',
        'now',
        '-48h',
        '-90m',
        '-1h30m',
      ]) {
        assert.ok(error.includes(example), `${text}: ${error} lacks ${example}`);
      }
    }
  });

  it('refuses dates and times that are not on the calendar', () => {
    for (const text of [
      '2026-02-29',
      '2026-13-01',
      '2026-12-32',
      '2026-12-01T24:00:00Z',
      '2026-12-01T10:60:00Z',
      '2026-12-01T10:00:60Z',
      '2026-12-01T10:00:00+24:00',
      '2026-12-01T10:00:00+01:60',
    ]) {
      assert.match(refusal(parseTimeArg(text, { now: NOW })), /is not a calendar (date|time)/);
    }
  });
});

describe('attachRelativeTimes', () => {
  it('joins a time flag and a value starting with a dash, which util.parseArgs refuses', () => {
    assert.deepEqual(
      attachRelativeTimes(
        ['--once', '--from', '-48h', '--to', 'now', '--x', '-1h'],
        ['from', 'to'],
      ),
      ['--once', '--from=-48h', '--to', 'now', '--x', '-1h'],
    );
    assert.deepEqual(attachRelativeTimes(['--from', '--once'], ['from']), ['--from', '--once']);
    assert.deepEqual(attachRelativeTimes(['--from=-1h', 'from', '-1h'], ['from']), [
      '--from=-1h',
      'from',
      '-1h',
    ]);
  });
});
