/**
 * @module metrics
 * Prometheus text format (0.0.4) without a dependency: counters, gauges and
 * cumulative histograms (`_bucket{le}`, `_sum`, `_count`), plus the process
 * basics. Label values come from small fixed sets (HTTP status, outcome,
 * source, error code), never from records or orgs, so cardinality is bounded.
 *
 * `createIngressMetrics` is what the ingress records; the reconciler's figures
 * are rendered from its status (reconciler/http.ts) with the same helpers.
 */
import { ERROR_CODES, type ErrorCode } from './errors.ts';

type Labels = Record<string, string>;

const escapeLabel = (v: string) =>
  v.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');

const labelText = (labels: Labels): string => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
};

const number = (n: number): string =>
  Number.isFinite(n) ? String(n) : Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';

type Metric = { render(): string[] };

const header = (name: string, help: string, type: string) => [
  `# HELP ${name} ${help}`,
  `# TYPE ${name} ${type}`,
];

/** A counter or gauge with one series per label set. */
const createSeries = (name: string, help: string, type: 'counter' | 'gauge') => {
  const values = new Map<string, number>();
  return {
    add(n: number, labels: Labels = {}) {
      const key = labelText(labels);
      values.set(key, (values.get(key) ?? 0) + n);
    },
    set(n: number, labels: Labels = {}) {
      values.set(labelText(labels), n);
    },
    render: () => [
      ...header(name, help, type),
      ...[...values].map(([l, v]) => `${name}${l} ${number(v)}`),
    ],
  };
};

export const createCounter = (name: string, help: string) => createSeries(name, help, 'counter');
export const createGauge = (name: string, help: string) => createSeries(name, help, 'gauge');

export const createHistogram = (name: string, help: string, buckets: readonly number[]) => {
  const bounds = [...buckets].sort((a, b) => a - b);
  const counts = new Array<number>(bounds.length).fill(0);
  let sum = 0;
  let count = 0;
  return {
    observe(v: number) {
      const i = bounds.findIndex((b) => v <= b);
      if (i >= 0) counts[i] = (counts[i] ?? 0) + 1;
      sum += v;
      count += 1;
    },
    render: () => {
      let cumulative = 0;
      return [
        ...header(name, help, 'histogram'),
        ...bounds.map((b, i) => {
          cumulative += counts[i] ?? 0;
          return `${name}_bucket{le="${number(b)}"} ${cumulative}`;
        }),
        `${name}_bucket{le="+Inf"} ${count}`,
        `${name}_sum ${number(sum)}`,
        `${name}_count ${count}`,
      ];
    },
  };
};

const startSeconds = Date.now() / 1000;

/** The process basics, named as Prometheus client libraries name them. */
export const processMetrics = (): Metric => ({
  render: () => {
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    return [
      ...header('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge'),
      `process_resident_memory_bytes ${mem.rss}`,
      ...header('process_heap_bytes', 'V8 heap used in bytes.', 'gauge'),
      `process_heap_bytes ${mem.heapUsed}`,
      ...header('process_cpu_seconds_total', 'User and system CPU time spent.', 'counter'),
      `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
      ...header('process_start_time_seconds', 'Start time of the process (Unix time).', 'gauge'),
      `process_start_time_seconds ${startSeconds}`,
    ];
  },
});

export const renderMetrics = (metrics: readonly Metric[]): string =>
  `${metrics.flatMap((m) => m.render()).join('\n')}\n`;

export const RECORD_OUTCOMES = ['published', 'dead_lettered', 'duplicate_in_batch'] as const;
export type RecordOutcome = (typeof RECORD_OUTCOMES)[number];
export type RecordSource = 'webhook' | 'reconciler';

/** Seconds: from 5 ms to 2 min. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Bytes: 1 KiB to 256 MiB, by fours. */
const SIZE_BUCKETS = Array.from({ length: 10 }, (_, i) => 1024 * 4 ** i);

export type Metrics = {
  /** One answered webhook request: its HTTP status and how long it took. */
  delivery(status: number, seconds: number): void;
  records(source: RecordSource, outcome: RecordOutcome, n: number): void;
  deadLettered(reason: ErrorCode, n: number): void;
  /** A webhook request answered 4xx or 5xx: its status and reason code. */
  refused(status: number, reason: string): void;
  /** The time Kafka took to acknowledge a delivery's records. */
  produced(seconds: number): void;
  payload(bytes: number): void;
  /** A delivery was answered 2xx at `atMs` (epoch ms). */
  accepted(atMs: number): void;
  /** +1 when a webhook request arrives, -1 when it is answered. */
  inFlight(delta: number): void;
  render(): string;
};

export const createMetrics = (): Metrics => {
  const deliveries = createCounter(
    'webex_cdr_deliveries_total',
    'Webhook deliveries answered, by HTTP status and outcome (accepted, refused, unavailable).',
  );
  const errors = createCounter(
    'webex_cdr_delivery_errors_total',
    'Webhook deliveries answered 4xx or 5xx, by HTTP status and reason code (src/errors.ts, or internal).',
  );
  const records = createCounter(
    'webex_cdr_records_total',
    'CDRs by source and outcome (published, dead_lettered, duplicate_in_batch).',
  );
  const dead = createCounter(
    'webex_cdr_dead_lettered_total',
    'CDRs sent to the dead-letter topic, by reason code.',
  );
  const duplicates = createCounter(
    'webex_cdr_duplicates_in_batch_total',
    'CDRs dropped because their Report ID came again in the same delivery.',
  );
  const produce = createHistogram(
    'webex_cdr_produce_seconds',
    'Time for Kafka to acknowledge all records of one delivery.',
    LATENCY_BUCKETS,
  );
  const request = createHistogram(
    'webex_cdr_delivery_seconds',
    'Time from receiving a webhook request to answering it.',
    LATENCY_BUCKETS,
  );
  const size = createHistogram(
    'webex_cdr_delivery_bytes',
    'Body size of webhook deliveries, as received.',
    SIZE_BUCKETS,
  );
  const last = createGauge(
    'webex_cdr_last_accepted_delivery_seconds',
    'When the last delivery was answered 2xx (Unix time); alert when it grows stale.',
  );
  const inFlight = createGauge(
    'webex_cdr_deliveries_in_flight',
    'Webhook requests being processed now.',
  );
  inFlight.set(0);
  for (const source of ['webhook', 'reconciler'] as const) {
    for (const outcome of RECORD_OUTCOMES) records.add(0, { source, outcome });
  }
  for (const code of ERROR_CODES.filter((c) => c.startsWith('record_')))
    dead.add(0, { reason: code });
  duplicates.add(0);
  const outcomeOf = (status: number) =>
    status < 300 ? 'accepted' : status >= 500 ? 'unavailable' : 'refused';
  const all: Metric[] = [
    deliveries,
    errors,
    inFlight,
    records,
    dead,
    duplicates,
    produce,
    request,
    size,
    last,
  ];
  return {
    delivery(status, seconds) {
      deliveries.add(1, { status: String(status), outcome: outcomeOf(status) });
      request.observe(seconds);
    },
    records(source, outcome, n) {
      records.add(n, { source, outcome });
      if (outcome === 'duplicate_in_batch') duplicates.add(n);
    },
    deadLettered: (reason, n) => dead.add(n, { reason }),
    refused: (status, reason) => errors.add(1, { status: String(status), reason }),
    produced: (seconds) => produce.observe(seconds),
    payload: (bytes) => size.observe(bytes),
    accepted: (atMs) => last.set(atMs / 1000),
    inFlight: (delta) => inFlight.add(delta),
    render: () => renderMetrics([...all, processMetrics()]),
  };
};
