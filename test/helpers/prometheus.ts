/**
 * Reading a scraped `/metrics` in tests, with the npm parser
 * parse-prometheus-text-format (prom2json's shape): families by name, and the
 * value of one series, histograms' `_bucket{le}`, `_sum` and `_count`
 * included. It throws on a line a scraper could not read.
 */
import parse, { type ParsedFamily } from 'parse-prometheus-text-format';

export type Family = ParsedFamily;

export const parsePrometheusText = (text: string): Map<string, Family> =>
  new Map(parse(text).map((f) => [f.name, f]));

/** Prometheus spells the infinities `+Inf` and `-Inf`. */
const num = (text: string) => Number(text.replace(/^([+-])Inf$/, '$1Infinity'));

const sameLabels = (a: Record<string, string> = {}, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(b).every(([k, v]) => a[k] === v);

/** The value of one series; throws when it is not there. */
export const sampleValue = (
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number => {
  const part = /_(bucket|sum|count)$/.exec(name)?.[1];
  const histogram = part === undefined ? undefined : families.get(name.slice(0, -part.length - 1));
  if (histogram !== undefined && histogram.type === 'HISTOGRAM') {
    const { le, ...rest } = labels;
    for (const s of histogram.metrics) {
      if (!sameLabels(s.labels, rest)) continue;
      const value = part === 'bucket' ? s.buckets?.[le ?? ''] : part === 'sum' ? s.sum : s.count;
      if (value !== undefined) return num(value);
    }
  }
  for (const s of families.get(name)?.metrics ?? []) {
    if (s.value !== undefined && sameLabels(s.labels, labels)) return num(s.value);
  }
  throw new Error(`no series ${name}${JSON.stringify(labels)}`);
};
