import type { SetOptions, SharedState } from './shared-state.js';
import { systemClock, type Clock } from './clock.js';

interface Entry {
  value: string;
  /** Epoch ms at which the key is gone; Infinity = never. */
  expiresAt: number;
}

/** How many writes between sweeps of expired keys (reads never return one either way). */
const SWEEP_EVERY = 1_024;

/**
 * SharedState for one node: a Map with lazy expiry. Every operation runs synchronously
 * inside one call, so each is atomic with respect to the others on this node.
 */
export class InProcessState implements SharedState {
  private readonly map = new Map<string, Entry>();
  private writes = 0;
  private closed = false;

  constructor(private readonly clock: Clock = systemClock) {}

  private live(key: string): Entry | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.clock.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }

  private expiry(opts: SetOptions | undefined, existing: Entry | undefined): number {
    if (opts?.ttlMs !== undefined) return this.clock.now() + Math.max(0, opts.ttlMs);
    if (opts?.keepTtl && existing) return existing.expiresAt;
    return Infinity;
  }

  private put(key: string, value: string, expiresAt: number): void {
    this.assertOpen();
    this.map.set(key, { value, expiresAt });
    if (++this.writes % SWEEP_EVERY === 0) this.sweep();
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [k, e] of this.map) if (e.expiresAt <= now) this.map.delete(k);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('shared state is closed');
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, opts?: SetOptions): Promise<void> {
    this.put(key, value, this.expiry(opts, this.live(key)));
  }

  async setIfAbsent(key: string, value: string, opts?: SetOptions): Promise<boolean> {
    if (this.live(key)) return false;
    this.put(key, value, this.expiry(opts, undefined));
    return true;
  }

  async compareAndSet(key: string, expected: string | null, value: string | null, opts?: SetOptions): Promise<boolean> {
    const e = this.live(key);
    if ((e?.value ?? null) !== expected) return false;
    if (value === null) this.map.delete(key);
    else this.put(key, value, this.expiry(opts, e));
    return true;
  }

  async increment(key: string, by = 1, opts?: { ttlMs?: number }): Promise<number> {
    const e = this.live(key);
    const current = e ? Number(e.value) : 0;
    if (!Number.isSafeInteger(current)) throw new Error(`shared state: ${key} does not hold an integer`);
    const next = current + by;
    this.put(key, String(next), e ? e.expiresAt : opts?.ttlMs !== undefined ? this.clock.now() + opts.ttlMs : Infinity);
    return next;
  }

  async decrement(key: string): Promise<number | null> {
    const e = this.live(key);
    if (!e) return null;
    const current = Number(e.value);
    if (!Number.isSafeInteger(current)) throw new Error(`shared state: ${key} does not hold an integer`);
    if (current <= 1) {
      this.map.delete(key);
      return 0;
    }
    this.put(key, String(current - 1), e.expiresAt);
    return current - 1;
  }

  async delete(key: string): Promise<boolean> {
    const existed = this.live(key) !== undefined;
    this.map.delete(key);
    return existed;
  }

  async ttl(key: string): Promise<number | null> {
    const e = this.live(key);
    if (!e) return null;
    return e.expiresAt === Infinity ? Infinity : e.expiresAt - this.clock.now();
  }

  async keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    for (const k of [...this.map.keys()]) if (k.startsWith(prefix) && this.live(k)) out.push(k);
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.map.clear();
  }
}
