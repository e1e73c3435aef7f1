/** A logger for unit tests that keeps what is logged. */
import type { Logger } from '../../src/log.ts';

export type LogLine = { level: string; msg: string; fields: Record<string, unknown> | undefined };

/**
 * A logger (its children log into the same list) that keeps every line as
 * logged, `fields` undefined where none were given; `onLine` sees each line
 * as it comes.
 */
export const recordingLogger = (onLine: (line: LogLine) => void = () => {}) => {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      const line = { level, msg, fields };
      lines.push(line);
      onLine(line);
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return { logger, lines, warnings: () => lines.filter((l) => l.level === 'warn') };
};
