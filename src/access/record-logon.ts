import type { FrontEnd, LogonOutcome, Metrics } from '../observability/metrics.js';

/** What recordLogon writes to: a pino logger (a session's child, or a Fastify request's). */
export interface LogonLog {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface LogonRecord {
  frontEnd: FrontEnd;
  outcome: LogonOutcome;
  /** The identity the client gave (never the password). */
  identity: string;
  client: string;
  /** The store session opened, on success. */
  session?: string;
  /** What the client was told, on a refusal. */
  reason?: string;
}

/**
 * Every logon, whichever front end and however it ends, is counted and logged here and only
 * here (mailwarden_logons_total, mailwarden_logon_refusals_total, one log line), called by the
 * logon pipeline (logon.ts) for all front ends. `log` is the connection's child logger, so the
 * line carries its connection or request id.
 */
export function recordLogon(metrics: Metrics, log: LogonLog, r: LogonRecord): void {
  metrics.recordLogon(r.frontEnd, r.outcome);
  const fields = {
    frontend: r.frontEnd, outcome: r.outcome, user: printable(r.identity), client: r.client,
    ...(r.session ? { session: r.session } : {}), ...(r.reason ? { reason: r.reason } : {}),
  };
  if (r.outcome === 'success') log.info(fields, 'logon');
  else if (r.outcome === 'error') log.error(fields, 'logon failed');
  else log.info(fields, 'logon refused');
}

/** Client-given names go into the log as one short printable line. */
function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 320);
}
