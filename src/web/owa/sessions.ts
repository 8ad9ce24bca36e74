import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { EndReason, StoreSession } from '../../governor/governor.js';
import type { User } from '../../store/types.js';
import type { SharedState } from '../../shared-state/shared-state.js';
import type { Clock } from '../../shared-state/clock.js';

/** One signed-in browser: one store session of kind 'owa' for as long as it lasts (SPEC §3.1). */
export interface WebSession {
  id: string;
  csrf: string;
  user: User;
  store: StoreSession;
  createdAt: number;
  lastSeen: number;
  /** Open push channels; while one is attached the tab is open, so the session is not idle. */
  streams: number;
}

export const token = (): string => randomBytes(32).toString('base64url');

export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface SessionTimes {
  /** Idle time after which the session is signed out and its store session released. */
  idleMs: number;
  /** Absolute lifetime, so that a stolen cookie or a forgotten tab does not live for ever. */
  maxAgeMs: number;
}

export interface WebSessionsOptions {
  /** The times now in force (read at every check, so a changed setting applies to live sessions). */
  times: () => SessionTimes;
  /** Brings `times` up to date before a sweep (e.g. LiveSettings.refresh). */
  refresh?: () => Promise<void>;
  /** How often expired sessions are looked for. */
  sweepMs: number;
  /** Where the sessions' facts live for every node (ServerContext.state). */
  state: SharedState;
  /** Where time comes from (ServerContext.clock). */
  clock: Clock;
  /**
   * Several nodes: a session signed in on another node is taken up here at its first request
   * (the balancer may send any request anywhere): its store session, still counted once.
   */
  adopt?: (storeSessionId: string, userId: number) => Promise<{ user: User; store: StoreSession } | null>;
}

/** What the nodes share about a web session (key `websession:ID`); the store session stays on its node. */
interface SharedWebSession {
  csrf: string;
  userId: number;
  storeSessionId: string;
  node: string;
  createdAt: number;
  lastSeen: number;
}

const sessionKey = (id: string) => `websession:${id}`;
const endedKey = (id: string) => `websession-ended:${id}`;
/** How long the reason a session ended is kept, so the app can tell "killed" from "timed out". */
const ENDED_KEPT_MS = 3_600_000;

/**
 * The browser sessions. Their facts (CSRF token, times, which store session) live in the shared
 * state, so that sign-out, expiry and the reason a session ended are the same on every node;
 * the store session and the push streams are this node's. Every request first brings the local
 * view up to date (`load`), after which `get` answers synchronously. Every way out (sign out,
 * idle, expiry, admin kill, reclaim, server close) goes through `end`/`forget`, which release the
 * store session exactly once.
 */
export class WebSessions {
  private readonly byId = new Map<string, WebSession>();
  /** Reasons sessions ended, as loaded from the shared state (see endReason). */
  private readonly ended = new Map<string, { reason: EndReason; at: number }>();
  private readonly timer: NodeJS.Timeout;
  /** Callbacks that close a session's push streams. */
  private readonly closers = new Map<string, Set<() => void>>();

  constructor(private readonly opts: WebSessionsOptions) {
    this.timer = setInterval(() => void this.sweep().catch(() => undefined), opts.sweepMs);
    this.timer.unref();
  }

  private now(): number {
    return this.opts.clock.now();
  }

  async add(user: User, store: StoreSession): Promise<WebSession> {
    const now = this.now();
    const s: WebSession = { id: token(), csrf: token(), user, store, createdAt: now, lastSeen: now, streams: 0 };
    this.byId.set(s.id, s);
    // an admin kill (or any other release) signs the browser out
    store.onEnd((reason) => this.forget(s.id, reason));
    await this.persist(s);
    return s;
  }

  /** Writes the session's facts to the shared state; the key expires with the session's lifetime. */
  private async persist(s: WebSession): Promise<void> {
    const shared: SharedWebSession = { csrf: s.csrf, userId: s.user.id, storeSessionId: s.store.id, node: s.store.record.node, createdAt: s.createdAt, lastSeen: s.lastSeen };
    const ttlMs = Math.max(1, s.createdAt + this.opts.times().maxAgeMs - this.now());
    await this.opts.state.set(sessionKey(s.id), JSON.stringify(shared), { ttlMs });
  }

  /**
   * Brings this node's view of a cookie's session up to date with the shared state, once per
   * request before `get`: a session signed out or expired elsewhere is forgotten here, activity
   * seen elsewhere counts here, and the reason a session ended is known.
   */
  async load(id: string | undefined): Promise<void> {
    if (!id) return;
    const raw = await this.opts.state.get(sessionKey(id));
    const local = this.byId.get(id);
    if (raw === null) {
      const reason = (await this.opts.state.get(endedKey(id))) as EndReason | null;
      if (reason) this.ended.set(id, { reason, at: this.now() });
      if (local) await this.end(local, reason ?? 'timeout');
      return;
    }
    const shared = JSON.parse(raw) as SharedWebSession;
    if (local) local.lastSeen = Math.max(local.lastSeen, shared.lastSeen);
    else if (this.opts.adopt) await this.adopt(id, shared);
  }

  private async adopt(id: string, shared: SharedWebSession): Promise<void> {
    const got = await this.opts.adopt!(shared.storeSessionId, shared.userId);
    if (!got || this.byId.has(id)) return;
    const s: WebSession = { id, csrf: shared.csrf, user: got.user, store: got.store, createdAt: shared.createdAt, lastSeen: shared.lastSeen, streams: 0 };
    this.byId.set(id, s);
    got.store.onEnd((reason) => this.forget(id, reason));
  }

  /** The live session for a cookie value, refreshed as used; undefined when gone or expired. */
  get(id: string | undefined, touch = true): WebSession | undefined {
    if (!id) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    if (this.expired(s, this.now())) {
      void this.end(s, 'timeout');
      return undefined;
    }
    if (touch) this.touch(s);
    return s;
  }

  /** The browser used the session now (a request, a push stream's heartbeat or its end). */
  touch(s: WebSession): void {
    s.lastSeen = this.now();
    s.store.touch();
    void this.persist(s).catch(() => undefined);
  }

  endReason(id: string | undefined): EndReason | undefined {
    return id ? this.ended.get(id)?.reason : undefined;
  }

  onStreamClose(s: WebSession, close: () => void): () => void {
    let set = this.closers.get(s.id);
    if (!set) this.closers.set(s.id, (set = new Set()));
    set.add(close);
    return () => set!.delete(close);
  }

  async end(s: WebSession, reason: EndReason): Promise<void> {
    this.forget(s.id, reason);
    await s.store.close(reason);
  }

  private forget(id: string, reason: EndReason): void {
    if (!this.byId.delete(id)) return;
    this.ended.set(id, { reason, at: this.now() });
    void this.opts.state.delete(sessionKey(id)).catch(() => undefined);
    void this.opts.state.set(endedKey(id), reason, { ttlMs: ENDED_KEPT_MS }).catch(() => undefined);
    for (const close of this.closers.get(id) ?? []) close();
    this.closers.delete(id);
  }

  /**
   * An open push stream means an open tab, which is in use (it shows new mail), so it is never
   * idle; but it does not outlive the lifetime: a forgotten tab is signed out then ('signedout'
   * on its stream) and its store session released.
   */
  private expired(s: WebSession, now: number): boolean {
    const { idleMs, maxAgeMs } = this.opts.times();
    const idle = s.streams > 0 ? false : now - s.lastSeen > idleMs;
    return idle || now - s.createdAt > maxAgeMs;
  }

  /** Ends the sessions that are idle or past their lifetime, with the settings now in force. */
  async sweep(now = this.now()): Promise<void> {
    await this.opts.refresh?.();
    for (const s of [...this.byId.values()]) {
      await this.load(s.id);
      if (this.byId.has(s.id) && this.expired(s, now)) await this.end(s, 'timeout');
    }
    for (const [id, e] of this.ended) if (now - e.at > ENDED_KEPT_MS) this.ended.delete(id);
  }

  async closeAll(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.byId.values()].map((s) => this.end(s, 'shutdown')));
  }

  get size(): number {
    return this.byId.size;
  }
}
