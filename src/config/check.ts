/**
 * @module config/check
 * `config check ingress|reconcile`: the effective settings of that process,
 * with secrets shown as `***`, or every problem. Values are shown parsed (a
 * duration in milliseconds), so what is printed is what the process uses.
 */
import type { z } from 'zod';
import type { ConfigResult } from './schema.ts';
import type { Resolved } from './sources.ts';

export type ConfigReport = {
  ok: boolean;
  problems: string[];
  /** Every setting of the process, in schema order: its effective value (secrets masked) and source. */
  settings: { name: string; value: string; source: string }[];
};

const show = (secret: boolean, value: unknown, unit: unknown): string => {
  if (value === undefined) return '(not set)';
  if (secret) return '***';
  if (Array.isArray(value)) return value.join(',');
  return unit === 'ms' ? `${value}ms` : String(value);
};

/**
 * The report of one process: `result` is its parse (with the rules across
 * settings), `fields` its settings without those rules, so the values are
 * shown parsed whenever each one is good, even while a rule across them fails.
 */
export const reportSettings = (deps: {
  fields: z.ZodObject;
  resolved: Resolved;
  result: ConfigResult<unknown>;
  secrets: ReadonlySet<string>;
}): ConfigReport => {
  const { fields, resolved, result, secrets } = deps;
  const parsed = fields.safeParse(resolved.values);
  const data: Record<string, unknown> = parsed.success ? parsed.data : {};
  const settings = Object.entries(fields.shape).map(([name, field]) => {
    const value = parsed.success ? data[name] : resolved.values[name];
    const unit = parsed.success ? (field as z.ZodType).meta()?.unit : undefined;
    const source = resolved.sources[name] ?? (value === undefined ? '' : 'default');
    return { name, value: show(secrets.has(name), value, unit), source };
  });
  return { ok: result.ok, problems: result.ok ? [] : result.problems, settings };
};
