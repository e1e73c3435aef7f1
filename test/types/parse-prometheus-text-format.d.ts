/** The npm package ships no types: what it returns (prom2json's shape). */
declare module 'parse-prometheus-text-format' {
  export type ParsedSample = {
    labels?: Record<string, string>;
    /** counters, gauges, untyped */
    value?: string;
    /** histograms: cumulative counts by `le` */
    buckets?: Record<string, string>;
    /** summaries */
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  };
  export type ParsedFamily = {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    metrics: ParsedSample[];
  };
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
