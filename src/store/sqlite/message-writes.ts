import type Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import type { AnalysedMessage } from '../analyse.js';
import { decodeSortFacts, encodeSortFacts } from '../../mime/sort-facts.js';
import { referenceKeys, threadKey } from '../threads.js';
import { toObjectId } from '../object-ids.js';
import { takeChangeStates } from './change-state.js';
import type { AppendResult, QueueDsn, RecentClaim } from '../types.js';

/**
 * What analyseMessage found, in a form that crosses a thread boundary (structured clone):
 * the structure already as the JSON text stored in `blobs`, the date as milliseconds.
 */
export interface StoredAnalysis {
  hash: string;
  structureJson: string;
  subject: string;
  from: string;
  to: string;
  date: number | null;
  messageId: string | null;
  hasAttachments: boolean;
  preview: string;
  /** encodeSortFacts of the analysis' sort facts. */
  sortFacts: string;
}

export function toStoredAnalysis(a: AnalysedMessage): StoredAnalysis {
  const f = a.facts;
  return {
    hash: a.hash, structureJson: JSON.stringify(a.structure), subject: f.subject, from: f.from, to: f.to,
    date: f.date?.getTime() ?? null, messageId: f.messageId, hasAttachments: f.hasAttachments, preview: f.preview,
    sortFacts: encodeSortFacts(a.sortFacts),
  };
}

/** A new message row's dates, in ms: its internal date (given or carried) and its save date (now). */
export interface MessageDates {
  internalDate: number;
  saveDate: number;
}

/** Ids a new message row takes over from the one it is made from (numbers as stored). */
export interface CarriedIds {
  objectId?: number;
  emailId?: number;
  /** RFC 8474 THREADID and the row's Message-ID key (threads.ts): both travel with MOVE and COPY. */
  threadId?: number;
  threadKey?: string | null;
}

/**
 * The SQL of storing messages (blob, message row, quota check; the counters are triggers'), on one connection, with
 * its prepared statements cached by SQL text. The store's own connection and the writer
 * thread's connection each have one, so both write the same rows the same way.
 */
export class MessageWrites {
  private readonly stmt = new Map<string, Database.Statement>();
  constructor(readonly db: Database.Database) {}

  q(sql: string): Database.Statement {
    let s = this.stmt.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmt.set(sql, s);
    }
    return s;
  }

  /** Stores the bytes once (content-addressed) with everything computed at delivery. */
  putBlob(raw: Uint8Array, a: StoredAnalysis): string {
    this.q(
      `INSERT INTO blobs (hash, size, data, structure, subject, from_text, to_text, sent_date, message_id, has_attachments, preview, sort_facts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
    ).run(a.hash, raw.length, raw, a.structureJson, a.subject, a.from, a.to, a.date, a.messageId, a.hasAttachments ? 1 : 0, a.preview, a.sortFacts);
    return a.hash;
  }

  /** The folder's unclaimed \Recent range [first_recent_uid, uid_next) as it is now; null when none (or no such folder of the user). */
  unclaimedRecent(userId: number, folderId: number): RecentClaim | null {
    const m = this.q('SELECT first_recent_uid AS first, uid_next AS next FROM folders WHERE id = ? AND user_id = ?').get(folderId, userId) as
      | { first: number; next: number }
      | undefined;
    return m && m.first < m.next ? { from: m.first, to: m.next } : null;
  }

  /** Store.claimRecent's write: moves the folder's mark past what is unclaimed; caller holds the transaction. */
  claimRecent(userId: number, folderId: number): RecentClaim | null {
    const r = this.unclaimedRecent(userId, folderId);
    if (r) this.q('UPDATE folders SET first_recent_uid = ? WHERE id = ?').run(r.to, folderId);
    return r;
  }

  /**
   * Inserts one message row; caller holds the transaction. `flags` is the stored text ("\\Seen \\Flagged").
   * `carry`: the ids a MOVE keeps (object and email id) or a COPY keeps (email id); new ones otherwise (object-ids.ts).
   */
  insertMessage(userId: number, folderId: number, hash: string, size: number, flags: string, dates: MessageDates, carry: CarriedIds = {}): AppendResult {
    const f = this.q('SELECT uid_next, uid_validity, highest_modseq FROM folders WHERE id = ? AND user_id = ?').get(folderId, userId) as
      | { uid_next: number; uid_validity: number; highest_modseq: number }
      | undefined;
    if (!f) throw new StoreError('not-found', 'no such folder');
    const modseq = f.highest_modseq + 1;
    // its change state, and its ids unless carried over (change-state.ts), in the row's one write
    const state = takeChangeStates((sql) => this.q(sql), 1);
    const objectId = carry.objectId ?? state;
    const thread = carry.threadId !== undefined ? { id: carry.threadId, key: carry.threadKey ?? null } : this.threadOf(userId, hash, objectId);
    const r = this.q(
      'INSERT INTO messages (folder_id, uid, modseq, flags, internal_date, save_date, size, blob_hash, object_id, email_id, change_state, thread_id, thread_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(folderId, f.uid_next, modseq, flags, dates.internalDate, dates.saveDate, size, hash, objectId, carry.emailId ?? objectId, state, thread.id, thread.key);
    this.q('UPDATE folders SET uid_next = uid_next + 1, highest_modseq = ? WHERE id = ?').run(modseq, folderId);
    // the folder's and the user's counters follow from the row: triggers (schema migrations 5 and 9)
    return { id: Number(r.lastInsertRowid), objectId: toObjectId('message', objectId), uid: f.uid_next, uidValidity: f.uid_validity, modseq };
  }

  /**
   * The thread of a new message (not a copy): the thread of the user's message its References /
   * In-Reply-To name, else a new one numbered by `fresh` (its object id: unique, never reused).
   * One index probe (messages_by_thread_key); the facts come from the blob row just written.
   */
  private threadOf(userId: number, hash: string, fresh: number): { id: number; key: string | null } {
    const text = this.q('SELECT sort_facts FROM blobs WHERE hash = ?').pluck().get(hash) as string | null | undefined;
    const facts = text ? decodeSortFacts(text) : null;
    const key = facts?.messageId ? threadKey(userId, facts.messageId) : null;
    const refs = facts ? referenceKeys(userId, facts.references) : [];
    if (refs.length === 0) return { id: fresh, key };
    const found = this.q(`SELECT thread_id FROM messages WHERE thread_key IN (${refs.map(() => '?').join(', ')}) LIMIT 1`).pluck().get(...refs) as number | undefined;
    return { id: found ?? fresh, key };
  }

  /** Adds an outbound queue entry for stored bytes, due now; caller holds the transaction. */
  insertQueueEntry(sender: string, recipients: string[], hash: string, now: number, submittedBy: number | null, dsn: QueueDsn | null = null): number {
    return Number(this.q('INSERT INTO queue (sender, recipients, blob_hash, next_attempt, created_at, submitted_by, dsn) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      sender, JSON.stringify(recipients), hash, now, now, submittedBy, dsn ? JSON.stringify(dsn) : null,
    ).lastInsertRowid);
  }

  /**
   * Throws over-quota when `bytes` more do not fit under `limit` (null: no quota). Caller holds
   * the write transaction: the usage read here is the one the write commits on (no check-then-act).
   */
  checkRoom(userId: number, bytes: number, limit: number | null): void {
    if (!this.hasRoom(userId, bytes, limit)) throw new StoreError('over-quota', `mailbox is over its quota of ${limit} bytes`);
  }

  /** Whether `bytes` more fit under `limit` (null: no quota); caller holds the write transaction. */
  hasRoom(userId: number, bytes: number, limit: number | null): boolean {
    if (limit === null) return true;
    const used = this.q('SELECT used_bytes FROM users WHERE id = ?').pluck().get(userId) as number | undefined;
    if (used === undefined) throw new StoreError('not-found', `no user with id ${userId}`);
    return used + bytes <= limit;
  }
}
