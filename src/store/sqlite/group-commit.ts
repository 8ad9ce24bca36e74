import type Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import { commitBatch, type LocalWrite, type WriteOp } from './write-ops.js';
import type { MessageWrites } from './message-writes.js';

/** Where SqliteStore sends deliveries, appends and events: both commit them in groups. */
export interface GroupWriter {
  run<T>(op: WriteOp): Promise<T>;
  /** Resolves once every write sent so far is committed (or failed). */
  settled(): Promise<void>;
  /** Commits what was sent before, then stops taking writes. */
  close(): Promise<void>;
}

/**
 * Group commit on the store's own connection, for a store that already runs on a thread of its
 * own (threaded/store-worker.ts): the writes that arrive while the thread is busy, the fsync of a
 * commit included, go into the next transaction together, as on the writer thread — without
 * the writer thread's two extra thread hops per write (store thread → writer → store thread).
 * Each hop is a thread waking up, and on a machine with more runnable threads than cores every
 * wake-up waits for a core: a delivery went main → store → writer → store → main, now
 * main → store → main. Sharing the connection also keeps its page cache, which a write through
 * another connection would make SQLite drop. The event loop still never waits for the disk:
 * this thread does. (On the main thread, SqliteStore keeps the writer thread: there the commit
 * would block the loop.)
 */
export class InThreadGroupWriter implements GroupWriter {
  private nextId = 1;
  private pending: Array<{ id: number; op: WriteOp | LocalWrite }> = [];
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private scheduled = false;
  private closed = false;
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Database.Database,
    private readonly writes: MessageWrites,
  ) {}

  run<T>(op: WriteOp): Promise<T> {
    return this.enqueue<T>(op);
  }

  /**
   * Code that writes, committed with the next group: the store's flag changes, expunges and
   * copies on the store thread. Alone, each was a transaction of its own, a commit and an fsync
   * each, during which every call queued on the thread waited; in a group they share them.
   * `fn` runs at the commit, not now: it must read what it needs inside.
   */
  runLocal<T>(fn: () => T): Promise<T> {
    return this.enqueue<T>(fn);
  }

  private enqueue<T>(op: WriteOp | LocalWrite): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError('read-only', 'the store is closed'));
    const id = this.nextId++;
    const p = new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    this.pending.push({ id, op });
    if (!this.scheduled) {
      this.scheduled = true;
      // after the calls already queued on the thread's port: their writes join this group
      setImmediate(() => this.flush());
    }
    this.last = p;
    return p;
  }

  settled(): Promise<void> {
    return this.last.then(() => undefined, () => undefined);
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    for (const r of commitBatch(this.db, this.writes, batch)) {
      const w = this.waiting.get(r.id)!;
      this.waiting.delete(r.id);
      if (r.ok) w.resolve(r.value);
      else w.reject(r.error);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.flush();
  }
}

/** For a read-only SqliteStore (SqliteStore.openReader): it has nothing to commit. */
export const NO_WRITER: GroupWriter = {
  run: () => Promise.reject(new StoreError('read-only', 'this connection only reads')),
  settled: async () => undefined,
  close: async () => undefined,
};
