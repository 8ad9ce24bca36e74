/**
 * Serialised API answers of this node, each valid while the state it was built from is
 * unchanged. The caller names that state (for a message list: the folder's UIDVALIDITY and
 * HIGHESTMODSEQ, which every append, flag change, expunge and move bumps), reads it from the
 * store on every request, and gets the stored bytes only when it matches. The store stays the
 * truth: a change by another process or node moves the stamp, so the next request rebuilds.
 *
 * Why: a web mail user's app asks for the same page again and again (open, refresh after a
 * push, another tab), and building it (page query, 100 row objects, JSON) is most of a list
 * request's cost; answering from here leaves only HTTPS and routing.
 *
 * Bounded by bytes; least recently used first out.
 */
export class PageCache {
  private readonly entries = new Map<string, { stamp: string; body: Buffer }>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The answer stored under `key` for exactly this `stamp`, or undefined. */
  get(key: string, stamp: string): Buffer | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.stamp !== stamp) {
      this.drop(key, e.body);
      return undefined;
    }
    // most recently used last
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.body;
  }

  set(key: string, stamp: string, body: Buffer): void {
    const old = this.entries.get(key);
    if (old) this.drop(key, old.body);
    if (body.length > this.maxBytes) return;
    this.entries.set(key, { stamp, body });
    this.bytes += body.length;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(k, e.body);
    }
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  private drop(key: string, body: Buffer): void {
    this.entries.delete(key);
    this.bytes -= body.length;
  }
}
