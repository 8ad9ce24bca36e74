import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import pg from 'pg';
import { StoreError } from '../errors.js';
import type { MobileDevice, MobileDeviceUpdate } from '../types.js';

import { analyseMessage, headerBlock } from '../analyse.js';
import { hashPassword, passwordSalt, verifyPassword } from '../../util/password.js';
import { typedErrorsOnly } from '../typed-errors.js';
import { isRetryable, toStoreError } from './backend-errors.js';
import { GroupCommitter, type GroupOutcome } from './group-commit.js';
import { ADDRESS_DOMAIN, AFTER_MIGRATION, MIGRATION_LOCK, MIGRATIONS, SCHEMA_TABLE } from './migrations.js';
import { decodeSortFacts, encodeSortFacts, storedSortFacts } from '../../mime/sort-facts.js';
import { referenceKeys, threadKey } from '../threads.js';
import type { Delivery, DeliveryOptions, MessageParts, NewMessage, NewQueueEntry, NewUser, QueueEntryUpdate, Store, StoreChange, StoreOptions } from '../store.js';
import { InProcessChangeBus, type ChangeBus } from '../change-bus.js';
import { StoreBase } from '../store-base.js';
import { fromObjectId, toObjectId } from '../object-ids.js';
import {
  DEVICE_FIELDS, DEVICE_SELECT, FOLDER_SELECT, joinFlags, planFlagChanges, splitEach, threadIdOf, toDatabase, toDate, toDevice, toEventRecord, toFolder, toListItem, toQueueEntry,
  toSummary, toUser, USER_SELECT, type DatabaseRow, type DeviceRow, type EventRow, type FlagRow, type FolderRow, type ListExtra, type MessageRow, type QueueRow, type UserRow,
} from '../rows.js';
import { changeLimit, mergeChanges, parseSinceState, TOMBSTONE_DAYS, type ChangeEntry, type ChangeScope } from '../change-history.js';
import {
  canonicalFolderName, checkDeletable, checkPassword, chooseAlias, DEFAULT_DATABASE, DEFAULT_FOLDERS, DEFAULT_ORGANISATION,
  defaultFolderName, displayNameFor, DUMMY_PASSWORD_HASH, nextUidValidity, normaliseAddress, normaliseDatabaseName,
  normaliseDomain, renameMovesMessages, renamePlan, validateFolderName,
} from '../rules.js';
import type {
  AccountChanges, AppendClaimResult, AppendResult, EventFilter, EventRecord, ExpungedUid, FlagChange, FlagOperation, Folder, FolderCounts, FolderStatus,
  MailboxDatabase, MessageIndex, MessageListItem, MessageSortFacts, MessageSummary, NewEvent, Organisation, QueueDsn, QueueEntry, QuotaUsage,
  RecentClaim, SettingOverride, SpecialUse, StoredMessage, User,
} from '../types.js';

/**
 * The PostgreSQL backend of the Store contract (store.ts), for several Mailwarden nodes on one
 * database. Every write is one transaction on a pooled connection (deliveries: several in one,
 * commitDeliveries); what must be ordered is
 * ordered by row locks held until commit:
 *  - the user's row (lockUsers, FOR NO KEY UPDATE) by every write of that user's folders and
 *    messages: change states (a global sequence, the objects' ids too) are taken under it, so a
 *    user's states commit in increasing order and `changesSince` never misses a change that
 *    commits later with a lower state; the quota check reads usage the write then commits on;
 *  - the folder's row (lockFolder, SELECT … FOR UPDATE) by every write of its messages: UIDs and
 *    MODSEQs are allocated under it inside the inserting transaction, so messages become visible
 *    in UID order — UID n+1 cannot commit before n (the separate-counter allocation of WildDuck
 *    and James lets it).
 * Serialization failures and deadlocks rerun the transaction; a lost connection is `unavailable`
 * (the pool connects again on the next call: a restarted PostgreSQL needs nothing from us).
 */

type Client = pg.PoolClient;
type Row = Record<string, unknown>;

/** BIGINT (int8) columns as numbers: ids, UIDs, MODSEQs, sizes and times all stay below 2^53. For every connection to a store. */
export const PG_TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** The counters the triggers keep on each folder row. */
interface FolderCountRow { message_count: number; unseen_count: number; total_size: number }
interface RemovableRow { id: number; uid: number; size: number; blob_hash: string }

/** One message to insert under a folder lock (insertMessages). */
interface MessageInsert {
  hash: string; size: number; flags: string; internalDate: number; saveDate: number; objectId?: number; emailId?: number;
  /** A copy's or move's thread (carried); else `thread` says how to find it (threads.ts). */
  threadId?: number; threadKey?: string | null;
  thread?: ThreadLookup;
}
/** A new message's thread key and the keys of its References (threads.ts). */
interface ThreadLookup { key: string | null; refs: string[] }

function threadLookup(userId: number, encodedFacts: string): ThreadLookup {
  const f = decodeSortFacts(encodedFacts);
  return { key: f.messageId ? threadKey(userId, f.messageId) : null, refs: referenceKeys(userId, f.references) };
}
/** The thread of a new message: its References' thread, else `fresh` (a SQL expression). */
const threadIdSql = (refs: string, fresh: string) => `coalesce((SELECT t.thread_id FROM messages t WHERE t.thread_key = ANY(${refs}::TEXT[]) LIMIT 1), ${fresh})`;

const MESSAGE_COLUMNS = 'm.id, m.object_id, m.email_id, m.thread_id, m.thread_key, m.uid, m.modseq, m.flags, m.internal_date, m.save_date, m.size, m.blob_hash';
const LIST_COLUMNS = `${MESSAGE_COLUMNS}, b.subject, b.from_text, b.to_text, b.sent_date, b.message_id, b.has_attachments, b.preview`;


/** A blob's row (putBlob's parameters): hash, size, data, structure, then the facts of the list view. */
type BlobRow = [hash: string, size: number, data: Buffer, structure: string, subject: unknown, from: unknown, to: unknown, sentDate: number | null, messageId: unknown, hasAttachments: number, preview: unknown, sortFacts: string];
const INSERT_BLOB = 'INSERT INTO blobs (hash, size, data, structure, subject, from_text, to_text, sent_date, message_id, has_attachments, preview, sort_facts)';

function blobRow(raw: Buffer): BlobRow {
  const a = analyseMessage(raw);
  const f = a.facts;
  return [a.hash, raw.length, raw, JSON.stringify(a.structure), f.subject, f.from, f.to, f.date?.getTime() ?? null, f.messageId, f.hasAttachments ? 1 : 0, f.preview, encodeSortFacts(a.sortFacts)];
}

/**
 * One delivered copy in one statement (one round trip instead of six): the folder's row locked
 * (FOR UPDATE: the UID and MODSEQ are allocated under it, inside the inserting transaction), a
 * change state, the message, the folder's and the user's counters. $1 folder, $2 user, $3 flags,
 * $4 internal date, $5 size, $6 blob hash, $7 save date. No row back: no such folder. The caller holds the
 * user's lock (taken in an earlier statement, so this statement's snapshot sees the folder row
 * as the previous holder committed it).
 */
function deliverySql(withBlob: boolean): string {
  // with the blob ($8 data … $16 preview, $17 sort facts): stored once with the message's first copy; an existing
  // row is locked by the no-op update, as in putBlob. Then the thread key and the References' keys (threads.ts).
  const key = withBlob ? 18 : 8
  const blob = withBlob
    ? `b AS (${INSERT_BLOB}
         VALUES ($6::TEXT, $5::BIGINT, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (hash) DO UPDATE SET size = excluded.size RETURNING hash), `
    : '';
  return `WITH ${blob}f AS (SELECT id, uid_next, uid_validity, highest_modseq FROM folders WHERE id = $1::BIGINT AND user_id = $2::BIGINT FOR UPDATE),
    s AS (SELECT nextval('change_state_seq') AS s FROM f),
    m AS (INSERT INTO messages (folder_id, uid, modseq, flags, internal_date, save_date, size, blob_hash, object_id, email_id, change_state, thread_id, thread_key)
          SELECT f.id, f.uid_next, f.highest_modseq + 1, $3::TEXT, $4::BIGINT, $7::BIGINT, $5::BIGINT, ${withBlob ? 'b.hash' : '$6::TEXT'}, s.s, s.s, s.s,
            ${threadIdSql(`$${key + 1}`, 's.s')}, $${key}::TEXT FROM f, s${withBlob ? ', b' : ''}
          RETURNING id, uid, modseq, object_id),
    uf AS (UPDATE folders SET uid_next = m.uid + 1, highest_modseq = m.modseq FROM m WHERE folders.id = $1::BIGINT),
    uu AS (UPDATE users SET used_bytes = used_bytes + $5::BIGINT, message_count = message_count + 1 FROM m WHERE users.id = $2::BIGINT)
    SELECT m.id, m.uid, m.modseq, m.object_id, f.uid_validity FROM m, f`;
}
const DELIVER = deliverySql(false);
const DELIVER_WITH_BLOB = deliverySql(true);

/** One deliver()/deliverAndEnqueue() call, waiting for its group's transaction (GroupCommitter). */
interface DeliveryJob {
  targets: Array<{ userId: number; folderId: number; quotaLimit: number | null }>;
  raw: Buffer;
  flags: string;
  now: number;
  saveDate: number;
  entry: NewQueueEntry | undefined;
}
type DeliveryOutcome = Delivery & { queueId: number | null };
/** Deliveries of one node writing at once, each a group; and at most this many in a group. */
const DELIVERY_GROUPS_IN_FLIGHT = 2;
const DELIVERIES_PER_GROUP = 32;

/**
 * The pg settings of a postgres:// URL. Without a user in the URL or PGUSER, the login name, as
 * libpq (psql) does: `postgres://127.0.0.1/mail` works for the Unix user the database knows.
 */
export function connectionConfig(url: string): pg.PoolConfig {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StoreError('invalid', 'the store URL is not a postgres://… URL');
  }
  // in the URL: pg lets the URL's (empty) fields override separate settings
  if (!u.username && !process.env.PGUSER) u.username = encodeURIComponent(userInfo().username);
  return { connectionString: u.toString() };
}

export interface PostgresStoreOptions extends StoreOptions {
  organisation?: string;
  serverName?: string;
  changes?: ChangeBus;
  onBackgroundError?: (what: string, err: unknown) => void;
  /** Connections of this node's pool (default 10). */
  poolSize?: number;
  /** How long an outbound queue entry handed to this node stays its own (default 10 minutes): see dueQueueEntries. */
  queueLeaseMs?: number;
  /** This node's name in queue leases (default host:pid:random, one per store). */
  nodeName?: string;
}

export class PostgresStore extends StoreBase implements Store {
  readonly backend = 'postgres';
  readonly changes: ChangeBus;
  private readonly pool: pg.Pool;
  private closed = false;
  private closing: Promise<void> | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private org!: Organisation;
  private readonly quotaLimit: StoreOptions['quotaLimit'];
  /** StoreOptions.clock: where save dates come from. */
  private readonly clock: { now(): number };
  private settingsSnapshot: { version: number; list: SettingOverride[] } | null = null;
  private readonly onBackgroundError: (what: string, err: unknown) => void;
  private readonly queueLeaseMs: number;
  private readonly nodeName: string;
  private readonly deliveries = new GroupCommitter<DeliveryJob, DeliveryOutcome>((jobs) => this.commitDeliveries(jobs), DELIVERY_GROUPS_IN_FLIGHT, DELIVERIES_PER_GROUP);

  private constructor(readonly url: string, opts: PostgresStoreOptions) {
    super();
    this.changes = opts.changes ?? new InProcessChangeBus();
    this.quotaLimit = opts.quotaLimit;
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.onBackgroundError = opts.onBackgroundError ?? ((what, err) => console.error(`store: ${what}:`, err));
    this.queueLeaseMs = opts.queueLeaseMs ?? 10 * 60_000;
    // unique per store: a node started again must not take its predecessor's leases for its own
    this.nodeName = opts.nodeName ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.pool = new pg.Pool({ ...connectionConfig(url), max: opts.poolSize ?? 10, types: PG_TYPES, connectionTimeoutMillis: 10_000 });
    // an idle connection that dies (PostgreSQL restarted) must not take the process with it:
    // the pool drops it and connects again on the next call
    this.pool.on('error', (err) => this.onBackgroundError('an idle PostgreSQL connection failed (the pool reconnects)', err));
  }

  /** Opens the store in the PostgreSQL database at `url` (postgres://…), creating and migrating its schema. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const store = new PostgresStore(url, opts);
    try {
      await store.initialise(opts);
      return store;
    } catch (err) {
      await store.pool.end().catch(() => undefined);
      throw toStoreError(err);
    }
  }

  /** Migrates and fills the first rows, once, under an advisory lock (nodes may start together). */
  private async initialise(opts: PostgresStoreOptions): Promise<void> {
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const marked = (await c.query('SELECT to_regclass($1) IS NOT NULL AS ok', [SCHEMA_TABLE])).rows[0].ok as boolean;
      let version = 0;
      if (marked) {
        version = (await c.query(`SELECT version FROM ${SCHEMA_TABLE}`)).rows[0]?.version ?? 0;
      } else {
        const tables = (await c.query("SELECT count(*) AS n FROM pg_tables WHERE schemaname = current_schema()")).rows[0].n as number;
        if (tables > 0) throw new StoreError('not-a-mailwarden-database', 'the PostgreSQL database holds tables of another application, not a Mailwarden store');
        await c.query(`CREATE TABLE ${SCHEMA_TABLE} (version INTEGER NOT NULL)`);
        await c.query(`INSERT INTO ${SCHEMA_TABLE} (version) VALUES (0)`);
      }
      if (version > MIGRATIONS.length) {
        throw new StoreError('invalid', `store schema version ${version} is newer than this Mailwarden (${MIGRATIONS.length}); upgrade Mailwarden`);
      }
      for (let v = version; v < MIGRATIONS.length; v++) {
        await c.query(MIGRATIONS[v]!);
        await AFTER_MIGRATION[v + 1]?.(c);
        await c.query(`UPDATE ${SCHEMA_TABLE} SET version = $1`, [v + 1]);
      }
      const has = (await c.query("SELECT 1 FROM meta WHERE key = 'organisation'")).rowCount;
      if (!has) {
        const ins = 'INSERT INTO meta (key, value) VALUES ($1, $2)';
        await c.query(ins, ['organisation', opts.organisation ?? DEFAULT_ORGANISATION]);
        await c.query(ins, ['server_name', opts.serverName ?? hostname()]);
        await c.query(ins, ['settings_version', '0']);
        await c.query(ins, ['last_uid_validity', '0']);
        await c.query(ins, ['changes_floor', '0']);
        await c.query('INSERT INTO databases (name, created_at) VALUES ($1, $2)', [DEFAULT_DATABASE, Date.now()]);
      }
    });
    const meta = new Map((await this.rows<{ key: string; value: string }>('SELECT key, value FROM meta')).map((r) => [r.key, r.value]));
    this.org = { name: meta.get('organisation')!, serverName: meta.get('server_name')! };
    this.schedulePruning(60_000);
  }

  /** Tombstones older than TOMBSTONE_DAYS go a minute after opening, then daily (as SQLite's). */
  private schedulePruning(delayMs: number): void {
    this.pruneTimer = setTimeout(() => {
      void this.pruneTombstones(new Date(Date.now() - TOMBSTONE_DAYS * 86_400_000))
        .catch((err) => this.onBackgroundError('pruning tombstones failed (tried again tomorrow)', err))
        .finally(() => {
          if (!this.closed) this.schedulePruning(86_400_000);
        });
    }, delayMs);
    this.pruneTimer.unref();
  }

  /** Drops tombstones older than `before` and raises the floor of answerable states past them. */
  async pruneTombstones(before: Date): Promise<number> {
    const cutoff = Math.floor(before.getTime() / 1000);
    return this.tx(async (c) => {
      const newest = (await c.query('SELECT max(state) AS s FROM tombstones WHERE time < $1', [cutoff])).rows[0].s as number | null;
      if (newest === null) return 0;
      await c.query("UPDATE meta SET value = greatest(value::BIGINT, $1)::TEXT WHERE key = 'changes_floor'", [newest]);
      return (await c.query('DELETE FROM tombstones WHERE time < $1', [cutoff])).rowCount ?? 0;
    });
  }

  // ---------------------------------------------------------------- plumbing

  private check(): void {
    if (this.closed) throw new StoreError('read-only', 'the store is closed');
  }

  private async rows<T = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.check();
    return (await this.pool.query(sql, params)).rows as T[];
  }

  private async row<T = Row>(sql: string, params: unknown[] = []): Promise<T | undefined> {
    return (await this.rows<T>(sql, params))[0];
  }

  /**
   * One transaction on one pooled connection; run again (from the start) after a serialization
   * failure or deadlock. A connection that failed is dropped from the pool, not reused.
   */
  private async tx<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    this.check();
    for (let attempt = 0; ; attempt++) {
      const c = await this.pool.connect();
      let broken: Error | undefined;
      // a connection that dies while checked out emits 'error' (PostgreSQL restarted): without a
      // listener that would end the process; the query in flight fails, and the client is dropped
      const lost = (err: Error) => (broken = err);
      c.on('error', lost);
      try {
        await c.query('BEGIN');
        const out = await fn(c);
        await c.query('COMMIT');
        return out;
      } catch (err) {
        await c.query('ROLLBACK').catch((e: Error) => (broken = e));
        if (isRetryable(err) && attempt < 8) continue;
        throw err;
      } finally {
        c.off('error', lost);
        c.release(broken);
      }
    }
  }

  /** A read of several statements that must agree (one snapshot). */
  private async snapshot<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    return this.tx(async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      return fn(c);
    });
  }

  protected emit(change: StoreChange): void {
    this.changes.publish(change);
  }

  async close(): Promise<void> {
    this.closing ??= (async () => {
      await this.deliveries.idle(); // deliveries handed over before have their transaction
      this.closed = true;
      if (this.pruneTimer) clearTimeout(this.pruneTimer);
      await this.pool.end(); // waits for the connections to be given back: writes sent before have committed
    })();
    return this.closing;
  }

  async organisation(): Promise<Organisation> {
    return this.org;
  }

  /**
   * Locks the users' rows (in id order: two writers never wait for each other in a circle) for
   * the rest of the transaction; `not-found` when one is missing. See the class comment.
   */
  private async lockUsers(c: Client, userIds: number[]): Promise<void> {
    const ids = [...new Set(userIds)].sort((a, b) => a - b);
    const r = await c.query('SELECT id FROM users WHERE id = ANY($1::BIGINT[]) ORDER BY id FOR NO KEY UPDATE', [ids]);
    if (r.rowCount !== ids.length) throw new StoreError('not-found', `no user with id ${ids.find((id) => !r.rows.some((x) => x.id === id))}`);
  }

  /** Locks a folder's row for the transaction (UIDs and MODSEQs are allocated under it). `not-found`. */
  private async lockFolder(c: Client, userId: number, folderId: number): Promise<{ uid_next: number; uid_validity: number; highest_modseq: number; name: string }> {
    const f = (await c.query('SELECT uid_next, uid_validity, highest_modseq, name FROM folders WHERE id = $1 AND user_id = $2 FOR UPDATE', [folderId, userId])).rows[0];
    if (!f) throw new StoreError('not-found', 'no such folder');
    return f as { uid_next: number; uid_validity: number; highest_modseq: number; name: string };
  }

  /** `n` new change states, ascending; caller holds the user's lock (lockUsers). */
  private async takeStates(c: Client, n: number): Promise<number[]> {
    if (n === 0) return [];
    const r = await c.query("SELECT nextval('change_state_seq') AS s FROM generate_series(1, $1)", [n]);
    return (r.rows as Array<{ s: number }>).map((x) => x.s).sort((a, b) => a - b);
  }

  // ---------------------------------------------------------------- directory

  async createDatabase(name: string): Promise<MailboxDatabase> {
    const clean = normaliseDatabaseName(name);
    if (await this.findDatabase(clean)) throw new StoreError('exists', `mailbox database "${clean}" exists already`);
    const r = await this.row<DatabaseRow>('INSERT INTO databases (name, created_at) VALUES ($1, $2) RETURNING *', [clean, Date.now()]);
    return toDatabase(r!);
  }

  async listDatabases(): Promise<MailboxDatabase[]> {
    return (await this.rows<DatabaseRow>('SELECT id, name, created_at FROM databases ORDER BY id')).map(toDatabase);
  }

  async findDatabase(name: string): Promise<MailboxDatabase | null> {
    const r = await this.row<DatabaseRow>('SELECT id, name, created_at FROM databases WHERE lower(name) = lower($1)', [name.trim()]);
    return r ? toDatabase(r) : null;
  }

  async createUser(nu: NewUser): Promise<User> {
    const { address, database, hash } = await this.checkNewUser(nu);
    const base = address.split('@')[0]!.replace(/[^a-z0-9._-]/gi, '') || 'user';
    const id = await this.tx(async (c) => {
      const taken = new Set((await c.query("SELECT lower(alias) AS a FROM users WHERE lower(alias) LIKE $1 || '%'", [base.toLowerCase().replace(/[%_\\]/g, '\\$&')])).rows.map((r) => r.a as string));
      const alias = chooseAlias(address, (a) => taken.has(a.toLowerCase()));
      // a concurrent creation of the same address (another node, the CLI) fails on the unique index here: `exists`
      const userId = (await c.query(
        'INSERT INTO users (alias, address, display_name, password_hash, database_id, is_admin, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
        [alias, address, displayNameFor(nu.displayName, alias), hash, database.id, nu.isAdmin ? 1 : 0, Date.now()],
      )).rows[0].id as number;
      await c.query('INSERT INTO addresses (address, user_id) VALUES ($1, $2)', [address, userId]);
      for (const [name, use] of DEFAULT_FOLDERS) await this.insertFolder(c, userId, name, use);
      return userId;
    });
    return (await this.getUser(id))!;
  }

  async listUsers(): Promise<User[]> {
    return (await this.rows<UserRow>(`${USER_SELECT} ORDER BY u.address COLLATE "C"`)).map((r) => toUser(r, this.org.name));
  }

  private async findUserRow(identity: string): Promise<UserRow | undefined> {
    const id = identity.trim().toLowerCase();
    return id.includes('@')
      ? this.row<UserRow>(`${USER_SELECT} JOIN addresses a ON a.user_id = u.id WHERE a.address = $1`, [id])
      : this.row<UserRow>(`${USER_SELECT} WHERE lower(u.alias) = $1`, [id]);
  }

  async findUser(identity: string): Promise<User | null> {
    const r = await this.findUserRow(identity);
    return r ? toUser(r, this.org.name) : null;
  }

  async getUser(id: number): Promise<User | null> {
    const r = await this.row<UserRow>(`${USER_SELECT} WHERE u.id = $1`, [id]);
    return r ? toUser(r, this.org.name) : null;
  }

  async isLocalDomain(domain: string): Promise<boolean> {
    const d = normaliseDomain(domain);
    if (!d) return false;
    return (await this.row(`SELECT 1 FROM addresses WHERE ${ADDRESS_DOMAIN} = $1 LIMIT 1`, [d])) !== undefined;
  }

  async verifyPassword(identity: string, password: string): Promise<User | null> {
    const row = await this.findUserRow(identity);
    // hash even for unknown users so that timing does not tell which addresses exist
    const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_PASSWORD_HASH);
    return ok && row ? toUser(row, this.org.name) : null;
  }

  async credentialStamp(identity: string): Promise<{ user: User; stamp: string } | null> {
    const r = await this.findUserRow(identity);
    return r ? { user: toUser(r, this.org.name), stamp: passwordSalt(r.password_hash) } : null;
  }

  async setPassword(userId: number, password: string): Promise<void> {
    checkPassword(password);
    const hash = await hashPassword(password);
    this.check();
    const r = await this.pool.query('UPDATE users SET password_hash = $1 WHERE id = $2', [hash, userId]);
    if (r.rowCount === 0) throw new StoreError('not-found', `no user with id ${userId}`);
  }

  async removeUser(userId: number): Promise<void> {
    await this.tx(async (c) => {
      await this.lockUsers(c, [userId]);
      const hashes = (await c.query('SELECT DISTINCT m.blob_hash FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.user_id = $1', [userId])).rows.map((r) => r.blob_hash as string);
      await c.query('DELETE FROM users WHERE id = $1', [userId]);
      // the folders' delete trigger left tombstones of a user who is gone
      await c.query('DELETE FROM tombstones WHERE user_id = $1', [userId]);
      await this.dropBlobsIfUnused(c, hashes);
      await c.query("DELETE FROM settings WHERE scope = 'user' AND target_id = $1", [userId]);
    });
  }

  async addAddress(userId: number, address: string): Promise<void> {
    const a = normaliseAddress(address);
    if (await this.findUser(a)) throw new StoreError('exists', `${a} belongs to a mailbox already`);
    await this.rows('INSERT INTO addresses (address, user_id) VALUES ($1, $2)', [a, userId]);
  }

  // ---------------------------------------------------------------- settings

  async listSettingOverrides(): Promise<SettingOverride[]> {
    return (await this.rows<{ scope: SettingOverride['scope']; target_id: number; name: string; value: string }>(
      'SELECT scope, target_id, name, value FROM settings ORDER BY scope COLLATE "C", target_id, name COLLATE "C"',
    )).map((r) => ({ scope: r.scope, targetId: r.target_id, name: r.name, value: r.value }));
  }

  async putSetting(o: SettingOverride): Promise<void> {
    await this.tx(async (c) => {
      await c.query('INSERT INTO settings (scope, target_id, name, value) VALUES ($1, $2, $3, $4) ON CONFLICT (scope, target_id, name) DO UPDATE SET value = excluded.value', [o.scope, o.targetId, o.name, o.value]);
      await this.bumpSettingsVersion(c);
    });
  }

  async deleteSetting(o: Omit<SettingOverride, 'value'>): Promise<boolean> {
    return this.tx(async (c) => {
      const r = await c.query('DELETE FROM settings WHERE scope = $1 AND target_id = $2 AND name = $3', [o.scope, o.targetId, o.name]);
      await this.bumpSettingsVersion(c);
      return (r.rowCount ?? 0) > 0;
    });
  }

  private async bumpSettingsVersion(c: Client): Promise<void> {
    await c.query("UPDATE meta SET value = (value::BIGINT + 1)::TEXT WHERE key = 'settings_version'");
  }

  async settingsVersion(): Promise<number> {
    return Number((await this.row<{ value: string }>("SELECT value FROM meta WHERE key = 'settings_version'"))!.value);
  }

  // ---------------------------------------------------------------- folders

  /** A new folder row (and its subscription), its id and change state from the sequence; caller holds the user's lock. */
  private async insertFolder(c: Client, userId: number, name: string, use: SpecialUse | null, subscribe = true): Promise<number> {
    const last = Number((await c.query("SELECT value FROM meta WHERE key = 'last_uid_validity' FOR UPDATE")).rows[0].value);
    const uidValidity = nextUidValidity(last, Date.now());
    await c.query("UPDATE meta SET value = $1 WHERE key = 'last_uid_validity'", [String(uidValidity)]);
    const [state] = await this.takeStates(c, 1);
    const id = (await c.query(
      'INSERT INTO folders (user_id, name, special_use, uid_validity, object_id, change_state) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id',
      [userId, name, use, uidValidity, state],
    )).rows[0].id as number;
    if (subscribe) await c.query('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, name]);
    return id;
  }

  private async folderRows(userId: number): Promise<Array<FolderRow & FolderCountRow>> {
    return this.rows<FolderRow & FolderCountRow>(`${FOLDER_SELECT} WHERE f.user_id = $1 ORDER BY f.name = 'INBOX' DESC, f.name COLLATE "C"`, [userId]);
  }

  async listFolders(userId: number): Promise<Folder[]> {
    return (await this.folderRows(userId)).map(toFolder);
  }

  async listFolderCounts(userId: number): Promise<FolderCounts[]> {
    return (await this.folderRows(userId)).map((r) => ({ folder: toFolder(r), messages: r.message_count, unseen: r.unseen_count, size: r.total_size }));
  }

  async getFolder(userId: number, name: string): Promise<Folder | null> {
    const r = await this.row<FolderRow>(`${FOLDER_SELECT} WHERE f.user_id = $1 AND f.name = $2`, [userId, canonicalFolderName(name)]);
    return r ? toFolder(r) : null;
  }

  async getFolderById(userId: number, folderId: number): Promise<Folder | null> {
    const r = await this.row<FolderRow>(`${FOLDER_SELECT} WHERE f.user_id = $1 AND f.id = $2`, [userId, folderId]);
    return r ? toFolder(r) : null;
  }

  async getSpecialFolder(userId: number, use: SpecialUse): Promise<Folder> {
    const r = await this.row<FolderRow>(`${FOLDER_SELECT} WHERE f.user_id = $1 AND f.special_use = $2 ORDER BY f.id LIMIT 1`, [userId, use]);
    if (r) return toFolder(r);
    const name = defaultFolderName(use);
    const existing = await this.getFolder(userId, name);
    if (existing) return existing;
    try {
      return await this.createFolder(userId, name, use);
    } catch (err) {
      // another node made it meanwhile
      const made = (err as StoreError).kind === 'exists' ? await this.getFolder(userId, name) : null;
      if (made) return made;
      throw err;
    }
  }

  async createFolder(userId: number, name: string, specialUse: SpecialUse | null = null, opts: { subscribe?: boolean } = {}): Promise<Folder> {
    validateFolderName(name);
    const id = await this.tx(async (c) => {
      await this.lockUsers(c, [userId]);
      if ((await c.query('SELECT 1 FROM folders WHERE user_id = $1 AND name = $2', [userId, canonicalFolderName(name)])).rowCount) throw new StoreError('exists', `folder "${name}" exists already`);
      return this.insertFolder(c, userId, name, specialUse, opts.subscribe ?? true);
    });
    this.emit({ userId, folderId: id, kind: 'folders', modseq: 0 });
    return (await this.getFolderById(userId, id))!;
  }

  async renameFolder(userId: number, folderId: number, newName: string): Promise<void> {
    validateFolderName(newName);
    const inboxExpunge = await this.tx(async (c): Promise<number> => {
      await this.lockUsers(c, [userId]);
      const folder = await this.lockFolder(c, userId, folderId);
      if ((await c.query('SELECT 1 FROM folders WHERE user_id = $1 AND name = $2', [userId, canonicalFolderName(newName)])).rowCount) {
        throw new StoreError('exists', `folder "${newName}" exists already`);
      }
      if (renameMovesMessages(folder.name)) {
        // RFC 3501 6.3.5 (rules.ts): INBOX's messages move to a new folder, INBOX stays, empty
        const newId = await this.insertFolder(c, userId, newName, null);
        const msgs = (await c.query('SELECT id, uid, object_id FROM messages WHERE folder_id = $1 ORDER BY uid', [folderId])).rows as Array<{ id: number; uid: number; object_id: number }>;
        const states = await this.takeStates(c, msgs.length * 2);
        const uids = msgs.map((_, i) => i + 1);
        // moved rows keep their ids and MODSEQs, get new UIDs from 1 and a change state each
        await c.query(
          `UPDATE messages m SET folder_id = $1, uid = v.uid, change_state = v.state
           FROM unnest($2::BIGINT[], $3::BIGINT[], $4::BIGINT[]) AS v(id, uid, state) WHERE m.id = v.id`,
          [newId, msgs.map((m) => m.id), uids, states.slice(msgs.length)],
        );
        const uidNext = msgs.length + 1;
        await c.query('UPDATE folders SET uid_next = $1, first_recent_uid = $1, highest_modseq = $2 WHERE id = $3', [uidNext, folder.highest_modseq, newId]);
        if (msgs.length === 0) return 0;
        // for sessions that have INBOX selected the messages are gone: expunged, as QRESYNC records it
        const modseq = folder.highest_modseq + 1;
        await c.query(
          'INSERT INTO expunged (folder_id, uid, modseq) SELECT $1, u, $2 FROM unnest($3::BIGINT[]) AS u ON CONFLICT (folder_id, uid) DO UPDATE SET modseq = excluded.modseq',
          [folderId, modseq, msgs.map((m) => m.uid)],
        );
        // and for a folder sync of INBOX they left, as after a MOVE: a tombstone naming INBOX
        await c.query(
          `INSERT INTO tombstones (user_id, state, kind, object_id, folder_id, time)
           SELECT $1, v.state, 'message', v.o, (SELECT object_id FROM folders WHERE id = $2), extract(epoch FROM now())::BIGINT
           FROM unnest($3::BIGINT[], $4::BIGINT[]) AS v(state, o)`,
          [userId, folderId, states.slice(0, msgs.length), msgs.map((m) => m.object_id)],
        );
        await c.query('UPDATE folders SET highest_modseq = $1 WHERE id = $2', [modseq, folderId]);
        return modseq;
      }
      const prefix = folder.name + '/';
      const children = (await c.query('SELECT id, name FROM folders WHERE user_id = $1 AND left(name, $2) = $3', [userId, prefix.length, prefix])).rows as Array<{ id: number; name: string }>;
      const ids = new Map([[folder.name, folderId], ...children.map((ch): [string, number] => [ch.name, ch.id])]);
      for (const [from, to] of renamePlan(folder.name, newName, ids.keys())) {
        const [state] = await this.takeStates(c, 1);
        await c.query('UPDATE folders SET name = $1, change_state = $2 WHERE id = $3', [to, state, ids.get(from)]);
        // a renamed folder keeps its subscription (rules.ts renamePlan)
        if ((await c.query('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, from])).rowCount) {
          await c.query('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, to]);
        }
      }
      return 0;
    });
    this.emit({ userId, folderId, kind: 'folders', modseq: 0 });
    if (inboxExpunge) this.emit({ userId, folderId, kind: 'expunge', modseq: inboxExpunge });
  }

  async deleteFolder(userId: number, folderId: number): Promise<void> {
    await this.tx(async (c) => {
      await this.lockUsers(c, [userId]);
      const folder = await this.lockFolder(c, userId, folderId);
      checkDeletable(folder.name);
      const hashes = (await c.query('SELECT DISTINCT blob_hash FROM messages WHERE folder_id = $1', [folderId])).rows.map((r) => r.blob_hash as string);
      const gone = (await c.query('DELETE FROM messages WHERE folder_id = $1 RETURNING size', [folderId])).rows as Array<{ size: number }>;
      await c.query('DELETE FROM folders WHERE id = $1', [folderId]);
      await c.query('UPDATE users SET used_bytes = used_bytes - $1, message_count = message_count - $2 WHERE id = $3', [gone.reduce((s, r) => s + r.size, 0), gone.length, userId]);
      await this.dropBlobsIfUnused(c, hashes);
    });
    this.emit({ userId, folderId, kind: 'folders', modseq: 0 });
  }

  async setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void> {
    if (!subscribed) {
      await this.rows('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, name]);
      return;
    }
    if (!(await this.getFolder(userId, name))) throw new StoreError('not-found', `no folder "${name}"`);
    await this.rows('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, name]);
  }

  async listSubscriptions(userId: number): Promise<string[]> {
    return (await this.rows<{ name: string }>('SELECT name FROM subscriptions WHERE user_id = $1 ORDER BY name COLLATE "C"', [userId])).map((r) => r.name);
  }

  async folderStatus(userId: number, folderId: number): Promise<FolderStatus> {
    // one statement: one snapshot of the counters and of the \Recent count
    const f = await this.row<{ message_count: number; unseen_count: number; total_size: number; uid_next: number; uid_validity: number; highest_modseq: number; first_recent_uid: number; recent: number }>(
      `SELECT message_count, unseen_count, total_size, uid_next, uid_validity, highest_modseq, first_recent_uid,
         CASE WHEN first_recent_uid < uid_next THEN (SELECT count(*) FROM messages WHERE folder_id = f.id AND uid >= f.first_recent_uid) ELSE 0 END AS recent
       FROM folders f WHERE id = $1 AND user_id = $2`,
      [folderId, userId],
    );
    if (!f) throw new StoreError('not-found', 'no such folder');
    return {
      messages: f.message_count, unseen: f.unseen_count, recent: f.recent, firstRecentUid: f.first_recent_uid, size: f.total_size,
      uidNext: f.uid_next, uidValidity: f.uid_validity, highestModseq: f.highest_modseq,
    };
  }

  async claimRecent(userId: number, folderId: number): Promise<RecentClaim | null> {
    const seen = await this.row<{ first: number; next: number }>('SELECT first_recent_uid AS first, uid_next AS next FROM folders WHERE id = $1 AND user_id = $2', [folderId, userId]);
    // the usual answer (nothing new) is a read
    if (!seen || seen.first >= seen.next) return null;
    // again under the row's lock: another session (on any node) may have claimed meanwhile
    return this.tx((c) => this.claimIn(c, userId, folderId));
  }

  /** claimRecent's write inside the caller's transaction: locks the folder row, moves its mark past what is unclaimed. */
  private async claimIn(c: Client, userId: number, folderId: number): Promise<RecentClaim | null> {
    const m = (await c.query('SELECT first_recent_uid AS first, uid_next AS next FROM folders WHERE id = $1 AND user_id = $2 FOR UPDATE', [folderId, userId])).rows[0] as { first: number; next: number } | undefined;
    if (!m || m.first >= m.next) return null;
    await c.query('UPDATE folders SET first_recent_uid = $1 WHERE id = $2', [m.next, folderId]);
    return { from: m.first, to: m.next };
  }

  // ---------------------------------------------------------------- messages

  /**
   * Stores the bytes once (content-addressed) with everything computed at delivery. An existing
   * row is locked (the no-op update), so a concurrent removal of its last message cannot drop it
   * before this transaction's message refers to it (mw_drop_blobs).
   */
  private async putBlob(c: Client, raw: Buffer): Promise<string> {
    return (await this.putBlobRow(c, raw))[0];
  }

  private async putBlobRow(c: Client, raw: Buffer): Promise<BlobRow> {
    const row = blobRow(raw);
    await c.query(`${INSERT_BLOB} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (hash) DO UPDATE SET size = excluded.size`, row);
    return row;
  }

  private async dropBlobsIfUnused(c: Client, hashes: Iterable<string>): Promise<void> {
    const list = [...new Set(hashes)];
    if (list.length) await c.query('SELECT mw_drop_blobs($1::TEXT[])', [list]);
  }

  /**
   * Inserts messages into a folder, in order: the next UIDs, one new MODSEQ each, change states
   * (and new ids unless carried over); the folder's and user's counters. Takes the folder's lock
   * itself; the caller holds the user's (lockUsers).
   */
  private async insertMessages(c: Client, userId: number, folderId: number, items: MessageInsert[]): Promise<AppendResult[]> {
    const f = await this.lockFolder(c, userId, folderId);
    if (items.length === 0) return [];
    const states = await this.takeStates(c, items.length);
    const uids = items.map((_, i) => f.uid_next + i);
    const modseqs = items.map((_, i) => f.highest_modseq + 1 + i);
    const objectIds = items.map((m, i) => m.objectId ?? states[i]!);
    const emailIds = items.map((m, i) => m.emailId ?? objectIds[i]!);
    // a new message's thread: one probe each; a parent earlier in this same batch is not a row yet, so it is looked up here
    const threadIds: number[] = [];
    const batchThreads = new Map<string, number>();
    for (const [i, m] of items.entries()) {
      let t = m.threadId;
      if (t === undefined && m.thread?.refs.length) {
        const inBatch = m.thread.refs.find((r) => batchThreads.has(r));
        t = inBatch !== undefined ? batchThreads.get(inBatch)! : Number((await c.query(`SELECT ${threadIdSql('$1', '$2::BIGINT')} AS t`, [m.thread.refs, objectIds[i]])).rows[0].t);
      }
      t ??= objectIds[i]!;
      threadIds.push(t);
      if (m.thread?.key) batchThreads.set(m.thread.key, t);
    }
    const ids = (await c.query(
      `INSERT INTO messages (folder_id, uid, modseq, flags, internal_date, save_date, size, blob_hash, object_id, email_id, change_state, thread_id, thread_key)
       SELECT $1, * FROM unnest($2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::BIGINT[], $8::TEXT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[], $12::BIGINT[], $13::TEXT[])
       RETURNING id, uid`,
      [folderId, uids, modseqs, items.map((m) => m.flags), items.map((m) => m.internalDate), items.map((m) => m.saveDate), items.map((m) => m.size), items.map((m) => m.hash), objectIds, emailIds, states,
        threadIds, items.map((m) => (m.threadId !== undefined ? m.threadKey ?? null : m.thread?.key ?? null))],
    )).rows as Array<{ id: number; uid: number }>;
    const idOf = new Map(ids.map((r) => [r.uid, r.id]));
    await c.query('UPDATE folders SET uid_next = $1, highest_modseq = $2 WHERE id = $3', [f.uid_next + items.length, modseqs[modseqs.length - 1], folderId]);
    await c.query('UPDATE users SET used_bytes = used_bytes + $1, message_count = message_count + $2 WHERE id = $3', [items.reduce((s, m) => s + m.size, 0), items.length, userId]);
    return items.map((_, i) => ({ id: idOf.get(uids[i]!)!, objectId: toObjectId('message', objectIds[i]!), uid: uids[i]!, uidValidity: f.uid_validity, modseq: modseqs[i]! }));
  }

  /** Whether `bytes` more fit under `limit` (null: none); caller holds the user's lock. */
  private async hasRoom(c: Client, userId: number, bytes: number, limit: number | null): Promise<boolean> {
    if (limit === null) return true;
    const used = (await c.query('SELECT used_bytes FROM users WHERE id = $1', [userId])).rows[0]?.used_bytes as number | undefined;
    if (used === undefined) throw new StoreError('not-found', `no user with id ${userId}`);
    return used + bytes <= limit;
  }

  private async checkRoom(c: Client, userId: number, bytes: number, limit: number | null): Promise<void> {
    if (!(await this.hasRoom(c, userId, bytes, limit))) throw new StoreError('over-quota', `mailbox is over its quota of ${limit} bytes`);
  }

  async appendMany(userId: number, folderId: number, messages: NewMessage[]): Promise<AppendResult[]> {
    return (await this.appendWrite(userId, folderId, messages, false)).appended;
  }

  async appendAndClaimRecent(userId: number, folderId: number, messages: NewMessage[]): Promise<AppendClaimResult> {
    return this.appendWrite(userId, folderId, messages, true);
  }

  private async appendWrite(userId: number, folderId: number, messages: NewMessage[], claimRecent: boolean): Promise<AppendClaimResult> {
    const limit = await this.quotaLimitOf(userId);
    const now = Date.now();
    const saveDate = this.clock.now();
    const out = await this.tx(async (c): Promise<AppendClaimResult> => {
      await this.lockUsers(c, [userId]);
      if (messages.length === 0) {
        await this.lockFolder(c, userId, folderId);
        return { appended: [], recent: claimRecent ? await this.claimIn(c, userId, folderId) : null };
      }
      await this.checkRoom(c, userId, messages.reduce((n, m) => n + m.raw.length, 0), limit);
      const items: MessageInsert[] = [];
      for (const m of messages) {
        const blob = await this.putBlobRow(c, m.raw);
        items.push({ hash: blob[0], thread: threadLookup(userId, blob[11]), size: m.raw.length, flags: joinFlags(m.flags ?? []), internalDate: m.internalDate?.getTime() ?? now, saveDate });
      }
      const appended = await this.insertMessages(c, userId, folderId, items);
      // the folder row is locked already (insertMessages): the claim adds two statements, not a transaction
      return { appended, recent: claimRecent ? await this.claimIn(c, userId, folderId) : null };
    });
    const results = out.appended;
    if (results.length) this.emit({ userId, folderId, kind: 'append', modseq: results[results.length - 1]!.modseq });
    return out;
  }

  protected async deliverWrite(userIds: number[], raw: Buffer, opts: DeliveryOptions, entry?: NewQueueEntry): Promise<Delivery & { queueId: number | null }> {
    this.check();
    const use = opts.specialUse ?? '\\Inbox';
    const targets = await Promise.all([...new Set(userIds)].map((userId) => this.deliveryTarget(userId, use)));
    const out = await this.deliveries.run({ targets, raw, flags: joinFlags(opts.flags ?? []), now: Date.now(), saveDate: this.clock.now(), entry });
    for (const { userId, folderId } of targets) {
      const r = out.delivered.get(userId);
      if (r) this.emit({ userId, folderId, kind: 'append', modseq: r.modseq });
    }
    return out;
  }

  /**
   * One transaction for a group of deliveries (GroupCommitter). When it fails for a reason of
   * one delivery (a folder or user removed meanwhile, a value the store refuses), each delivery
   * is written again in a transaction of its own, so that one failing delivery fails no other.
   * A lost connection fails them all: the store is unavailable for each of them alike.
   */
  private async commitDeliveries(jobs: DeliveryJob[]): Promise<Array<GroupOutcome<DeliveryOutcome>>> {
    try {
      const out = await this.tx((c) => this.writeDeliveries(c, jobs));
      return out.map((value) => ({ ok: true, value }));
    } catch (err) {
      const e = toStoreError(err);
      if (jobs.length === 1 || (e instanceof StoreError && e.kind === 'unavailable')) return jobs.map(() => ({ ok: false, error: err }));
      const alone: Array<GroupOutcome<DeliveryOutcome>> = [];
      for (const job of jobs) {
        alone.push(await this.tx((c) => this.writeDeliveries(c, [job])).then(([value]) => ({ ok: true as const, value: value! }), (error: unknown) => ({ ok: false as const, error })));
      }
      return alone;
    }
  }

  /**
   * The deliveries of a group, in order, on one transaction: every recipient's row locked at once
   * (in id order, with its usage: the quota check below counts what this transaction adds), then
   * one statement per delivered copy (deliverySql), the first of a message storing its bytes too.
   */
  private async writeDeliveries(c: Client, jobs: DeliveryJob[]): Promise<DeliveryOutcome[]> {
    const ids = [...new Set(jobs.flatMap((j) => j.targets.map((t) => t.userId)))].sort((a, b) => a - b);
    const locked = (await c.query('SELECT id, used_bytes FROM users WHERE id = ANY($1::BIGINT[]) ORDER BY id FOR NO KEY UPDATE', [ids])).rows as Array<{ id: number; used_bytes: number }>;
    const used = new Map(locked.map((r) => [r.id, r.used_bytes]));
    const missing = ids.find((id) => !used.has(id));
    if (missing !== undefined) throw new StoreError('not-found', `no user with id ${missing}`);
    const out: DeliveryOutcome[] = [];
    for (const { targets, raw, flags, now, saveDate, entry } of jobs) {
      const delivered = new Map<number, AppendResult>();
      const overQuota: number[] = [];
      let blob: BlobRow | null = null;
      for (const t of targets) {
        const before = used.get(t.userId)!;
        if (t.quotaLimit !== null && before + raw.length > t.quotaLimit) {
          overQuota.push(t.userId);
          continue;
        }
        const first = blob === null;
        blob ??= blobRow(raw);
        const base = [t.folderId, t.userId, flags, now, raw.length, blob[0], saveDate];
        const thread = threadLookup(t.userId, blob[11]);
        const r = (await c.query(first ? DELIVER_WITH_BLOB : DELIVER, [...base, ...(first ? blob.slice(2) : []), thread.key, thread.refs])).rows[0] as
          { id: number; uid: number; modseq: number; object_id: number; uid_validity: number } | undefined;
        if (!r) throw new StoreError('not-found', 'no such folder');
        used.set(t.userId, before + raw.length);
        delivered.set(t.userId, { id: r.id, objectId: toObjectId('message', r.object_id), uid: r.uid, uidValidity: r.uid_validity, modseq: r.modseq });
      }
      const queueId = entry ? await this.insertQueueEntry(c, entry.sender, entry.recipients, await this.putBlob(c, entry.raw), now, entry.submittedBy, entry.dsn ?? null) : null;
      out.push({ delivered, overQuota, queueId });
    }
    return out;
  }

  /** Where a delivery to the user goes and their quota limit, in one read (the folder is made when missing). `not-found`. */
  private async deliveryTarget(userId: number, use: SpecialUse): Promise<DeliveryJob['targets'][number]> {
    const u = await this.row<{ database_id: number; version: string; folder_id: number | null }>(
      `SELECT database_id, (SELECT value FROM meta WHERE key = 'settings_version') AS version,
         (SELECT f.id FROM folders f WHERE f.user_id = u.id AND f.special_use = $2 ORDER BY f.id LIMIT 1) AS folder_id
       FROM users u WHERE id = $1`, [userId, use],
    );
    if (!u) throw new StoreError('not-found', `no user with id ${userId}`);
    const folderId = u.folder_id ?? (await this.getSpecialFolder(userId, use)).id;
    return { userId, folderId, quotaLimit: await this.quotaLimitFrom(userId, u) };
  }

  /** The user's quota limit (StoreOptions.quotaLimit over the settings, re-read when their version moved). `not-found`. */
  private async quotaLimitOf(userId: number): Promise<number | null> {
    const u = await this.row<{ database_id: number; version: string }>(
      "SELECT database_id, (SELECT value FROM meta WHERE key = 'settings_version') AS version FROM users WHERE id = $1", [userId],
    );
    if (!u) throw new StoreError('not-found', `no user with id ${userId}`);
    return this.quotaLimitFrom(userId, u);
  }

  private async quotaLimitFrom(userId: number, u: { database_id: number; version: string }): Promise<number | null> {
    if (!this.quotaLimit) return null;
    const version = Number(u.version);
    if (this.settingsSnapshot?.version !== version) this.settingsSnapshot = { version, list: await this.listSettingOverrides() };
    return this.quotaLimit({ userId, databaseId: u.database_id }, this.settingsSnapshot.list);
  }

  private async assertFolder(userId: number, folderId: number): Promise<void> {
    if (!(await this.row('SELECT 1 FROM folders WHERE id = $1 AND user_id = $2', [folderId, userId]))) throw new StoreError('not-found', 'no such folder');
  }

  async listMessages(userId: number, folderId: number, opts: { changedSince?: number } = {}): Promise<MessageSummary[]> {
    const rows = await this.folderMessages(userId, folderId, opts.changedSince, 'id, uid, modseq, flags, internal_date, save_date, size, blob_hash');
    const lists = splitEach(rows.map((r) => r[3] as string));
    return rows.map((r, i) => ({
      id: r[0] as number, uid: r[1] as number, modseq: r[2] as number, flags: lists[i]!, internalDate: new Date(r[4] as number), saveDate: toDate(r[5] as number | null),
      size: r[6] as number, blobHash: r[7] as string,
    }));
  }

  async listMessageIndex(userId: number, folderId: number, opts: { changedSince?: number } = {}): Promise<MessageIndex> {
    const rows = await this.folderMessages(userId, folderId, opts.changedSince, 'uid, modseq, size, flags');
    return {
      uids: Uint32Array.from(rows, (r) => r[0] as number), modseqs: Float64Array.from(rows, (r) => r[1] as number),
      sizes: Float64Array.from(rows, (r) => r[2] as number), flags: splitEach(rows.map((r) => r[3] as string)),
    };
  }

  /** A folder's message rows (as arrays of `columns`), ascending by UID; one snapshot with the folder check. */
  private async folderMessages(userId: number, folderId: number, changedSince: number | undefined, columns: string): Promise<unknown[][]> {
    return this.snapshot(async (c) => {
      if (!(await c.query('SELECT 1 FROM folders WHERE id = $1 AND user_id = $2', [folderId, userId])).rowCount) throw new StoreError('not-found', 'no such folder');
      const r = changedSince === undefined
        ? await c.query({ text: `SELECT ${columns} FROM messages WHERE folder_id = $1 ORDER BY uid`, values: [folderId], rowMode: 'array' })
        : await c.query({ text: `SELECT ${columns} FROM messages WHERE folder_id = $1 AND modseq > $2 ORDER BY uid`, values: [folderId, changedSince], rowMode: 'array' });
      return r.rows as unknown[][];
    });
  }

  async listMessagePage(userId: number, folderId: number, offset: number, limit: number, query?: string): Promise<{ total: number; items: MessageListItem[] }> {
    return this.snapshot(async (c) => {
      const f = (await c.query('SELECT message_count FROM folders WHERE id = $1 AND user_id = $2', [folderId, userId])).rows[0] as { message_count: number } | undefined;
      if (!f) throw new StoreError('not-found', 'no such folder');
      if (!query) {
        const rows = (await c.query(
          `SELECT ${LIST_COLUMNS} FROM messages m JOIN blobs b ON b.hash = m.blob_hash WHERE m.folder_id = $1
           ORDER BY m.internal_date DESC, m.uid DESC LIMIT $2 OFFSET $3`,
          [folderId, limit, offset],
        )).rows as Array<MessageRow & ListExtra>;
        return { total: f.message_count, items: rows.map((r) => toListItem(r)) };
      }
      // header facts first; the bytes only for rows they do not match (OR short-circuits)
      const like = '%' + query.replace(/[\\%_]/g, (ch) => '\\' + ch) + '%';
      const from = `FROM messages m JOIN blobs b ON b.hash = m.blob_hash WHERE m.folder_id = $1
        AND (b.subject ILIKE $2 OR b.from_text ILIKE $2 OR b.to_text ILIKE $2 OR b.preview ILIKE $2
          OR position(lower($3) IN lower(encode(b.data, 'escape'))) > 0)`;
      const total = (await c.query(`SELECT count(*) AS n ${from}`, [folderId, like, query])).rows[0].n as number;
      const rows = (await c.query(`SELECT ${LIST_COLUMNS} ${from} ORDER BY m.internal_date DESC, m.uid DESC LIMIT $4 OFFSET $5`, [folderId, like, query, limit, offset])).rows as Array<MessageRow & ListExtra>;
      return { total, items: rows.map((r) => toListItem(r)) };
    });
  }

  async listMessagesAfter(userId: number, folderId: number, afterUid: number, beforeUid: number, limit: number): Promise<MessageListItem[]> {
    return this.snapshot(async (c) => {
      if (!(await c.query('SELECT 1 FROM folders WHERE id = $1 AND user_id = $2', [folderId, userId])).rowCount) throw new StoreError('not-found', 'no such folder');
      // a range of the (folder_id, uid) index: the page's rows only, whatever the folder's size
      const rows = (await c.query(
        `SELECT ${LIST_COLUMNS} FROM messages m JOIN blobs b ON b.hash = m.blob_hash WHERE m.folder_id = $1 AND m.uid > $2 AND m.uid < $3
         ORDER BY m.uid LIMIT $4`,
        [folderId, afterUid, beforeUid, limit],
      )).rows as Array<MessageRow & ListExtra>;
      return rows.map((r) => toListItem(r));
    });
  }

  async getMessage(userId: number, objectId: string): Promise<(MessageListItem & { folderId: number }) | null> {
    const n = fromObjectId('message', objectId);
    if (n === null) return null;
    const r = await this.row<MessageRow & ListExtra & { folder_id: number }>(
      `SELECT ${LIST_COLUMNS}, m.folder_id FROM messages m JOIN folders f ON f.id = m.folder_id JOIN blobs b ON b.hash = m.blob_hash
       WHERE m.object_id = $1 AND f.user_id = $2`,
      [n, userId],
    );
    return r ? { ...toListItem(r), folderId: r.folder_id } : null;
  }

  async getMessageByUid(userId: number, folderId: number, uid: number): Promise<MessageSummary | null> {
    await this.assertFolder(userId, folderId);
    const r = await this.row<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.folder_id = $1 AND m.uid = $2`, [folderId, uid]);
    return r ? toSummary(r) : null;
  }

  async getMessages(userId: number, folderId: number, uids: readonly number[], parts: MessageParts = {}): Promise<StoredMessage[]> {
    await this.assertFolder(userId, folderId);
    if (uids.length === 0) return [];
    // the header cut here, at the end parseMessage found at delivery (root.headerEnd, root.headerStart is 0)
    const header = parts.header ? `, CASE WHEN b.structure IS NULL THEN b.data ELSE substring(b.data FROM 1 FOR ((b.structure::json)->'root'->>'headerEnd')::int) END AS header, b.structure IS NOT NULL AS header_cut` : '';
    const cols = `${MESSAGE_COLUMNS}${parts.raw ? ', b.data' : ''}${parts.structure ? ', b.structure' : ''}${header}`;
    const join = parts.raw || parts.structure || parts.header ? ' JOIN blobs b ON b.hash = m.blob_hash' : '';
    const rows = await this.rows<MessageRow & { data?: Buffer; structure?: string | null; header?: Buffer; header_cut?: boolean }>(
      `SELECT ${cols} FROM messages m${join} WHERE m.folder_id = $1 AND m.uid = ANY($2::BIGINT[]) ORDER BY m.uid`,
      [folderId, [...uids]],
    );
    return rows.map((r) => {
      const m: StoredMessage = { ...toSummary(r), emailId: toObjectId('email', r.email_id), threadId: threadIdOf(r) };
      if (parts.objectId) m.objectId = toObjectId('message', r.object_id);
      if (parts.raw) m.raw = r.data!;
      if (parts.structure) m.structure = r.structure ?? null;
      if (parts.header) m.header = headerBlock(r.header!, r.header_cut === true);
      return m;
    });
  }

  async getSortFacts(userId: number, folderId: number, uids: readonly number[]): Promise<MessageSortFacts[]> {
    await this.assertFolder(userId, folderId);
    if (uids.length === 0) return [];
    const rows = (await this.pool.query({
      text: `SELECT m.uid, m.internal_date, b.sort_facts, CASE WHEN b.sort_facts IS NULL THEN b.data END FROM messages m JOIN blobs b ON b.hash = m.blob_hash
             WHERE m.folder_id = $1 AND m.uid = ANY($2::BIGINT[]) ORDER BY m.uid`,
      values: [folderId, [...uids]], rowMode: 'array',
    })).rows as Array<[number | string, number | string, string | null, Buffer | null]>;
    // never null after migration 6; from the bytes should a row lack them all the same
    return rows.map(([uid, date, text, data]) => ({ uid: Number(uid), internalDate: Number(date), facts: text === null ? storedSortFacts(data!) : decodeSortFacts(text) }));
  }

  async readBlob(hash: string): Promise<Buffer> {
    const r = await this.row<{ data: Buffer }>('SELECT data FROM blobs WHERE hash = $1', [hash]);
    if (!r) throw new StoreError('not-found', 'message content not found');
    return r.data;
  }

  async readStructure(hash: string): Promise<string | null> {
    return (await this.row<{ structure: string | null }>('SELECT structure FROM blobs WHERE hash = $1', [hash]))?.structure ?? null;
  }

  async storeFlags(userId: number, folderId: number, uids: number[], op: FlagOperation, flags: string[], unchangedSince?: number): Promise<{ changed: FlagChange[]; failedModified: number[] }> {
    const result = await this.tx(async (c) => {
      await this.lockUsers(c, [userId]);
      const f = await this.lockFolder(c, userId, folderId);
      const rows = (await c.query('SELECT id, uid, modseq, flags FROM messages WHERE folder_id = $1 AND uid = ANY($2::BIGINT[]) ORDER BY uid', [folderId, [...new Set(uids)]])).rows as FlagRow[];
      const { updates, changed, failedModified, modseq } = planFlagChanges(rows, op, flags, unchangedSince, f.highest_modseq);
      if (updates.length) {
        const states = await this.takeStates(c, updates.length);
        await c.query(
          `UPDATE messages m SET flags = v.flags, modseq = v.modseq, change_state = v.state
           FROM unnest($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[]) AS v(id, flags, modseq, state) WHERE m.id = v.id`,
          [updates.map((u) => u.id), updates.map((u) => u.flags), changed.map((ch) => ch.modseq), states],
        );
        await c.query('UPDATE folders SET highest_modseq = $1 WHERE id = $2', [modseq, folderId]);
      }
      return { changed, failedModified };
    });
    if (result.changed.length) this.emit({ userId, folderId, kind: 'flags', modseq: result.changed[result.changed.length - 1]!.modseq });
    return result;
  }

  async expunge(userId: number, folderId: number, uids?: number[]): Promise<number[]> {
    const { removed, modseq } = await this.tx(async (c) => {
      await this.lockUsers(c, [userId]);
      const f = await this.lockFolder(c, userId, folderId);
      let rows = (await c.query("SELECT id, uid, size, blob_hash FROM messages WHERE folder_id = $1 AND position(' \\Deleted ' IN ' ' || flags || ' ') > 0 ORDER BY uid", [folderId])).rows as RemovableRow[];
      if (uids) {
        const wanted = new Set(uids);
        rows = rows.filter((r) => wanted.has(r.uid));
      }
      return this.removeRows(c, userId, folderId, f.highest_modseq, rows);
    });
    if (removed.length) this.emit({ userId, folderId, kind: 'expunge', modseq });
    return removed;
  }

  async removeMessages(userId: number, folderId: number, uids: number[]): Promise<number[]> {
    const { removed, modseq } = await this.tx(async (c) => {
      await this.lockUsers(c, [userId]);
      const f = await this.lockFolder(c, userId, folderId);
      const rows = (await c.query('SELECT id, uid, size, blob_hash FROM messages WHERE folder_id = $1 AND uid = ANY($2::BIGINT[]) ORDER BY uid', [folderId, [...new Set(uids)]])).rows as RemovableRow[];
      return this.removeRows(c, userId, folderId, f.highest_modseq, rows);
    });
    if (removed.length) this.emit({ userId, folderId, kind: 'expunge', modseq });
    return removed;
  }

  /** Deletes message rows (one new MODSEQ for all), records them for QRESYNC, fixes quota, drops unused blobs. Caller holds both locks. */
  private async removeRows(c: Client, userId: number, folderId: number, highestModseq: number, rows: RemovableRow[]): Promise<{ removed: number[]; modseq: number }> {
    if (rows.length === 0) return { removed: [], modseq: highestModseq };
    const modseq = highestModseq + 1;
    await c.query('DELETE FROM messages WHERE id = ANY($1::BIGINT[])', [rows.map((r) => r.id)]);
    await c.query(
      'INSERT INTO expunged (folder_id, uid, modseq) SELECT $1, u, $2 FROM unnest($3::BIGINT[]) AS u ON CONFLICT (folder_id, uid) DO UPDATE SET modseq = excluded.modseq',
      [folderId, modseq, rows.map((r) => r.uid)],
    );
    await c.query('UPDATE folders SET highest_modseq = $1 WHERE id = $2', [modseq, folderId]);
    await c.query('UPDATE users SET used_bytes = used_bytes - $1, message_count = message_count - $2 WHERE id = $3', [rows.reduce((s, r) => s + r.size, 0), rows.length, userId]);
    await this.dropBlobsIfUnused(c, rows.map((r) => r.blob_hash));
    return { removed: rows.map((r) => r.uid), modseq };
  }

  protected async copyOrMove(userId: number, fromFolderId: number, uids: number[], toFolderId: number, move: boolean) {
    const limit = move ? null : await this.quotaLimitOf(userId);
    const saveDate = this.clock.now(); // saved into the target now; the internal date travels with the message
    const out = await this.tx(async (c) => {
      await this.lockUsers(c, [userId]);
      // both folders, in id order (insertMessages locks the target again: a no-op)
      const locked = new Map<number, Awaited<ReturnType<PostgresStore['lockFolder']>>>();
      for (const id of [...new Set([fromFolderId, toFolderId])].sort((a, b) => a - b)) locked.set(id, await this.lockFolder(c, userId, id));
      const rows = (await c.query(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.folder_id = $1 AND m.uid = ANY($2::BIGINT[]) ORDER BY m.uid`, [fromFolderId, [...new Set(uids)]])).rows as MessageRow[];
      if (!move) await this.checkRoom(c, userId, rows.reduce((s, r) => s + r.size, 0), limit);
      // MOVE keeps the message's ids; COPY makes a new message of the same email (object-ids.ts)
      const inserted = await this.insertMessages(c, userId, toFolderId, rows.map((r) => ({
        hash: r.blob_hash, size: r.size, flags: r.flags, internalDate: r.internal_date, saveDate, emailId: r.email_id, threadId: r.thread_id ?? r.email_id, threadKey: r.thread_key ?? null,
        ...(move ? { objectId: r.object_id } : {}),
      })));
      const pairs = rows.map((r, i): [number, number] => [r.uid, inserted[i]!.uid]);
      let expungeModseq = 0;
      if (move && rows.length) {
        // the source's HIGHESTMODSEQ as it is now (a move within one folder raised it above)
        const from = (await c.query('SELECT highest_modseq FROM folders WHERE id = $1', [fromFolderId])).rows[0].highest_modseq as number;
        expungeModseq = (await this.removeRows(c, userId, fromFolderId, from, rows)).modseq;
      }
      return { uidValidity: locked.get(toFolderId)!.uid_validity, pairs, lastModseq: inserted[inserted.length - 1]?.modseq ?? 0, expungeModseq };
    });
    return this.announceCopy(userId, fromFolderId, toFolderId, move, out);
  }

  async expungedSince(userId: number, folderId: number, modseq: number): Promise<ExpungedUid[]> {
    await this.assertFolder(userId, folderId);
    return this.rows<ExpungedUid>('SELECT uid, modseq FROM expunged WHERE folder_id = $1 AND modseq > $2 ORDER BY uid', [folderId, modseq]);
  }

  async quota(userId: number): Promise<QuotaUsage> {
    const limit = await this.quotaLimitOf(userId);
    const u = (await this.row<{ used_bytes: number; message_count: number }>('SELECT used_bytes, message_count FROM users WHERE id = $1', [userId]))!;
    return { usedBytes: u.used_bytes, messages: u.message_count, limitBytes: limit ?? 0 };
  }

  // ---------------------------------------------------------------- change state

  /**
   * The newest state of the user's folders, messages (one index probe per folder) and
   * tombstones, never below the floor (SQLite's change-state.ts says why); one statement.
   */
  private async userState(c: Client | pg.Pool, userId: number): Promise<{ state: number; floor: number }> {
    const r = (await c.query(
      `SELECT (SELECT max(change_state) FROM folders WHERE user_id = u.id) AS f,
         (SELECT max((SELECT max(change_state) FROM messages WHERE folder_id = fo.id)) FROM folders fo WHERE fo.user_id = u.id) AS m,
         (SELECT max(state) FROM tombstones WHERE user_id = u.id) AS t,
         (SELECT value::BIGINT FROM meta WHERE key = 'changes_floor') AS floor
       FROM users u WHERE u.id = $1`,
      [userId],
    )).rows[0] as { f: number | null; m: number | null; t: number | null; floor: number } | undefined;
    if (!r) throw new StoreError('not-found', `no user with id ${userId}`);
    return { state: Math.max(r.f ?? 0, r.m ?? 0, r.t ?? 0, r.floor), floor: r.floor };
  }

  async changeState(userId: number): Promise<string> {
    this.check();
    return toObjectId('state', (await this.userState(this.pool, userId)).state);
  }

  async changesSince(userId: number, sinceState: string, maxChanges: number, opts: { folderId?: number } = {}): Promise<AccountChanges> {
    return this.snapshot(async (c) => {
      const { state: current, floor } = await this.userState(c, userId);
      const since = parseSinceState(sinceState, current, floor);
      const p = [userId, since, changeLimit(maxChanges)];
      const live = (rows: Row[], type: ChangeEntry['type']): ChangeEntry[] => rows.map((r) => ({ type, live: true, o: r.o as number, s: r.s as number }));
      let scope: ChangeScope;
      if (opts.folderId === undefined) {
        const messages = live((await c.query(
          `SELECT m.object_id AS o, m.change_state AS s FROM folders f JOIN messages m ON m.folder_id = f.id AND m.change_state > $2
           WHERE f.user_id = $1 ORDER BY m.change_state LIMIT $3`, p)).rows, 'message');
        const folders = live((await c.query('SELECT object_id AS o, change_state AS s FROM folders WHERE user_id = $1 AND change_state > $2 ORDER BY change_state LIMIT $3', p)).rows, 'folder');
        const tombs = (await c.query('SELECT kind AS type, object_id AS o, state AS s FROM tombstones WHERE user_id = $1 AND state > $2 ORDER BY state LIMIT $3', p)).rows
          .map((r): ChangeEntry => ({ type: r.type as ChangeEntry['type'], live: false, o: r.o as number, s: r.s as number }));
        // which tombstoned objects live on (moved): one query each kind instead of one per tombstone
        const ids = (type: string) => tombs.filter((t) => t.type === type).map((t) => t.o);
        const livingMessages = new Set((await c.query('SELECT m.object_id AS o FROM messages m JOIN folders f ON f.id = m.folder_id WHERE m.object_id = ANY($1::BIGINT[]) AND f.user_id = $2', [ids('message'), userId])).rows.map((r) => r.o as number));
        const livingFolders = new Set((await c.query('SELECT object_id AS o FROM folders WHERE object_id = ANY($1::BIGINT[]) AND user_id = $2', [ids('folder'), userId])).rows.map((r) => r.o as number));
        scope = {
          sources: [messages, folders, tombs],
          isNew: (e) => e.o > since,
          isGone: (e) => !(e.type === 'message' ? livingMessages : livingFolders).has(e.o),
        };
      } else {
        const folderId = opts.folderId;
        const fo = (await c.query('SELECT object_id FROM folders WHERE id = $1 AND user_id = $2', [folderId, userId])).rows[0]?.object_id as number | undefined;
        if (fo === undefined) throw new StoreError('not-found', 'no such folder');
        const movedHere = new Set((await c.query("SELECT object_id AS o FROM tombstones WHERE user_id = $1 AND state > $2 AND kind = 'message' AND folder_id <> $3", [userId, since, fo])).rows.map((r) => r.o as number));
        const messages = live((await c.query('SELECT object_id AS o, change_state AS s FROM messages WHERE folder_id = $1 AND change_state > $2 ORDER BY change_state LIMIT $3', [folderId, since, p[2]])).rows, 'message');
        const tombs = (await c.query("SELECT object_id AS o, state AS s FROM tombstones WHERE user_id = $1 AND state > $2 AND kind = 'message' AND folder_id = $3 ORDER BY state LIMIT $4", [userId, since, fo, p[2]])).rows
          .map((r): ChangeEntry => ({ type: 'message', live: false, o: r.o as number, s: r.s as number }));
        const here = new Set((await c.query('SELECT object_id AS o FROM messages WHERE object_id = ANY($1::BIGINT[]) AND folder_id = $2', [tombs.map((t) => t.o), folderId])).rows.map((r) => r.o as number));
        scope = { sources: [messages, tombs], isNew: (e) => e.o > since || movedHere.has(e.o), isGone: (e) => !here.has(e.o) };
      }
      return mergeChanges(sinceState, since, current, maxChanges, scope);
    });
  }

  // ---------------------------------------------------------------- events

  async appendEvent(e: NewEvent): Promise<EventRecord> {
    const r = await this.row<{ record_id: number }>(
      'INSERT INTO events (time, provider, event_id, qualifiers, level, task, keywords, computer, "user", data, message, count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING record_id',
      [e.time.getTime(), e.provider, e.eventId, e.qualifiers, e.level, e.task, e.keywords, e.computer, e.user, JSON.stringify(e.data), e.message, e.count ?? 1],
    );
    return { ...e, recordId: r!.record_id, count: e.count ?? 1 };
  }

  async incrementEventCount(recordId: number): Promise<void> {
    await this.rows('UPDATE events SET count = count + 1 WHERE record_id = $1', [recordId]);
  }

  async listEvents(filter: EventFilter = {}): Promise<EventRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.eventId !== undefined) add('event_id = ?', filter.eventId);
    if (filter.provider !== undefined) add('lower(provider) = lower(?)', filter.provider);
    if (filter.level !== undefined) add('level = ?', filter.level);
    if (filter.since !== undefined) add('time >= ?', filter.since.getTime());
    if (filter.user !== undefined) add('lower("user") = lower(?)', filter.user);
    if (filter.recordId !== undefined) add('record_id = ?', filter.recordId);
    params.push(filter.limit ?? 100_000);
    const rows = await this.rows<EventRow>(`SELECT * FROM events ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY record_id LIMIT $${params.length}`, params);
    return rows.map(toEventRecord);
  }

  // ---------------------------------------------------------------- outbound queue

  private async insertQueueEntry(c: Client, sender: string, recipients: string[], hash: string, now: number, submittedBy: number | null, dsn: QueueDsn | null = null): Promise<number> {
    return (await c.query(
      'INSERT INTO queue (sender, recipients, blob_hash, next_attempt, created_at, submitted_by, dsn) VALUES ($1, $2, $3, $4, $4, $5, $6) RETURNING id',
      [sender, JSON.stringify(recipients), hash, now, submittedBy, dsn ? JSON.stringify(dsn) : null],
    )).rows[0].id as number;
  }

  async enqueue(sender: string, recipients: string[], raw: Buffer, submittedBy: number | null, dsn: QueueDsn | null = null): Promise<QueueEntry> {
    const id = await this.tx(async (c) => this.insertQueueEntry(c, sender, recipients, await this.putBlob(c, raw), Date.now(), submittedBy, dsn));
    return (await this.listQueue()).find((q) => q.id === id)!;
  }

  async listQueue(): Promise<QueueEntry[]> {
    return (await this.rows<QueueRow>('SELECT * FROM queue ORDER BY id')).map(toQueueEntry);
  }

  /**
   * Due entries that no node is working, leased to this node until `now` + the lease
   * (FOR UPDATE SKIP LOCKED: nodes asking at once get different entries, none waits). Another
   * node gets an entry only once its lease ran out: a node that died mid-delivery leaves its
   * entries to the others. updateQueueEntry and removeQueueEntry end the lease. Lease times
   * are the nodes' clocks (`now`), as `next_attempt` is. This store's own leases come back to it
   * (its runner's passes never overlap; one that skipped an entry works it in the next pass).
   */
  async dueQueueEntries(now: Date): Promise<QueueEntry[]> {
    const t = now.getTime();
    const rows = await this.rows<QueueRow>(
      `UPDATE queue SET leased_until = $2, leased_by = $3 WHERE id IN (
         SELECT id FROM queue WHERE next_attempt <= $1 AND (leased_until IS NULL OR leased_until <= $1 OR leased_by = $3)
         ORDER BY next_attempt LIMIT 100 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [t, t + this.queueLeaseMs, this.nodeName],
    );
    return rows.sort((a, b) => a.next_attempt - b.next_attempt || a.id - b.id).map(toQueueEntry);
  }

  async updateQueueEntry(id: number, ch: QueueEntryUpdate): Promise<void> {
    const notified = ch.delayNotified === undefined ? null : ch.delayNotified ? 1 : 0;
    await this.rows(
      'UPDATE queue SET attempts = $1, next_attempt = $2, last_error = $3, delay_notified = coalesce($5::integer, delay_notified), leased_until = NULL, leased_by = NULL WHERE id = $4',
      [ch.attempts, ch.nextAttempt.getTime(), ch.lastError, id, notified],
    );
  }

  async removeQueueEntry(id: number): Promise<boolean> {
    return this.tx(async (c) => {
      const r = (await c.query('DELETE FROM queue WHERE id = $1 RETURNING blob_hash', [id])).rows[0] as { blob_hash: string } | undefined;
      if (!r) return false;
      await this.dropBlobsIfUnused(c, [r.blob_hash]);
      return true;
    });
  }

  // --- mobile devices (ActiveSync): the same two tables as SQLite's (sqlite/devices.ts)

  async upsertDevice(u: MobileDeviceUpdate): Promise<MobileDevice> {
    if (!u.deviceId) throw new StoreError('invalid', 'a device needs a DeviceId');
    const now = Date.now();
    await this.tx(async (c) => {
      if (!(await c.query('SELECT 1 FROM users WHERE id = $1', [u.userId])).rowCount) throw new StoreError('not-found', `no user with id ${u.userId}`);
      await c.query(
        'INSERT INTO mobile_devices (user_id, device_id, first_sync_at, last_sync_at) VALUES ($1, $2, $3, $3) ON CONFLICT (user_id, device_id) DO UPDATE SET last_sync_at = excluded.last_sync_at',
        [u.userId, u.deviceId, now],
      );
      for (const [field, column] of Object.entries(DEVICE_FIELDS)) {
        const value = u[field as keyof typeof DEVICE_FIELDS];
        if (value !== undefined) await c.query(`UPDATE mobile_devices SET ${column} = $1 WHERE user_id = $2 AND device_id = $3`, [value, u.userId, u.deviceId]);
      }
    });
    return toDevice((await this.row<DeviceRow>(`${DEVICE_SELECT} WHERE d.user_id = $1 AND d.device_id = $2`, [u.userId, u.deviceId]))!);
  }

  async listDevices(userId?: number): Promise<MobileDevice[]> {
    const rows = userId === undefined
      ? await this.rows<DeviceRow>(`${DEVICE_SELECT} ORDER BY u.address, d.device_id`)
      : await this.rows<DeviceRow>(`${DEVICE_SELECT} WHERE d.user_id = $1 ORDER BY d.device_id`, [userId]);
    return rows.map(toDevice);
  }

  async removeDevice(userId: number, deviceId: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM mobile_devices WHERE user_id = $1 AND device_id = $2', [userId, deviceId])).rowCount ?? 0) > 0;
  }

  async getDeviceState(userId: number, deviceId: string, name: string): Promise<string | null> {
    return (await this.row<{ value: string }>('SELECT value FROM mobile_device_state WHERE user_id = $1 AND device_id = $2 AND name = $3', [userId, deviceId, name]))?.value ?? null;
  }

  async putDeviceState(userId: number, deviceId: string, name: string, value: string | null): Promise<void> {
    await this.tx(async (c) => {
      if (!(await c.query('SELECT 1 FROM mobile_devices WHERE user_id = $1 AND device_id = $2', [userId, deviceId])).rowCount) {
        throw new StoreError('not-found', `no device ${deviceId} for user ${userId}`);
      }
      if (value === null) await c.query('DELETE FROM mobile_device_state WHERE user_id = $1 AND device_id = $2 AND name = $3', [userId, deviceId, name]);
      else {
        await c.query(
          'INSERT INTO mobile_device_state (user_id, device_id, name, value) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device_id, name) DO UPDATE SET value = excluded.value',
          [userId, deviceId, name, value],
        );
      }
    });
  }
}

// Typed errors only (store.ts): every operation answers a PostgreSQL failure as a StoreError.
typedErrorsOnly(PostgresStore.prototype, toStoreError);
