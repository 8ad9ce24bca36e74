import type Database from 'better-sqlite3';
import type { MessageWrites, StoredAnalysis } from './message-writes.js';
import type { AppendClaimResult, AppendResult, QueueDsn } from '../types.js';

/**
 * The writes that go through the writer thread, as plain data (they cross a thread boundary).
 * Each runs inside the writer's group-commit transaction, in a savepoint of its own.
 */
export type WriteOp =
  /**
   * Every message or none (one savepoint); `quotaLimit` in bytes, null for none. With
   * `claimRecent`, the caller's \Recent claim after them (Store.appendAndClaimRecent).
   * Answers an AppendClaimResult.
   */
  | { kind: 'append'; userId: number; folderId: number; items: NewMessageWrite[]; quotaLimit: number | null; claimRecent?: boolean }
  /**
   * One blob, one message row per target that has room under its quota limit (bytes, null:
   * none), the others reported over quota. With `enqueue`, the outbound queue entry of the
   * same message joins the transaction.
   */
  | { kind: 'deliver'; targets: DeliveryTarget[]; raw: Uint8Array; analysis: StoredAnalysis; flags: string; internalDate: number; saveDate: number; enqueue?: QueueWrite }
  | { kind: 'event'; params: Array<string | number | null> }
  | { kind: 'event-count'; recordId: number };

export interface NewMessageWrite {
  raw: Uint8Array;
  analysis: StoredAnalysis;
  /** As stored: one space between flags. */
  flags: string;
  internalDate: number;
  saveDate: number;
}

export interface DeliveryTarget {
  userId: number;
  folderId: number;
  quotaLimit: number | null;
}

export interface QueueWrite {
  sender: string;
  recipients: string[];
  raw: Uint8Array;
  analysis: StoredAnalysis;
  submittedBy: number | null;
  dsn?: QueueDsn | null;
}

/** What a 'deliver' write answers. */
export interface DeliverOutcome {
  rows: Array<[number, AppendResult]>;
  /** Targets (user ids) whose mailbox had no room: nothing was written for them. */
  overQuota: number[];
  queueId: number | null;
}

const INSERT_EVENT =
  'INSERT INTO events (time, provider, event_id, qualifiers, level, task, keywords, computer, user, data, message, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

function runWriteOp(w: MessageWrites, op: WriteOp): unknown {
  switch (op.kind) {
    case 'append': {
      w.checkRoom(op.userId, op.items.reduce((n, m) => n + m.raw.length, 0), op.quotaLimit);
      const appended = op.items.map((m) => w.insertMessage(op.userId, op.folderId, w.putBlob(m.raw, m.analysis), m.raw.length, m.flags, m));
      // in the append's savepoint: claimed only if the messages went in
      return { appended, recent: op.claimRecent ? w.claimRecent(op.userId, op.folderId) : null } satisfies AppendClaimResult;
    }
    case 'deliver': {
      const rows: Array<[number, AppendResult]> = [];
      const overQuota: number[] = [];
      let hash: string | null = null;
      for (const t of op.targets) {
        if (!w.hasRoom(t.userId, op.raw.length, t.quotaLimit)) {
          overQuota.push(t.userId);
          continue;
        }
        hash ??= w.putBlob(op.raw, op.analysis);
        rows.push([t.userId, w.insertMessage(t.userId, t.folderId, hash, op.raw.length, op.flags, op)]);
      }
      const q = op.enqueue;
      const queueId = q ? w.insertQueueEntry(q.sender, q.recipients, w.putBlob(q.raw, q.analysis), op.internalDate, q.submittedBy, q.dsn ?? null) : null;
      return { rows, overQuota, queueId } satisfies DeliverOutcome;
    }
    case 'event':
      return Number(w.q(INSERT_EVENT).run(...op.params).lastInsertRowid);
    case 'event-count':
      w.q('UPDATE events SET count = count + 1 WHERE record_id = ?').run(op.recordId);
      return undefined;
  }
}

/** An error as it crosses the thread boundary; StoreError keeps its kind. */
export interface WireError {
  message: string;
  kind?: string;
  code?: string;
}

export type WriteOutcome = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/**
 * A write given as code, run in the batch's transaction like a WriteOp: only where the batch
 * commits on the caller's own connection (InThreadGroupWriter, on the store thread), since code
 * cannot cross a thread boundary. It reads and writes through the store's own statements.
 */
export type LocalWrite = () => unknown;

/** A batch's outcome before it crosses a thread: errors as thrown (toWire for the writer thread's answers). */
export type BatchOutcome = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: unknown };

export function toWire(err: unknown): WireError {
  const e = err as { message?: string; kind?: string; code?: string };
  return { message: String(e?.message ?? err), kind: e?.kind, code: e?.code };
}

/**
 * Group commit: every write of the batch in one IMMEDIATE transaction (one fsync), each in
 * its own savepoint, so a write that fails (over quota, no such folder) is rolled back alone.
 * When the commit itself fails, every write of the batch fails.
 */
export function commitBatch(db: Database.Database, w: MessageWrites, batch: Array<{ id: number; op: WriteOp | LocalWrite }>): BatchOutcome[] {
  const outcomes: BatchOutcome[] = [];
  const run = (op: WriteOp | LocalWrite) => (typeof op === 'function' ? op() : runWriteOp(w, op));
  try {
    db.transaction(() => {
      for (const { id, op } of batch) {
        if (batch.length === 1) {
          outcomes.push({ id, ok: true, value: run(op) }); // a lone write needs no savepoint
          continue;
        }
        try {
          outcomes.push({ id, ok: true, value: db.transaction(() => run(op))() }); // nested: a savepoint
        } catch (error) {
          outcomes.push({ id, ok: false, error });
        }
      }
    }).immediate();
  } catch (error) {
    return batch.map(({ id }) => ({ id, ok: false, error }));
  }
  return outcomes;
}
