import type { ObjectType, SessionKind } from '../settings/catalog.js';

export interface SessionRecord {
  id: string;
  userId: number;
  user: string;
  dn: string;
  databaseId: number;
  kind: SessionKind;
  clientAddress: string;
  clientInfo: string | null;
  node: string;
  openedAt: Date;
  lastActivity: Date;
  objects: Partial<Record<ObjectType, number>>;
}

/** Limits that apply to one user's next session; 0 in perKind means no per-kind limit. */
export interface SessionLimits {
  all: number;
  service: number;
  perKind: number;
  disabled: boolean;
}

export type AcquireRefusal = {
  ok: false;
  scope: 'all' | 'service' | 'kind';
  limit: number;
  count: number;
};
export type AcquireResult = { ok: true } | AcquireRefusal;

/**
 * The store session limits as one predicate: what refuses a user's next session of `kind`
 * given the counts now. Every accounting implementation checks with it, and `access explain`
 * asks it without acquiring anything, so the two cannot disagree.
 */
export function checkSessionLimits(counts: UserSessionCounts, limits: SessionLimits, kind: SessionKind): AcquireRefusal | null {
  if (limits.disabled) return null;
  const isService = kind !== 'admin';
  const kindCount = counts.byKind[kind] ?? 0;
  if (counts.all >= limits.all) return { ok: false, scope: 'all', limit: limits.all, count: counts.all };
  if (isService && counts.service >= limits.service) return { ok: false, scope: 'service', limit: limits.service, count: counts.service };
  if (isService && limits.perKind > 0 && kindCount >= limits.perKind) return { ok: false, scope: 'kind', limit: limits.perKind, count: kindCount };
  return null;
}

export interface UserSessionCounts {
  all: number;
  service: number;
  byKind: Partial<Record<SessionKind, number>>;
}

/**
 * The governor's accounting: where session counts live. The check and the increment are
 * one atomic step in every implementation (in process: one synchronous block; Redis, later:
 * one Lua script). Methods are async so that a networked implementation fits unchanged.
 */
export interface SessionAccounting {
  tryAcquire(session: SessionRecord, limits: SessionLimits): Promise<AcquireResult>;
  release(id: string): Promise<SessionRecord | undefined>;
  renew(id: string, at: Date): Promise<void>;
  get(id: string): Promise<SessionRecord | undefined>;
  list(filter?: { userId?: number }): Promise<SessionRecord[]>;
  counts(userId: number): Promise<UserSessionCounts>;
}
