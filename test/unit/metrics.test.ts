import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHistogram, createMetrics, renderMetrics } from '../../src/metrics.ts';
import { parsePrometheusText, sampleValue } from './prometheus.ts';

describe('metrics', () => {
  it('renders text a strict Prometheus parser accepts, before and after use', () => {
    const m = createMetrics();
    parsePrometheusText(m.render());
    m.delivery(200, 0.3);
    m.delivery(401, 0.001);
    m.delivery(503, 12);
    m.records('webhook', 'published', 5);
    m.records('webhook', 'duplicate_in_batch', 2);
    m.deadLettered('record_missing_org_uuid', 1);
    m.produced(0.2);
    m.payload(3000);
    m.accepted(1_700_000_000_500);
    const f = parsePrometheusText(m.render());
    assert.equal(
      sampleValue(f, 'webex_cdr_deliveries_total', { status: '503', outcome: 'unavailable' }),
      1,
    );
    assert.equal(
      sampleValue(f, 'webex_cdr_records_total', { source: 'webhook', outcome: 'published' }),
      5,
    );
    assert.equal(
      sampleValue(f, 'webex_cdr_records_total', { source: 'reconciler', outcome: 'published' }),
      0,
    );
    assert.equal(sampleValue(f, 'webex_cdr_duplicates_in_batch_total'), 2);
    assert.equal(
      sampleValue(f, 'webex_cdr_dead_lettered_total', { reason: 'record_missing_org_uuid' }),
      1,
    );
    assert.equal(sampleValue(f, 'webex_cdr_delivery_seconds_count'), 3);
    assert.equal(sampleValue(f, 'webex_cdr_delivery_seconds_bucket', { le: '0.005' }), 1);
    assert.equal(sampleValue(f, 'webex_cdr_delivery_seconds_bucket', { le: '0.5' }), 2);
    assert.equal(sampleValue(f, 'webex_cdr_delivery_seconds_bucket', { le: '+Inf' }), 3);
    assert.equal(sampleValue(f, 'webex_cdr_delivery_bytes_bucket', { le: '4096' }), 1);
    assert.equal(sampleValue(f, 'webex_cdr_delivery_bytes_bucket', { le: '1024' }), 0);
    assert.equal(sampleValue(f, 'webex_cdr_last_accepted_delivery_seconds'), 1_700_000_000.5);
    assert.ok(sampleValue(f, 'process_resident_memory_bytes') > 0);
    assert.equal(f.get('webex_cdr_produce_seconds')?.type, 'histogram');
  });

  it('keeps histogram buckets cumulative, with +Inf equal to the count and the sum exact', () => {
    const h = createHistogram('t_seconds', 'test', [1, 0.1, 10]);
    for (const v of [0.05, 0.1, 0.5, 5, 50]) h.observe(v);
    const f = parsePrometheusText(renderMetrics([h]));
    assert.deepEqual(
      f.get('t_seconds')?.samples.map((s) => [s.labels.le ?? s.name, s.value]),
      [
        ['0.1', 2],
        ['1', 3],
        ['10', 4],
        ['+Inf', 5],
        ['t_seconds_sum', 55.65],
        ['t_seconds_count', 5],
      ],
    );
  });

  it('the test parser refuses what a scraper would', () => {
    const bad = [
      'x 1\n', // no TYPE before the sample
      '# TYPE x counter\nx{a="1} 1\n', // unterminated
      '# TYPE x counter\nx 1\nx 2\n', // series twice
      '# TYPE x counter\nx one\n', // not a number
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      '# TYPE x counter\nx 1', // no final newline
    ];
    for (const text of bad) assert.throws(() => parsePrometheusText(text), Error, text);
  });
});
