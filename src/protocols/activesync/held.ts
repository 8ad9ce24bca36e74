/**
 * Requests held open (Ping, Sync with Wait), one per (user, device): a new one from the same
 * device supersedes the old one — the old is answered at once and its `eas` store session
 * closed before the new one is admitted, so the new one takes the slot the old one held (Android
 * clients open two or three at once). No worker, no timer per device beyond the heartbeat's one:
 * a held request is a closure waiting on the ChangeBus.
 */
export interface HeldRequest {
  /** Answers the held request now (as if its heartbeat ended) and waits until its session is closed. */
  supersede(): Promise<void>;
}

export class HeldRequests {
  private readonly byDevice = new Map<string, HeldRequest>();
  private readonly watchers = new Set<() => void>();

  /** Resolves once `size` is `n` (tests and benchmarks wait on this event, never on a clock). */
  whenSize(n: number): Promise<void> {
    if (this.byDevice.size === n) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.byDevice.size !== n) return;
        this.watchers.delete(check);
        resolve();
      };
      this.watchers.add(check);
    });
  }

  private changed(): void {
    // nobody waits outside tests: no copy of the set at each of 10,000 holds and releases
    if (this.watchers.size === 0) return;
    for (const w of [...this.watchers]) w();
  }

  private static key(userId: number, deviceId: string): string {
    return `${userId}/${deviceId.toLowerCase()}`;
  }

  /** Registers a held request; the returned function removes it (only if it is still the one held). */
  hold(userId: number, deviceId: string, h: HeldRequest): () => void {
    const k = HeldRequests.key(userId, deviceId);
    this.byDevice.set(k, h);
    this.changed();
    return () => {
      if (this.byDevice.get(k) !== h) return;
      this.byDevice.delete(k);
      this.changed();
    };
  }

  /** Ends the device's held request, if any, before a new one is admitted. */
  async supersede(userId: number, deviceId: string): Promise<boolean> {
    const k = HeldRequests.key(userId, deviceId);
    const h = this.byDevice.get(k);
    if (!h) return false;
    this.byDevice.delete(k);
    this.changed();
    await h.supersede();
    return true;
  }

  get size(): number {
    return this.byDevice.size;
  }
}
