/**
 * @module metrics
 * Prometheus metrics with prom-client. Each service (an ingress, a reconciler)
 * has a registry of its own, never prom-client's global one: tests start
 * several services in one process. Every registry also holds prom-client's
 * default Node metrics (process CPU, RSS, heap, event-loop lag, GC, handles),
 * set up once per process and shared by its registries: they describe the
 * one process, and their collectors (a GC observer, an event-loop delay
 * monitor) cannot be stopped, so one set per service would pile up.
 *
 * Label values come from small fixed sets (HTTP status, outcome, source,
 * error code), never from records or orgs, so cardinality is bounded.
 *
 * Adding a metric: `new Counter({ name, help, labelNames, registers: [registry] })`
 * (or Gauge, Histogram) next to the code that records it; a figure kept
 * elsewhere (a service's status) is read at each scrape with `readCounter` /
 * `readGauge` (reconciler/http.ts). `createMetrics` is what the ingress records.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { ERROR_CODES, type ErrorCode } from './errors.ts';

export type { Registry };
export type Labels = Record<string, string>;

let processMetrics: Registry | undefined;

/** A new registry holding the process' default Node metrics (set up at the first call). */
export const createRegistry = (): Registry => {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return Registry.merge([processMetrics]);
};

/** What `GET /metrics` renders: a service's registry, after whatever its render does first. */
export type Scrapable = { readonly registry: Registry; render(): Promise<string> };

/** The answer of `GET /metrics`: the text format 0.0.4. */
export const scrape = async (m: Scrapable): Promise<Response> =>
  new Response(await m.render(), { headers: { 'Content-Type': m.registry.contentType } });

/**
 * A counter whose total is kept elsewhere, read at each scrape: a number, or
 * one per label set (series not read keep their absence; those to show at 0
 * are read as 0).
 */
export const readCounter = (
  registers: Registry[],
  name: string,
  help: string,
  read: () => number | Iterable<readonly [Labels, number]>,
  labelNames: readonly string[] = [],
) =>
  new Counter({
    name,
    help,
    labelNames,
    registers,
    collect() {
      this.reset();
      const value = read();
      if (typeof value === 'number') this.inc(value);
      else for (const [labels, n] of value) this.inc(labels, n);
    },
  });

/** A gauge read at each scrape; `undefined` leaves it without a sample. */
export const readGauge = (
  registers: Registry[],
  name: string,
  help: string,
  read: () => number | undefined,
) =>
  new Gauge({
    name,
    help,
    registers,
    collect() {
      const value = read();
      if (value === undefined) this.remove();
      else this.set(value);
    },
  });

export const RECORD_OUTCOMES = ['published', 'dead_lettered', 'duplicate_in_batch'] as const;
export type RecordOutcome = (typeof RECORD_OUTCOMES)[number];
export const RECORD_SOURCES = ['webhook', 'reconciler'] as const;
export type RecordSource = (typeof RECORD_SOURCES)[number];

/** Seconds: from 5 ms to 2 min. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Bytes: 1 KiB to 256 MiB, by fours. */
const SIZE_BUCKETS = Array.from({ length: 10 }, (_, i) => 1024 * 4 ** i);

/** How a delivery used the worker threads (ingress/route.ts). */
export type WorkerMode = 'whole' | 'chunks';

export type Metrics = {
  /** One answered webhook request: its HTTP status and how long it took. */
  delivery(status: number, seconds: number): void;
  records(source: RecordSource, outcome: RecordOutcome, n: number): void;
  deadLettered(reason: ErrorCode, n: number): void;
  /** A webhook request answered 4xx or 5xx: its status and reason code. */
  refused(status: number, reason: string): void;
  /** The time Kafka took to acknowledge a delivery's records. */
  produced(seconds: number): void;
  /** A delivery's records parsed and encoded on the worker threads: whole on one, or in chunks. */
  onWorkers(mode: WorkerMode): void;
  payload(bytes: number): void;
  /** A delivery was answered 2xx at `atMs` (epoch ms). */
  accepted(atMs: number): void;
  /** +1 when a webhook request arrives, -1 when it is answered. */
  inFlight(delta: number): void;
  /** Where the ingress' metrics are registered; `/metrics` renders it. */
  readonly registry: Registry;
  render(): Promise<string>;
};

type Child = { inc(n?: number): void };

/** Labelled children by key, made at first use: the hot path then only looks a key up. */
const childrenOf = <K>(make: (key: K) => Child) => {
  const children = new Map<K, Child>();
  return (key: K): Child => {
    let child = children.get(key);
    if (child === undefined) {
      child = make(key);
      children.set(key, child);
    }
    return child;
  };
};

export const createMetrics = (registry: Registry = createRegistry()): Metrics => {
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter({ name, help, labelNames, registers });
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
  const histogram = (name: string, help: string, buckets: number[]) =>
    new Histogram({ name, help, buckets, registers });
  const deliveries = counter(
    'webex_cdr_deliveries_total',
    'Webhook deliveries answered, by HTTP status and outcome (accepted, refused, unavailable).',
    ['status', 'outcome'],
  );
  const errors = counter(
    'webex_cdr_delivery_errors_total',
    'Webhook deliveries answered 4xx or 5xx, by HTTP status and reason code (src/errors.ts, or internal).',
    ['status', 'reason'],
  );
  const inFlight = gauge('webex_cdr_deliveries_in_flight', 'Webhook requests being processed now.');
  const records = counter(
    'webex_cdr_records_total',
    'CDRs by source and outcome (published, dead_lettered, duplicate_in_batch).',
    ['source', 'outcome'],
  );
  const dead = counter(
    'webex_cdr_dead_lettered_total',
    'CDRs sent to the dead-letter topic, by reason code.',
    ['reason'],
  );
  const duplicates = counter(
    'webex_cdr_duplicates_in_batch_total',
    'CDRs dropped because their Report ID came again in the same delivery.',
  );
  const workers = counter(
    'webex_cdr_worker_deliveries_total',
    'Webhook deliveries whose records were parsed and encoded on worker threads (INGRESS_WORKERS): whole, a body handed to one worker while the main thread published another; chunks, a large body spread over the workers.',
    ['mode'],
  );
  const produce = histogram(
    'webex_cdr_produce_seconds',
    'Time for Kafka to acknowledge all records of one delivery.',
    LATENCY_BUCKETS,
  );
  const request = histogram(
    'webex_cdr_delivery_seconds',
    'Time from receiving a webhook request to answering it.',
    LATENCY_BUCKETS,
  );
  const size = histogram(
    'webex_cdr_delivery_bytes',
    'Body size of webhook deliveries, as received.',
    SIZE_BUCKETS,
  );
  const last = gauge(
    'webex_cdr_last_accepted_delivery_seconds',
    'When the last delivery was answered 2xx (Unix time); alert when it grows stale.',
  );
  last.remove(); // no sample before the first 2xx
  const outcomeOf = (status: number) =>
    status < 300 ? 'accepted' : status >= 500 ? 'unavailable' : 'refused';
  const byStatus = childrenOf((status: number) =>
    deliveries.labels({ status: String(status), outcome: outcomeOf(status) }),
  );
  const errorsBy = childrenOf((key: string) => {
    const [status = '', reason = ''] = key.split(' ', 2);
    return errors.labels({ status, reason });
  });
  const deadBy = childrenOf((reason: string) => dead.labels({ reason }));
  const recordsBy = childrenOf((key: `${RecordSource} ${RecordOutcome}`) => {
    const [source = '', outcome = ''] = key.split(' ', 2);
    return records.labels({ source, outcome });
  });
  // the series an alert or a rate() needs from the start, at 0
  for (const source of RECORD_SOURCES) {
    for (const outcome of RECORD_OUTCOMES) recordsBy(`${source} ${outcome}`).inc(0);
  }
  for (const code of ERROR_CODES.filter((c) => c.startsWith('record_'))) deadBy(code).inc(0);
  return {
    delivery(status, seconds) {
      byStatus(status).inc();
      request.observe(seconds);
    },
    records(source, outcome, n) {
      if (n === 0) return;
      recordsBy(`${source} ${outcome}`).inc(n);
      if (outcome === 'duplicate_in_batch') duplicates.inc(n);
    },
    deadLettered: (reason, n) => deadBy(reason).inc(n),
    refused: (status, reason) => errorsBy(`${status} ${reason}`).inc(),
    produced: (seconds) => produce.observe(seconds),
    onWorkers: (mode) => workers.labels({ mode }).inc(),
    payload: (bytes) => size.observe(bytes),
    accepted: (atMs) => last.set(atMs / 1000),
    inFlight: (delta) => inFlight.inc(delta),
    registry,
    render: () => registry.metrics(),
  };
};
