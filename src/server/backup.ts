import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { StoreError } from '../store/errors.js';
import { openSqliteDatabase } from '../store/sqlite/open.js';
import { STORE_FILE } from './create-context.js';
import { VERSION } from '../version.js';

/**
 * Backup and restore of a data folder (README "Backup and restore").
 *
 * A backup is ONE SQLite file: the store as of one read transaction (`VACUUM INTO`) plus two
 * tables of our own, `mailwarden_backup_files` (the data folder's other files that must come
 * back: the TLS key and certificate, DKIM keys, …) and `mailwarden_backup_meta`. Why VACUUM
 * INTO rather than SQLite's page-by-page backup API: the backup API restarts from the first page
 * whenever another connection writes, so against a server delivering mail without pause it may
 * never finish; VACUUM INTO copies one snapshot of the WAL database while writers carry on, and
 * the copy is compact. The server keeps running: nothing of it is paused or locked out.
 */

export const BACKUP_FILES_TABLE = 'mailwarden_backup_files';
export const BACKUP_META_TABLE = 'mailwarden_backup_meta';

/** Files of the data folder that are the running server's, not the data: never backed up or restored. */
const RUNTIME_FILES = new Set(['server.json', 'admin.token', 'server.lock']);
const RUNTIME_DIRS = new Set(['logs']);

export interface BackupSummary {
  file: string;
  bytes: number;
  users: number;
  folders: number;
  messages: number;
  /** Other files of the data folder carried in the backup (relative paths). */
  files: string[];
  createdAt: string;
  ms: number;
}

/** The data folder's files other than the store and the runtime files, relative to it. */
function dataFiles(dataDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(dataDir, path);
      const st = statSync(path);
      if (st.isDirectory()) {
        if (!(dir === dataDir && RUNTIME_DIRS.has(name))) walk(path);
      } else if (st.isFile()) {
        if (dir === dataDir && (RUNTIME_FILES.has(name) || name.startsWith('server.lock') || name.startsWith(STORE_FILE))) continue;
        out.push(rel.split(sep).join('/'));
      }
    }
  };
  walk(dataDir);
  return out.sort();
}

function counts(db: Database.Database): { users: number; folders: number; messages: number } {
  const n = (sql: string) => (db.prepare(sql).pluck().get() as number) ?? 0;
  return { users: n('SELECT count(*) FROM users'), folders: n('SELECT count(*) FROM folders'), messages: n('SELECT count(*) FROM messages') };
}

/**
 * Writes a consistent snapshot of the data folder `dataDir` to `toFile` while a server may be
 * running on it. The file appears only when complete (written beside it, then renamed).
 */
export function backupDataFolder(dataDir: string, toFile: string): BackupSummary {
  const started = performance.now();
  const dir = resolve(dataDir);
  const storeFile = join(dir, STORE_FILE);
  if (!existsSync(storeFile)) {
    throw new StoreError('not-found', `no Mailwarden store in ${dir} (a store on PostgreSQL is backed up with pg_dump: README "Backup and restore")`);
  }
  const target = resolve(toFile);
  if (existsSync(target)) throw new StoreError('exists', `${target} exists already; name a new file (a backup never overwrites one)`);
  const partial = `${target}.partial-${process.pid}`;
  rmSync(partial, { force: true });
  // The store itself is opened and checked as the CLI always does (a damaged store is refused
  // here, not discovered at restore time), then copied in one read transaction.
  const source = openSqliteDatabase(storeFile);
  try {
    source.prepare('VACUUM INTO ?').run(partial);
  } catch (err) {
    rmSync(partial, { force: true });
    throw new StoreError('read-only', `cannot write the backup ${partial}: ${(err as Error).message}`);
  } finally {
    source.close();
  }
  const copy = new Database(partial);
  let summary: Omit<BackupSummary, 'bytes' | 'ms'>;
  try {
    const files = dataFiles(dir);
    const createdAt = new Date().toISOString();
    copy.exec(`CREATE TABLE ${BACKUP_FILES_TABLE} (path TEXT PRIMARY KEY, mode INTEGER NOT NULL, content BLOB NOT NULL);
               CREATE TABLE ${BACKUP_META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
    const putFile = copy.prepare(`INSERT INTO ${BACKUP_FILES_TABLE} (path, mode, content) VALUES (?, ?, ?)`);
    const putMeta = copy.prepare(`INSERT INTO ${BACKUP_META_TABLE} (key, value) VALUES (?, ?)`);
    copy.transaction(() => {
      for (const rel of files) {
        const path = join(dir, rel);
        putFile.run(rel, statSync(path).mode & 0o777, readFileSync(path));
      }
      putMeta.run('format', 'mailwarden-backup/1');
      putMeta.run('version', VERSION);
      putMeta.run('created', createdAt);
      putMeta.run('source', dir);
    })();
    summary = { file: target, ...counts(copy), files, createdAt };
  } finally {
    copy.close();
  }
  chmodSync(partial, 0o600); // it holds password hashes and the TLS private key
  renameSync(partial, target);
  return { ...summary, bytes: statSync(target).size, ms: Math.round(performance.now() - started) };
}

export interface RestoreSummary {
  dataDir: string;
  users: number;
  folders: number;
  messages: number;
  files: string[];
  backupCreatedAt: string;
  ms: number;
}

/**
 * Brings a backup back into `dataDir`, which must hold no store (a restore never overwrites
 * mail: move the old folder away first). The store is checked and migrated as on any open, so
 * a backup of an older version restores into this one.
 */
export function restoreDataFolder(fromFile: string, dataDir: string): RestoreSummary {
  const started = performance.now();
  const source = resolve(fromFile);
  if (!existsSync(source)) throw new StoreError('not-found', `no backup file ${source}`);
  const dir = resolve(dataDir);
  const storeFile = join(dir, STORE_FILE);
  if (existsSync(storeFile)) {
    throw new StoreError('exists', `${dir} holds a store already; restore into a new or empty data folder (move the old one away first)`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const partial = `${storeFile}.restoring`;
  rmSync(partial, { force: true });
  writeFileSync(partial, readFileSync(source), { mode: 0o600 });
  let files: string[] = [];
  let backupCreatedAt = '';
  const db = new Database(partial);
  try {
    const has = (t: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;
    if (!has(BACKUP_META_TABLE) || !has(BACKUP_FILES_TABLE)) {
      throw new StoreError('invalid', `${source} is not a Mailwarden backup (made by "mailwarden backup")`);
    }
    backupCreatedAt = String(db.prepare(`SELECT value FROM ${BACKUP_META_TABLE} WHERE key = 'created'`).pluck().get() ?? '');
    const rows = db.prepare(`SELECT path, mode, content FROM ${BACKUP_FILES_TABLE} ORDER BY path`).all() as Array<{ path: string; mode: number; content: Buffer }>;
    for (const row of rows) {
      const path = resolve(dir, row.path);
      // a crafted backup must not write outside the data folder
      if (!path.startsWith(dir + sep)) throw new StoreError('invalid', `${source} names a file outside the data folder: ${row.path}`);
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, row.content, { mode: row.mode });
      files.push(row.path);
    }
    db.exec(`DROP TABLE ${BACKUP_FILES_TABLE}; DROP TABLE ${BACKUP_META_TABLE};`);
  } catch (err) {
    db.close();
    rmSync(partial, { force: true });
    for (const f of files) rmSync(join(dir, f), { force: true });
    files = [];
    if (err instanceof StoreError) throw err;
    throw new StoreError('invalid', `${source} is not a Mailwarden backup: ${(err as Error).message}`);
  }
  db.close();
  renameSync(partial, storeFile);
  // checked (quick_check, application id) and migrated like every store the server opens
  const store = openSqliteDatabase(storeFile);
  try {
    return { dataDir: dir, ...counts(store), files, backupCreatedAt, ms: Math.round(performance.now() - started) };
  } finally {
    store.close();
  }
}
