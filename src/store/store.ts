import type {
  AccountChanges, AppendResult, EventFilter, EventRecord, ExpungedUid, FlagChange, FlagOperation, Folder, FolderCounts, FolderStatus,
  MailboxDatabase, MessageIndex, MessageListItem, MessageSummary, NewEvent, Organisation, QueueEntry, QuotaUsage,
  SettingOverride, SpecialUse, User,
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
  internalDate?: Date;
}

/** An outbound queue entry to be made (Store.enqueue, Store.deliverAndEnqueue). */
export interface NewQueueEntry {
  sender: string;
  recipients: string[];
  raw: Buffer;
  /** The user who submitted the message, if any. */
  submittedBy: number | null;
}

export interface DeliveryOptions {
  /** Folder special use to deliver into; \\Inbox by default. */
  specialUse?: SpecialUse;
  flags?: string[];
}

/**
 * The mailbox store. Backend-neutral and asynchronous: the SQLite backend answers at once,
 * the PostgreSQL backend (later) over the network, and callers cannot tell the difference.
 */
export interface Store {
  readonly backend: string;
  close(): Promise<void>;

  organisation(): Promise<Organisation>;

  // --- directory
  createDatabase(name: string): Promise<MailboxDatabase>;
  listDatabases(): Promise<MailboxDatabase[]>;
  findDatabase(name: string): Promise<MailboxDatabase | null>;
  createUser(user: NewUser): Promise<User>;
  listUsers(): Promise<User[]>;
  /** By primary address, alias address, or alias (local part). Case-insensitive. */
  findUser(identity: string): Promise<User | null>;
  getUser(id: number): Promise<User | null>;
  /** Returns the user when the password is right, null otherwise (unknown user included). */
  verifyPassword(identity: string, password: string): Promise<User | null>;
  setPassword(userId: number, password: string): Promise<void>;
  removeUser(userId: number): Promise<void>;
  addAddress(userId: number, address: string): Promise<void>;

  // --- settings (values as text; the settings catalog types them)
  listSettingOverrides(): Promise<SettingOverride[]>;
  putSetting(o: SettingOverride): Promise<void>;
  deleteSetting(o: Omit<SettingOverride, 'value'>): Promise<boolean>;
  /** A number that changes whenever any process changed settings; cheap to poll. */
  settingsVersion(): Promise<number>;

  // --- folders
  listFolders(userId: number): Promise<Folder[]>;
  getFolder(userId: number, name: string): Promise<Folder | null>;
  getFolderById(userId: number, folderId: number): Promise<Folder | null>;
  getSpecialFolder(userId: number, use: SpecialUse): Promise<Folder>;
  createFolder(userId: number, name: string, specialUse?: SpecialUse | null): Promise<Folder>;
  renameFolder(userId: number, folderId: number, newName: string): Promise<void>;
  deleteFolder(userId: number, folderId: number): Promise<void>;
  /** Subscriptions are names: deleting a folder keeps its subscription (RFC 3501 6.3.9), renaming moves it. */
  setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void>;
  listSubscriptions(userId: number): Promise<string[]>;
  folderStatus(userId: number, folderId: number): Promise<FolderStatus>;
  /** Every folder (as listFolders) with its message, unseen and byte counts, in one read: the web mail folder tree. */
  listFolderCounts(userId: number): Promise<FolderCounts[]>;
  /**
   * IMAP \Recent (RFC 3501 2.3.2): claims, for the one session calling, the messages that
   * arrived since the last claim, and moves the folder's mark past them, atomically. Messages
   * with UIDs in [from, to) are recent for the caller and for no other session; null when
   * there is nothing new (or the folder is gone).
   */
  claimRecent(userId: number, folderId: number): Promise<{ from: number; to: number } | null>;

  // --- messages
  append(userId: number, folderId: number, raw: Buffer, opts?: AppendOptions): Promise<AppendResult>;
  /** One stored copy of the bytes, one message row per recipient, one transaction. */
  deliver(userIds: number[], raw: Buffer, opts?: DeliveryOptions): Promise<Map<number, AppendResult>>;
  /**
   * deliver() and enqueue() of one submitted message in one transaction: after a crash both
   * are stored or neither, so a retried submission never delivers its local copies twice.
   */
  deliverAndEnqueue(userIds: number[], raw: Buffer, entry: NewQueueEntry): Promise<{ delivered: Map<number, AppendResult>; queueId: number }>;
  /**
   * Every message of a folder (or those with MODSEQ > changedSince), ascending by UID.
   * The `flags` arrays may be shared between messages of one listing: treat them as read-only.
   */
  listMessages(userId: number, folderId: number, opts?: { changedSince?: number }): Promise<MessageSummary[]>;
  /** The same listing as compact arrays (UID, MODSEQ, size, flags): the fast path for big folders. */
  listMessageIndex(userId: number, folderId: number, opts?: { changedSince?: number }): Promise<MessageIndex>;
  /** Newest first, with header facts, for message lists. */
  listMessagePage(userId: number, folderId: number, offset: number, limit: number, query?: string): Promise<{ total: number; items: MessageListItem[] }>;
  /** By stable opaque id (MessageListItem.objectId); null for another user's or a malformed id. */
  getMessage(userId: number, objectId: string): Promise<(MessageListItem & { folderId: number }) | null>;
  getMessageByUid(userId: number, folderId: number, uid: number): Promise<MessageSummary | null>;
  /** Raw bytes of a stored blob (by message content hash). */
  readBlob(hash: string): Promise<Buffer>;
  readStructure(hash: string): Promise<string | null>;
  storeFlags(userId: number, folderId: number, uids: number[], op: FlagOperation, flags: string[], unchangedSince?: number): Promise<{ changed: FlagChange[]; failedModified: number[] }>;
  /** Removes the given UIDs (or all \\Deleted when uids is undefined); returns the UIDs removed, ascending. */
  expunge(userId: number, folderId: number, uids?: number[]): Promise<number[]>;
  copyMessages(userId: number, fromFolderId: number, uids: number[], toFolderId: number): Promise<{ uidValidity: number; pairs: Array<[number, number]> }>;
  moveMessages(userId: number, fromFolderId: number, uids: number[], toFolderId: number): Promise<{ uidValidity: number; pairs: Array<[number, number]> }>;
  expungedSince(userId: number, folderId: number, modseq: number): Promise<ExpungedUid[]>;
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

  // --- event log
  appendEvent(e: NewEvent): Promise<EventRecord>;
  incrementEventCount(recordId: number): Promise<void>;
  listEvents(filter?: EventFilter): Promise<EventRecord[]>;

  // --- outbound queue
  enqueue(sender: string, recipients: string[], raw: Buffer, submittedBy: number | null): Promise<QueueEntry>;
  listQueue(): Promise<QueueEntry[]>;
  dueQueueEntries(now: Date): Promise<QueueEntry[]>;
  updateQueueEntry(id: number, changes: { attempts: number; nextAttempt: Date; lastError: string | null }): Promise<void>;
  removeQueueEntry(id: number): Promise<boolean>;
}

/** A stored flags text ("\\Seen \\Flagged", as in MessageIndex.flags) as an array. */
export const splitFlags = (s: string): string[] => (s ? s.split(' ') : []);
