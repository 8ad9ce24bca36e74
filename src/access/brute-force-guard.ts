import type { EventLog } from '../events/event-log.js';
import type { SharedState } from '../shared-state/shared-state.js';

/** Why these numbers: enough tries for a typo-prone human, too few for a password guesser. */
export interface GuardPolicy {
  /** Failures are counted in a window that starts at the first one. */
  windowMs: number;
  /** This many failures in the window lock the address out (checks in flight never exceed what is left). */
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
  /** Failures counted in the window. */
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
const pendingKey = (ip: string) => `auth-pending:${ip}`;
/** A password check never takes this long; bounds what a node that died mid-check leaves counted. */
const PENDING_TTL_MS = 60_000;
/** How often a waiting attempt looks again when the check it waits for runs on another node. */
const RECHECK_MS = 100;

/**
 * Failed logons per client address, on the shared state so that every front end (and, later,
 * every node) counts the same failures. Two counters per address: `auth-fail:<ip>`, the failures
 * in the window (it starts at the first), and `auth-pending:<ip>`, the password checks in flight.
 * A password is checked only when failures + checks in flight stay within `lockoutAfter`, so N
 * parallel guesses from one address get at most `lockoutAfter` checks whatever their
 * interleaving; an attempt that would go over waits for a check in flight to settle instead of
 * being refused, so many right passwords at once from one address (a NAT'd office, a client
 * opening connections in parallel) all get in. When the failures reach the limit the address is
 * locked (`auth-lock:<ip>`, set once with a TTL, so one event per lockout) and its count starts
 * over after the lockout. Windows and TTLs follow the shared state's clock.
 */
export class BruteForceGuard {
  private readonly lockoutHooks: Array<(identity: string, clientAddress: string) => void> = [];
  /** Attempts of this node waiting for a check in flight to settle, per address. */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly state: SharedState,
    private readonly events: EventLog,
    readonly policy: GuardPolicy = DEFAULT_GUARD_POLICY,
  ) {}

  /** Called on every lockout with the identity whose failure triggered it (e.g. a credential cache's forget). */
  onLockout(hook: (identity: string, clientAddress: string) => void): void {
    this.lockoutHooks.push(hook);
  }

  /** Failures counted for the address in its window now. */
  async failures(ip: string): Promise<number> {
    return Number((await this.state.get(failKey(ip))) ?? 0);
  }

  /** Password checks in flight for the address (all nodes). */
  async inFlight(ip: string): Promise<number> {
    return Number((await this.state.get(pendingKey(ip))) ?? 0);
  }

  /** Attempts on this node waiting for a check in flight to settle. */
  waiting(ip: string): number {
    return this.waiters.get(ip)?.size ?? 0;
  }

  /** What reserve() would answer now about a lockout, without reserving anything (`access explain --from`). */
  async check(ip: string): Promise<GuardLockout | null> {
    const locked = await this.lockedFor(ip);
    if (locked) return locked;
    const failures = await this.failures(ip);
    if (failures < this.policy.lockoutAfter) return null;
    return { clientAddress: ip, failures, limit: this.policy.lockoutAfter, retryAfterMs: (await this.state.ttl(failKey(ip))) ?? 0 };
  }

  /**
   * Reserves one password check for the address, or says why it is refused. While the checks in
   * flight could use up what the window has left, it waits for one of them to settle.
   */
  async reserve(ip: string): Promise<{ ok: true; slot: GuardSlot } | { ok: false; lockout: GuardLockout }> {
    for (;;) {
      const locked = await this.check(ip);
      if (locked) return { ok: false, lockout: locked };
      const inFlight = await this.state.increment(pendingKey(ip), 1, { ttlMs: PENDING_TTL_MS });
      const failures = await this.failures(ip);
      if (failures + inFlight <= this.policy.lockoutAfter) {
        const lockedMeanwhile = await this.lockedFor(ip);
        if (!lockedMeanwhile) return { ok: true, slot: { clientAddress: ip, settled: false } };
        // another attempt locked the address between the steps
        await this.state.decrement(pendingKey(ip));
        return { ok: false, lockout: lockedMeanwhile };
      }
      // the checks in flight could fill the window: wait until one settles, then decide again
      const settledSignal = this.nextSettle(ip);
      await this.state.decrement(pendingKey(ip));
      await settledSignal;
    }
  }

  /**
   * The password was wrong: one failure more in the window. Locks the address when the count
   * reaches the limit. Returns the failures counted and how long to wait before answering.
   */
  async failed(slot: GuardSlot, protocol: string, identity: string): Promise<{ failures: number; delayMs: number }> {
    if (slot.settled) return { failures: 0, delayMs: 0 };
    slot.settled = true;
    const ip = slot.clientAddress;
    const failures = await this.state.increment(failKey(ip), 1, { ttlMs: this.policy.windowMs });
    await this.state.decrement(pendingKey(ip));
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
    this.wake(ip);
    return { failures, delayMs: Math.min(this.policy.delayStepMs * failures, this.policy.maxDelayMs) };
  }

  /** The password was right (or not checked): the check is no longer in flight; earlier failures stay counted. */
  async succeeded(slot: GuardSlot): Promise<void> {
    if (slot.settled) return;
    slot.settled = true;
    await this.state.decrement(pendingKey(slot.clientAddress));
    this.wake(slot.clientAddress);
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

  /** Resolves when a check of this address settles on this node, or after RECHECK_MS (one on another node). */
  private nextSettle(ip: string): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(ip);
      if (!set) this.waiters.set(ip, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set!.delete(done);
        if (set!.size === 0 && this.waiters.get(ip) === set) this.waiters.delete(ip);
        resolve();
      };
      const timer = setTimeout(done, RECHECK_MS);
      set.add(done);
    });
  }

  private wake(ip: string): void {
    for (const done of [...(this.waiters.get(ip) ?? [])]) done();
  }
}
