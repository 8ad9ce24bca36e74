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
  /** The node that holds the client's connection; kills are routed to it. */
  node: string;
  openedAt: Date;
  lastActivity: Date;
  objects: Partial<Record<ObjectType, number>>;
}

/** Why a session ended; the front end words its last answer from it. */
export type EndReason = 'logout' | 'drop' | 'timeout' | 'killed' | 'reclaimed' | 'shutdown' | 'error';

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
export type AcquireResult = { ok: true; replaced?: SessionRecord } | AcquireRefusal | { ok: false; scope: 'gone' };

/**
 * Acquire in the place of another session of the same user and kind (reclaim at the limit):
 * in the same atomic step the victim is released, if it is still held and its last activity was
 * before `idleBefore`, and the kill is then routed to the victim's node with `reason`.
 */
export interface Replacement {
  id: string;
  idleBefore: Date;
  reason: EndReason;
}

export type ObjectResult = { ok: true } | { ok: false; count: number };

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

/** How a node ends one of its sessions when a kill is routed to it (closes the connection). */
export type KillHandler = (sessionId: string, reason: EndReason) => Promise<void> | void;

export interface NodeInfo {
  id: string;
  lastSeen: Date;
  sessions: number;
}

/**
 * The governor's accounting: where session counts live, shared by every node of a cluster.
 * Each check and its increment are one atomic step in every implementation (in process: one
 * synchronous block; Redis, later: one Lua script). Methods are async so that a networked
 * implementation fits unchanged. Records handed out are copies: a session changes its record
 * only through these methods (touch, objects), never by mutating a shared object.
 * Contract suite: test/conformance/session-accounting.ts.
 */
export interface SessionAccounting {
  /** Counts the session in, or says which limit refuses; with `replacing`, see Replacement ('gone' when the victim no longer qualifies). */
  tryAcquire(session: SessionRecord, limits: SessionLimits, replacing?: Replacement): Promise<AcquireResult>;
  /** Counts the session out; idempotent (undefined when it was not held). */
  release(id: string): Promise<SessionRecord | undefined>;
  /** Records activity (the idle age that reclaim and `sessions list` show). */
  touch(id: string, at: Date): Promise<void>;
  /** The client's description of itself (IMAP ID), for listings. */
  setClientInfo(id: string, info: string): Promise<void>;
  /** Holds one more object of `type` unless `limit` are held already. */
  openObject(id: string, type: ObjectType, limit: number): Promise<ObjectResult>;
  closeObject(id: string, type: ObjectType): Promise<void>;
  get(id: string): Promise<SessionRecord | undefined>;
  list(filter?: { userId?: number }): Promise<SessionRecord[]>;
  counts(userId: number): Promise<UserSessionCounts>;

  /** A node announces itself and how it ends its sessions; it counts as seen now. */
  attachNode(nodeId: string, kill: KillHandler): Promise<void>;
  /** The node is alive (its last-seen time moves to now). */
  heartbeat(nodeId: string): Promise<void>;
  nodes(): Promise<NodeInfo[]>;
  /**
   * Ends a session wherever it is held: routed to the owning node's kill handler, which closes
   * the connection and releases the session. A session of a node that is not attached is
   * released here. Returns the record, or undefined when no such session is held.
   */
  kill(sessionId: string, reason: EndReason): Promise<SessionRecord | undefined>;
  /** Frees every session of a node that is gone (crashed, partitioned) and forgets the node. */
  releaseNode(nodeId: string): Promise<SessionRecord[]>;
}
