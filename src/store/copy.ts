/**
 * `mailwarden store copy`: a whole store from SQLite to PostgreSQL or back, rows as they are
 * (ids, UIDVALIDITY, UIDs, MODSEQs, object ids, change states, tombstones, events, queue), so
 * that clients' caches and sync states stay valid across the move. Both schemas have the same
 * tables and columns (postgres/migrations.ts); what each backend derives — folder counters and
 * SQLite's message list, by triggers as the rows go in — is rebuilt, not copied.
 *
 * The target must be empty (no mailbox); the copy is one transaction there (all or nothing),
 * then verified through the Store interface of both sides: per-folder counts, UIDVALIDITY,
 * UIDNEXT, HIGHESTMODSEQ, each message's UID, MODSEQ, flags, internal and save dates, and the
 * SHA-256 of its bytes.
 * Nothing should write to the source meanwhile (stop the nodes): a write during the copy makes
 * the verification fail, never a silently different copy.
 */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { StoreError } from './errors.js';
import type { Store } from './store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import { connectionConfig, PG_TYPES, PostgresStore } from './postgres/postgres-store.js';

/** Where a store is: an SQLite file, or a PostgreSQL database URL. */
export type StoreLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

export interface CopyReport {
  users: number;
  folders: number;
  messages: number;
  bytes: number;
}

/**
 * The tables in an order their references allow, each with the key a batch is read by. Folder
 * counters are left out: the target's triggers count the messages as they go in.
 */
const TABLES: Array<{ name: string; key: string; skip?: string[] }> = [
  { name: 'meta', key: 'key' },
  { name: 'databases', key: 'id' },
  { name: 'users', key: 'id' },
  { name: 'addresses', key: 'address' },
  { name: 'folders', key: 'id', skip: ['message_count', 'unseen_count', 'total_size'] },
  { name: 'subscriptions', key: 'user_id, name' },
  { name: 'blobs', key: 'hash' },
  { name: 'messages', key: 'id' },
  { name: 'expunged', key: 'folder_id, uid' },
  { name: 'settings', key: 'scope, target_id, name' },
  { name: 'events', key: 'record_id' },
  { name: 'queue', key: 'id', skip: ['leased_until', 'leased_by'] },
  { name: 'tombstones', key: 'user_id, state' },
  { name: 'mobile_devices', key: 'user_id, device_id' },
  { name: 'mobile_device_state', key: 'user_id, device_id, name' },
];

/** Rows per batch: blobs are whole messages, so a batch is kept small. */
const BATCH = 50;

/** The raw tables of one backend (its own connection), for the copy only. */
interface Tables {
  columns(table: string): Promise<string[]>;
  read(table: string, columns: string[], key: string, offset: number): Promise<unknown[][]>;
  insert(table: string, columns: string[], rows: unknown[][]): Promise<void>;
  exec(sql: string, params?: unknown[]): Promise<void>;
  value(sql: string): Promise<number>;
  /** The change-state counter (SQLite: change_counter; PostgreSQL: change_state_seq). */
  changeCounter(): Promise<number>;
  setChangeCounter(n: number): Promise<void>;
  /** Gives a copied folder its change state back (SQLite's insert trigger replaced it). */
  setFolderState(id: number, state: number): Promise<void>;
  /** After the rows: whatever the backend numbers itself (PostgreSQL's serial sequences). */
  finish(): Promise<void>;
  begin(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  close(): Promise<void>;
}

const q = (name: string) => `"${name}"`;

class SqliteTables implements Tables {
  private readonly db: Database.Database;
  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('foreign_keys = ON');
  }
  async columns(table: string) {
    return (this.db.prepare(`PRAGMA table_info(${q(table)})`).all() as Array<{ name: string }>).map((c) => c.name);
  }
  async read(table: string, columns: string[], key: string, offset: number) {
    return this.db.prepare(`SELECT ${columns.map(q).join(', ')} FROM ${q(table)} ORDER BY ${key} LIMIT ? OFFSET ?`).raw().all(BATCH, offset) as unknown[][];
  }
  async insert(table: string, columns: string[], rows: unknown[][]) {
    const st = this.db.prepare(`INSERT INTO ${q(table)} (${columns.map(q).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
    for (const r of rows) st.run(...r);
  }
  async exec(sql: string, params: unknown[] = []) {
    this.db.prepare(sql).run(...params);
  }
  async value(sql: string) {
    return Number(this.db.prepare(sql).pluck().get() ?? 0);
  }
  async changeCounter() {
    return this.value('SELECT state FROM change_counter');
  }
  async setChangeCounter(n: number) {
    await this.exec('UPDATE change_counter SET state = ?', [n]);
  }
  async setFolderState(id: number, state: number) {
    await this.exec('UPDATE folders SET change_state = ? WHERE id = ?', [state, id]);
  }
  async finish() {}
  async begin() {
    this.db.exec('BEGIN IMMEDIATE');
  }
  async commit() {
    this.db.exec('COMMIT');
  }
  async rollback() {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }
  async close() {
    this.db.close();
  }
}

class PostgresTables implements Tables {
  private constructor(private readonly c: pg.Client) {}
  static async connect(url: string): Promise<PostgresTables> {
    const c = new pg.Client({ ...connectionConfig(url), types: PG_TYPES });
    await c.connect();
    return new PostgresTables(c);
  }
  async columns(table: string) {
    return (await this.c.query('SELECT column_name AS n FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position', [table])).rows.map((r) => r.n as string);
  }
  async read(table: string, columns: string[], key: string, offset: number) {
    return (await this.c.query({ text: `SELECT ${columns.map(q).join(', ')} FROM ${q(table)} ORDER BY ${key} LIMIT $1 OFFSET $2`, values: [BATCH, offset], rowMode: 'array' })).rows as unknown[][];
  }
  async insert(table: string, columns: string[], rows: unknown[][]) {
    if (!rows.length) return;
    const values = rows.map((_, i) => `(${columns.map((__, j) => `$${i * columns.length + j + 1}`).join(', ')})`).join(', ');
    await this.c.query(`INSERT INTO ${q(table)} (${columns.map(q).join(', ')}) VALUES ${values}`, rows.flat());
  }
  async exec(sql: string, params: unknown[] = []) {
    await this.c.query(sql, params);
  }
  async value(sql: string) {
    return Number((await this.c.query({ text: sql, rowMode: 'array' })).rows[0]?.[0] ?? 0);
  }
  async changeCounter() {
    return this.value('SELECT last_value FROM change_state_seq');
  }
  async setChangeCounter(n: number) {
    await this.exec("SELECT setval('change_state_seq', $1)", [Math.max(1, n)]);
  }
  async setFolderState(id: number, state: number) {
    await this.exec('UPDATE folders SET change_state = $1 WHERE id = $2', [state, id]);
  }
  async finish() {
    for (const [table, col] of [['databases', 'id'], ['users', 'id'], ['folders', 'id'], ['messages', 'id'], ['events', 'record_id'], ['queue', 'id']]) {
      await this.exec(`SELECT setval(pg_get_serial_sequence('${table}', '${col}'), greatest(coalesce((SELECT max(${col}) FROM ${table}), 0), 1))`);
    }
  }
  async begin() {
    await this.c.query('BEGIN');
  }
  async commit() {
    await this.c.query('COMMIT');
  }
  async rollback() {
    await this.c.query('ROLLBACK').catch(() => undefined);
  }
  async close() {
    await this.c.end();
  }
}

/** Opens the store at a location (creating or migrating its schema). */
export async function openStoreLocation(at: StoreLocation): Promise<Store> {
  return at.kind === 'sqlite' ? SqliteStore.open(at.file) : PostgresStore.open(at.url);
}

async function tablesOf(at: StoreLocation): Promise<Tables> {
  return at.kind === 'sqlite' ? new SqliteTables(at.file) : PostgresTables.connect(at.url);
}

/** Copies the store at `from` into the empty store at `to`, then verifies the copy (see the top of this file). */
export async function copyStore(from: StoreLocation, to: StoreLocation): Promise<CopyReport> {
  // both schemas made and migrated to this version first (the source's too: its columns must be ours)
  const source = await openStoreLocation(from);
  const target = await openStoreLocation(to);
  try {
    if ((await target.listUsers()).length > 0) throw new StoreError('exists', 'the target store holds mailboxes already: store copy needs an empty one');
    await copyTables(from, to);
    return await verifyCopy(source, await reopen(target, to));
  } finally {
    await source.close();
    await target.close().catch(() => undefined);
  }
}

/** The target opened again: a store caches what it read at opening (the organisation name). */
async function reopen(target: Store, at: StoreLocation): Promise<Store> {
  await target.close();
  return openStoreLocation(at);
}

async function copyTables(from: StoreLocation, to: StoreLocation): Promise<void> {
  const src = await tablesOf(from);
  const dst = await tablesOf(to);
  try {
    await dst.begin();
    try {
      // what the empty target made on opening (meta, the default database) gives way to the source's
      for (const t of [...TABLES].reverse()) await dst.exec(`DELETE FROM ${q(t.name)}`);
      for (const t of TABLES) {
        const theirs = new Set(await dst.columns(t.name));
        const columns = (await src.columns(t.name)).filter((c) => theirs.has(c) && !t.skip?.includes(c));
        for (let offset = 0; ; offset += BATCH) {
          const rows = await src.read(t.name, columns, t.key, offset);
          if (rows.length === 0) break;
          await dst.insert(t.name, columns, rows);
          if (t.name === 'folders') {
            // SQLite's folder insert trigger gives a new folder a new change state: the copy keeps the source's
            const cs = columns.indexOf('change_state');
            const id = columns.indexOf('id');
            for (const r of rows) await dst.setFolderState(r[id] as number, r[cs] as number);
          }
        }
      }
      // past every state and object id the copied rows hold, and at least the source's counter
      const highest = Math.max(
        await src.changeCounter(),
        await dst.value('SELECT max(change_state) FROM messages'), await dst.value('SELECT max(object_id) FROM messages'),
        await dst.value('SELECT max(change_state) FROM folders'), await dst.value('SELECT max(object_id) FROM folders'),
        await dst.value('SELECT max(state) FROM tombstones'),
      );
      await dst.setChangeCounter(highest);
      // the user counters as a recount of the copied messages: SQLite's triggers (schema step 9)
      // added every copied message to the copied counters; PostgreSQL's code did not run
      await dst.exec(
        `UPDATE users SET
           message_count = (SELECT count(*) FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.user_id = users.id),
           used_bytes = (SELECT coalesce(sum(m.size), 0) FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.user_id = users.id)`,
      );
      await dst.finish();
      await dst.commit();
    } catch (err) {
      await dst.rollback();
      throw err;
    }
  } finally {
    await src.close();
    await dst.close();
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Compares the two stores through the Store interface; throws `corrupt` at the first difference. */
export async function verifyCopy(source: Store, target: Store): Promise<CopyReport> {
  const report: CopyReport = { users: 0, folders: 0, messages: 0, bytes: 0 };
  const differ = (what: string): never => {
    throw new StoreError('corrupt', `the copy differs from the source: ${what}`);
  };
  const theirUsers = new Map((await target.listUsers()).map((u) => [u.address, u]));
  const ourUsers = await source.listUsers();
  if (ourUsers.length !== theirUsers.size) differ(`${ourUsers.length} users in the source, ${theirUsers.size} in the copy`);
  for (const u of ourUsers) {
    const t = theirUsers.get(u.address) ?? differ(`no user ${u.address}`);
    if (t.id !== u.id || t.alias !== u.alias || t.databaseName !== u.databaseName) differ(`user ${u.address}`);
    report.users++;
    const theirFolders = new Map((await target.listFolders(t.id)).map((f) => [f.name, f]));
    const ourFolders = await source.listFolders(u.id);
    if (ourFolders.length !== theirFolders.size) differ(`${u.address}: ${ourFolders.length} folders in the source, ${theirFolders.size} in the copy`);
    for (const f of ourFolders) {
      const where = `${u.address}, folder "${f.name}"`;
      const tf = theirFolders.get(f.name) ?? differ(`${where} is missing`);
      const a = await source.folderStatus(u.id, f.id);
      const b = await target.folderStatus(t.id, tf.id);
      for (const k of ['messages', 'unseen', 'size', 'uidNext', 'uidValidity', 'highestModseq'] as const) {
        if (a[k] !== b[k]) differ(`${where}: ${k} ${a[k]} in the source, ${b[k]} in the copy`);
      }
      if (f.mailboxId !== tf.mailboxId) differ(`${where}: mailbox id`);
      const ours = await source.listMessages(u.id, f.id);
      const theirs = await target.listMessages(t.id, tf.id);
      if (ours.length !== theirs.length) differ(`${where}: ${ours.length} messages listed in the source, ${theirs.length} in the copy`);
      for (let i = 0; i < ours.length; i++) {
        const m = ours[i]!;
        const n = theirs[i]!;
        if (m.uid !== n.uid || m.modseq !== n.modseq || [...m.flags].sort().join(' ') !== [...n.flags].sort().join(' ') || m.internalDate.getTime() !== n.internalDate.getTime()
          || m.saveDate?.getTime() !== n.saveDate?.getTime()) {
          differ(`${where}: UID ${m.uid} (MODSEQ ${m.modseq}) is UID ${n.uid} (MODSEQ ${n.modseq}) in the copy`);
        }
        const bytes = await target.readBlob(n.blobHash);
        const sum = sha256(bytes);
        if (sum !== m.blobHash || sum !== sha256(await source.readBlob(m.blobHash))) differ(`${where}: UID ${m.uid}: the bytes' checksum differs`);
        report.messages++;
        report.bytes += bytes.length;
      }
      report.folders++;
    }
    if (JSON.stringify(await source.listSubscriptions(u.id)) !== JSON.stringify(await target.listSubscriptions(t.id))) differ(`${u.address}: subscriptions`);
  }
  return report;
}
