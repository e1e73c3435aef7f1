/**
 * @module reconciler/report
 * The audit trail of a run: one JSON record per window and org that needed
 * attention on `<topic>.reconciliation` (key = org, so one org's history stays
 * in order; org `*` for a window that could not be compared at all), and a
 * terminal summary for operators: the table of windows, the totals, what
 * failed by error code, why the run stopped early, and its outcome.
 */
import type { CdrProducer } from '../kafka/port.ts';
import { type OrgResult, type RunSummary, runOutcome } from './rules.ts';

export const createAuditWriter =
  (producer: CdrProducer, topic: string, timeoutMs: number) =>
  async (results: OrgResult[]): Promise<void> => {
    const messages = results.map((r) => ({
      key: r.orgId,
      value: Buffer.from(JSON.stringify(r)),
      headers: { 'cdr-run-id': r.runId, 'cdr-window-start': r.windowStart },
    }));
    await producer.send([{ topic, messages }], timeoutMs);
  };

export const formatSummary = (s: RunSummary): string => {
  const lines = [`run ${s.runId}${s.aborted ? ' (stopped early)' : ''}`];
  if (s.windows.length > 0) {
    lines.push(
      'window (UTC)                       orgs    webex    topic backfill    unpub  missing  surplus errors',
    );
  }
  for (const w of s.windows) {
    lines.push(
      [
        `${w.start.slice(0, 16)}..${w.end.slice(11, 16)}`.padEnd(32),
        String(w.orgs).padStart(6),
        String(w.webexTotal).padStart(8),
        String(w.topicTotal).padStart(8),
        String(w.backfilled).padStart(8),
        String(w.unpublishable).padStart(8),
        String(w.stillMissing).padStart(8),
        String(w.surplus).padStart(8),
        String(w.errors.length).padStart(6),
      ].join(' '),
    );
    for (const e of w.errors.slice(0, 5)) lines.push(`    ! ${e}`);
    if (w.errors.length > 5)
      lines.push(`    ! ... and ${w.errors.length - 5} more (see the audit topic)`);
  }
  const t = s.totals;
  const notReached = t.windows - s.windows.length;
  lines.push(
    `total: ${t.windows} windows, Webex ${t.webex}, on topic before ${t.topicBefore}, backfilled ${t.backfilled}, dead-lettered ${t.deadLettered}, unpublishable ${t.unpublishable}, still missing ${t.stillMissing}, surplus ${t.surplus}, errors ${t.errors}, failed windows ${t.failedWindows}, failed orgs ${t.failedOrgs}${notReached > 0 ? `, not reached ${notReached}` : ''}`,
  );
  const byCode = (what: string, counts: Partial<Record<string, number>>) =>
    Object.entries(counts).map(([code, n]) => `${code} (${n} ${what}${n === 1 ? '' : 's'})`);
  const failed = [
    ...byCode('window', s.failedByCode.windows),
    ...byCode('org', s.failedByCode.orgs),
  ];
  if (failed.length > 0) lines.push(`failed: ${failed.join(', ')}`);
  if (s.stoppedBy !== null) lines.push(`stopped early: ${s.stoppedBy.error}`);
  lines.push(`outcome: ${runOutcome(s)}`);
  return `${lines.join('\n')}\n`;
};
