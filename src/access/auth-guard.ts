import type { EventLog } from '../events/event-log.js';

/** Why these numbers: enough tries for a typo-prone human, too few for a password guesser. */
const WINDOW_MS = 15 * 60_000;
const LOCKOUT_AFTER = 10;
const LOCKOUT_MS = 5 * 60_000;
const MAX_DELAY_MS = 2_000;

interface Entry { failures: number; first: number; lockedUntil: number }

/**
 * Failed logons per client address: each failure delays the answer a little longer, and
 * after LOCKOUT_AFTER failures in WINDOW_MS the address is refused for LOCKOUT_MS, with an
 * event the administrator can see. Shared by every protocol.
 */
export class AuthGuard {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly events: EventLog) {}

  /** Milliseconds the address is still locked out (0 = may try). */
  lockedFor(ip: string, now = Date.now()): number {
    const e = this.entries.get(ip);
    return e && e.lockedUntil > now ? e.lockedUntil - now : 0;
  }

  /** Records a failure and returns how long to wait before answering. */
  async failed(ip: string, protocol: string, identity: string): Promise<number> {
    const now = Date.now();
    let e = this.entries.get(ip);
    if (!e || now - e.first > WINDOW_MS) {
      e = { failures: 0, first: now, lockedUntil: 0 };
      this.entries.set(ip, e);
    }
    e.failures += 1;
    if (e.failures >= LOCKOUT_AFTER && e.lockedUntil <= now) {
      e.lockedUntil = now + LOCKOUT_MS;
      await this.events.write('authLockout', [ip, protocol, LOCKOUT_MS / 1000, e.failures, identity.slice(0, 100)]).catch(() => undefined);
    }
    if (this.entries.size > 100_000) this.prune(now);
    return Math.min(200 * e.failures, MAX_DELAY_MS);
  }

  succeeded(ip: string): void {
    const e = this.entries.get(ip);
    if (e && e.lockedUntil <= Date.now()) this.entries.delete(ip);
  }

  /** Forgets an address's failures and lockout (an administrator's unlock). */
  reset(ip: string): void {
    this.entries.delete(ip);
  }

  private prune(now: number): void {
    for (const [ip, e] of this.entries) if (now - e.first > WINDOW_MS && e.lockedUntil <= now) this.entries.delete(ip);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
