import { createLog, type Log, type LogLevel } from '../../src/observability/log.js';

export interface CapturedLog {
  log: Log;
  /** Every line written so far, parsed. */
  records(): Array<Record<string, unknown>>;
  /** Every line written so far, as written. */
  text(): string;
}

/** A real pino logger whose lines stay in memory, so that a test can read what the server logged. */
export function captureLog(level: LogLevel = 'info'): CapturedLog {
  const lines: string[] = [];
  const log = createLog(level, { write: (line: string) => void lines.push(line) });
  return {
    log,
    records: () => lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => lines.join(''),
  };
}
