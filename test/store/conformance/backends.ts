/**
 * The store backends the conformance suite runs on, each with an inspector that recounts from
 * outside what the backend keeps (counters, list order, tombstones). Adding a backend is one
 * entry of BACKENDS: a factory for empty stores and an inspector over its own storage (the
 * PostgreSQL backend of the cluster issue: a schema per run, an inspector on a second
 * connection). Everything else in test/store/conformance/ is backend-neutral.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { connectionConfig, PG_TYPES, PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import { toObjectId } from '../../../src/store/object-ids.js';
import { mailboxQuotaLimit } from '../../../src/settings/resolve.js';
import type { Store, StoreOptions } from '../../../src/store/store.js';
import { tempDir } from '../../helpers/tmp.js';
import { createTestDatabase } from '../../helpers/postgres.js';

/** Counters a backend keeps for a folder, or recounts from its message rows. */
export interface FolderCounters { messages: number; unseen: number; size: number }
export interface UserCounters { messages: number; bytes: number }

/** One folder's message list as the backend keeps it for pages, and as its rows say it must be. */
export interface ListOrder {
  folderId: number;
  /** One key per message ("internalDate uid id size hash subject"), newest first, as kept. */
  kept: string[];
  /** The same keys recomputed from the messages, ordered by internal date then UID, descending. */
  recomputed: string[];
}

/**
 * A view of a backend's storage from outside the Store (its own connection, read-only use):
 * what the invariants compare, and the hooks the sabotage test breaks a backend with.
 */
export interface Inspector {
  folderCounters(): Promise<Array<{ folderId: number; userId: number; stored: FolderCounters; recount: FolderCounters }>>;
  userCounters(): Promise<Array<{ userId: number; stored: UserCounters; recount: UserCounters }>>;
  listOrders(): Promise<ListOrder[]>;
  /** Message object ids (MessageListItem.objectId) with a tombstone, per user. */
  messageTombstones(userId: number): Promise<Set<string>>;
  /**
   * Runs backend-specific statements on the storage (sabotage.test.ts breaks an invariant on
   * purpose with it). SQL for SQLite and PostgreSQL alike.
   */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** An open store of a backend, its inspector, and where it lives (to reopen it, or to hand it to a child process). */
export interface OpenBackend {
  store: Store;
  inspector: Inspector;
  location: string;
  close(): Promise<void>;
}

export interface Backend {
  name: string;
  /** A new, empty storage location; `remove` deletes it. */
  create(): Promise<{ location: string; remove(): Promise<void> }>;
  /** Opens the store at `location` (and its inspector). Also what a crash-test child calls. `clock`: StoreOptions.clock. */
  open(location: string, opts?: Pick<StoreOptions, 'clock'>): Promise<OpenBackend>;
}

// ------------------------------------------------------------------------------------ SQLite

const SEEN = "instr(' ' || flags || ' ', ' \\Seen ') = 0";

class SqliteInspector implements Inspector {
  private readonly db: Database.Database;
  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 10000');
  }
  /** One read transaction: every figure of an answer is from one snapshot. */
  private read<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
  async folderCounters() {
    return this.read(() =>
      (this.db.prepare(
        `SELECT f.id AS folderId, f.user_id AS userId, f.message_count AS sm, f.unseen_count AS su, f.total_size AS ss,
           (SELECT count(*) FROM messages WHERE folder_id = f.id) AS rm,
           (SELECT count(*) FROM messages WHERE folder_id = f.id AND ${SEEN}) AS ru,
           (SELECT coalesce(sum(size), 0) FROM messages WHERE folder_id = f.id) AS rs
         FROM folders f ORDER BY f.id`,
      ).all() as Array<{ folderId: number; userId: number; sm: number; su: number; ss: number; rm: number; ru: number; rs: number }>).map((r) => ({
        folderId: r.folderId, userId: r.userId, stored: { messages: r.sm, unseen: r.su, size: r.ss }, recount: { messages: r.rm, unseen: r.ru, size: r.rs },
      })),
    );
  }
  async userCounters() {
    return this.read(() =>
      (this.db.prepare(
        `SELECT u.id AS userId, u.message_count AS sm, u.used_bytes AS sb,
           (SELECT count(*) FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.user_id = u.id) AS rm,
           (SELECT coalesce(sum(m.size), 0) FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.user_id = u.id) AS rb
         FROM users u ORDER BY u.id`,
      ).all() as Array<{ userId: number; sm: number; sb: number; rm: number; rb: number }>).map((r) => ({
        userId: r.userId, stored: { messages: r.sm, bytes: r.sb }, recount: { messages: r.rm, bytes: r.rb },
      })),
    );
  }
  async listOrders() {
    return this.read(() => {
      const key = "internal_date || ' ' || uid || ' ' || id || ' ' || size || ' ' || blob_hash || ' ' || subject";
      const kept = this.db.prepare(`SELECT ${key} FROM message_list WHERE folder_id = ? ORDER BY internal_date DESC, uid DESC`).pluck();
      const recomputed = this.db.prepare(
        `SELECT m.internal_date || ' ' || m.uid || ' ' || m.id || ' ' || m.size || ' ' || m.blob_hash || ' ' || b.subject
         FROM messages m JOIN blobs b ON b.hash = m.blob_hash WHERE m.folder_id = ? ORDER BY m.internal_date DESC, m.uid DESC`,
      ).pluck();
      // rows of folders that no longer exist count as kept by a folder of their own
      const ids = this.db.prepare('SELECT id FROM folders UNION SELECT DISTINCT folder_id FROM message_list ORDER BY 1').pluck().all() as number[];
      return ids.map((folderId) => ({ folderId, kept: kept.all(folderId) as string[], recomputed: recomputed.all(folderId) as string[] }));
    });
  }
  async messageTombstones(userId: number) {
    const ids = this.db.prepare("SELECT object_id FROM tombstones WHERE user_id = ? AND kind = 'message'").pluck().all(userId) as number[];
    return new Set(ids.map((n) => toObjectId('message', n)));
  }
  async exec(sql: string) {
    this.db.exec(sql);
  }
  async close() {
    this.db.close();
  }
}

/**
 * A SQLite backend: `groupCommit` as SqliteStore.open takes it (the writer thread by default;
 * 'this-thread' as the server runs it on its store thread).
 */
function sqliteBackendOf(name: string, groupCommit?: 'this-thread'): Backend {
  return {
    name,
    async create() {
      const tmp = tempDir('mailwarden-conformance-');
      return { location: join(tmp.dir, 'store.sqlite'), remove: async () => tmp.cleanup() };
    },
    async open(location, opts = {}) {
      // the quota rule as the server composes it: the limit from the settings the store holds
      const store = await SqliteStore.open(location, { ...opts, quotaLimit: mailboxQuotaLimit, groupCommit });
      const inspector = new SqliteInspector(location);
      return {
        store, inspector, location,
        async close() {
          await inspector.close();
          await store.close();
        },
      };
    },
  };
}

export const sqliteBackend = sqliteBackendOf('SQLite');

/**
 * SQLite as the server runs it on its store thread (threaded/store-worker.ts): the store commits
 * its own writes in groups (InThreadGroupWriter), message-level writes (flags, expunge, copy,
 * move) joining the group rather than committing alone. Opened here on the test's thread, so a
 * test clock still reaches it; the thread hop itself is threaded-store.test.ts's.
 */
export const sqliteGroupCommitBackend = sqliteBackendOf('SQLite (store thread group commit)', 'this-thread');

// -------------------------------------------------------------------------------- PostgreSQL

const PG_UNSEEN = "position(' \\Seen ' IN ' ' || flags || ' ') = 0";
/** A message's list key, as SQLite's inspector builds it. */
const PG_LIST_KEY = "m.internal_date || ' ' || m.uid || ' ' || m.id || ' ' || m.size || ' ' || m.blob_hash || ' ' || b.subject";

/** The same checks on a connection of its own; each answer is one REPEATABLE READ snapshot. */
class PostgresInspector implements Inspector {
  private readonly client: pg.Client;
  private constructor(url: string) {
    this.client = new pg.Client({ ...connectionConfig(url), types: PG_TYPES });
  }
  static async connect(url: string): Promise<PostgresInspector> {
    const i = new PostgresInspector(url);
    await i.client.connect();
    return i;
  }
  private async read<T>(fn: () => Promise<T>): Promise<T> {
    await this.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      return await fn();
    } finally {
      await this.client.query('COMMIT');
    }
  }
  private async all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.client.query(sql, params)).rows as T[];
  }
  async folderCounters() {
    return this.read(async () =>
      (await this.all<{ folderid: number; userid: number; sm: number; su: number; ss: number; rm: number; ru: number; rs: number }>(
        `SELECT f.id AS folderId, f.user_id AS userId, f.message_count AS sm, f.unseen_count AS su, f.total_size AS ss,
           (SELECT count(*) FROM messages WHERE folder_id = f.id) AS rm,
           (SELECT count(*) FROM messages WHERE folder_id = f.id AND ${PG_UNSEEN}) AS ru,
           (SELECT coalesce(sum(size), 0)::BIGINT FROM messages WHERE folder_id = f.id) AS rs
         FROM folders f ORDER BY f.id`,
      )).map((r) => ({
        folderId: r.folderid, userId: r.userid, stored: { messages: r.sm, unseen: r.su, size: r.ss }, recount: { messages: r.rm, unseen: r.ru, size: r.rs },
      })),
    );
  }
  async userCounters() {
    return this.read(async () =>
      (await this.all<{ userid: number; sm: number; sb: number; rm: number; rb: number }>(
        `SELECT u.id AS userId, u.message_count AS sm, u.used_bytes AS sb,
           (SELECT count(*) FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.user_id = u.id) AS rm,
           (SELECT coalesce(sum(m.size), 0)::BIGINT FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.user_id = u.id) AS rb
         FROM users u ORDER BY u.id`,
      )).map((r) => ({ userId: r.userid, stored: { messages: r.sm, bytes: r.sb }, recount: { messages: r.rm, bytes: r.rb } })),
    );
  }
  /**
   * PostgreSQL keeps no list table: a page is a range of the index messages_by_date. "Kept" is
   * the order that index gives (what listMessagePage reads); "recomputed" sorts the rows here.
   */
  async listOrders() {
    return this.read(async () => {
      const ids = (await this.all<{ id: number }>('SELECT id FROM folders ORDER BY id')).map((r) => r.id);
      const out: ListOrder[] = [];
      for (const folderId of ids) {
        const kept = (await this.all<{ k: string }>(`SELECT ${PG_LIST_KEY} AS k FROM messages m JOIN blobs b ON b.hash = m.blob_hash WHERE m.folder_id = $1 ORDER BY m.internal_date DESC, m.uid DESC`, [folderId])).map((r) => r.k);
        const rows = await this.all<{ d: number; u: number; k: string }>(`SELECT m.internal_date AS d, m.uid AS u, ${PG_LIST_KEY} AS k FROM messages m JOIN blobs b ON b.hash = m.blob_hash WHERE m.folder_id = $1 ORDER BY m.id`, [folderId]);
        const recomputed = rows.sort((a, b) => b.d - a.d || b.u - a.u).map((r) => r.k);
        out.push({ folderId, kept, recomputed });
      }
      return out;
    });
  }
  async messageTombstones(userId: number) {
    const ids = await this.all<{ o: number }>("SELECT object_id AS o FROM tombstones WHERE user_id = $1 AND kind = 'message'", [userId]);
    return new Set(ids.map((r) => toObjectId('message', r.o)));
  }
  async exec(sql: string) {
    await this.client.query(sql);
  }
  async close() {
    await this.client.end();
  }
}

/** Locations are database URLs; each `create` makes a database of its own (test/helpers/postgres.ts). */
export const postgresBackend: Backend = {
  name: 'PostgreSQL',
  async create() {
    const db = await createTestDatabase();
    return { location: db.url, remove: () => db.drop() };
  },
  async open(location, opts = {}) {
    const store = await PostgresStore.open(location, { ...opts, quotaLimit: mailboxQuotaLimit, poolSize: 4 });
    const inspector = await PostgresInspector.connect(location);
    return {
      store, inspector, location,
      async close() {
        await inspector.close();
        await store.close();
      },
    };
  },
};

/** Every backend the conformance suite runs on. A new backend: one more entry here. */
export const BACKENDS: Backend[] = [sqliteBackend, sqliteGroupCommitBackend, postgresBackend];

export const backendByName = (name: string): Backend => {
  const b = BACKENDS.find((x) => x.name === name);
  if (!b) throw new Error(`no backend named ${name}`);
  return b;
};
