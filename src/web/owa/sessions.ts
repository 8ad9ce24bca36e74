import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { EndReason, StoreSession } from '../../governor/governor.js';
import type { User } from '../../store/types.js';

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
}

/**
 * The browser sessions of this node. Every way out (sign out, idle, expiry, admin kill,
 * server close) goes through `end`, which releases the store session exactly once.
 */
export class WebSessions {
  private readonly byId = new Map<string, WebSession>();
  /** Recently ended sessions and why, so the app can tell "killed" from "timed out". */
  private readonly ended = new Map<string, { reason: EndReason; at: number }>();
  private readonly timer: NodeJS.Timeout;
  /** Callbacks that close a session's push streams. */
  private readonly closers = new Map<string, Set<() => void>>();

  constructor(private readonly opts: WebSessionsOptions) {
    this.timer = setInterval(() => void this.sweep().catch(() => undefined), opts.sweepMs);
    this.timer.unref();
  }

  add(user: User, store: StoreSession): WebSession {
    const now = Date.now();
    const s: WebSession = { id: token(), csrf: token(), user, store, createdAt: now, lastSeen: now, streams: 0 };
    this.byId.set(s.id, s);
    // an admin kill (or any other release) signs the browser out
    store.onEnd((reason) => this.forget(s.id, reason));
    return s;
  }

  /** The live session for a cookie value, refreshed as used; undefined when gone or expired. */
  get(id: string | undefined, touch = true): WebSession | undefined {
    if (!id) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    const now = Date.now();
    if (this.expired(s, now)) {
      void this.end(s, 'timeout');
      return undefined;
    }
    if (touch) {
      s.lastSeen = now;
      s.store.touch();
    }
    return s;
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
    this.ended.set(id, { reason, at: Date.now() });
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
  async sweep(now = Date.now()): Promise<void> {
    await this.opts.refresh?.();
    for (const s of [...this.byId.values()]) if (this.expired(s, now)) await this.end(s, 'timeout');
    for (const [id, e] of this.ended) if (now - e.at > 3_600_000) this.ended.delete(id);
  }

  async closeAll(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.byId.values()].map((s) => this.end(s, 'shutdown')));
  }

  get size(): number {
    return this.byId.size;
  }
}
