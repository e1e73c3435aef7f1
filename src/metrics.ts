/**
 * @module metrics
 * A few counters in the Prometheus text format (`GET /metrics` on the
 * ingress), enough to alert on: deliveries by HTTP status, records by outcome,
 * and the time to acknowledge a delivery. No dependency, no per-record labels.
 */
export type Metrics = {
  delivery(status: number, seconds: number): void;
  records(outcome: 'accepted' | 'dead_lettered' | 'duplicate', n: number): void;
  render(): string;
};

export const createMetrics = (): Metrics => {
  const deliveries = new Map<number, number>();
  const records = new Map<string, number>([
    ['accepted', 0],
    ['dead_lettered', 0],
    ['duplicate', 0],
  ]);
  let seconds = 0;
  let count = 0;
  return {
    delivery(status, s) {
      deliveries.set(status, (deliveries.get(status) ?? 0) + 1);
      seconds += s;
      count += 1;
    },
    records(outcome, n) {
      records.set(outcome, (records.get(outcome) ?? 0) + n);
    },
    render() {
      const lines = [
        '# HELP webex_cdr_deliveries_total Webhook deliveries answered, by HTTP status.',
        '# TYPE webex_cdr_deliveries_total counter',
        ...[...deliveries].map(([s, n]) => `webex_cdr_deliveries_total{status="${s}"} ${n}`),
        '# HELP webex_cdr_records_total CDRs of answered deliveries, by outcome.',
        '# TYPE webex_cdr_records_total counter',
        ...[...records].map(([o, n]) => `webex_cdr_records_total{outcome="${o}"} ${n}`),
        '# HELP webex_cdr_delivery_seconds Time from receiving a delivery to answering it.',
        '# TYPE webex_cdr_delivery_seconds summary',
        `webex_cdr_delivery_seconds_sum ${seconds}`,
        `webex_cdr_delivery_seconds_count ${count}`,
      ];
      return `${lines.join('\n')}\n`;
    },
  };
};
