/**
 * The rows both backends store (the same tables and columns: postgres/migrations.ts follows
 * sqlite/schema.ts) as the records the Store hands out, in one place: flags as one
 * space-separated text, times in milliseconds, booleans as 0/1.
 */
import { toObjectId } from './object-ids.js';
import { applyFlags, legacyDn, sameFlags, uniqueFlags } from './rules.js';
import type { EventRecord, FlagChange, FlagOperation, Folder, MailboxDatabase, MessageListItem, MessageSummary, MobileDevice, QueueDsn, QueueEntry, SpecialUse, User } from './types.js';

export interface DatabaseRow { id: number; name: string; created_at: number }
export interface UserRow {
  id: number; alias: string; address: string; display_name: string; password_hash: string;
  database_id: number; database_name: string; is_admin: number; created_at: number;
}
/** A folder row with its subscription (SQLite answers EXISTS as 0/1, PostgreSQL as a boolean). */
export interface FolderRow {
  id: number; object_id: number; user_id: number; name: string; special_use: string | null; uid_validity: number;
  uid_next: number; highest_modseq: number; subscribed: number | boolean;
}
export interface DeviceRow {
  user_id: number; address: string; device_id: string; device_type: string; model: string; friendly_name: string; os: string;
  user_agent: string; policy_key: number; first_sync_at: number; last_sync_at: number;
}

export interface MessageRow { id: number; object_id: number; email_id: number; thread_id?: number | null; thread_key?: string | null; uid: number; modseq: number; flags: string; internal_date: number; save_date: number | null; size: number; blob_hash: string }
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

/** User rows as listed (the same SQL on both backends): with the name of their mailbox database. */
export const USER_SELECT = 'SELECT u.*, d.name AS database_name FROM users u JOIN databases d ON d.id = u.database_id';
/** Folder rows with their subscription state (subscriptions are names: SQLite step 3). */
export const FOLDER_SELECT = 'SELECT f.*, EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = f.user_id AND s.name = f.name) AS subscribed FROM folders f';
/** Device rows with their user's address. */
export const DEVICE_SELECT = 'SELECT d.*, u.address FROM mobile_devices d JOIN users u ON u.id = d.user_id';
/** MobileDeviceUpdate's optional fields and the columns they set. */
export const DEVICE_FIELDS = { deviceType: 'device_type', model: 'model', friendlyName: 'friendly_name', os: 'os', userAgent: 'user_agent', policyKey: 'policy_key' } as const;

export function toDatabase(r: DatabaseRow): MailboxDatabase {
  return { id: r.id, name: r.name, createdAt: new Date(r.created_at) };
}

/** `organisation`: the store's, for the user's Exchange DN. */
export function toUser(r: UserRow, organisation: string): User {
  return {
    id: r.id, alias: r.alias, address: r.address, displayName: r.display_name, databaseId: r.database_id,
    databaseName: r.database_name, isAdmin: r.is_admin === 1, dn: legacyDn(organisation, r.alias), createdAt: new Date(r.created_at),
  };
}

export function toFolder(r: FolderRow): Folder {
  return {
    id: r.id, mailboxId: toObjectId('mailbox', r.object_id), userId: r.user_id, name: r.name, specialUse: r.special_use as SpecialUse | null,
    uidValidity: r.uid_validity, uidNext: r.uid_next, highestModseq: r.highest_modseq, subscribed: r.subscribed === true || r.subscribed === 1,
  };
}

export function toDevice(r: DeviceRow): MobileDevice {
  return {
    userId: r.user_id, user: r.address, deviceId: r.device_id, deviceType: r.device_type, model: r.model, friendlyName: r.friendly_name,
    os: r.os, userAgent: r.user_agent, policyKey: r.policy_key, firstSyncAt: new Date(r.first_sync_at), lastSyncAt: new Date(r.last_sync_at),
  };
}

/** A message row as a flag change reads it. */
export interface FlagRow { id: number; uid: number; modseq: number; flags: string }

/**
 * Store.storeFlags decided for the rows it read (in the backend's order), before any write:
 * which fail UNCHANGEDSINCE (RFC 7162 3.1.3), which keep their flags, and the new flags text
 * and MODSEQ (one more each, from the folder's `highestModseq`) of those that change.
 */
export function planFlagChanges(rows: Iterable<FlagRow>, op: FlagOperation, flags: string[], unchangedSince: number | undefined, highestModseq: number): {
  updates: Array<{ id: number; flags: string }>; changed: FlagChange[]; failedModified: number[]; modseq: number;
} {
  const updates: Array<{ id: number; flags: string }> = [];
  const changed: FlagChange[] = [];
  const failedModified: number[] = [];
  let modseq = highestModseq;
  for (const r of rows) {
    if (unchangedSince !== undefined && r.modseq > unchangedSince) {
      failedModified.push(r.uid);
      continue;
    }
    const current = splitFlags(r.flags);
    const next = applyFlags(current, op, flags);
    if (sameFlags(current, next)) continue;
    modseq += 1;
    updates.push({ id: r.id, flags: joinFlags(next) });
    changed.push({ uid: r.uid, flags: next, modseq });
  }
  return { updates, changed, failedModified, modseq };
}

/** RFC 8474 THREADID of a row; a row a writer left without one (an older process) is its email's own thread. */
export function threadIdOf(r: { thread_id?: number | null; thread_key?: string | null; email_id: number }): string {
  return toObjectId('thread', r.thread_id ?? r.email_id);
}

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
