import type { EventLog } from '../events/event-log.js';
import type { SharedState } from '../shared-state/shared-state.js';

/** Why these numbers: enough tries for a typo-prone human, too few for a password guesser. */
export interface GuardPolicy {
  /** Failures are counted in a window that starts at the first one. */
  windowMs: number;
  /** This many failures (checks in flight included) in the window lock the address out. */
  lockoutAfter: number;
  lockoutMs: number;
  /** Each failure delays its answer by delayStepMs × failures so far, up to maxDelayMs. */
  delayStepMs: number;
  maxDelayMs: number;
}

export const DEFAULT_GUARD_POLICY: GuardPolicy = {
  windowMs: 15 * 60_000, lockoutAfter: 10, lockoutMs: 5 * 60_000, delayStepMs: 200, maxDelayMs: 2_000,
};

/** The guard's state for one address, as the pipeline and `access explain` see it. */
export interface GuardLockout {
  clientAddress: string;
  /** Failures (and checks in flight) counted in the window. */
  failures: number;
  limit: number;
  retryAfterMs: number;
}

/** A password check the guard allowed: exactly one of failed/succeeded settles it. */
export interface GuardSlot {
  readonly clientAddress: string;
  settled: boolean;
}

const failKey = (ip: string) => `auth-fail:${ip}`;
const lockKey = (ip: string) => `auth-lock:${ip}`;

/**
 * Failed logons per client address, on the shared state so that every front end (and, later,
 * every node) counts the same failures. A password is checked only after a slot is reserved
 * with one atomic increment of `auth-fail:<ip>`: N parallel attempts from one address get at
 * most `lockoutAfter` password checks, whatever their interleaving. A failure keeps its slot
 * (it is the failure count), a success gives it back. When the count reaches the limit the
 * address is locked (`auth-lock:<ip>`, set once with a TTL, so one event per lockout) and its
 * count starts over after the lockout. Windows and TTLs follow the shared state's clock.
 */
export class BruteForceGuard {
  private readonly lockoutHooks: Array<(identity: string, clientAddress: string) => void> = [];

  constructor(
    private readonly state: SharedState,
    private readonly events: EventLog,
    readonly policy: GuardPolicy = DEFAULT_GUARD_POLICY,
  ) {}

  /** Called on every lockout with the identity whose failure triggered it (e.g. a credential cache's forget). */
  onLockout(hook: (identity: string, clientAddress: string) => void): void {
    this.lockoutHooks.push(hook);
  }

  /** Failures (and checks in flight) counted for the address in its window now. */
  async failures(ip: string): Promise<number> {
    return Number((await this.state.get(failKey(ip))) ?? 0);
  }

  /** What reserve() would answer now, without reserving anything (`access explain --from`). */
  async check(ip: string): Promise<GuardLockout | null> {
    const locked = await this.lockedFor(ip);
    if (locked) return locked;
    const failures = await this.failures(ip);
    if (failures < this.policy.lockoutAfter) return null;
    return { clientAddress: ip, failures, limit: this.policy.lockoutAfter, retryAfterMs: (await this.state.ttl(failKey(ip))) ?? 0 };
  }

  /** Reserves one password check for the address, or says why it is refused. */
  async reserve(ip: string): Promise<{ ok: true; slot: GuardSlot } | { ok: false; lockout: GuardLockout }> {
    const locked = await this.lockedFor(ip);
    if (locked) return { ok: false, lockout: locked };
    const n = await this.state.increment(failKey(ip), 1, { ttlMs: this.policy.windowMs });
    const lockedMeanwhile = await this.lockedFor(ip);
    if (lockedMeanwhile) {
      // another attempt locked the address between the two steps (and reset the count)
      await this.giveBack(ip);
      return { ok: false, lockout: lockedMeanwhile };
    }
    if (n > this.policy.lockoutAfter) {
      // every check the window allows is used or in flight: refuse without touching the password
      await this.giveBack(ip);
      const retryAfterMs = (await this.state.ttl(failKey(ip))) ?? this.policy.lockoutMs;
      return { ok: false, lockout: { clientAddress: ip, failures: n - 1, limit: this.policy.lockoutAfter, retryAfterMs } };
    }
    return { ok: true, slot: { clientAddress: ip, settled: false } };
  }

  /**
   * The password was wrong: the slot stays counted. Locks the address when the count reaches
   * the limit. Returns the failures counted and how long to wait before answering.
   */
  async failed(slot: GuardSlot, protocol: string, identity: string): Promise<{ failures: number; delayMs: number }> {
    if (slot.settled) return { failures: 0, delayMs: 0 };
    slot.settled = true;
    const ip = slot.clientAddress;
    // absent: the window ended, or a lockout reset the count, while this password was checked
    const failures = Number((await this.state.get(failKey(ip))) ?? 1);
    if (failures >= this.policy.lockoutAfter) {
      const { lockoutMs } = this.policy;
      if (await this.state.setIfAbsent(lockKey(ip), String(failures), { ttlMs: lockoutMs })) {
        await this.state.delete(failKey(ip));
        await this.events.write('authLockout', [ip, protocol, lockoutMs / 1000, failures, identity.slice(0, 100)]).catch(() => undefined);
        for (const hook of this.lockoutHooks) {
          try {
            hook(identity, ip);
          } catch {
            // a hook's failure must not undo the lockout
          }
        }
      }
    }
    return { failures, delayMs: Math.min(this.policy.delayStepMs * failures, this.policy.maxDelayMs) };
  }

  /** The password was right: the slot is given back (earlier failures stay counted). */
  async succeeded(slot: GuardSlot): Promise<void> {
    if (slot.settled) return;
    slot.settled = true;
    await this.giveBack(slot.clientAddress);
  }

  /** Forgets an address's failures and lockout (an administrator's unlock). */
  async reset(ip: string): Promise<void> {
    await this.state.delete(failKey(ip));
    await this.state.delete(lockKey(ip));
  }

  private async lockedFor(ip: string): Promise<GuardLockout | null> {
    const ttl = await this.state.ttl(lockKey(ip));
    if (ttl === null) return null;
    const failures = Number((await this.state.get(lockKey(ip))) ?? this.policy.lockoutAfter);
    return { clientAddress: ip, failures, limit: this.policy.lockoutAfter, retryAfterMs: ttl };
  }

  /** Takes one back from the counter, never below zero and never creating it (a lockout may have reset it). */
  private async giveBack(ip: string): Promise<void> {
    for (;;) {
      const v = await this.state.get(failKey(ip));
      if (v === null) return;
      const n = Number(v);
      if (await this.state.compareAndSet(failKey(ip), v, n <= 1 ? null : String(n - 1), { keepTtl: true })) return;
    }
  }
}
