import { randomUUID } from 'node:crypto';
import type { EventLog } from '../events/event-log.js';
import type { LiveSettings } from '../settings/resolve.js';
import type { ObjectType, SessionKind } from '../settings/catalog.js';
import type { User } from '../store/types.js';
import { checkSessionLimits, type SessionAccounting, type SessionLimits, type SessionRecord, type AcquireRefusal } from './accounting.js';
import { TooManyObjectsOpened } from './errors.js';

export interface OpenRequest {
  user: User;
  kind: SessionKind;
  clientAddress: string;
  clientInfo?: string | null;
}

export type EndReason = 'logout' | 'drop' | 'timeout' | 'killed' | 'shutdown' | 'error';

/** Counters the /metrics endpoint exposes. */
export interface GovernorMetrics {
  opened: Partial<Record<SessionKind, number>>;
  refused: Partial<Record<SessionKind, number>>;
  objectRefusals: Partial<Record<ObjectType, number>>;
}

/**
 * One store session: opened after authentication, closed exactly once whatever path the
 * client takes out. Front ends hold it for the life of a logon and open objects through it.
 */
export class StoreSession {
  private ended = false;
  private readonly endHandlers: Array<(reason: EndReason) => void> = [];

  constructor(
    private readonly governor: SessionGovernor,
    readonly record: SessionRecord,
    readonly user: User,
  ) {}

  get id(): string {
    return this.record.id;
  }
  get kind(): SessionKind {
    return this.record.kind;
  }
  get isOpen(): boolean {
    return !this.ended;
  }

  touch(): void {
    this.record.lastActivity = new Date();
  }

  setClientInfo(info: string): void {
    this.record.clientInfo = info.slice(0, 200);
  }

  /** Holds one object of `type` until the returned function is called (idempotent). */
  openObject(type: ObjectType): () => void {
    const limit = this.governor.objectLimit(this.user, type);
    const held = this.record.objects[type] ?? 0;
    if (held >= limit) {
      this.governor.refuseObject(this, type, limit, held);
      throw new TooManyObjectsOpened(this.user.address, this.user.dn, type, limit, held, `MaxObjsPerMapiSession.${type}`, `${type} objects`, this.kind);
    }
    this.record.objects[type] = held + 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.record.objects[type] = (this.record.objects[type] ?? 1) - 1;
    };
  }

  /** Runs fn while holding one object of `type`. */
  async withObject<T>(type: ObjectType, fn: () => Promise<T> | T): Promise<T> {
    const release = this.openObject(type);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Called when the session ends for any reason (e.g. an admin kill closes the connection). */
  onEnd(handler: (reason: EndReason) => void): void {
    if (this.ended) handler('error');
    else this.endHandlers.push(handler);
  }

  /** Releases the session; safe to call any number of times from any exit path. */
  async close(reason: EndReason = 'logout'): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.governor.release(this);
    for (const h of this.endHandlers.splice(0)) {
      try {
        h(reason);
      } catch {
        // a front end's clean-up must not keep the others from running
      }
    }
  }
}

/** Plain words for what a limit counts, as the client and the event show it. */
function counted(scope: AcquireRefusal['scope'], kind: SessionKind): string {
  if (scope === 'all') return 'sessions';
  if (scope === 'service') return 'service sessions';
  return `${kind} sessions`;
}

export function limitSettingName(scope: AcquireRefusal['scope'], kind: SessionKind): string {
  if (scope === 'all') return 'Maximum Allowed Sessions Per User';
  if (scope === 'service') return 'Maximum Allowed Service Sessions Per User';
  return `Maximum Allowed ${kind.toUpperCase()} Sessions Per User`;
}

function sessionRefusal(user: User, kind: SessionKind, r: AcquireRefusal): TooManyObjectsOpened {
  return new TooManyObjectsOpened(user.address, user.dn, 'session', r.limit, r.count, limitSettingName(r.scope, kind), counted(r.scope, kind), kind);
}

/**
 * The session governor (SPEC §3): every logon to a mailbox is a store session opened here.
 * Limits come from live settings (server, database and user scopes); counting lives behind
 * SessionAccounting so that a cluster implementation plugs in later.
 */
export class SessionGovernor {
  readonly node: string;
  private readonly live = new Map<string, StoreSession>();
  readonly metrics: GovernorMetrics = { opened: {}, refused: {}, objectRefusals: {} };

  constructor(
    readonly accounting: SessionAccounting,
    private readonly settings: LiveSettings,
    private readonly events: EventLog,
    node?: string,
  ) {
    this.node = node ?? randomUUID();
  }

  limitsFor(user: User, kind: SessionKind): SessionLimits {
    const ctx = { userId: user.id, databaseId: user.databaseId };
    return {
      all: this.settings.int('Maximum Allowed Sessions Per User', ctx),
      service: this.settings.int('Maximum Allowed Service Sessions Per User', ctx),
      perKind: kind === 'admin' ? 0 : this.settings.int(`Maximum Allowed ${kind.toUpperCase()} Sessions Per User`, ctx),
      disabled: this.settings.bool('Disable Session Limit', ctx),
    };
  }

  objectLimit(user: User, type: ObjectType): number {
    return this.settings.int(`MaxObjsPerMapiSession.${type}`, { userId: user.id, databaseId: user.databaseId });
  }

  /** Opens a store session or throws TooManyObjectsOpened (after logging event 9646). */
  async open(req: OpenRequest): Promise<StoreSession> {
    await this.settings.refresh();
    const now = new Date();
    const record: SessionRecord = {
      id: randomUUID(),
      userId: req.user.id,
      user: req.user.address,
      dn: req.user.dn,
      databaseId: req.user.databaseId,
      kind: req.kind,
      clientAddress: req.clientAddress,
      clientInfo: req.clientInfo ?? null,
      node: this.node,
      openedAt: now,
      lastActivity: now,
      objects: {},
    };
    const result = await this.accounting.tryAcquire(record, this.limitsFor(req.user, req.kind));
    if (!result.ok) {
      this.metrics.refused[req.kind] = (this.metrics.refused[req.kind] ?? 0) + 1;
      await this.logRefusal(req.user, 'session', result.limit);
      throw sessionRefusal(req.user, req.kind, result);
    }
    this.metrics.opened[req.kind] = (this.metrics.opened[req.kind] ?? 0) + 1;
    const session = new StoreSession(this, record, req.user);
    this.live.set(record.id, session);
    return session;
  }

  /** What open() would refuse now, without opening, counting or logging anything (`access explain`). */
  async wouldRefuse(user: User, kind: SessionKind): Promise<TooManyObjectsOpened | null> {
    const refused = checkSessionLimits(await this.accounting.counts(user.id), this.limitsFor(user, kind), kind);
    return refused ? sessionRefusal(user, kind, refused) : null;
  }

  /** Event 9646, at most once per user and object type per interval, carrying the count. */
  private async logRefusal(user: User, objectType: string, limit: number): Promise<void> {
    const interval = this.settings.int('Event 9646 Interval Seconds') * 1000;
    try {
      await this.events.writeRateLimited(`9646|${user.id}|${objectType}`, interval, 'storeObjectLimit', [user.dn, limit, objectType], user.address);
    } catch {
      // the refusal stands even if the log cannot be written (disk full): fail closed
    }
  }

  refuseObject(session: StoreSession, type: ObjectType, limit: number, _held: number): void {
    this.metrics.objectRefusals[type] = (this.metrics.objectRefusals[type] ?? 0) + 1;
    void this.logRefusal(session.user, type, limit);
  }

  /** Called by StoreSession.close only. */
  async release(session: StoreSession): Promise<void> {
    this.live.delete(session.id);
    await this.accounting.release(session.id);
  }

  async list(filter: { userId?: number } = {}): Promise<SessionRecord[]> {
    return this.accounting.list(filter);
  }

  async counts(userId: number) {
    return this.accounting.counts(userId);
  }

  /** Ends a session by ID (admin); the front end's end handler closes the connection. */
  async kill(id: string): Promise<SessionRecord | undefined> {
    const session = this.live.get(id);
    if (!session) return undefined;
    const record = { ...session.record };
    await session.close('killed');
    await this.events.write('sessionKilled', [id, record.kind, record.dn], record.user).catch(() => undefined);
    return record;
  }

  /** Server shutdown: every session is released. */
  async closeAll(): Promise<number> {
    const all = [...this.live.values()];
    await Promise.all(all.map((s) => s.close('shutdown')));
    return all.length;
  }

  get openCount(): number {
    return this.live.size;
  }
}
