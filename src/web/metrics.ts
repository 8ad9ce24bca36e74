import type { ServerContext } from '../server/context.js';

/** Prometheus text exposition of the governor's counters and live gauges. */
export async function renderMetrics(ctx: ServerContext): Promise<string> {
  const lines: string[] = [];
  const sessions = await ctx.governor.list();
  const open: Record<string, number> = {};
  for (const s of sessions) if (s.node === ctx.governor.node) open[s.kind] = (open[s.kind] ?? 0) + 1;
  lines.push('# HELP mailwarden_sessions_open Store sessions open on this node, by kind.', '# TYPE mailwarden_sessions_open gauge');
  for (const [k, v] of Object.entries(open)) lines.push(`mailwarden_sessions_open{kind="${k}"} ${v}`);
  lines.push('# HELP mailwarden_sessions_opened_total Store sessions opened, by kind.', '# TYPE mailwarden_sessions_opened_total counter');
  for (const [k, v] of Object.entries(ctx.governor.metrics.opened)) lines.push(`mailwarden_sessions_opened_total{kind="${k}"} ${v}`);
  lines.push('# HELP mailwarden_session_refusals_total Store session refusals (event 9646), by kind.', '# TYPE mailwarden_session_refusals_total counter');
  for (const [k, v] of Object.entries(ctx.governor.metrics.refused)) lines.push(`mailwarden_session_refusals_total{kind="${k}"} ${v}`);
  lines.push('# HELP mailwarden_session_reclaims_total Idle sessions ended to admit a logon at the limit (event 9648), by kind.', '# TYPE mailwarden_session_reclaims_total counter');
  for (const [k, v] of Object.entries(ctx.governor.metrics.reclaimed)) lines.push(`mailwarden_session_reclaims_total{kind="${k}"} ${v}`);
  lines.push('# HELP mailwarden_object_refusals_total Per-session object limit refusals, by object type.', '# TYPE mailwarden_object_refusals_total counter');
  for (const [k, v] of Object.entries(ctx.governor.metrics.objectRefusals)) lines.push(`mailwarden_object_refusals_total{type="${k}"} ${v}`);
  lines.push('# HELP mailwarden_connections Protocol connections open.', '# TYPE mailwarden_connections gauge');
  lines.push(`mailwarden_connections{protocol="pop3"} ${ctx.connections.pop.connections}`);
  lines.push(`mailwarden_connections{protocol="imap"} ${ctx.connections.imap.connections}`);
  return lines.join('\n') + '\n';
}
