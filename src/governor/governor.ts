import { randomUUID } from 'node:crypto';
import type { EventLog } from '../events/event-log.js';
import type { LiveSettings } from '../settings/resolve.js';
import type { ObjectType, SessionKind } from '../settings/catalog.js';
import type { User } from '../store/types.js';
import { checkSessionLimits, type EndReason, type SessionAccounting, type SessionLimits, type SessionRecord, type AcquireRefusal } from './accounting.js';
import { TooManyObjectsOpened } from './errors.js';
import { reclaimSeconds, reclaimVictims, idleSeconds } from './reclaim.js';
import { systemClock, type Clock } from '../shared-state/clock.js';

export type { EndReason } from './accounting.js';

/** What the client of a reclaimed session is told, after its protocol's BYE/-ERR. */
export const RECLAIMED_TEXT = 'Session reclaimed: it was idle when a new logon for this user reached the session limit (Reclaim Idle Session Seconds)';

export interface OpenRequest {
  user: User;
  kind: SessionKind;
  clientAddress: string;
  clientInfo?: string | null;
}

/** Counters the /metrics endpoint exposes. */
export interface GovernorMetrics {
  opened: Partial<Record<SessionKind, number>>;
  refused: Partial<Record<SessionKind, number>>;
  /** Sessions ended to admit a logon at the limit (Reclaim Idle Session Seconds), by kind. */
  reclaimed: Partial<Record<SessionKind, number>>;
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
    /** The record as opened; its activity and objects live in the accounting (governor.accounting.get(id)). */
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

  /** Records activity in the accounting (fire and forget: a lost touch only makes the session look idler). */
  touch(): void {
    if (this.ended) return;
    void this.governor.accounting.touch(this.id, this.governor.now()).catch(() => undefined);
  }

  /** The client's own description (IMAP ID), as `sessions list` shows it. */
  setClientInfo(info: string): void {
    if (this.ended) return;
    void this.governor.accounting.setClientInfo(this.id, info.slice(0, 200)).catch(() => undefined);
  }

  /**
   * Holds one object of `type` until the returned function is called (idempotent); refuses with
   * TooManyObjectsOpened at MaxObjsPerMapiSession. Counted in the accounting, not in this object.
   */
  async openObject(type: ObjectType): Promise<() => void> {
    const limit = this.governor.objectLimit(this.user, type);
    const r = await this.governor.accounting.openObject(this.id, type, limit);
    if (!r.ok) {
      this.governor.refuseObject(this, type, limit, r.count);
      throw new TooManyObjectsOpened(this.user.address, this.user.dn, type, limit, r.count, `MaxObjsPerMapiSession.${type}`, `${type} objects`, this.kind);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      void this.governor.accounting.closeObject(this.id, type).catch(() => undefined);
    };
  }

  /** Runs fn while holding one object of `type`. */
  async withObject<T>(type: ObjectType, fn: () => Promise<T> | T): Promise<T> {
    const release = await this.openObject(type);
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
  private readonly clock: Clock;
  private readonly live = new Map<string, StoreSession>();
  readonly metrics: GovernorMetrics = { opened: {}, refused: {}, objectRefusals: {}, reclaimed: {} };

  constructor(
    readonly accounting: SessionAccounting,
    private readonly settings: LiveSettings,
    private readonly events: EventLog,
    opts: { node?: string; clock?: Clock } = {},
  ) {
    this.node = opts.node ?? randomUUID();
    this.clock = opts.clock ?? systemClock;
  }

  now(): Date {
    return new Date(this.clock.now());
  }

  /** Joins the accounting: kills of this node's sessions are routed here. */
  async attach(): Promise<void> {
    await this.accounting.attachNode(this.node, async (id, reason) => {
      await this.live.get(id)?.close(reason);
    });
  }

  /** Tells the accounting this node is alive every `ms`, until the returned function is called. */
  startHeartbeat(ms: number): () => void {
    const timer = setInterval(() => void this.accounting.heartbeat(this.node).catch(() => undefined), ms);
    timer.unref();
    return () => clearInterval(timer);
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

  /**
   * Opens a store session or throws TooManyObjectsOpened (after logging event 9646). At the
   * limit, with Reclaim Idle Session Seconds on, the longest-idle session of the same kind is
   * ended in the new one's place first (event 9648).
   */
  async open(req: OpenRequest): Promise<StoreSession> {
    await this.settings.refresh();
    const now = this.now();
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
    const limits = this.limitsFor(req.user, req.kind);
    let result = await this.accounting.tryAcquire(record, limits);
    if (!result.ok && result.scope !== 'gone') result = (await this.reclaim(record, req.user, limits)) ?? result;
    if (!result.ok) {
      const refusal = result as AcquireRefusal;
      this.metrics.refused[req.kind] = (this.metrics.refused[req.kind] ?? 0) + 1;
      await this.logRefusal(req.user, 'session', refusal.limit);
      throw sessionRefusal(req.user, req.kind, refusal);
    }
    this.metrics.opened[req.kind] = (this.metrics.opened[req.kind] ?? 0) + 1;
    const session = new StoreSession(this, record, req.user);
    this.live.set(record.id, session);
    return session;
  }

  /**
   * Takes up on this node a session another node opened (a web mail request the balancer sent
   * here): no new count, the same record; a kill still goes to the node that opened it, whose
   * sign-out this node sees in the shared state. Undefined when no such session of the user is held.
   */
  async adopt(id: string, user: User): Promise<StoreSession | undefined> {
    const existing = this.live.get(id);
    if (existing) return existing;
    const record = await this.accounting.get(id);
    if (!record || record.userId !== user.id) return undefined;
    const session = new StoreSession(this, record, user);
    this.live.set(id, session);
    return session;
  }

  /** What open() would refuse now, without opening, counting or logging anything (`access explain`). */
  async wouldRefuse(user: User, kind: SessionKind): Promise<TooManyObjectsOpened | null> {
    const refused = checkSessionLimits(await this.accounting.counts(user.id), this.limitsFor(user, kind), kind);
    return refused ? sessionRefusal(user, kind, refused) : null;
  }

  /**
   * The session a logon of this user and kind would reclaim now, if it were refused by the
   * limit (what `access explain` shows), or undefined.
   */
  async reclaimCandidate(user: User, kind: SessionKind): Promise<{ session: SessionRecord; idleSeconds: number; seconds: number } | undefined> {
    const seconds = reclaimSeconds(this.settings, user);
    const now = this.clock.now();
    const [victim] = reclaimVictims(await this.accounting.list({ userId: user.id }), kind, now, seconds);
    return victim && { session: victim, idleSeconds: idleSeconds(victim, now), seconds };
  }

  /**
   * Tries the reclaim victims in turn, longest idle first. Each attempt releases the victim and
   * admits the new session in one atomic accounting step, so two logons racing for the last
   * places never take the same victim, never both take one, and never pass the limit: a logon
   * that finds its victim gone (taken by the other, or active again) tries the next. Returns
   * undefined when reclaim is off or no victim qualifies (the first refusal then stands).
   */
  private async reclaim(record: SessionRecord, user: User, limits: SessionLimits) {
    const seconds = reclaimSeconds(this.settings, user);
    if (seconds <= 0) return undefined;
    const now = this.clock.now();
    const idleBefore = new Date(now - seconds * 1000);
    for (const victim of reclaimVictims(await this.accounting.list({ userId: user.id }), record.kind, now, seconds)) {
      const r = await this.accounting.tryAcquire(record, limits, { id: victim.id, idleBefore, reason: 'reclaimed' });
      if (r.ok) {
        const ended = r.replaced ?? victim;
        this.metrics.reclaimed[record.kind] = (this.metrics.reclaimed[record.kind] ?? 0) + 1;
        await this.events
          .write('sessionReclaimed', [ended.id, ended.kind, ended.dn, ended.clientAddress, idleSeconds(ended, now), record.id, record.clientAddress, seconds], user.address)
          .catch(() => undefined);
        return r;
      }
      if (r.scope !== 'gone') return r; // the limits themselves refuse (lowered meanwhile): no victim helps
    }
    return undefined;
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

  /** Ends a session by ID (admin), on whichever node holds it; that front end's end handler closes the connection. */
  async kill(id: string): Promise<SessionRecord | undefined> {
    const record = await this.accounting.kill(id, 'killed');
    if (!record) return undefined;
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
