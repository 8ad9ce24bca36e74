import type { SharedState } from '../shared-state/shared-state.js';

/**
 * Why these numbers: as many free tries as one address gets before its lockout (so one address
 * meets its own lockout first, never this guard); past them a guesser spread
 * over many addresses gets one try per minute at most, i.e. ~1,400 a day instead of thousands a
 * second; the user's own devices are never slowed.
 */
export interface AccountGuardPolicy {
  /** Failures per account are counted in a window that starts at the first one. */
  windowMs: number;
  /** Failures (plus checks in flight) per account before checks from new addresses are spaced out. */
  freeFailures: number;
  /** Past the free failures, checks from new addresses are spaced delayStepMs × (failures − free) apart… */
  delayStepMs: number;
  /** …at most this far. */
  maxDelayMs: number;
  /** How long an address that logged on to an account stays known for it (renewed at every success). */
  knownForMs: number;
}

export const DEFAULT_ACCOUNT_GUARD_POLICY: AccountGuardPolicy = {
  windowMs: 15 * 60_000, freeFailures: 10, delayStepMs: 2_000, maxDelayMs: 60_000, knownForMs: 30 * 24 * 3_600_000,
};

/** A password check the account guard allowed: settle it with failed() or succeeded(). */
export interface AccountSlot {
  readonly account: string;
  readonly clientAddress: string;
  /** The address logged on to this account before: never slowed by this guard. */
  readonly known: boolean;
  /** Admitted past a lockout of its address (see passLockout): counted in flight for the pair. */
  passedLockout?: boolean;
  settled: boolean;
}

export interface AccountSlowdown {
  account: string;
  failures: number;
  limit: number;
  retryAfterMs: number;
}

/** What `access explain` shows of an account's guard. */
export interface AccountGuardState {
  account: string;
  /** Wrong passwords counted for the account in the window, from every address. */
  failures: number;
  /** Password checks from addresses not known for it, under way now. */
  inFlight: number;
  /** Failures before checks from new addresses are spaced out. */
  freeFailures: number;
  /** How long the next check from a new address has to wait now (0: none). */
  delayMs: number;
  /** Addresses that logged on to the account before: never slowed by this guard. */
  knownAddresses: string[];
}

const failKey = (a: string) => `acct-fail:${a}`;
const pendingKey = (a: string) => `acct-pending:${a}`;
const gateKey = (a: string) => `acct-gate:${a}`;
const knownKey = (a: string, ip: string) => `acct-known:${a}|${ip}`;
const pairFailKey = (a: string, ip: string) => `acct-pair-fail:${a}|${ip}`;
const pairPendingKey = (a: string, ip: string) => `acct-pair-pending:${a}|${ip}`;
const PENDING_TTL_MS = 60_000;

/** The account as the guard counts it: what the client typed, case-folded (bounded length). */
export function accountKey(identity: string): string {
  return identity.trim().toLowerCase().slice(0, 320);
}

/**
 * Failed logons per account, across client addresses (issue 14 item 3), on the shared state.
 * Addresses that logged on to the account before ("known", `acct-known:<account>|<ip>`) are never
 * slowed by it: the real user's devices keep working while the account is attacked. From any
 * other address, once failures + checks in flight pass `freeFailures`, a password check needs
 * the account's gate (`acct-gate:<account>`, taken atomically with a TTL of the current delay),
 * so checks from new addresses are spaced out — whatever their number or parallelism — by a delay
 * that grows with the failures, up to `maxDelayMs`. An attempt that finds the gate taken is
 * answered "try again in N seconds" without a password check: no one is locked out for longer
 * than the delay, and nothing an attacker does locks out a known address.
 */
export class AccountGuard {
  constructor(private readonly state: SharedState, readonly policy: AccountGuardPolicy = DEFAULT_ACCOUNT_GUARD_POLICY) {}

  async isKnown(account: string, ip: string): Promise<boolean> {
    return (await this.state.get(knownKey(account, ip))) !== null;
  }

  async failures(account: string): Promise<number> {
    return Number((await this.state.get(failKey(account))) ?? 0);
  }

  /** What reserve() would answer for an address that is not known, without reserving (`access explain`). */
  async check(account: string): Promise<AccountSlowdown | null> {
    const failures = await this.failures(account);
    const gate = await this.state.ttl(gateKey(account));
    if (failures < this.policy.freeFailures || gate === null) return null;
    return { account, failures, limit: this.policy.freeFailures, retryAfterMs: gate };
  }

  /** The guard's state for one account, for `access explain` (reads only). */
  async describe(account: string): Promise<AccountGuardState> {
    const prefix = knownKey(account, '');
    const [failures, inFlight, delayMs, known] = await Promise.all([
      this.failures(account),
      this.state.get(pendingKey(account)).then((v) => Number(v ?? 0)),
      this.state.ttl(gateKey(account)),
      this.state.keys(prefix),
    ]);
    return {
      account, failures, inFlight, freeFailures: this.policy.freeFailures, delayMs: delayMs ?? 0,
      knownAddresses: known.map((k) => k.slice(prefix.length)).sort(),
    };
  }

  /** `known`: isKnown(account, ip), asked by the caller first (it chooses the address guard's key by it). */
  async reserve(account: string, ip: string, known: boolean): Promise<{ ok: true; slot: AccountSlot } | { ok: false; slowdown: AccountSlowdown }> {
    if (known) return { ok: true, slot: { account, clientAddress: ip, known: true, settled: false } };
    const inFlight = await this.state.increment(pendingKey(account), 1, { ttlMs: PENDING_TTL_MS });
    const failures = await this.failures(account);
    const over = failures + inFlight - this.policy.freeFailures;
    if (over > 0) {
      const delayMs = Math.min(this.policy.delayStepMs * over, this.policy.maxDelayMs);
      if (!(await this.state.setIfAbsent(gateKey(account), String(failures), { ttlMs: delayMs }))) {
        await this.state.decrement(pendingKey(account));
        const retryAfterMs = (await this.state.ttl(gateKey(account))) ?? delayMs;
        return { ok: false, slowdown: { account, failures, limit: this.policy.freeFailures, retryAfterMs } };
      }
    }
    return { ok: true, slot: { account, clientAddress: ip, known: false, settled: false } };
  }

  /**
   * An office NAT: the address is locked out (by anyone behind it), but this account logged on
   * from it before. It may still try while its own failures from this address (counted whether
   * or not the address was locked) plus its checks in flight past the lockout stay within
   * `lockoutAfter` — so the accounts that work from the address keep working, and the account
   * whose guesses locked the address does not get a single try more. Mark the slot with it.
   */
  async passLockout(account: string, ip: string, lockoutAfter: number): Promise<boolean> {
    const inFlight = await this.state.increment(pairPendingKey(account, ip), 1, { ttlMs: PENDING_TTL_MS });
    const failures = Number((await this.state.get(pairFailKey(account, ip))) ?? 0);
    if (failures + inFlight <= lockoutAfter) return true;
    await this.state.decrement(pairPendingKey(account, ip));
    return false;
  }

  /** A wrong password for the account (from any address). */
  async failed(slot: AccountSlot): Promise<void> {
    if (slot.settled) return;
    slot.settled = true;
    await this.state.increment(failKey(slot.account), 1, { ttlMs: this.policy.windowMs });
    if (slot.known) await this.state.increment(pairFailKey(slot.account, slot.clientAddress), 1, { ttlMs: this.policy.windowMs });
    await this.settlePending(slot);
  }

  private async settlePending(slot: AccountSlot): Promise<void> {
    if (!slot.known) await this.state.decrement(pendingKey(slot.account));
    if (slot.passedLockout) await this.state.decrement(pairPendingKey(slot.account, slot.clientAddress));
  }

  /** The right password: the address is (again) known for the account. Failures stay counted. */
  async succeeded(slot: AccountSlot): Promise<void> {
    if (slot.settled) return;
    slot.settled = true;
    await this.settlePending(slot);
    await this.state.set(knownKey(slot.account, slot.clientAddress), '1', { ttlMs: this.policy.knownForMs });
  }

  /** The check did not happen (an error): give the slot back without counting anything. */
  async released(slot: AccountSlot): Promise<void> {
    if (slot.settled) return;
    slot.settled = true;
    await this.settlePending(slot);
  }
}
