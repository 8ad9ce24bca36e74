import type { ChangeBus, Unsubscribe } from '../../store/change-bus.js';

/** Which folder (of which user) a page shows. */
export interface PageFolder {
  userId: number;
  folderId: number;
}

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
 * Bounded by bytes; least recently used first out. Given the node's ChangeBus, it also drops a
 * folder's pages as soon as a change of that folder is published (memory back at once, and the
 * next request does not compare a stale stamp); the stamp check stays, for the writers the bus
 * does not hear (another process on the same store file). It subscribes per user while it
 * holds pages of that user, not to every change of the node.
 */
export class PageCache {
  private readonly entries = new Map<string, { stamp: string; body: Buffer; folder?: PageFolder }>();
  private bytes = 0;
  /** Keys of the pages held per folder id, and per user the subscription that drops them. */
  private readonly byFolder = new Map<number, Set<string>>();
  private readonly users = new Map<number, { pages: number; unsubscribe: Unsubscribe }>();

  constructor(
    private readonly maxBytes: number,
    private readonly changes?: ChangeBus,
  ) {}

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

  /** `folder`: the folder the page shows, so that a published change of it drops the page. */
  set(key: string, stamp: string, body: Buffer, folder?: PageFolder): void {
    const old = this.entries.get(key);
    if (old) this.drop(key, old.body);
    if (body.length > this.maxBytes) return;
    this.entries.set(key, { stamp, body, folder });
    this.bytes += body.length;
    if (folder) this.track(key, folder);
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(k, e.body);
    }
  }

  /** Drops every page of the folder (a change of it was published). */
  dropFolder(folderId: number): void {
    const keys = this.byFolder.get(folderId);
    if (!keys) return;
    for (const k of [...keys]) {
      const e = this.entries.get(k);
      if (e) this.drop(k, e.body);
    }
  }

  private track(key: string, f: PageFolder): void {
    let keys = this.byFolder.get(f.folderId);
    if (!keys) this.byFolder.set(f.folderId, (keys = new Set()));
    keys.add(key);
    const u = this.users.get(f.userId);
    if (u) u.pages += 1;
    else if (this.changes) this.users.set(f.userId, { pages: 1, unsubscribe: this.changes.subscribeUser(f.userId, (c) => this.dropFolder(c.folderId)) });
  }

  private untrack(key: string, f: PageFolder): void {
    const keys = this.byFolder.get(f.folderId);
    if (keys?.delete(key) && keys.size === 0) this.byFolder.delete(f.folderId);
    const u = this.users.get(f.userId);
    if (u && --u.pages === 0) {
      u.unsubscribe();
      this.users.delete(f.userId);
    }
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  private drop(key: string, body: Buffer): void {
    const e = this.entries.get(key);
    this.entries.delete(key);
    this.bytes -= body.length;
    if (e?.folder) this.untrack(key, e.folder);
  }
}
