/**
 * @module dedup/metrics
 * The dedup index's figures on a service's registry, read at each scrape
 * (metrics.ts `readCounter` / `readGauge`): repeats dropped, versions
 * published, Report IDs held and the table's bytes, the tail's lag, and
 * whether the index is warm.
 */
import { type Registry, readCounter, readGauge } from '../metrics.ts';
import type { DedupStats } from './topic-index.ts';

export const registerDedupMetrics = (registry: Registry, stats: () => DedupStats): void => {
  const registers = [registry];
  readCounter(
    registers,
    'webex_cdr_dedup_repeats_dropped_total',
    'CDRs not published: their Report ID is on the topic with the same content (cdr-content-hash).',
    () => stats().repeats,
  );
  readCounter(
    registers,
    'webex_cdr_dedup_versions_published_total',
    'CDRs published as a later version of a Report ID on the topic (cdr-version header).',
    () => stats().versions,
  );
  readGauge(
    registers,
    'webex_cdr_dedup_index_report_ids',
    'Report IDs in the dedup index (published within DEDUP_WINDOW).',
    () => stats().size,
  );
  readGauge(
    registers,
    'webex_cdr_dedup_index_bytes',
    'Bytes of the dedup index table.',
    () => stats().tableBytes,
  );
  readGauge(
    registers,
    'webex_cdr_dedup_index_lag_seconds',
    'Age of the last record the topic tail saw when it saw it: how late this replica learns what others published.',
    () => {
      const lag = stats().lagMs;
      return lag === null ? undefined : lag / 1000;
    },
  );
  readGauge(
    registers,
    'webex_cdr_dedup_index_warm',
    '1 once the dedup index has read DEDUP_WINDOW of the topic (deliveries get 503 before).',
    () => (stats().warm ? 1 : 0),
  );
};
