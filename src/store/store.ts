import type {
  AccountChanges, AppendClaimResult, AppendResult, EventFilter, EventRecord, ExpungedUid, FlagChange, FlagOperation, Folder, FolderCounts, FolderStatus,
  MailboxDatabase, MessageIndex, MessageSortFacts, MobileDevice, MobileDeviceUpdate, MessageListItem, MessageSummary, NewEvent, Organisation, QueueDsn, QueueEntry, QuotaUsage,
  RecentClaim, SettingOverride, SpecialUse, StoredMessage, User,
} from './types.js';

export type { StoreChange } from './change-bus.js';

export interface NewUser {
  address: string;
  password: string;
  displayName?: string;
  database?: string;
  isAdmin?: boolean;
}

export interface AppendOptions {
  flags?: string[];
  /** INTERNALDATE; now by default. */
  internalDate?: Date;
}

/** One message of Store.appendMany. */
export interface NewMessage extends AppendOptions {
  raw: Buffer;
}

/** What a queue attempt changes of its entry (Store.updateQueueEntry). */
export interface QueueEntryUpdate {
  attempts: number;
  nextAttempt: Date;
  lastError: string | null;
  delayNotified?: boolean;
}

/** An outbound queue entry to be made (Store.enqueue, Store.deliverAndEnqueue). */
export interface NewQueueEntry {
  sender: string;
  recipients: string[];
  raw: Buffer;
  /** The user who submitted the message, if any. */
  submittedBy: number | null;
  /** RFC 3461 parameters of the submission, if the client gave any. */
  dsn?: QueueDsn | null;
}

export interface DeliveryOptions {
  /** Folder special use to deliver into; \\Inbox by default. */
  specialUse?: SpecialUse;
  flags?: string[];
}

/** What Store.deliver did, per recipient (user id). */
export interface Delivery {
  /** The new message of each recipient that had room. */
  delivered: Map<number, AppendResult>;
  /** Recipients whose mailbox had no room under its quota: nothing was stored for them. */
  overQuota: number[];
}

/** What a Store.getMessages answer carries besides each message's summary. */
export interface MessageParts {
  /** The raw bytes (RFC 5322). */
  raw?: boolean;
  /** The MIME structure as stored at delivery (JSON text; null for messages stored before that). */
  structure?: boolean;
  /**
   * The top-level header block alone (BODY[HEADER]'s bytes: the fields and the blank line that
   * ends them), cut in the store: a message list (IMAP HEADER.FIELDS of every message) without
   * reading the bodies into the process or sending them across the store thread.
   */
  header?: boolean;
  /** The message's stable opaque id (MessageListItem.objectId): ActiveSync's ServerId (issue 18). */
  objectId?: boolean;
}

/** How a backend is built; given by the composition root (src/server/), never read from above. */
export interface StoreOptions {
  /**
   * A mailbox's quota in bytes (null: none), from the settings the store holds (`settings`:
   * the settings table, re-read only when a settings write happened, in any process). The rule
   * (which setting, which scope wins) lives in src/settings/; the store only enforces the limit.
   * Without it no mailbox has a quota.
   */
  quotaLimit?: (user: { userId: number; databaseId: number }, settings: readonly SettingOverride[]) => number | null;
  /**
   * Where save dates (MessageSummary.saveDate) come from, in milliseconds since the epoch. The
   * system clock by default; tests pass one they move, so that "saved later" never depends on
   * the wall clock.
   */
  clock?: { now(): number };
}

/**
 * The mailbox store: the contract every backend (SQLite, PostgreSQL) fulfils, and all
 * that front ends may assume. Asynchronous and backend-neutral: callers cannot tell a backend
 * that answers at once from one that answers over the network.
 *
 * Errors: every failure is a StoreError (errors.ts) of one kind, whatever the backend raised:
 * `not-found` (no such user, folder, message, blob; also another user's folder id), `exists`
 * (a name taken, also by a concurrent writer), `invalid` (bad input: name, address, password),
 * `over-quota`, `unavailable` (busy or locked: try again), `corrupt`, `read-only` (closed, or
 * the files are not writable), `in-use`, `cannot-calculate-changes`. Anything else is a bug.
 *
 * Atomicity: each write operation is one transaction: after it resolves it is durable and every
 * session sees all of it; when it rejects nothing of it happened. Nobody ever sees half of one.
 * Writes publish a StoreChange on the ChangeBus after their commit.
 *
 * Ids: `userId` and `folderId` are the backend's numbers for a user and a folder; a folder id
 * of another user is `not-found`. UIDs are IMAP UIDs (RFC 3501 2.3.1.1), per folder, strictly
 * increasing, never reused under one UIDVALIDITY. Opaque string ids (object-ids.ts) are what
 * APIs hand out: message `M…` (kept by move), email `E…` (kept by move and copy), mailbox `F…`
 * (kept by rename).
 *
 * Flags: arrays of flag names as given (system flags `\\Seen`, keywords); a message holds each
 * flag once. \\Recent is a session matter (claimRecent), never stored.
 *
 * Dates: a message's internal date (IMAP INTERNALDATE) is given by APPEND or is the time of
 * delivery, and travels with it through COPY and MOVE. Its save date (MessageSummary.saveDate,
 * RFC 8514) is when it was saved into the folder it is in: append, appendMany, deliver, copy
 * and move set it to now (StoreOptions.clock) in the target; nothing else changes it (a
 * renamed folder's messages keep theirs). null for messages stored before save dates were kept.
 */
export interface Store {
  readonly backend: string;
  /** Commits what was sent before, then closes; every later call fails with `read-only`. */
  close(): Promise<void>;

  /** The organisation name (Exchange DNs) and server name, fixed when the store was made. */
  organisation(): Promise<Organisation>;

  // --- directory
  /** A new mailbox database. `invalid` for an empty or over-long name, `exists` for a taken one. */
  createDatabase(name: string): Promise<MailboxDatabase>;
  listDatabases(): Promise<MailboxDatabase[]>;
  findDatabase(name: string): Promise<MailboxDatabase | null>;
  /**
   * A new mailbox with its default folders (INBOX, Drafts, Sent Items, Deleted Items, Junk Email,
   * subscribed) and its primary address, atomically. The address is lower-cased; the alias is
   * its local part, made unique. `invalid` (address or password), `not-found` (database),
   * `exists` (the address belongs to a mailbox, also when a concurrent call took it first).
   */
  createUser(user: NewUser): Promise<User>;
  /** Every user, by address. */
  listUsers(): Promise<User[]>;
  /** By primary address, alias address, or alias (local part). Case-insensitive. */
  findUser(identity: string): Promise<User | null>;
  getUser(id: number): Promise<User | null>;
  /**
   * Whether mail for this domain is ours: some mailbox has an address in it. Case-insensitive,
   * one indexed lookup (SMTP asks at every RCPT).
   */
  isLocalDomain(domain: string): Promise<boolean>;
  /** Returns the user when the password is right, null otherwise (unknown user included, in the same time). */
  verifyPassword(identity: string, password: string): Promise<User | null>;
  /**
   * What a verified-credentials cache (access/credentials.ts) checks on each hit, without hashing:
   * the user an identity names now and a stamp that changes whenever that user's password changes,
   * also when another process (the CLI) changed it; null when the identity names no user (removed).
   * One indexed read.
   */
  credentialStamp(identity: string): Promise<{ user: User; stamp: string } | null>;
  /** `invalid` password, `not-found` user. */
  setPassword(userId: number, password: string): Promise<void>;
  /** The user, their folders, messages, subscriptions and user-scoped settings, atomically. `not-found`. */
  removeUser(userId: number): Promise<void>;
  /** Another address for the mailbox. `invalid` address, `exists` when it belongs to a mailbox. */
  addAddress(userId: number, address: string): Promise<void>;

  // --- settings (values as text; the settings catalog types them)
  listSettingOverrides(): Promise<SettingOverride[]>;
  /** Sets one override (replacing the value at that scope and target) and moves settingsVersion. */
  putSetting(o: SettingOverride): Promise<void>;
  /** Removes one override; false when there was none. Moves settingsVersion. */
  deleteSetting(o: Omit<SettingOverride, 'value'>): Promise<boolean>;
  /** A number that changes whenever any process changed settings; cheap to poll. */
  settingsVersion(): Promise<number>;

  // --- folders
  /** The user's folders, INBOX first, then by name. */
  listFolders(userId: number): Promise<Folder[]>;
  /** By name; "INBOX" in any case is INBOX. null when there is none. */
  getFolder(userId: number, name: string): Promise<Folder | null>;
  getFolderById(userId: number, folderId: number): Promise<Folder | null>;
  /** The folder with this special use; made (with its default name) when the mailbox lacks it. */
  getSpecialFolder(userId: number, use: SpecialUse): Promise<Folder>;
  /**
   * A new, subscribed folder with a UIDVALIDITY no folder of this store ever had. `invalid`
   * name (empty, over 255, NUL/CR/LF, `*` or `%`, empty hierarchy level), `exists` (also when
   * a concurrent call created it first). `subscribe: false` (IMAP CREATE: RFC 3501 leaves
   * subscribing to the client, which sends SUBSCRIBE if it wants it): no subscription is added,
   * and one the name already had (of a deleted folder, RFC 3501 6.3.9) stays.
   */
  createFolder(userId: number, name: string, specialUse?: SpecialUse | null, opts?: { subscribe?: boolean }): Promise<Folder>;
  /**
   * Renames a folder and its children (`a/b` with `a`), keeping ids, UIDs and UIDVALIDITY; their
   * subscriptions follow. Renaming INBOX (RFC 3501 6.3.5) moves its messages to a new folder
   * and leaves INBOX empty (expunged there). Atomic. `not-found`, `invalid` name, `exists` target.
   */
  renameFolder(userId: number, folderId: number, newName: string): Promise<void>;
  /** The folder and its messages, atomically; its subscription stays (RFC 3501 6.3.9). `not-found`; INBOX is `invalid`. */
  deleteFolder(userId: number, folderId: number): Promise<void>;
  /**
   * Subscriptions are names: deleting a folder keeps its subscription (RFC 3501 6.3.9), renaming
   * moves it. Subscribing needs the folder (`not-found`); unsubscribing works on any name.
   */
  setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void>;
  /** Subscribed names, also those whose folder no longer exists, by name. */
  listSubscriptions(userId: number): Promise<string[]>;
  /** Counts, UIDNEXT, UIDVALIDITY, HIGHESTMODSEQ in one consistent read. `not-found`. */
  folderStatus(userId: number, folderId: number): Promise<FolderStatus>;
  /** Every folder (as listFolders) with its message, unseen and byte counts, in one read: the web mail folder tree. */
  listFolderCounts(userId: number): Promise<FolderCounts[]>;
  /**
   * IMAP \Recent (RFC 3501 2.3.2): claims, for the one session calling, the messages that
   * arrived since the last claim, and moves the folder's mark past them, atomically. Messages
   * with UIDs in [from, to) are recent for the caller and for no other session; null when
   * there is nothing new (or the folder is gone). The mark only moves forward: every UID below
   * a claim's `to` has been claimed by someone when the claim is answered. When nothing is
   * unclaimed the answer is a read: no write, no commit.
   */
  claimRecent(userId: number, folderId: number): Promise<RecentClaim | null>;

  // --- messages
  /**
   * One message into a folder: the next UID, a new MODSEQ, new object and email ids. Durable
   * when it resolves. `not-found` folder, `over-quota` (checked inside the write).
   */
  append(userId: number, folderId: number, raw: Buffer, opts?: AppendOptions): Promise<AppendResult>;
  /**
   * Several messages into one folder, all or nothing (IMAP MULTIAPPEND, RFC 3502): consecutive
   * UIDs in the given order, one result each. `over-quota` when all of them do not fit together.
   */
  appendMany(userId: number, folderId: number, messages: NewMessage[]): Promise<AppendResult[]>;
  /**
   * appendMany, then claimRecent for the caller, in the same transaction (one commit): IMAP
   * APPEND by an IMAP4rev1 session into the folder it has selected read-write, which is the
   * first session told of the new messages (RFC 3501 2.3.2) and would claim them right after;
   * a claim of its own was a second write transaction after each such APPEND. `recent` is what
   * that claimRecent would have answered: the new messages and any that arrived before them
   * unclaimed, never UIDs another session claimed. Errors as appendMany; when it fails, nothing
   * is claimed either. With no messages, claimRecent alone.
   */
  appendAndClaimRecent(userId: number, folderId: number, messages: NewMessage[]): Promise<AppendClaimResult>;
  /**
   * Final delivery into each user's `specialUse` folder (INBOX by default): one stored copy of
   * the bytes, one message row per recipient that has room, in one transaction. Recipients over
   * quota (checked inside that transaction) get nothing and are named in `overQuota`; they do
   * not make the delivery fail. `not-found` for an unknown user.
   */
  deliver(userIds: number[], raw: Buffer, opts?: DeliveryOptions): Promise<Delivery>;
  /**
   * deliver() and enqueue() of one submitted message in one transaction: after a crash both
   * are stored or neither, so a retried submission never delivers its local copies twice.
   */
  deliverAndEnqueue(userIds: number[], raw: Buffer, entry: NewQueueEntry): Promise<Delivery & { queueId: number }>;
  /**
   * Every message of a folder (or those with MODSEQ > changedSince), ascending by UID.
   * The `flags` arrays may be shared between messages of one listing: treat them as read-only.
   * `not-found` folder.
   */
  listMessages(userId: number, folderId: number, opts?: { changedSince?: number }): Promise<MessageSummary[]>;
  /** The same listing as compact arrays (UID, MODSEQ, size, flags): the fast path for big folders. */
  listMessageIndex(userId: number, folderId: number, opts?: { changedSince?: number }): Promise<MessageIndex>;
  /** Newest first, with header facts, for message lists; `query` matches header facts and the bytes. */
  listMessagePage(userId: number, folderId: number, offset: number, limit: number, query?: string): Promise<{ total: number; items: MessageListItem[] }>;
  /**
   * One page of a walk by UID: the messages with `afterUid` < UID < `beforeUid`, ascending, at
   * most `limit`, with header facts (EWS SyncFolderItems' first sync reads only its page's rows
   * this way, not the folder's list per page). `not-found` folder.
   */
  listMessagesAfter(userId: number, folderId: number, afterUid: number, beforeUid: number, limit: number): Promise<MessageListItem[]>;
  /** By stable opaque id (MessageListItem.objectId); null for another user's or a malformed id. */
  getMessage(userId: number, objectId: string): Promise<(MessageListItem & { folderId: number }) | null>;
  /** null when the folder holds no such UID. `not-found` folder. */
  getMessageByUid(userId: number, folderId: number, uid: number): Promise<MessageSummary | null>;
  /**
   * Many messages of one folder in one read (IMAP FETCH): each UID the folder holds, ascending,
   * with the parts asked for; UIDs it does not hold are left out. `not-found` folder.
   */
  getMessages(userId: number, folderId: number, uids: readonly number[], parts?: MessageParts): Promise<StoredMessage[]>;
  /**
   * What SORT and THREAD compare (mime/sort-facts.ts) of many messages of one folder in one read:
   * each UID the folder holds, ascending; UIDs it does not hold are left out. The facts are computed
   * when the bytes are stored and kept beside them (rows stored before were filled in by the schema
   * step that added them), so this never reads the messages' bytes. `not-found` folder.
   */
  getSortFacts(userId: number, folderId: number, uids: readonly number[]): Promise<MessageSortFacts[]>;
  /** Raw bytes of a stored blob (by message content hash). `not-found`. */
  readBlob(hash: string): Promise<Buffer>;
  /** The MIME structure stored with a blob (JSON text), null when none was. */
  readStructure(hash: string): Promise<string | null>;
  /**
   * Sets, adds or removes flags of the given UIDs (those the folder does not hold are skipped),
   * atomically. Each message whose flags change gets a new MODSEQ, in UID order. With
   * `unchangedSince` (CONDSTORE, RFC 7162 3.1.3) a message whose MODSEQ is above it is left
   * alone and listed in `failedModified`. Removing is case-insensitive. `not-found` folder.
   */
  storeFlags(userId: number, folderId: number, uids: number[], op: FlagOperation, flags: string[], unchangedSince?: number): Promise<{ changed: FlagChange[]; failedModified: number[] }>;
  /**
   * IMAP EXPUNGE: removes the messages flagged \\Deleted — all of them, or only those among
   * `uids` (UID EXPUNGE, RFC 4315) — atomically, each recorded for expungedSince. Returns the
   * UIDs removed, ascending. `not-found` folder.
   */
  expunge(userId: number, folderId: number, uids?: number[]): Promise<number[]>;
  /**
   * Removes the given messages whatever their flags (POP3 DELE, web mail delete, a draft
   * replaced), atomically: other sessions see them gone, never half-flagged. UIDs the folder
   * does not hold are skipped. Returns the UIDs removed, ascending. `not-found` folder.
   */
  removeMessages(userId: number, folderId: number, uids: number[]): Promise<number[]>;
  /**
   * Copies messages (ascending by UID) into another folder of the same user, atomically: new
   * UIDs there, flags kept, new object ids, email ids kept. `over-quota` (checked inside the
   * write), `not-found` folder. `pairs`: [source UID, new UID] for COPYUID (RFC 4315).
   */
  copyMessages(userId: number, fromFolderId: number, uids: number[], toFolderId: number): Promise<{ uidValidity: number; pairs: Array<[number, number]> }>;
  /** As copyMessages, and removes the originals in the same transaction; object ids are kept. Never over quota. */
  moveMessages(userId: number, fromFolderId: number, uids: number[], toFolderId: number): Promise<{ uidValidity: number; pairs: Array<[number, number]> }>;
  /** UIDs expunged (or moved out) with MODSEQ > `modseq` (QRESYNC, RFC 7162 3.2.5.2). `not-found` folder. */
  expungedSince(userId: number, folderId: number, modseq: number): Promise<ExpungedUid[]>;
  /** Bytes and messages the mailbox holds, and its limit (0: none). `not-found` user. */
  quota(userId: number): Promise<QuotaUsage>;

  // --- account change state (EWS SyncState, ActiveSync SyncKey, JMAP state strings)
  // Change *notification* is the ChangeBus (change-bus.ts) the store is given: it publishes there after commit.
  /** The account's current state: an opaque string that every change to its folders or messages replaces. */
  changeState(userId: number): Promise<string>;
  /**
   * What changed after `sinceState` (from changeState or an earlier answer's newState): message
   * ids (created, updated — flags, moved — or destroyed) and folder ids (created, renamed,
   * deleted), each id once, oldest changes first, at most `maxChanges` ids; `hasMore` says
   * to ask again from `newState`. A message moved is updated (its id stays), a copy is created.
   * Throws StoreError 'cannot-calculate-changes' for a state that is not this account's or
   * is older than the history kept (90 days of tombstones): the client then syncs afresh.
   * With `folderId`: that folder's messages only (EWS SyncFolderItems, an ActiveSync collection;
   * states are the account's): a message moved in is created there, one moved out destroyed.
   */
  changesSince(userId: number, sinceState: string, maxChanges: number, opts?: { folderId?: number }): Promise<AccountChanges>;

  // --- mobile devices (ActiveSync partnerships) and their per-device state (issue 18)
  // Small on purpose, so that every backend can follow: a device row per (user, DeviceId) and named
  // pieces of opaque text per device (the front end's JSON: sync keys, the last answer to repeat).
  // Removing the user removes its devices; removing a device removes its state.
  /**
   * Records the device at its first call and updates the fields given (`lastSyncAt` is always
   * now), atomically; returns the record. `not-found` user, `invalid` for an empty DeviceId.
   */
  upsertDevice(update: MobileDeviceUpdate): Promise<MobileDevice>;
  /** A user's devices (all users' without `userId`), by user address then DeviceId. */
  listDevices(userId?: number): Promise<MobileDevice[]>;
  /** The device and all its state; false when there was none. */
  removeDevice(userId: number, deviceId: string): Promise<boolean>;
  /** One named piece of a device's state; null when there is none (also for an unknown device). */
  getDeviceState(userId: number, deviceId: string, name: string): Promise<string | null>;
  /** Sets a named piece (null removes it), durable when it resolves. `not-found` when the device is not recorded. */
  putDeviceState(userId: number, deviceId: string, name: string, value: string | null): Promise<void>;

  // --- event log
  /** Durable when it resolves (committed with the next group of writes). */
  appendEvent(e: NewEvent): Promise<EventRecord>;
  incrementEventCount(recordId: number): Promise<void>;
  /** Oldest first; includes every event this process appended before asking. */
  listEvents(filter?: EventFilter): Promise<EventRecord[]>;

  // --- outbound queue
  /** A queue entry for the bytes (stored once), due now. */
  enqueue(sender: string, recipients: string[], raw: Buffer, submittedBy: number | null, dsn?: QueueDsn | null): Promise<QueueEntry>;
  listQueue(): Promise<QueueEntry[]>;
  /**
   * Entries due at `now`, soonest first, at most 100, for the caller to work. A backend shared
   * by several nodes (PostgreSQL) leases them to the caller: no other node gets them until
   * updateQueueEntry/removeQueueEntry, or until the lease runs out (the node died), so each
   * entry is worked by one node at a time. SQLite serves one node and leases nothing.
   */
  dueQueueEntries(now: Date): Promise<QueueEntry[]>;
  /** `delayNotified` left out keeps the entry's value. */
  updateQueueEntry(id: number, changes: QueueEntryUpdate): Promise<void>;
  /** Removes an entry (and its bytes unless a message holds them); false when there was none. */
  removeQueueEntry(id: number): Promise<boolean>;
}
