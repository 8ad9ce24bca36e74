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
  /** Absolute lifetime, so that a stolen cookie does not live for ever. */
  maxAgeMs: number;
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

  constructor(readonly times: SessionTimes) {
    this.timer = setInterval(() => void this.sweep(), times.sweepMs);
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

  private expired(s: WebSession, now: number): boolean {
    const idle = s.streams > 0 ? false : now - s.lastSeen > this.times.idleMs;
    return idle || now - s.createdAt > this.times.maxAgeMs;
  }

  async sweep(now = Date.now()): Promise<void> {
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
