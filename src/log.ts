/**
 * @module log
 * Structured logging with pino: one JSON object per line, `debug`/`info` on
 * stdout, `warn`/`error` on stderr. Quiet on the happy path: callers log one
 * line per delivery or window, never per record, and never payloads. Secrets
 * and signatures are redacted by key wherever they sit (top level or up to
 * two objects deep), as a net under the rule "never log them".
 */
import { type DestinationStream, pino } from 'pino';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

type Fields = Record<string, unknown>;

export type Logger = {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
};

/** Keys whose values never reach a log line. */
export const REDACTED_KEYS = [
  'authorization',
  'x-spark-signature',
  'x-webex-signature',
  'signature',
  'secret',
  'secrets',
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'access_token',
  'refresh_token',
  'clientSecret',
  'client_secret',
  'hashKey',
] as const;

const redactPaths = REDACTED_KEYS.flatMap((k) => {
  const key = `["${k}"]`;
  return [key, `*${key}`, `*.*${key}`];
});

const wrap = (p: pino.Logger): Logger => ({
  debug: (msg, f) => p.debug(f ?? {}, msg),
  info: (msg, f) => p.info(f ?? {}, msg),
  warn: (msg, f) => p.warn(f ?? {}, msg),
  error: (msg, f) => p.error(f ?? {}, msg),
  child: (fields) => wrap(p.child(fields)),
});

/** stdout below warn, stderr from warn on; synchronous, so lines survive process.exit(). */
const standardStreams = (): DestinationStream =>
  pino.multistream(
    [
      { level: 'debug', stream: pino.destination({ fd: 1, sync: true }) },
      { level: 'warn', stream: pino.destination({ fd: 2, sync: true }) },
    ],
    { dedupe: true },
  );

export const createLogger = (
  level: LogLevel = (process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info',
  base: Fields = {},
  /** Where lines go (tests capture them); stdout/stderr by default. */
  destination?: DestinationStream,
): Logger =>
  wrap(
    pino(
      {
        level: LOG_LEVELS.includes(level) ? level : 'info',
        base,
        messageKey: 'msg',
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        redact: { paths: redactPaths, censor: '[redacted]' },
      },
      destination ?? standardStreams(),
    ),
  );

export const silentLogger: Logger = createLogger('silent');

/**
 * For a condition that repeats (a dependency still down): the first call logs
 * at once, later ones at most once per `intervalMs`, each line saying how many
 * calls were left out since the previous one (`suppressed`). Returns whether
 * the call was logged.
 */
export const rateLimited = (
  log: (msg: string, fields?: Fields) => void,
  intervalMs: number,
  now: () => number = Date.now,
): ((msg: string, fields?: Fields) => boolean) => {
  let last: number | undefined;
  let suppressed = 0;
  return (msg, fields = {}) => {
    const t = now();
    if (last !== undefined && t - last < intervalMs) {
      suppressed++;
      return false;
    }
    log(msg, suppressed > 0 ? { ...fields, suppressed } : fields);
    last = t;
    suppressed = 0;
    return true;
  };
};
