import { checkSessionLimits, type AcquireResult, type SessionAccounting, type SessionLimits, type SessionRecord, type UserSessionCounts } from './accounting.js';
import type { SessionKind } from '../settings/catalog.js';

interface UserEntry {
  all: number;
  service: number;
  byKind: Map<SessionKind, number>;
  ids: Set<string>;
}

/** Accounting for one node: counts in memory, checked and raised without yielding. */
export class InProcessAccounting implements SessionAccounting {
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly users = new Map<number, UserEntry>();

  async tryAcquire(s: SessionRecord, limits: SessionLimits): Promise<AcquireResult> {
    return this.tryAcquireSync(s, limits);
  }

  /** The atomic step itself; exposed for the benchmark and the property test. */
  tryAcquireSync(s: SessionRecord, limits: SessionLimits): AcquireResult {
    let u = this.users.get(s.userId);
    if (!u) {
      u = { all: 0, service: 0, byKind: new Map(), ids: new Set() };
      this.users.set(s.userId, u);
    }
    const isService = s.kind !== 'admin';
    const kindCount = u.byKind.get(s.kind) ?? 0;
    const refused = checkSessionLimits({ all: u.all, service: u.service, byKind: { [s.kind]: kindCount } }, limits, s.kind);
    if (refused) return refused;
    u.all += 1;
    if (isService) u.service += 1;
    u.byKind.set(s.kind, kindCount + 1);
    u.ids.add(s.id);
    this.sessions.set(s.id, s);
    return { ok: true };
  }

  async release(id: string): Promise<SessionRecord | undefined> {
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

  async renew(id: string, at: Date): Promise<void> {
    const s = this.sessions.get(id);
    if (s) s.lastActivity = at;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    return this.sessions.get(id);
  }

  async list(filter: { userId?: number } = {}): Promise<SessionRecord[]> {
    if (filter.userId !== undefined) {
      const u = this.users.get(filter.userId);
      return u ? [...u.ids].map((id) => this.sessions.get(id)!) : [];
    }
    return [...this.sessions.values()];
  }

  async counts(userId: number): Promise<UserSessionCounts> {
    const u = this.users.get(userId);
    if (!u) return { all: 0, service: 0, byKind: {} };
    return { all: u.all, service: u.service, byKind: Object.fromEntries(u.byKind) };
  }
}
