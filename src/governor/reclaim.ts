import type { LiveSettings } from '../settings/resolve.js';
import type { SessionKind } from '../settings/catalog.js';
import type { User } from '../store/types.js';
import type { SessionRecord } from './accounting.js';

export const RECLAIM_SETTING = 'Reclaim Idle Session Seconds';

/** The reclaim age in force for a user, in seconds; 0 = reclaim is off. */
export function reclaimSeconds(settings: LiveSettings, user: User): number {
  return settings.int(RECLAIM_SETTING, { userId: user.id, databaseId: user.databaseId });
}

/** Whole seconds a session has been idle at `now` (epoch ms). */
export function idleSeconds(s: SessionRecord, now: number): number {
  return Math.max(0, Math.floor((now - new Date(s.lastActivity).getTime()) / 1000));
}

/**
 * Optional reclaim at the store session limit (no Exchange or Dovecot equivalent): the
 * sessions a logon of `kind` refused by the limit may end in its place, longest idle first —
 * the user's sessions of the same kind idle for more than `seconds`. A client that forgot a
 * connection (a phone that went out of coverage with IMAP open) then no longer locks its user
 * out until the idle timeout; an active session is never taken. Used by the governor to decide
 * and by `access explain` to show the decision, so the two cannot disagree.
 */
export function reclaimVictims(sessions: SessionRecord[], kind: SessionKind, now: number, seconds: number): SessionRecord[] {
  if (seconds <= 0) return [];
  const cutoff = now - seconds * 1000;
  return sessions
    .filter((s) => s.kind === kind && new Date(s.lastActivity).getTime() < cutoff)
    .sort((a, b) => new Date(a.lastActivity).getTime() - new Date(b.lastActivity).getTime() || (a.id < b.id ? -1 : 1));
}
