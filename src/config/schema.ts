/**
 * @module config/schema
 * What every options schema is built from (kafka/options.ts, ingress/options.ts,
 * reconciler/options.ts, config/process.ts): the shapes of setting values, rules
 * across settings as zod refinements, and zod's issues as the problems the CLI
 * prints (`NAME: message`, exit code 2).
 *
 * Every problem is listed in one run: a rule runs even when other settings were
 * refused (zod's `when`). zod skips an object's refinements altogether once a
 * field aborts, which its stringbool and `.int()` do; `flag` and `int` below
 * refuse the same values with the same messages without aborting.
 */
import { z } from 'zod';
import { parseDuration } from '../duration.ts';

export type ConfigResult<T> = { ok: true; config: T } | { ok: false; problems: string[] };

/** A comma-separated list; blanks around and between the commas are dropped. */
export const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== ''),
);

const TRUTHY = ['true', '1', 'yes', 'on', 'y', 'enabled'];
const FALSY = ['false', '0', 'no', 'off', 'n', 'disabled'];

/** zod's stringbool (the same words, any case, the same problem), without aborting the rules. */
const boolText = z.string().transform((text, ctx) => {
  const word = text.toLowerCase();
  if (TRUTHY.includes(word)) return true;
  if (FALSY.includes(word)) return false;
  ctx.addIssue({ code: 'invalid_value', values: [...TRUTHY, ...FALSY], input: text });
  return z.NEVER;
});

export const flag = () => boolText;
export const bool = (fallback: boolean) => boolText.default(fallback);

/** A whole number in [min, max]; a fraction is refused as zod's `.int()` refuses it. */
export const whole = (min: number, max: number) =>
  z.coerce
    .number()
    .check((payload) => {
      if (!Number.isInteger(payload.value)) {
        payload.issues.push({ code: 'invalid_type', expected: 'int', input: payload.value });
      }
    })
    .pipe(z.number().min(min).max(max));

export const int = (fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER) =>
  whole(min, max).default(fallback);

export const topicName = z
  .string()
  .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a Kafka topic name: letters, digits, ".", "_", "-"');
export const httpUrl = z.url({ protocol: /^https?$/ });
/** PEM text (given inline or, usually, through `<NAME>_FILE`). */
export const pem = (kind: string) =>
  z.string().refine((t) => t.includes('-----BEGIN'), `PEM text (-----BEGIN ...${kind}-----)`);

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** A duration (src/duration.ts) in milliseconds; `config check` shows it with its unit. */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      try {
        return parseDuration(text);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
        return z.NEVER;
      }
    })
    .meta({ unit: 'ms' });

/** A duration within [min, max]; the bounds are named in the problem as written. */
export const durationWithin = (fallback: string, min: [number, string], max: [number, string]) =>
  duration(fallback)
    .pipe(z.number().min(min[0], `at least ${min[1]}`).max(max[0], `at most ${max[1]}`))
    .meta({ unit: 'ms' });

/**
 * A rule across settings as a zod refinement. The rule returns its problems as
 * `NAMES: message` (`KAFKA_SSL_CERT/KAFKA_SSL_KEY: ...`); NAMES becomes the
 * issue's path. It sees the values as zod left them: parsed, or for a refused
 * setting its text or nothing usable, so it tests booleans with `===`. It is
 * skipped while a setting in `needs` is refused (it could not judge that one).
 */
export const acrossSettings = <T>(
  rule: (e: Partial<T>) => string[],
  needs: readonly string[] = [],
) =>
  z.superRefine<Partial<T>>(
    (e, ctx) => {
      for (const problem of rule(e)) {
        const at = problem.indexOf(': ');
        ctx.addIssue({
          code: 'custom',
          path: [problem.slice(0, at)],
          message: problem.slice(at + 2),
        });
      }
    },
    { when: (payload) => !payload.issues.some((i) => needs.includes(String(i.path?.[0]))) },
  );

const problemsOf = (error: z.ZodError): string[] =>
  error.issues.map((i) => {
    const message = i.message.endsWith('received undefined') ? 'required, not set' : i.message;
    return `${i.path.join('.') || '(environment)'}: ${message}`;
  });

/**
 * The resolved settings (config/sources.ts) through `schema` and then `to`:
 * the config, or every problem of the sources, the schema and `extra`.
 */
export const parseSettings = <S extends z.ZodType, T>(
  schema: S,
  to: (e: z.output<S>) => T,
  resolved: { values: Record<string, string>; problems: string[] },
  extra: string[] = [],
): ConfigResult<T> => {
  const parsed = schema.safeParse(resolved.values);
  const problems = [
    ...resolved.problems,
    ...(parsed.success ? [] : problemsOf(parsed.error)),
    ...extra,
  ];
  return problems.length > 0 || !parsed.success
    ? { ok: false, problems }
    : { ok: true, config: to(parsed.data) };
};
