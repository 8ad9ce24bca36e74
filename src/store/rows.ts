/**
 * The rows both backends store (the same tables and columns: postgres/migrations.ts follows
 * sqlite/schema.ts) as the records the Store hands out, in one place: flags as one
 * space-separated text, times in milliseconds, booleans as 0/1.
 */
import { toObjectId } from './object-ids.js';
import { uniqueFlags } from './rules.js';
import type { EventRecord, MessageListItem, MessageSummary, QueueDsn, QueueEntry } from './types.js';

export interface MessageRow { id: number; object_id: number; email_id: number; uid: number; modseq: number; flags: string; internal_date: number; save_date: number | null; size: number; blob_hash: string }
/** The list facts stored with the bytes (blobs) that a list item carries. */
export interface ListExtra { subject: string; from_text: string; to_text: string; sent_date: number | null; message_id: string | null; has_attachments: number; preview: string }
export interface EventRow { record_id: number; time: number; provider: string; event_id: number; qualifiers: number; level: number; task: number; keywords: string; computer: string; user: string | null; data: string; message: string; count: number }
export interface QueueRow { id: number; sender: string; recipients: string; blob_hash: string; attempts: number; next_attempt: number; last_error: string | null; created_at: number; submitted_by: number | null; dsn: string | null; delay_notified: number }

/** Flags as the messages.flags column holds them: each once, one space between (a flag holds no space: IMAP atoms). */
export const joinFlags = (flags: Iterable<string>): string => uniqueFlags(flags).join(' ');
/** The messages.flags column's text as an array. */
export const splitFlags = (s: string): string[] => (s ? s.split(' ') : []);

/** Stored flags texts as arrays; most messages share a handful of combinations: each distinct text is split once, its array shared. */
export function splitEach(texts: string[]): string[][] {
  const split = new Map<string, string[]>();
  return texts.map((text) => {
    let f = split.get(text);
    if (!f) split.set(text, (f = splitFlags(text)));
    return f;
  });
}

/** A time column that may be NULL (unknown), as a Date or null. */
export const toDate = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

export function toSummary(r: MessageRow): MessageSummary {
  return { id: r.id, uid: r.uid, modseq: r.modseq, flags: splitFlags(r.flags), internalDate: new Date(r.internal_date), saveDate: toDate(r.save_date), size: r.size, blobHash: r.blob_hash };
}

// Written out, not `{ ...toSummary(r), … }`: V8's object spread took ~10 µs a row here
// (measured, 100-row list pages), more than the page's SQL.
export function toListItem(r: MessageRow & ListExtra): MessageListItem {
  return {
    id: r.id, objectId: toObjectId('message', r.object_id), emailId: toObjectId('email', r.email_id),
    uid: r.uid, modseq: r.modseq, flags: splitFlags(r.flags), internalDate: new Date(r.internal_date), saveDate: toDate(r.save_date), size: r.size, blobHash: r.blob_hash,
    subject: r.subject, from: r.from_text, to: r.to_text, date: r.sent_date === null ? null : new Date(r.sent_date),
    messageId: r.message_id, hasAttachments: r.has_attachments === 1, preview: r.preview,
  };
}

export function toEventRecord(r: EventRow): EventRecord {
  return {
    recordId: r.record_id, time: new Date(r.time), provider: r.provider, eventId: r.event_id, qualifiers: r.qualifiers,
    level: r.level as EventRecord['level'], task: r.task, keywords: r.keywords, computer: r.computer, user: r.user,
    data: JSON.parse(r.data) as string[], message: r.message, count: r.count,
  };
}

export function toQueueEntry(r: QueueRow): QueueEntry {
  return {
    id: r.id, sender: r.sender, recipients: JSON.parse(r.recipients) as string[], blobHash: r.blob_hash, attempts: r.attempts,
    nextAttempt: new Date(r.next_attempt), lastError: r.last_error, createdAt: new Date(r.created_at), submittedBy: r.submitted_by,
    dsn: r.dsn ? (JSON.parse(r.dsn) as QueueDsn) : null, delayNotified: Number(r.delay_notified) === 1,
  };
}
