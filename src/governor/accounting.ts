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
