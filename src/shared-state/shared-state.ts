/**
 * Small shared key/value state with expiry and atomic updates: what several nodes must agree on
 * (web sessions, the brute-force guard's counters, the event-9646 rate windows). One node uses
 * the in-process implementation; the cluster issue adds one on Redis that passes the same suite
 * (test/shared-state/shared-state-contract.ts). The operations are the ones Redis has natively
 * (GET, SET PX/NX, INCRBY + PEXPIRE NX, DEL, PTTL, a Lua compare-and-set and floor-at-zero
 * decrement, SCAN MATCH prefix*),
 * so that implementation needs no emulation.
 *
 * Values are strings (callers JSON-encode records); keys are namespaced by the caller
 * (`websession:…`, `auth-fail:…`, `event9646:…`).
 */
export interface SetOptions {
  /** Expire the key this many milliseconds from now (absent: keep for ever, or keep the existing expiry with `keepTtl`). */
  ttlMs?: number;
  /** Keep the key's current expiry (Redis KEEPTTL); ignored when `ttlMs` is given. */
  keepTtl?: boolean;
}

export interface SharedState {
  /** The value, or null when absent or expired. */
  get(key: string): Promise<string | null>;
  /** Sets the value (replacing any), with the expiry of `opts`. */
  set(key: string, value: string, opts?: SetOptions): Promise<void>;
  /** Sets the value only if the key is absent; true when it was set (Redis SET NX). */
  setIfAbsent(key: string, value: string, opts?: SetOptions): Promise<boolean>;
  /**
   * Atomically: if the current value equals `expected` (null = absent), replaces it by `value`
   * (null = delete) and returns true; otherwise changes nothing and returns false.
   */
  compareAndSet(key: string, expected: string | null, value: string | null, opts?: SetOptions): Promise<boolean>;
  /**
   * Atomically adds `by` to the integer at key (absent = 0) and returns the new value. The
   * expiry `ttlMs` is set only when the increment creates the key, so a counter is a window
   * that starts at its first increment (INCRBY + PEXPIRE NX).
   */
  increment(key: string, by?: number, opts?: { ttlMs?: number }): Promise<number>;
  /**
   * Atomically takes one from the integer at key, never below zero and never creating it: a
   * counter at 1 is deleted, an absent one stays absent (a lockout or its expiry removed it).
   * Keeps the expiry. Returns the new value (0 when deleted), null when the key was absent.
   * One step, so many settling at once from several nodes never retry (a get + compareAndSet
   * loop would, once per concurrent change).
   */
  decrement(key: string): Promise<number | null>;
  /** Deletes the key; true when it existed. */
  delete(key: string): Promise<boolean>;
  /** Milliseconds until the key expires; null when absent, Infinity when it never expires. */
  ttl(key: string): Promise<number | null>;
  /** The live keys that start with `prefix` (order unspecified). For admin listings and sweeps, not hot paths. */
  keys(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}
