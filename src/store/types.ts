import type { SortFacts } from '../mime/sort-facts.js';
/** Plain records the Store hands out. Backends map their rows onto these. */
export interface Organisation {
  name: string;
  serverName: string;
}

export interface MailboxDatabase {
  id: number;
  name: string;
  createdAt: Date;
}

export interface User {
  id: number;
  alias: string;
  address: string;
  displayName: string;
  databaseId: number;
  databaseName: string;
  isAdmin: boolean;
  /** Legacy Exchange DN: /o=<Org>/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=<alias> */
  dn: string;
  createdAt: Date;
}

export type SpecialUse = '\\Inbox' | '\\Drafts' | '\\Sent' | '\\Trash' | '\\Junk';

export interface Folder {
  id: number;
  /** Stable opaque id (RFC 8474 MAILBOXID): kept across rename, never given to another folder (object-ids.ts). */
  mailboxId: string;
  userId: number;
  name: string;
  specialUse: SpecialUse | null;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  subscribed: boolean;
}

export interface FolderCounts {
  folder: Folder;
  messages: number;
  unseen: number;
  size: number;
}

export interface FolderStatus {
  messages: number;
  unseen: number;
  /** Messages no session has claimed as \Recent yet (Store.claimRecent). */
  recent: number;
  /** The first UID no session has claimed as \Recent: [firstRecentUid, uidNext) are unclaimed (EXAMINE shows them without claiming). */
  firstRecentUid: number;
  size: number;
  uidNext: number;
  uidValidity: number;
  highestModseq: number;
}

/** One message in a folder, without its bytes. */
export interface MessageSummary {
  id: number;
  uid: number;
  modseq: number;
  flags: string[];
  internalDate: Date;
  /**
   * When the message was saved into this folder (RFC 8514 save date): APPEND, delivery, COPY and
   * MOVE set it to the store's now; null for messages stored before save dates were kept.
   */
  saveDate: Date | null;
  size: number;
  blobHash: string;
}

/** A message with the parts Store.getMessages was asked for. */
export interface StoredMessage extends MessageSummary {
  /** RFC 8474 EMAILID, as MessageListItem.emailId: kept by MOVE and COPY. */
  emailId: string;
  /** RFC 8474 THREADID (store/threads.ts): kept by MOVE and COPY. */
  threadId: string;
  raw?: Buffer;
  /** As Store.readStructure: JSON text, null when none was stored. */
  structure?: string | null;
  /** The top-level header block, blank line included (MessageParts.header). */
  header?: Buffer;
  /** As MessageListItem.objectId, when asked for (MessageParts.objectId). */
  objectId?: string;
}

/**
 * A compact listing of a folder (Store.listMessageIndex): one entry per message, position i in
 * every array, ascending by UID. Built for the hot paths that need UIDs and flags of every
 * message (IMAP SELECT / FETCH 1:* FLAGS, POP3 maildrop): no object per message.
 */
export interface MessageIndex {
  uids: Uint32Array;
  modseqs: Float64Array;
  sizes: Float64Array;
  /**
   * Each message's flags. Messages with the same flags share one array (most folders have a
   * handful of combinations): treat them as read-only.
   */
  flags: ReadonlyArray<ReadonlyArray<string>>;
}

/** Header facts computed once at delivery, for lists (web mail) and search. */
export interface MessageHeaderFacts {
  subject: string;
  from: string;
  to: string;
  date: Date | null;
  messageId: string | null;
  hasAttachments: boolean;
  preview: string;
}

/** What Store.getSortFacts gives for one message: SORT/THREAD's facts, kept since the message was stored. */
export interface MessageSortFacts {
  uid: number;
  /** INTERNALDATE, ms since the epoch. */
  internalDate: number;
  facts: SortFacts;
}

export interface MessageListItem extends MessageSummary, MessageHeaderFacts {
  /** Stable opaque id of this message: kept by MOVE, new for COPY (object-ids.ts). The id APIs hand out. */
  objectId: string;
  /** RFC 8474 EMAILID: kept by MOVE and COPY. */
  emailId: string;
}

export interface AppendResult {
  id: number;
  /** The new message's stable opaque id (MessageListItem.objectId). */
  objectId: string;
  uid: number;
  uidValidity: number;
  modseq: number;
}

/** UIDs [from, to) of one folder that one IMAP session claimed as \Recent (Store.claimRecent). */
export interface RecentClaim {
  from: number;
  to: number;
}

/** What Store.appendAndClaimRecent did: the new messages, and the \Recent claim made with them. */
export interface AppendClaimResult {
  appended: AppendResult[];
  /** What claimRecent would have answered right after the append (null: nothing unclaimed). */
  recent: RecentClaim | null;
}

export type FlagOperation = 'set' | 'add' | 'remove';

export interface FlagChange {
  uid: number;
  flags: string[];
  modseq: number;
}

export interface QuotaUsage {
  usedBytes: number;
  limitBytes: number; // 0 = unlimited
  messages: number;
}

export type EventLevel = 2 | 3 | 4; // Error, Warning, Information (Windows levels)

export interface EventRecord {
  recordId: number;
  time: Date;
  provider: string;
  eventId: number;
  qualifiers: number;
  level: EventLevel;
  task: number;
  keywords: string;
  computer: string;
  user: string | null;
  data: string[];
  message: string;
  /** How many occurrences this record stands for (rate-limited events). */
  count: number;
}

export type NewEvent = Omit<EventRecord, 'recordId' | 'count'> & { count?: number };

export interface EventFilter {
  eventId?: number;
  provider?: string;
  level?: EventLevel;
  since?: Date;
  user?: string;
  recordId?: number;
  limit?: number;
}

export interface SettingOverride {
  scope: 'server' | 'database' | 'user';
  /** database or user id; 0 for server */
  targetId: number;
  name: string;
  value: string;
}

export interface QueueEntry {
  id: number;
  sender: string;
  recipients: string[];
  blobHash: string;
  attempts: number;
  nextAttempt: Date;
  lastError: string | null;
  createdAt: Date;
  submittedBy: number | null;
  /** The RFC 3461 parameters the submitting client gave (null: none). */
  dsn: QueueDsn | null;
  /** A "delayed" DSN went out for this entry already (RFC 3464 Action: delayed is sent once). */
  delayNotified: boolean;
}

/** RFC 3461 NOTIFY values; a recipient without NOTIFY is treated as FAILURE (section 4.1). */
export type DsnNotify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

/** A recipient's RFC 3461 parameters. */
export interface RecipientDsn {
  notify: DsnNotify[] | null;
  /** ORCPT as given: "addr-type;address", xtext decoded */
  orcpt: string | null;
}

/** A message's RFC 3461 parameters, kept with its queue entry so that every attempt (and its DSNs) follows them. */
export interface QueueDsn {
  ret: 'FULL' | 'HDRS' | null;
  /** ENVID, xtext decoded */
  envid: string | null;
  /** Per recipient address, as the entry's `recipients` spell it; a recipient not listed gave none. */
  recipients: Record<string, RecipientDsn>;
}

export interface ExpungedUid {
  uid: number;
  modseq: number;
}

/** Ids of what changed in an account since a state (Store.changesSince). */
export interface ObjectChanges {
  created: string[];
  updated: string[];
  destroyed: string[];
}

export interface AccountChanges {
  oldState: string;
  /** The state this answer brings the client to: the account's state, or where a cut answer stopped. */
  newState: string;
  /** More changes follow newState: ask again from it. */
  hasMore: boolean;
  /** Message ids (MessageListItem.objectId). */
  messages: ObjectChanges;
  /** Mailbox ids (Folder.mailboxId). */
  folders: ObjectChanges;
}

/**
 * A mobile device a user synchronises with (an ActiveSync partnership, Exchange's
 * Get-MobileDevice): recorded at its first request, updated by what it says about itself.
 */
export interface MobileDevice {
  userId: number;
  /** The user's primary address (listings). */
  user: string;
  /** The client's DeviceId (MS-ASHTTP: up to 32 letters and digits), unique per user. */
  deviceId: string;
  deviceType: string;
  model: string;
  friendlyName: string;
  os: string;
  userAgent: string;
  /** The policy key the device acknowledged last (Provision); 0 before. */
  policyKey: number;
  firstSyncAt: Date;
  lastSyncAt: Date;
}

/** What a request tells about a device: fields left out keep their stored values. */
export type MobileDeviceUpdate = Pick<MobileDevice, 'userId' | 'deviceId'> & Partial<Pick<MobileDevice, 'deviceType' | 'model' | 'friendlyName' | 'os' | 'userAgent' | 'policyKey'>>;
