import {
  checkSessionLimits, type AcquireResult, type EndReason, type KillHandler, type NodeInfo, type ObjectResult, type Replacement, type SessionAccounting,
  type SessionLimits, type SessionRecord, type UserSessionCounts,
} from './accounting.js';
import type { ObjectType, SessionKind } from '../settings/catalog.js';
import { systemClock, type Clock } from '../shared-state/clock.js';

interface UserEntry {
  all: number;
  service: number;
  byKind: Map<SessionKind, number>;
  ids: Set<string>;
}

interface NodeEntry {
  lastSeen: number;
  kill: KillHandler;
}

/** A copy the caller may keep or change without touching the accounting's own record. */
const copy = (s: SessionRecord): SessionRecord => ({
  ...s, openedAt: new Date(s.openedAt), lastActivity: new Date(s.lastActivity), objects: { ...s.objects },
});

/**
 * Accounting for the nodes of one process (one node in production, several in tests): counts
 * in memory, checked and raised without yielding, so each step is atomic.
 */
export class InProcessAccounting implements SessionAccounting {
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly users = new Map<number, UserEntry>();
  private readonly nodeTable = new Map<string, NodeEntry>();

  constructor(private readonly clock: Clock = systemClock) {}

  async tryAcquire(s: SessionRecord, limits: SessionLimits, replacing?: Replacement): Promise<AcquireResult> {
    const r = this.tryAcquireSync(s, limits, replacing);
    if (r.ok && r.replaced) await this.route(r.replaced, replacing!.reason);
    return r.ok && r.replaced ? { ok: true, replaced: copy(r.replaced) } : r;
  }

  /** The atomic step itself; exposed for the benchmark and the property test. */
  tryAcquireSync(s: SessionRecord, limits: SessionLimits, replacing?: Replacement): AcquireResult {
    let u = this.users.get(s.userId);
    if (!u) {
      u = { all: 0, service: 0, byKind: new Map(), ids: new Set() };
      this.users.set(s.userId, u);
    }
    let victim: SessionRecord | undefined;
    if (replacing) {
      victim = this.sessions.get(replacing.id);
      if (!victim || victim.userId !== s.userId || victim.kind !== s.kind || victim.lastActivity.getTime() >= replacing.idleBefore.getTime()) {
        return { ok: false, scope: 'gone' };
      }
    }
    const isService = s.kind !== 'admin';
    // checked against the counts as they would be without the victim: a replacement admits only
    // within the limits; a refusal reports the counts really held
    const freed = victim ? 1 : 0;
    const without = { all: u.all - freed, service: u.service - (isService ? freed : 0), byKind: { [s.kind]: (u.byKind.get(s.kind) ?? 0) - freed } };
    const refused = checkSessionLimits(without, limits, s.kind);
    if (refused) return { ...refused, count: refused.count + freed };
    if (victim) this.releaseSync(victim.id);
    u.all += 1;
    if (isService) u.service += 1;
    u.byKind.set(s.kind, (u.byKind.get(s.kind) ?? 0) + 1);
    u.ids.add(s.id);
    if (u.all === 1) this.users.set(s.userId, u); // releasing the victim may have dropped the entry
    this.sessions.set(s.id, copy(s));
    return victim ? { ok: true, replaced: victim } : { ok: true };
  }

  async release(id: string): Promise<SessionRecord | undefined> {
    // no copy: the record is out of the accounting once released, so the caller may keep it (a
    // copy per release was a measurable part of answering 10,000 woken Pings, and the governor
    // drops it anyway)
    return this.releaseSync(id);
  }

  releaseSync(id: string): SessionRecord | undefined {
    const s = this.sessions.get(id);
    if (!s) return undefined; // released already: release is idempotent
    this.sessions.delete(id);
    const u = this.users.get(s.userId)!;
    u.all -= 1;
    if (s.kind !== 'admin') u.service -= 1;
    u.byKind.set(s.kind, (u.byKind.get(s.kind) ?? 1) - 1);
    u.ids.delete(s.id);
    if (u.all === 0) this.users.delete(s.userId);
    return s;
  }

  async touch(id: string, at: Date): Promise<void> {
    const s = this.sessions.get(id);
    if (s && at.getTime() > s.lastActivity.getTime()) s.lastActivity = new Date(at);
  }

  async setClientInfo(id: string, info: string): Promise<void> {
    const s = this.sessions.get(id);
    if (s) s.clientInfo = info;
  }

  async openObject(id: string, type: ObjectType, limit: number): Promise<ObjectResult> {
    const s = this.sessions.get(id);
    if (!s) return { ok: true }; // ended meanwhile: its connection is closing, nothing to count
    const held = s.objects[type] ?? 0;
    if (held >= limit) return { ok: false, count: held };
    s.objects[type] = held + 1;
    return { ok: true };
  }

  async closeObject(id: string, type: ObjectType): Promise<void> {
    const s = this.sessions.get(id);
    if (s) s.objects[type] = Math.max(0, (s.objects[type] ?? 0) - 1);
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const s = this.sessions.get(id);
    return s && copy(s);
  }

  async list(filter: { userId?: number } = {}): Promise<SessionRecord[]> {
    if (filter.userId !== undefined) {
      const u = this.users.get(filter.userId);
      return u ? [...u.ids].map((id) => copy(this.sessions.get(id)!)) : [];
    }
    return [...this.sessions.values()].map(copy);
  }

  async counts(userId: number): Promise<UserSessionCounts> {
    const u = this.users.get(userId);
    if (!u) return { all: 0, service: 0, byKind: {} };
    return { all: u.all, service: u.service, byKind: Object.fromEntries(u.byKind) };
  }

  async attachNode(nodeId: string, kill: KillHandler): Promise<void> {
    this.nodeTable.set(nodeId, { lastSeen: this.clock.now(), kill });
  }

  async heartbeat(nodeId: string): Promise<void> {
    const n = this.nodeTable.get(nodeId);
    if (n) n.lastSeen = this.clock.now();
  }

  async nodes(): Promise<NodeInfo[]> {
    const held = new Map<string, number>();
    for (const s of this.sessions.values()) held.set(s.node, (held.get(s.node) ?? 0) + 1);
    return [...this.nodeTable].map(([id, n]) => ({ id, lastSeen: new Date(n.lastSeen), sessions: held.get(id) ?? 0 }));
  }

  async kill(sessionId: string, reason: EndReason): Promise<SessionRecord | undefined> {
    const s = this.sessions.get(sessionId);
    if (!s) return undefined;
    const record = copy(s);
    await this.route(record, reason);
    // the node's handler released it; a node that is gone (or failed) cannot, so release here
    this.releaseSync(sessionId);
    return record;
  }

  /** Hands a kill to the node that holds the session's connection. */
  private async route(record: SessionRecord, reason: EndReason): Promise<void> {
    const node = this.nodeTable.get(record.node);
    if (!node) return;
    try {
      await node.kill(record.id, reason);
    } catch {
      // the node's clean-up failed; the count is released by the caller either way
    }
  }

  async releaseNode(nodeId: string): Promise<SessionRecord[]> {
    this.nodeTable.delete(nodeId);
    const freed: SessionRecord[] = [];
    for (const s of [...this.sessions.values()]) if (s.node === nodeId) freed.push(this.releaseSync(s.id)!);
    return freed;
  }
}
