import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

/** The server's structured log (pino): one JSON object per line on standard error. */
export type Log = Logger;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The environment variable that overrides the config file's `log.level` (for one run, without editing the file). */
export const LOG_LEVEL_ENV = 'MAILWARDEN_LOG_LEVEL';

/**
 * Field names whose values never reach the log, wherever a caller puts them by mistake.
 * Code logs identities and reasons, never credentials; this is the second line of defence.
 */
const REDACT = ['password', 'pass', 'secret', 'token', 'authorization', 'cookie', '*.password', '*.pass', '*.secret', '*.token', '*.authorization', '*.cookie', 'req.headers.authorization', 'req.headers.cookie'];

export function isLogLevel(v: string): v is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

/** The level in force: the environment variable, else the config file, else info. A bad value is refused, not ignored. */
export function logLevel(configured: LogLevel | undefined, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const fromEnv = env[LOG_LEVEL_ENV]?.trim().toLowerCase();
  if (fromEnv) {
    if (!isLogLevel(fromEnv)) throw new Error(`${LOG_LEVEL_ENV}=${fromEnv}: not a log level (${LOG_LEVELS.join(', ')})`);
    return fromEnv;
  }
  return configured ?? 'info';
}

/**
 * A logger writing to `destination` (default: standard error, so that standard output stays the
 * CLI's). Lines carry `time` as ISO 8601 and `level` as its name, which grep and jq read without a table.
 */
export function createLog(level: LogLevel, destination?: DestinationStream): Log {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
