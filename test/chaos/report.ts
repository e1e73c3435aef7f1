/** The table a chaos run prints (and, for the full profile, appends to RESULTS.md). */
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import type { FaultRecord } from './faults.ts';
import type { LedgerFigures } from './ledger.ts';

export type RunFigures = {
  readonly profile: string;
  readonly brokers: number;
  /** Ingress replicas behind the driver (DEDUP on). */
  readonly replicas: number;
  readonly withFaults: boolean;
  readonly minutes: number;
  readonly deliveriesSent: number;
  readonly deliveriesAcknowledged: number;
  readonly recordsSent: number;
  readonly recordsAcknowledged: number;
  readonly attempts: number;
  readonly statuses: Record<string, number>;
  readonly overDeadline: number;
  readonly slowestAnswerMs: number;
  readonly deadlineMs: number;
  readonly unhandledRejections: number;
  readonly crashes: number;
  readonly logLeaks: number;
  readonly ledger: LedgerFigures;
  readonly faults: readonly FaultRecord[];
};

/** The machine, with its load average at the end of the run (what else was running shows there). */
export const machine = () =>
  `${hostname()}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')}`;

export const formatReport = (f: RunFigures): string => {
  const rows: [string, string | number][] = [
    [
      'profile',
      `${f.profile} (${f.brokers} broker${f.brokers > 1 ? 's' : ''}, ${f.replicas} ingress replicas${f.withFaults ? '' : ', no faults'}), ${f.minutes} min`,
    ],
    ['deliveries sent / acknowledged', `${f.deliveriesSent} / ${f.deliveriesAcknowledged}`],
    ['records sent', f.recordsSent],
    ['records acknowledged', f.recordsAcknowledged],
    [
      'HTTP attempts',
      `${f.attempts} (${Object.entries(f.statuses)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')})`,
    ],
    ['lost (acknowledged, not on topic)', f.ledger.lost.length],
    ['unseen (Webex has, not on topic)', f.ledger.unseen.length],
    ['records read / distinct', `${f.ledger.read} / ${f.ledger.distinct}`],
    ['acknowledged twice by design (repeated deliveries)', f.ledger.acknowledgedTwice],
    ['duplicates on the topic (same id and version)', f.ledger.duplicates],
    [
      '  retried delivery / replicas within tail lag / unexplained',
      `${f.ledger.duplicateCauses.retried} / ${f.ledger.duplicateCauses.concurrent} / ${f.ledger.duplicateCauses.unexplained.length}`,
    ],
    ['  differing in content', f.ledger.differingDuplicates.length],
    ['versions (cdr-version > 1)', f.ledger.versions],
    ['phantoms (not from Webex)', f.ledger.phantoms.length],
    ['request headers leaked to Kafka', f.ledger.leaks],
    ['secrets/signatures/tokens in logs', f.logLeaks],
    [
      `answers over deadline + 2 s (${f.deadlineMs} ms)`,
      `${f.overDeadline} (slowest ${f.slowestAnswerMs} ms)`,
    ],
    ['unhandled rejections / crashes', `${f.unhandledRejections} / ${f.crashes}`],
    ['faults injected', f.faults.length],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const table = rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v} |`).join('\n');
  const faults = f.faults
    .map(
      (x) =>
        `- ${x.name}${x.detail ? ` (${x.detail})` : ''}: ${((x.to - x.from) / 1000).toFixed(1)} s`,
    )
    .join('\n');
  return `| ${'figure'.padEnd(width)} | value |\n|${'-'.repeat(width + 2)}|-------|\n${table}\n\nFaults:\n${faults}\n`;
};
