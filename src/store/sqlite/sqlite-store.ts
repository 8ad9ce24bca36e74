import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import { headerBlock } from '../analyse.js';
import { decodeSortFacts, storedSortFacts } from '../../mime/sort-facts.js';
import { hashPassword, passwordSalt, verifyPassword } from '../../util/password.js';
import { openReaderConnection, openSqliteDatabase } from './open.js';
import { ADDRESS_DOMAIN } from './schema.js';
import { toStoreError, typedErrorsOnly } from './backend-errors.js';
import { MessageWrites } from './message-writes.js';
import { storedAnalysisOf } from './known-analysis.js';
import { WriterThread } from './writer-thread.js';
import { InThreadGroupWriter, NO_WRITER, type GroupWriter } from './group-commit.js';
import { SqliteDevices } from './devices.js';
import type { DeliverOutcome, DeliveryTarget } from './write-ops.js';
import type { Delivery, DeliveryOptions, MessageParts, NewMessage, NewQueueEntry, NewUser, QueueEntryUpdate, Store, StoreChange, StoreOptions } from '../store.js';
import { InProcessChangeBus, type ChangeBus } from '../change-bus.js';
import { StoreBase } from '../store-base.js';
import { fromObjectId, toObjectId } from '../object-ids.js';
import {
  FOLDER_SELECT, joinFlags, planFlagChanges, splitEach, threadIdOf, toDatabase, toDate, toEventRecord, toFolder, toListItem, toQueueEntry, toSummary, toUser, USER_SELECT,
  type DatabaseRow, type EventRow, type FlagRow, type FolderRow, type ListExtra, type MessageRow, type QueueRow, type UserRow,
} from '../rows.js';
import {
  canonicalFolderName, checkDeletable, checkPassword, chooseAlias, DEFAULT_DATABASE, DEFAULT_FOLDERS, DEFAULT_ORGANISATION,
  defaultFolderName, displayNameFor, DUMMY_PASSWORD_HASH, nextUidValidity, normaliseAddress, normaliseDatabaseName,
  normaliseDomain, renameMovesMessages, renamePlan, validateFolderName,
} from '../rules.js';
import { changesSince, currentState, pruneTombstones, takeChangeStates, TOMBSTONE_DAYS } from './change-state.js';
import type {
  AccountChanges, AppendClaimResult, AppendResult, EventFilter, EventRecord, ExpungedUid, FlagChange, FlagOperation, Folder, FolderCounts, FolderStatus,
  MailboxDatabase, MessageIndex, MessageListItem, MessageSortFacts, MobileDevice, MobileDeviceUpdate, MessageSummary, NewEvent, Organisation, QueueDsn, QueueEntry, QuotaUsage,
  RecentClaim, SettingOverride, SpecialUse, StoredMessage, User,
} from '../types.js';

/** The counters migration 5's triggers keep on each folder row. */
interface FolderCountRow { message_count: number; unseen_count: number; total_size: number }


/**
 * listMessageIndex of a folder of at least this many messages is kept in memory (for at most
 * INDEX_CACHE_FOLDERS folders, ~20 bytes a message plus the shared flag arrays) and answered
 * again while the folder row's HIGHESTMODSEQ, UIDNEXT, UIDVALIDITY and counters are unchanged: every write to
 * a folder's messages moves one of them (a new message UIDNEXT and HIGHESTMODSEQ, a flag change
 * or an expunge HIGHESTMODSEQ; the counters are triggers'), whichever connection or process
 * wrote. A SELECT of an unchanged 100,000-message folder then costs one row read instead of a
 * 40–60 ms scan — what Dovecot's index files give it. Small folders are read each time (cheap).
 */
const INDEX_CACHE_MIN_MESSAGES = 5_000;
const INDEX_CACHE_FOLDERS = 8;


export class SqliteStore extends StoreBase implements Store {
  readonly backend = 'sqlite';
  private readonly db: Database.Database;
  /** Where committed changes are published (IMAP IDLE, web push and page cache subscribe there). */
  readonly changes: ChangeBus;
  private pruneTimer: NodeJS.Timeout | null = null;
  private onBackgroundError = (what: string, err: unknown): void => console.error(`store: ${what}:`, err);
  /** Prepared statements (cached by SQL text) and the message-writing SQL on this connection. */
  private readonly writes: MessageWrites;
  /** Deliveries, appends and events: committed in groups (group-commit.ts), by a thread of their own unless the store has one. */
  private readonly writer: GroupWriter;
  private org!: Organisation;
  private readonly quotaLimit: StoreOptions['quotaLimit'];
  /** StoreOptions.clock: where save dates come from. */
  private clock: { now(): number } = { now: () => Date.now() };
  /** Indexes of big folders (listMessageIndex), by folder id, with the folder row's counters they were read at; oldest first. */
  private readonly indexCache = new Map<number, { stamp: string; index: MessageIndex }>();
  /** The settings table as of a settings version (re-read only when any process changed settings), for quotaLimit. */
  private settingsSnapshot: { version: number; list: SettingOverride[] } | null = null;

  private constructor(readonly file: string, changes: ChangeBus, quotaLimit: StoreOptions['quotaLimit'], groupCommit: 'writer-thread' | 'this-thread' | 'read-only') {
    super();
    this.db = groupCommit === 'read-only' ? openReaderConnection(file) : openSqliteDatabase(file);
    this.writes = new MessageWrites(this.db);
    this.writer = groupCommit === 'read-only' ? NO_WRITER : groupCommit === 'this-thread' ? new InThreadGroupWriter(this.db, this.writes) : new WriterThread(file);
    this.changes = changes;
    this.quotaLimit = quotaLimit;
  }

  /** `changes`: the bus to publish committed changes on (the server's; a private in-process one by default). */
  /** `onBackgroundError`: where failures of the store's own timers go (the server passes its log; the store knows no logger). */
  /**
   * `groupCommit`: who commits deliveries, appends and events — a writer thread (the default: the
   * caller's event loop never waits for a commit's fsync) or this thread, on this connection (for
   * a store that has a thread of its own already: threaded/store-worker.ts; group-commit.ts says why).
   */
  static async open(
    file: string,
    opts: StoreOptions & { organisation?: string; serverName?: string; changes?: ChangeBus; onBackgroundError?: (what: string, err: unknown) => void; groupCommit?: 'writer-thread' | 'this-thread' } = {},
  ): Promise<SqliteStore> {
    try {
      const store = new SqliteStore(file, opts.changes ?? new InProcessChangeBus(), opts.quotaLimit, opts.groupCommit ?? 'writer-thread');
      if (opts.onBackgroundError) store.onBackgroundError = opts.onBackgroundError;
      if (opts.clock) store.clock = opts.clock;
      store.initialise(opts);
      return store;
    } catch (err) {
      throw toStoreError(err);
    }
  }

  /**
   * A store on a read-only connection of its own, for a file another SqliteStore opened (and
   * migrated) already: only its reads work (writes fail `read-only`). The server answers a few
   * point reads with it on the event loop (threaded/threaded-store.ts says which and why).
   */
  static async openReader(file: string, opts: StoreOptions = {}): Promise<SqliteStore> {
    try {
      const store = new SqliteStore(file, new InProcessChangeBus(), opts.quotaLimit, 'read-only');
      const get = (k: string) => (store.q('SELECT value FROM meta WHERE key = ?').get(k) as { value: string } | undefined)?.value;
      store.org = { name: get('organisation')!, serverName: get('server_name')! };
      return store;
    } catch (err) {
      throw toStoreError(err);
    }
  }

  private initialise(opts: { organisation?: string; serverName?: string }): void {
    const get = (k: string) => (this.q('SELECT value FROM meta WHERE key = ?').get(k) as { value: string } | undefined)?.value;
    this.write(() => {
      if (get('organisation') === undefined) {
        const ins = this.q('INSERT INTO meta (key, value) VALUES (?, ?)');
        ins.run('organisation', opts.organisation ?? DEFAULT_ORGANISATION);
        ins.run('server_name', opts.serverName ?? hostname());
        ins.run('settings_version', '0');
        ins.run('last_uid_validity', '0');
        this.q('INSERT INTO databases (name, created_at) VALUES (?, ?)').run(DEFAULT_DATABASE, Date.now());
      }
    });
    this.org = { name: get('organisation')!, serverName: get('server_name')! };
    this.schedulePruning(60_000);
  }

  /**
   * Tombstones older than TOMBSTONE_DAYS go a minute after opening (not at once: a CLI command
   * opens the store too, and needs no write) and then once a day; change-state.ts says why 90 days.
   */
  private schedulePruning(delayMs: number): void {
    this.pruneTimer = setTimeout(() => {
      try {
        pruneTombstones(this.db, (sql) => this.q(sql), new Date(Date.now() - TOMBSTONE_DAYS * 86_400_000));
      } catch (err) {
        this.onBackgroundError('pruning tombstones failed (tried again tomorrow)', err);
      }
      if (this.db.open) this.schedulePruning(86_400_000);
    }, delayMs);
    this.pruneTimer.unref();
  }

  private q(sql: string): Database.Statement {
    return this.writes.q(sql);
  }

  /**
   * A write transaction on this connection. IMMEDIATE: it takes the write lock at BEGIN (waiting
   * for the writer thread's commit if need be), so a read-then-write cannot meet a snapshot
   * another connection made stale — a deferred one would fail with SQLITE_BUSY there.
   */
  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /**
   * A message-level write (flags, expunge, removal, copy and move): on the store thread it joins
   * the group commit of deliveries and appends (InThreadGroupWriter.runLocal), sharing their
   * transaction and fsync; alone, each was a commit and an fsync of its own, during which every
   * call queued on the thread waited. Elsewhere it commits now, as `write` does (the writer
   * thread has a connection of its own, and this code works through this one). `fn` may run
   * later than the call: it reads what it needs inside.
   */
  private writeInGroup<T>(fn: () => T): T | Promise<T> {
    return this.writer instanceof InThreadGroupWriter ? this.writer.runLocal(fn) : this.write(fn);
  }

  /** After the commit: the bus tells the sessions watching (and, in a cluster, other nodes). */
  protected emit(change: StoreChange): void {
    this.changes.publish(change);
  }

  async close(): Promise<void> {
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    await this.writer.close(); // writes already sent commit before the file closes
    if (this.db.open) this.db.close();
  }

  async organisation(): Promise<Organisation> {
    return this.org;
  }

  /** For crash-safety tests and admin diagnostics. */
  integrityCheck(): string {
    return String(this.db.pragma('integrity_check', { simple: true }));
  }

  // ---------------------------------------------------------------- directory

  async createDatabase(name: string): Promise<MailboxDatabase> {
    const clean = normaliseDatabaseName(name);
    if (await this.findDatabase(clean)) throw new StoreError('exists', `mailbox database "${clean}" exists already`);
    const r = this.q('INSERT INTO databases (name, created_at) VALUES (?, ?)').run(clean, Date.now());
    return (await this.findDatabase(clean)) ?? { id: Number(r.lastInsertRowid), name: clean, createdAt: new Date() };
  }

  async listDatabases(): Promise<MailboxDatabase[]> {
    return (this.q('SELECT id, name, created_at FROM databases ORDER BY id').all() as DatabaseRow[]).map(toDatabase);
  }

  async findDatabase(name: string): Promise<MailboxDatabase | null> {
    const r = this.q('SELECT id, name, created_at FROM databases WHERE name = ?').get(name.trim()) as DatabaseRow | undefined;
    return r ? toDatabase(r) : null;
  }

  async createUser(nu: NewUser): Promise<User> {
    const { address, database, hash } = await this.checkNewUser(nu);
    const alias = chooseAlias(address, (a) => this.q('SELECT 1 FROM users WHERE alias = ?').get(a) !== undefined);
    const id = this.db.transaction(() => {
      // a concurrent `user add` of the same address fails on the UNIQUE constraint here: `exists` (backend-errors.ts)
      const r = this.q(
        'INSERT INTO users (alias, address, display_name, password_hash, database_id, is_admin, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(alias, address, displayNameFor(nu.displayName, alias), hash, database.id, nu.isAdmin ? 1 : 0, Date.now());
      const userId = Number(r.lastInsertRowid);
      this.q('INSERT INTO addresses (address, user_id) VALUES (?, ?)').run(address, userId);
      for (const [name, use] of DEFAULT_FOLDERS) this.insertFolder(userId, name, use);
      return userId;
    });
    return (await this.getUser(id.immediate()))!;
  }

  async listUsers(): Promise<User[]> {
    return (this.q(`${USER_SELECT} ORDER BY u.address`).all() as UserRow[]).map((r) => toUser(r, this.org.name));
  }

  private findUserRow(identity: string): UserRow | undefined {
    const id = identity.trim().toLowerCase();
    return (id.includes('@')
      ? this.q(`${USER_SELECT} JOIN addresses a ON a.user_id = u.id WHERE a.address = ?`).get(id)
      : this.q(`${USER_SELECT} WHERE u.alias = ?`).get(id)) as UserRow | undefined;
  }

  async findUser(identity: string): Promise<User | null> {
    const r = this.findUserRow(identity);
    return r ? toUser(r, this.org.name) : null;
  }

  async isLocalDomain(domain: string): Promise<boolean> {
    const d = normaliseDomain(domain);
    if (!d) return false;
    return this.q(`SELECT 1 FROM addresses WHERE ${ADDRESS_DOMAIN} = ? LIMIT 1`).get(d) !== undefined;
  }

  async credentialStamp(identity: string): Promise<{ user: User; stamp: string } | null> {
    const r = this.findUserRow(identity);
    // the hash's salt: random for every hashPassword, so any set-password changes it, and it is not secret
    return r ? { user: toUser(r, this.org.name), stamp: passwordSalt(r.password_hash) } : null;
  }

  async getUser(id: number): Promise<User | null> {
    const r = this.q(`${USER_SELECT} WHERE u.id = ?`).get(id) as UserRow | undefined;
    return r ? toUser(r, this.org.name) : null;
  }

  async verifyPassword(identity: string, password: string): Promise<User | null> {
    const row = this.findUserRow(identity);
    // hash even for unknown users so that timing does not tell which addresses exist
    const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_PASSWORD_HASH);
    return ok && row ? toUser(row, this.org.name) : null;
  }

  async setPassword(userId: number, password: string): Promise<void> {
    checkPassword(password);
    const hash = await hashPassword(password);
    const r = this.q('UPDATE users SET password_hash = ? WHERE id = ?').run(hash, userId);
    if (r.changes === 0) throw new StoreError('not-found', `no user with id ${userId}`);
  }

  async removeUser(userId: number): Promise<void> {
    this.write(() => {
      const hashes = this.q(
        'SELECT DISTINCT m.blob_hash FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.user_id = ?',
      ).pluck().all(userId) as string[];
      const r = this.q('DELETE FROM users WHERE id = ?').run(userId);
      if (r.changes === 0) throw new StoreError('not-found', `no user with id ${userId}`);
      for (const h of hashes) this.dropBlobIfUnused(h);
      this.q("DELETE FROM settings WHERE scope = 'user' AND target_id = ?").run(userId);
    });
  }

  async addAddress(userId: number, address: string): Promise<void> {
    const a = normaliseAddress(address);
    if (await this.findUser(a)) throw new StoreError('exists', `${a} belongs to a mailbox already`);
    this.q('INSERT INTO addresses (address, user_id) VALUES (?, ?)').run(a, userId);
  }

  // ---------------------------------------------------------------- settings

  async listSettingOverrides(): Promise<SettingOverride[]> {
    return this.readSettingOverrides();
  }

  private readSettingOverrides(): SettingOverride[] {
    return (this.q('SELECT scope, target_id, name, value FROM settings ORDER BY scope, target_id, name').all() as Array<{
      scope: SettingOverride['scope']; target_id: number; name: string; value: string;
    }>).map((r) => ({ scope: r.scope, targetId: r.target_id, name: r.name, value: r.value }));
  }

  async putSetting(o: SettingOverride): Promise<void> {
    this.write(() => {
      this.q('INSERT INTO settings (scope, target_id, name, value) VALUES (?, ?, ?, ?) ON CONFLICT (scope, target_id, name) DO UPDATE SET value = excluded.value')
        .run(o.scope, o.targetId, o.name, o.value);
      this.bumpSettingsVersion();
    });
  }

  async deleteSetting(o: Omit<SettingOverride, 'value'>): Promise<boolean> {
    return this.write(() => {
      const r = this.q('DELETE FROM settings WHERE scope = ? AND target_id = ? AND name = ?').run(o.scope, o.targetId, o.name);
      this.bumpSettingsVersion();
      return r.changes > 0;
    });
  }

  private bumpSettingsVersion(): void {
    this.q("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'settings_version'").run();
  }

  async settingsVersion(): Promise<number> {
    return Number((this.q("SELECT value FROM meta WHERE key = 'settings_version'").get() as { value: string }).value);
  }

  // ---------------------------------------------------------------- folders

  /** The next UIDVALIDITY (rules.ts), remembered store-wide; caller holds the transaction. */
  private nextUidValidity(): number {
    const last = Number((this.q("SELECT value FROM meta WHERE key = 'last_uid_validity'").get() as { value: string }).value);
    const next = nextUidValidity(last, Date.now());
    this.q("UPDATE meta SET value = ? WHERE key = 'last_uid_validity'").run(String(next));
    return next;
  }

  private insertFolder(userId: number, name: string, use: SpecialUse | null, subscribe = true): number {
    const r = this.q('INSERT INTO folders (user_id, name, special_use, uid_validity) VALUES (?, ?, ?, ?)').run(
      userId, name, use, this.nextUidValidity(),
    );
    // new folders start subscribed, so that clients showing subscribed folders only see them
    if (subscribe) this.q('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(userId, name);
    return Number(r.lastInsertRowid);
  }

  private folderRows(userId: number): Array<FolderRow & FolderCountRow> {
    return this.q(`${FOLDER_SELECT} WHERE f.user_id = ? ORDER BY f.name = 'INBOX' DESC, f.name`).all(userId) as Array<FolderRow & FolderCountRow>;
  }

  async listFolders(userId: number): Promise<Folder[]> {
    return this.folderRows(userId).map(toFolder);
  }

  async listFolderCounts(userId: number): Promise<FolderCounts[]> {
    return this.folderRows(userId).map((r) => ({ folder: toFolder(r), messages: r.message_count, unseen: r.unseen_count, size: r.total_size }));
  }

  async getFolder(userId: number, name: string): Promise<Folder | null> {
    const r = this.q(`${FOLDER_SELECT} WHERE f.user_id = ? AND f.name = ?`).get(userId, canonicalFolderName(name)) as FolderRow | undefined;
    return r ? toFolder(r) : null;
  }

  async getFolderById(userId: number, folderId: number): Promise<Folder | null> {
    const r = this.q(`${FOLDER_SELECT} WHERE f.user_id = ? AND f.id = ?`).get(userId, folderId) as FolderRow | undefined;
    return r ? toFolder(r) : null;
  }

  async getSpecialFolder(userId: number, use: SpecialUse): Promise<Folder> {
    const r = this.q(`${FOLDER_SELECT} WHERE f.user_id = ? AND f.special_use = ? ORDER BY f.id LIMIT 1`).get(userId, use) as FolderRow | undefined;
    if (r) return toFolder(r);
    const name = defaultFolderName(use);
    const existing = await this.getFolder(userId, name);
    if (existing) return existing;
    return this.createFolder(userId, name, use);
  }

  async createFolder(userId: number, name: string, specialUse: SpecialUse | null = null, opts: { subscribe?: boolean } = {}): Promise<Folder> {
    validateFolderName(name);
    if (await this.getFolder(userId, name)) throw new StoreError('exists', `folder "${name}" exists already`);
    const id = this.write(() => this.insertFolder(userId, name, specialUse, opts.subscribe ?? true));
    this.emit({ userId, folderId: id, kind: 'folders', modseq: 0 });
    return (await this.getFolderById(userId, id))!;
  }

  async renameFolder(userId: number, folderId: number, newName: string): Promise<void> {
    validateFolderName(newName);
    const folder = await this.getFolderById(userId, folderId);
    if (!folder) throw new StoreError('not-found', 'no such folder');
    if (await this.getFolder(userId, newName)) throw new StoreError('exists', `folder "${newName}" exists already`);
    const inboxExpunge = this.write((): number => {
      if (renameMovesMessages(folder.name)) {
        // RFC 3501 6.3.5 (rules.ts): INBOX's messages move to a new folder, INBOX stays, empty
        const newId = this.insertFolder(userId, newName, null);
        const msgs = this.q('SELECT id, uid, object_id FROM messages WHERE folder_id = ? ORDER BY uid').all(folderId) as Array<{ id: number; uid: number; object_id: number }>;
        const highest = this.q('SELECT highest_modseq FROM folders WHERE id = ?').pluck().get(folderId) as number;
        let uid = 1;
        for (const m of msgs) this.q('UPDATE messages SET folder_id = ?, uid = ? WHERE id = ?').run(newId, uid++, m.id);
        // the moved messages keep their MODSEQs (the new HIGHESTMODSEQ starts at theirs) and are not new mail (\Recent)
        this.q('UPDATE folders SET uid_next = ?, first_recent_uid = ?, highest_modseq = ? WHERE id = ?').run(uid, uid, highest, newId);
        if (msgs.length === 0) return 0;
        // for sessions that have INBOX selected the messages are gone: expunged, as QRESYNC records it
        const modseq = highest + 1;
        const rec = this.q('INSERT OR REPLACE INTO expunged (folder_id, uid, modseq) VALUES (?, ?, ?)');
        for (const m of msgs) rec.run(folderId, m.uid, modseq);
        // and for a folder sync of INBOX (changesSince with folderId) they left, as after a MOVE:
        // a tombstone naming INBOX, so the new folder reports them as created and INBOX as destroyed
        const first = takeChangeStates((sql) => this.q(sql), msgs.length);
        const tomb = this.q("INSERT INTO tombstones (user_id, state, kind, object_id, folder_id, time) VALUES (?, ?, 'message', ?, (SELECT object_id FROM folders WHERE id = ?), unixepoch())");
        msgs.forEach((m, i) => tomb.run(userId, first + i, m.object_id, folderId));
        this.q('UPDATE folders SET highest_modseq = ? WHERE id = ?').run(modseq, folderId);
        return modseq;
      }
      const prefix = folder.name + '/';
      const children = this.q('SELECT id, name FROM folders WHERE user_id = ? AND substr(name, 1, ?) = ?').all(userId, prefix.length, prefix) as Array<{ id: number; name: string }>;
      const ids = new Map([[folder.name, folderId], ...children.map((c): [string, number] => [c.name, c.id])]);
      for (const [from, to] of renamePlan(folder.name, newName, ids.keys())) this.renameFolderRow(userId, ids.get(from)!, from, to);
      return 0;
    });
    this.emit({ userId, folderId, kind: 'folders', modseq: 0 });
    if (inboxExpunge) this.emit({ userId, folderId, kind: 'expunge', modseq: inboxExpunge });
  }

  /** A renamed folder keeps its subscription (rules.ts renamePlan). */
  private renameFolderRow(userId: number, folderId: number, from: string, to: string): void {
    this.q('UPDATE folders SET name = ? WHERE id = ?').run(to, folderId);
    if (this.q('DELETE FROM subscriptions WHERE user_id = ? AND name = ?').run(userId, from).changes) {
      this.q('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(userId, to);
    }
  }

  async deleteFolder(userId: number, folderId: number): Promise<void> {
    const folder = await this.getFolderById(userId, folderId);
    if (!folder) throw new StoreError('not-found', 'no such folder');
    checkDeletable(folder.name);
    this.write(() => {
      const hashes = this.q('SELECT DISTINCT blob_hash FROM messages WHERE folder_id = ?').pluck().all(folderId) as string[];
      // the user's counters follow the deleted rows (trigger, schema migration 9): before the folder row goes
      this.q('DELETE FROM messages WHERE folder_id = ?').run(folderId);
      this.q('DELETE FROM folders WHERE id = ?').run(folderId);
      for (const h of hashes) this.dropBlobIfUnused(h);
    });
    this.emit({ userId, folderId, kind: 'folders', modseq: 0 });
  }

  /**
   * Subscribing needs an existing folder; unsubscribing works on any name, so that a subscription
   * whose folder was deleted (it stays: RFC 3501 6.3.9) can still be removed.
   */
  async setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void> {
    if (!subscribed) {
      this.q('DELETE FROM subscriptions WHERE user_id = ? AND name = ?').run(userId, name);
      return;
    }
    if (!(await this.getFolder(userId, name))) throw new StoreError('not-found', `no folder "${name}"`);
    this.q('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(userId, name);
  }

  /** Subscribed names, also those whose folder no longer exists. */
  async listSubscriptions(userId: number): Promise<string[]> {
    return this.q('SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name').pluck().all(userId) as string[];
  }

  /** One row read: the counters are kept by triggers (schema migration 5); only \Recent is counted, on the UID index. */
  async folderStatus(userId: number, folderId: number): Promise<FolderStatus> {
    const f = this.q(
      'SELECT message_count, unseen_count, total_size, uid_next, uid_validity, highest_modseq, first_recent_uid FROM folders WHERE id = ? AND user_id = ?',
    ).get(folderId, userId) as
      | { message_count: number; unseen_count: number; total_size: number; uid_next: number; uid_validity: number; highest_modseq: number; first_recent_uid: number }
      | undefined;
    if (!f) throw new StoreError('not-found', 'no such folder');
    const recent = f.first_recent_uid < f.uid_next
      ? (this.q('SELECT count(*) FROM messages WHERE folder_id = ? AND uid >= ?').pluck().get(folderId, f.first_recent_uid) as number)
      : 0;
    return {
      messages: f.message_count, unseen: f.unseen_count, recent, firstRecentUid: f.first_recent_uid, size: f.total_size,
      uidNext: f.uid_next, uidValidity: f.uid_validity, highestModseq: f.highest_modseq,
    };
  }

  async claimRecent(userId: number, folderId: number): Promise<RecentClaim | null> {
    // the usual answer (nothing new) is a read: SELECT of an unchanged folder writes nothing
    if (!this.writes.unclaimedRecent(userId, folderId)) return null;
    // again inside the write transaction: another session may have claimed meanwhile
    return this.write(() => this.writes.claimRecent(userId, folderId));
  }

  // ---------------------------------------------------------------- messages

  /** Stores the bytes once (content-addressed) with everything computed at delivery. */
  private putBlob(raw: Buffer): string {
    return this.writes.putBlob(raw, storedAnalysisOf(raw));
  }

  private dropBlobIfUnused(hash: string): void {
    this.q(
      'DELETE FROM blobs WHERE hash = ? AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_hash = ?) AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_hash = ?)',
    ).run(hash, hash, hash);
  }

  // Appends and deliveries go to the group writer (a writer thread, or this thread's group
  // commit), which commits them in groups; each resolves only once its transaction is on disk.
  // The analysis is CPU work done here, so that the writer does nothing but SQL.
  async appendMany(userId: number, folderId: number, messages: NewMessage[]): Promise<AppendResult[]> {
    return (await this.appendWrite(userId, folderId, messages, false)).appended;
  }

  async appendAndClaimRecent(userId: number, folderId: number, messages: NewMessage[]): Promise<AppendClaimResult> {
    return this.appendWrite(userId, folderId, messages, true);
  }

  private async appendWrite(userId: number, folderId: number, messages: NewMessage[], claimRecent: boolean): Promise<AppendClaimResult> {
    if (messages.length === 0) {
      this.assertFolder(userId, folderId);
      return { appended: [], recent: claimRecent ? await this.claimRecent(userId, folderId) : null };
    }
    const now = Date.now();
    const saveDate = this.clock.now();
    const items = messages.map((m) => ({
      raw: m.raw, analysis: storedAnalysisOf(m.raw), flags: joinFlags(m.flags ?? []), internalDate: m.internalDate?.getTime() ?? now, saveDate,
    }));
    // the claim rides in the append's group commit: no transaction (and fsync) of its own
    const out = await this.writer.run<AppendClaimResult>({ kind: 'append', userId, folderId, items, quotaLimit: this.quotaLimitOf(userId), claimRecent });
    this.emit({ userId, folderId, kind: 'append', modseq: out.appended[out.appended.length - 1]!.modseq });
    return out;
  }

  protected async deliverWrite(userIds: number[], raw: Buffer, opts: DeliveryOptions, entry?: NewQueueEntry): Promise<Delivery & { queueId: number | null }> {
    const use = opts.specialUse ?? '\\Inbox';
    const targets = await Promise.all([...new Set(userIds)].map(async (userId): Promise<DeliveryTarget> => (
      { userId, folderId: (await this.getSpecialFolder(userId, use)).id, quotaLimit: this.quotaLimitOf(userId) }
    )));
    const analysis = storedAnalysisOf(raw);
    const enqueue = entry && { ...entry, analysis: storedAnalysisOf(entry.raw) };
    const out = await this.writer.run<DeliverOutcome>({
      kind: 'deliver', targets, raw, analysis, flags: joinFlags(opts.flags ?? []), internalDate: Date.now(), saveDate: this.clock.now(), enqueue,
    });
    const delivered = new Map(out.rows);
    for (const { userId, folderId } of targets) {
      const r = delivered.get(userId);
      if (r) this.emit({ userId, folderId, kind: 'append', modseq: r.modseq });
    }
    return { delivered, overQuota: out.overQuota, queueId: out.queueId };
  }

  /**
   * The user's quota limit in bytes (null: none), from StoreOptions.quotaLimit over the settings
   * this store holds; read before a write and enforced inside it. not-found for an unknown user.
   */
  private quotaLimitOf(userId: number): number | null {
    const u = this.q("SELECT database_id, (SELECT value FROM meta WHERE key = 'settings_version') AS version FROM users WHERE id = ?").get(userId) as
      | { database_id: number; version: string }
      | undefined;
    if (!u) throw new StoreError('not-found', `no user with id ${userId}`);
    if (!this.quotaLimit) return null;
    // The settings version changes with every settings write, in this process or another (CLI).
    const version = Number(u.version);
    if (this.settingsSnapshot?.version !== version) {
      this.settingsSnapshot = { version, list: this.readSettingOverrides() };
    }
    return this.quotaLimit({ userId, databaseId: u.database_id }, this.settingsSnapshot.list);
  }

  /**
   * Column-wise listing: SQLite builds one JSON array per column and V8's JSON.parse reads it,
   * which costs a fraction of handing over one row object (or array) per message through the
   * driver. Arrays are in UID order (the subquery's ORDER BY; checked, and sorted if not).
   */
  private listColumns(folderId: number, changedSince: number | undefined, columns: readonly string[]): unknown[][] {
    const cols = columns.join(', ');
    const where = changedSince !== undefined ? 'folder_id = ? AND modseq > ?' : 'folder_id = ?';
    const sql = `SELECT ${columns.map((c) => `json_group_array(${c})`).join(', ')} FROM (SELECT ${cols} FROM messages WHERE ${where} ORDER BY uid)`;
    const stmt = this.q(sql).raw();
    const texts = (changedSince !== undefined ? stmt.get(folderId, changedSince) : stmt.get(folderId)) as string[];
    const out = texts.map((t) => JSON.parse(t) as unknown[]);
    const uidCol = columns.indexOf('uid');
    const uids = out[uidCol] as number[];
    for (let i = 1; i < uids.length; i++) {
      if (uids[i - 1]! > uids[i]!) {
        const order = uids.map((_, k) => k).sort((a, b) => uids[a]! - uids[b]!);
        return out.map((col) => order.map((k) => col[k]));
      }
    }
    return out;
  }

  async listMessages(userId: number, folderId: number, opts: { changedSince?: number } = {}): Promise<MessageSummary[]> {
    this.assertFolder(userId, folderId);
    const [id, uid, modseq, flags, date, saved, size, hash] = this.listColumns(folderId, opts.changedSince, ['id', 'uid', 'modseq', 'flags', 'internal_date', 'save_date', 'size', 'blob_hash']) as [
      number[], number[], number[], string[], number[], Array<number | null>, number[], string[],
    ];
    const lists = splitEach(flags);
    const out = new Array<MessageSummary>(uid.length);
    for (let i = 0; i < uid.length; i++) {
      out[i] = { id: id[i]!, uid: uid[i]!, modseq: modseq[i]!, flags: lists[i] as string[], internalDate: new Date(date[i]!), saveDate: toDate(saved[i] ?? null), size: size[i]!, blobHash: hash[i]! };
    }
    return out;
  }

  async listMessageIndex(userId: number, folderId: number, opts: { changedSince?: number } = {}): Promise<MessageIndex> {
    if (opts.changedSince !== undefined) {
      this.assertFolder(userId, folderId);
      return this.readMessageIndex(folderId, opts.changedSince);
    }
    const f = this.q('SELECT message_count, highest_modseq, uid_next, uid_validity, unseen_count, total_size FROM folders WHERE id = ? AND user_id = ?').raw().get(folderId, userId) as number[] | undefined;
    if (!f) throw new StoreError('not-found', 'no such folder');
    if (f[0]! < INDEX_CACHE_MIN_MESSAGES) return this.readMessageIndex(folderId, undefined);
    // A big folder's index is kept while the folder row says nothing changed (see INDEX_CACHE_MIN_MESSAGES)
    const stamp = f.join(' ');
    let cached = this.indexCache.get(folderId);
    if (cached?.stamp !== stamp) {
      cached = { stamp, index: this.readMessageIndex(folderId, undefined) };
      this.indexCache.delete(folderId);
      this.indexCache.set(folderId, cached);
      for (const old of this.indexCache.keys()) {
        if (this.indexCache.size <= INDEX_CACHE_FOLDERS) break;
        this.indexCache.delete(old);
      }
    }
    // copies: the caller owns what it gets (and the store thread moves these buffers to the main thread)
    const { uids, modseqs, sizes, flags } = cached.index;
    return { uids: uids.slice(), modseqs: modseqs.slice(), sizes: sizes.slice(), flags: flags.slice() };
  }

  private readMessageIndex(folderId: number, changedSince: number | undefined): MessageIndex {
    const [uid, modseq, size, flags] = this.listColumns(folderId, changedSince, ['uid', 'modseq', 'size', 'flags']) as [number[], number[], number[], string[]];
    return { uids: Uint32Array.from(uid), modseqs: Float64Array.from(modseq), sizes: Float64Array.from(size), flags: splitEach(flags) };
  }

  private assertFolder(userId: number, folderId: number): void {
    if (!this.q('SELECT 1 FROM folders WHERE id = ? AND user_id = ?').get(folderId, userId)) throw new StoreError('not-found', 'no such folder');
  }

  async listMessagePage(userId: number, folderId: number, offset: number, limit: number, query?: string): Promise<{ total: number; items: MessageListItem[] }> {
    this.assertFolder(userId, folderId);
    const params: Record<string, unknown> = { folder: folderId, limit, offset };
    // list facts from message_list, flags from messages (by rowid: migration 6 keeps flags out of the list)
    const columns = 'l.id, m.object_id, m.email_id, l.uid, m.modseq, m.flags, l.internal_date, m.save_date, l.size, l.blob_hash, l.subject, l.from_text, l.to_text, l.sent_date, l.message_id, l.has_attachments, l.preview';
    let total: number;
    let rows: Array<MessageRow & ListExtra>;
    if (!query) {
      // message_list is stored in this order (migration 6): one page is one short range. The
      // offset is skipped inside the list before the join, so a deep page does not look up
      // the flags of every row it skips (offset 9,900 of 10,000: 1.2–1.8 ms instead of 3.2–4.5).
      total = this.q('SELECT message_count FROM folders WHERE id = @folder').pluck().get(params) as number;
      rows = this.q(
        `SELECT ${columns} FROM (SELECT * FROM message_list WHERE folder_id = @folder ORDER BY internal_date DESC, uid DESC LIMIT @limit OFFSET @offset) l
         JOIN messages m ON m.id = l.id ORDER BY l.internal_date DESC, l.uid DESC`,
      ).all(params) as Array<MessageRow & ListExtra>;
    } else {
      // header facts first; the message bytes are read only for rows they do not match (OR short-circuits)
      params.q = '%' + query.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
      params.raw = query;
      const from = `FROM message_list l JOIN messages m ON m.id = l.id JOIN blobs b ON b.hash = l.blob_hash WHERE l.folder_id = @folder
        AND (l.subject LIKE @q ESCAPE '\\' OR l.from_text LIKE @q ESCAPE '\\' OR l.to_text LIKE @q ESCAPE '\\' OR l.preview LIKE @q ESCAPE '\\'
          OR instr(lower(CAST(b.data AS TEXT)), lower(@raw)) > 0)`;
      total = this.q(`SELECT count(*) ${from}`).pluck().get(params) as number;
      rows = this.q(`SELECT ${columns} ${from} ORDER BY l.internal_date DESC, l.uid DESC LIMIT @limit OFFSET @offset`).all(params) as Array<MessageRow & ListExtra>;
    }
    return { total, items: rows.map((r) => toListItem(r)) };
  }

  async listMessagesAfter(userId: number, folderId: number, afterUid: number, beforeUid: number, limit: number): Promise<MessageListItem[]> {
    this.assertFolder(userId, folderId);
    // a range of the (folder_id, uid) index: the page's rows only, whatever the folder's size
    const rows = this.q(
      `SELECT m.id, m.object_id, m.email_id, m.uid, m.modseq, m.flags, m.internal_date, m.save_date, m.size, m.blob_hash, b.subject, b.from_text, b.to_text, b.sent_date, b.message_id, b.has_attachments, b.preview
       FROM messages m JOIN blobs b ON b.hash = m.blob_hash WHERE m.folder_id = ? AND m.uid > ? AND m.uid < ? ORDER BY m.uid LIMIT ?`,
    ).all(folderId, afterUid, beforeUid, limit) as Array<MessageRow & ListExtra>;
    return rows.map((r) => toListItem(r));
  }

  async getMessage(userId: number, objectId: string): Promise<(MessageListItem & { folderId: number }) | null> {
    const n = fromObjectId('message', objectId);
    if (n === null) return null;
    // by object id and user: another user's id is simply not found (one index probe, then the user check)
    const r = this.q(
      `SELECT m.id, m.object_id, m.email_id, m.folder_id, m.uid, m.modseq, m.flags, m.internal_date, m.save_date, m.size, m.blob_hash, b.subject, b.from_text, b.to_text, b.sent_date, b.message_id, b.has_attachments, b.preview
       FROM messages m JOIN folders f ON f.id = m.folder_id JOIN blobs b ON b.hash = m.blob_hash WHERE m.object_id = ? AND f.user_id = ?`,
    ).get(n, userId) as (MessageRow & ListExtra & { folder_id: number }) | undefined;
    return r ? { ...toListItem(r), folderId: r.folder_id } : null;
  }

  async getMessageByUid(userId: number, folderId: number, uid: number): Promise<MessageSummary | null> {
    this.assertFolder(userId, folderId);
    const r = this.q('SELECT id, uid, modseq, flags, internal_date, save_date, size, blob_hash FROM messages WHERE folder_id = ? AND uid = ?').get(folderId, uid) as MessageRow | undefined;
    return r ? toSummary(r) : null;
  }

  async getMessages(userId: number, folderId: number, uids: readonly number[], parts: MessageParts = {}): Promise<StoredMessage[]> {
    this.assertFolder(userId, folderId);
    if (uids.length === 0) return [];
    // the header cut here, at the end parseMessage found at delivery (root.headerEnd, root.headerStart is 0)
    const header = parts.header ? `, CASE WHEN b.structure IS NULL THEN b.data ELSE substr(b.data, 1, json_extract(b.structure, '$.root.headerEnd')) END AS header, b.structure IS NOT NULL AS header_cut` : '';
    const cols = `m.id, m.email_id, m.thread_id, m.uid, m.modseq, m.flags, m.internal_date, m.save_date, m.size, m.blob_hash${parts.raw ? ', b.data' : ''}${parts.structure ? ', b.structure' : ''}${header}${parts.objectId ? ', m.object_id' : ''}`;
    const join = parts.raw || parts.structure || parts.header ? ' JOIN blobs b ON b.hash = m.blob_hash' : '';
    // one statement for the lot: the UIDs as a JSON array (no statement per count of parameters)
    const rows = this.q(
      `SELECT ${cols} FROM messages m${join} WHERE m.folder_id = ? AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
    ).all(folderId, JSON.stringify(uids)) as Array<MessageRow & { data?: Buffer; structure?: string | null; header?: Buffer; header_cut?: number; object_id?: number }>;
    return rows.map((r) => {
      const m: StoredMessage = { ...toSummary(r), emailId: toObjectId('email', r.email_id), threadId: threadIdOf(r) };
      if (parts.objectId) m.objectId = toObjectId('message', r.object_id!);
      if (parts.raw) m.raw = r.data!;
      if (parts.structure) m.structure = r.structure ?? null;
      if (parts.header) m.header = headerBlock(r.header!, r.header_cut === 1);
      return m;
    });
  }

  async getSortFacts(userId: number, folderId: number, uids: readonly number[]): Promise<MessageSortFacts[]> {
    this.assertFolder(userId, folderId);
    if (uids.length === 0) return [];
    // the list row (schema step 13) by its key: small adjacent rows, not the blobs' pages
    const rows = this.q(
      `SELECT m.uid, m.internal_date, l.sort_facts, m.blob_hash FROM messages m
       JOIN message_list l ON l.folder_id = m.folder_id AND l.internal_date = m.internal_date AND l.uid = m.uid
       WHERE m.folder_id = ? AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
    ).raw().all(folderId, JSON.stringify(uids)) as Array<[number, number, string | null, string]>;
    return rows.map(([uid, internalDate, text, hash]) => ({
      uid, internalDate,
      // never null after step 13; from the bytes should a row lack them all the same
      facts: text === null ? storedSortFacts(this.q('SELECT data FROM blobs WHERE hash = ?').pluck().get(hash) as Buffer) : decodeSortFacts(text),
    }));
  }

  async readBlob(hash: string): Promise<Buffer> {
    const r = this.q('SELECT data FROM blobs WHERE hash = ?').get(hash) as { data: Buffer } | undefined;
    if (!r) throw new StoreError('not-found', 'message content not found');
    return r.data;
  }

  async readStructure(hash: string): Promise<string | null> {
    const r = this.q('SELECT structure FROM blobs WHERE hash = ?').get(hash) as { structure: string | null } | undefined;
    return r?.structure ?? null;
  }

  async storeFlags(userId: number, folderId: number, uids: number[], op: FlagOperation, flags: string[], unchangedSince?: number): Promise<{ changed: FlagChange[]; failedModified: number[] }> {
    this.assertFolder(userId, folderId);
    const result = await this.writeInGroup(() => {
      const folder = this.q('SELECT highest_modseq FROM folders WHERE id = ?').get(folderId) as { highest_modseq: number };
      const sel = this.q('SELECT id, uid, modseq, flags FROM messages WHERE folder_id = ? AND uid = ?');
      const upd = this.q('UPDATE messages SET flags = ?, modseq = ?, change_state = ? WHERE id = ?');
      const found = uids.map((uid) => sel.get(folderId, uid) as FlagRow | undefined).filter((r): r is FlagRow => r !== undefined);
      const { updates: rows, changed, failedModified, modseq } = planFlagChanges(found, op, flags, unchangedSince, folder.highest_modseq);
      // The account change states (change-state.ts) are set here, in the row's one update, as one
      // block: the trigger's per-row counter bump and second write of the row made a STORE of
      // 2,000 messages 5x slower. The trigger stays the fallback for writers that do not.
      const firstState = rows.length ? takeChangeStates((sql) => this.q(sql), rows.length) : 0;
      rows.forEach((r, i) => upd.run(r.flags, changed[i]!.modseq, firstState + i, r.id));
      if (changed.length) this.q('UPDATE folders SET highest_modseq = ? WHERE id = ?').run(modseq, folderId);
      return { changed, failedModified };
    });
    if (result.changed.length) this.emit({ userId, folderId, kind: 'flags', modseq: result.changed[result.changed.length - 1].modseq });
    return result;
  }

  async expunge(userId: number, folderId: number, uids?: number[]): Promise<number[]> {
    this.assertFolder(userId, folderId);
    const { removed, modseq } = await this.writeInGroup(() => {
      let rows = this.q("SELECT id, uid, size, blob_hash FROM messages WHERE folder_id = ? AND instr(' ' || flags || ' ', ' \\Deleted ') > 0 ORDER BY uid").all(folderId) as RemovableRow[];
      if (uids) {
        const wanted = new Set(uids);
        rows = rows.filter((r) => wanted.has(r.uid));
      }
      return this.removeRows(folderId, rows);
    });
    if (removed.length) this.emit({ userId, folderId, kind: 'expunge', modseq });
    return removed;
  }

  async removeMessages(userId: number, folderId: number, uids: number[]): Promise<number[]> {
    this.assertFolder(userId, folderId);
    const { removed, modseq } = await this.writeInGroup(() => {
      const sel = this.q('SELECT id, uid, size, blob_hash FROM messages WHERE folder_id = ? AND uid = ?');
      const rows = [...new Set(uids)].sort((a, b) => a - b).map((u) => sel.get(folderId, u) as RemovableRow | undefined).filter((r): r is RemovableRow => !!r);
      return this.removeRows(folderId, rows);
    });
    if (removed.length) this.emit({ userId, folderId, kind: 'expunge', modseq });
    return removed;
  }

  /** Deletes message rows, records them for QRESYNC and drops unreferenced blobs (the counters are triggers'). Caller holds the transaction. */
  private removeRows(folderId: number, rows: RemovableRow[]): { removed: number[]; modseq: number } {
    let modseq = (this.q('SELECT highest_modseq FROM folders WHERE id = ?').get(folderId) as { highest_modseq: number }).highest_modseq;
    if (rows.length === 0) return { removed: [], modseq };
    modseq += 1;
    const del = this.q('DELETE FROM messages WHERE id = ?');
    const rec = this.q('INSERT OR REPLACE INTO expunged (folder_id, uid, modseq) VALUES (?, ?, ?)');
    for (const r of rows) {
      del.run(r.id); // folder and user counters, the message list: triggers (schema migrations 5, 6, 9)
      rec.run(folderId, r.uid, modseq);
    }
    this.q('UPDATE folders SET highest_modseq = ? WHERE id = ?').run(modseq, folderId);
    for (const h of new Set(rows.map((r) => r.blob_hash))) this.dropBlobIfUnused(h);
    return { removed: rows.map((r) => r.uid), modseq };
  }

  protected async copyOrMove(userId: number, fromFolderId: number, uids: number[], toFolderId: number, move: boolean) {
    this.assertFolder(userId, fromFolderId);
    this.assertFolder(userId, toFolderId);
    const saveDate = this.clock.now(); // saved into the target now; the internal date travels with the message
    const out = await this.writeInGroup(() => {
      const sel = this.q('SELECT id, object_id, email_id, thread_id, thread_key, uid, modseq, flags, internal_date, size, blob_hash FROM messages WHERE folder_id = ? AND uid = ?');
      type Row = MessageRow & { thread_key: string | null };
      const rows = [...new Set(uids)].sort((a, b) => a - b).map((u) => sel.get(fromFolderId, u) as Row | undefined).filter((r): r is Row => !!r);
      if (!move) this.writes.checkRoom(userId, rows.reduce((s, r) => s + r.size, 0), this.quotaLimitOf(userId));
      const pairs: Array<[number, number]> = [];
      let uidValidity = 0;
      let lastModseq = 0;
      for (const r of rows) {
        // MOVE keeps the message's ids; COPY makes a new message of the same email (object-ids.ts)
        // (and both keep the thread: threads.ts)
        const thread = { threadId: r.thread_id ?? r.email_id, threadKey: r.thread_key };
        const carry = move ? { objectId: r.object_id, emailId: r.email_id, ...thread } : { emailId: r.email_id, ...thread };
        const res = this.writes.insertMessage(userId, toFolderId, r.blob_hash, r.size, r.flags, { internalDate: r.internal_date, saveDate }, carry);
        uidValidity = res.uidValidity;
        lastModseq = res.modseq;
        pairs.push([r.uid, res.uid]);
      }
      let expungeModseq = 0;
      if (move) expungeModseq = this.removeRows(fromFolderId, rows.map((r) => ({ id: r.id, uid: r.uid, size: r.size, blob_hash: r.blob_hash }))).modseq;
      if (!uidValidity) uidValidity = (this.q('SELECT uid_validity FROM folders WHERE id = ?').get(toFolderId) as { uid_validity: number }).uid_validity;
      return { uidValidity, pairs, lastModseq, expungeModseq };
    });
    return this.announceCopy(userId, fromFolderId, toFolderId, move, out);
  }

  async expungedSince(userId: number, folderId: number, modseq: number): Promise<ExpungedUid[]> {
    this.assertFolder(userId, folderId);
    return this.q('SELECT uid, modseq FROM expunged WHERE folder_id = ? AND modseq > ? ORDER BY uid').all(folderId, modseq) as ExpungedUid[];
  }

  // ---------------------------------------------------------------- mobile devices (devices.ts)

  private devicesTable?: SqliteDevices;
  private get devices(): SqliteDevices {
    return (this.devicesTable ??= new SqliteDevices((sql) => this.q(sql), (fn) => this.write(fn)));
  }

  async upsertDevice(update: MobileDeviceUpdate): Promise<MobileDevice> {
    return this.devices.upsert(update, Date.now());
  }

  async listDevices(userId?: number): Promise<MobileDevice[]> {
    return this.devices.list(userId);
  }

  async removeDevice(userId: number, deviceId: string): Promise<boolean> {
    return this.devices.remove(userId, deviceId);
  }

  async getDeviceState(userId: number, deviceId: string, name: string): Promise<string | null> {
    return this.devices.getState(userId, deviceId, name);
  }

  async putDeviceState(userId: number, deviceId: string, name: string, value: string | null): Promise<void> {
    this.devices.putState(userId, deviceId, name, value);
  }

  async quota(userId: number): Promise<QuotaUsage> {
    const limit = this.quotaLimitOf(userId);
    const u = this.q('SELECT used_bytes, message_count FROM users WHERE id = ?').get(userId) as { used_bytes: number; message_count: number };
    return { usedBytes: u.used_bytes, messages: u.message_count, limitBytes: limit ?? 0 };
  }

  async changeState(userId: number): Promise<string> {
    return currentState((sql) => this.q(sql), userId);
  }

  async changesSince(userId: number, sinceState: string, maxChanges: number, opts: { folderId?: number } = {}): Promise<AccountChanges> {
    return changesSince(this.db, (sql) => this.q(sql), userId, sinceState, maxChanges, opts.folderId);
  }

  // ---------------------------------------------------------------- events

  // Events share the group commit with deliveries: one "message delivered" record per message
  // would otherwise cost a commit (an fsync) of its own.
  async appendEvent(e: NewEvent): Promise<EventRecord> {
    const recordId = await this.writer.run<number>({
      kind: 'event',
      params: [e.time.getTime(), e.provider, e.eventId, e.qualifiers, e.level, e.task, e.keywords, e.computer, e.user, JSON.stringify(e.data), e.message, e.count ?? 1],
    });
    return { ...e, recordId, count: e.count ?? 1 };
  }

  async incrementEventCount(recordId: number): Promise<void> {
    await this.writer.run({ kind: 'event-count', recordId });
  }

  async listEvents(filter: EventFilter = {}): Promise<EventRecord[]> {
    // Events are often written without waiting (a refusal logs and answers at once): a listing
    // includes every event this process sent to the writer before asking.
    await this.writer.settled();
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.eventId !== undefined) { where.push('event_id = ?'); params.push(filter.eventId); }
    if (filter.provider !== undefined) { where.push('provider = ? COLLATE NOCASE'); params.push(filter.provider); }
    if (filter.level !== undefined) { where.push('level = ?'); params.push(filter.level); }
    if (filter.since !== undefined) { where.push('time >= ?'); params.push(filter.since.getTime()); }
    if (filter.user !== undefined) { where.push('user = ? COLLATE NOCASE'); params.push(filter.user); }
    if (filter.recordId !== undefined) { where.push('record_id = ?'); params.push(filter.recordId); }
    const sql = `SELECT * FROM events ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY record_id LIMIT ?`;
    params.push(filter.limit ?? 100_000);
    return (this.db.prepare(sql).all(...params) as EventRow[]).map(toEventRecord);
  }

  // ---------------------------------------------------------------- queue

  async enqueue(sender: string, recipients: string[], raw: Buffer, submittedBy: number | null, dsn: QueueDsn | null = null): Promise<QueueEntry> {
    const id = this.write(() => this.writes.insertQueueEntry(sender, recipients, this.putBlob(raw), Date.now(), submittedBy, dsn));
    return (await this.listQueue()).find((q) => q.id === id)!;
  }

  async listQueue(): Promise<QueueEntry[]> {
    return (this.q('SELECT * FROM queue ORDER BY id').all() as QueueRow[]).map((r) => toQueueEntry(r));
  }

  async dueQueueEntries(now: Date): Promise<QueueEntry[]> {
    return (this.q('SELECT * FROM queue WHERE next_attempt <= ? ORDER BY next_attempt LIMIT 100').all(now.getTime()) as QueueRow[]).map((r) => toQueueEntry(r));
  }

  async updateQueueEntry(id: number, c: QueueEntryUpdate): Promise<void> {
    const notified = c.delayNotified === undefined ? null : c.delayNotified ? 1 : 0;
    this.q('UPDATE queue SET attempts = ?, next_attempt = ?, last_error = ?, delay_notified = coalesce(?, delay_notified) WHERE id = ?').run(c.attempts, c.nextAttempt.getTime(), c.lastError, notified, id);
  }

  async removeQueueEntry(id: number): Promise<boolean> {
    return this.write(() => {
      const r = this.q('SELECT blob_hash FROM queue WHERE id = ?').get(id) as { blob_hash: string } | undefined;
      if (!r) return false;
      this.q('DELETE FROM queue WHERE id = ?').run(id);
      this.dropBlobIfUnused(r.blob_hash);
      return true;
    });
  }
}

// Typed errors only (store.ts): every operation answers a SQLite failure as a StoreError.
typedErrorsOnly(SqliteStore.prototype);

/** What removing a message row needs to know of it. */
interface RemovableRow { id: number; uid: number; size: number; blob_hash: string }
