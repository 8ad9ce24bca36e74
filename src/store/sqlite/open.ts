import Database from 'better-sqlite3';
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { StoreError } from '../errors.js';
import { APPLICATION_ID, MIGRATIONS, SORT_FACTS_FUNCTION } from './schema.js';
import { encodeSortFacts, storedSortFacts } from '../../mime/sort-facts.js';

const SQLITE_MAGIC = 'SQLite format 3\0';

/**
 * Opens (or creates) a Mailwarden SQLite file and brings its schema up to date.
 * Refuses, without writing anything, a file that is not SQLite, is corrupt, or is some
 * other application's SQLite database.
 */
export function openSqliteDatabase(file: string): Database.Database {
  const exists = existsSync(file) && statSync(file).size > 0;
  if (exists) checkHeader(file);
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (err) {
    throw new StoreError('read-only', `cannot open ${file}: ${(err as Error).message}`);
  }
  try {
    if (exists) {
      const appId = db.pragma('application_id', { simple: true }) as number;
      const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
      if (appId !== APPLICATION_ID && tables.n > 0) {
        throw new StoreError('not-a-mailwarden-database', `${file} is an SQLite database of another application, not a Mailwarden store`);
      }
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new StoreError('corrupt', `${file} is damaged (quick_check: ${String(check)})`);
    }
    configure(db);
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    const msg = (err as Error).message;
    if (/not a database|malformed|corrupt/i.test(msg)) throw new StoreError('corrupt', `${file} is not a usable database: ${msg}`);
    if (/readonly|read-only|unable to open/i.test(msg)) throw new StoreError('read-only', `cannot write ${file}: ${msg}`);
    throw err;
  }
}

/**
 * A read-only connection to a store that openSqliteDatabase opened, checked and migrated
 * already (by another thread): for the point reads the server answers on its event loop
 * (threaded/threaded-store.ts). In WAL mode a reader never waits for a writer.
 */
export function openReaderConnection(file: string): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The settings every connection to a store uses (the store's own and the writer thread's). */
function configure(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  // FULL: a commit is on disk (the WAL fsync'd) before we acknowledge a message (SMTP 250,
  // IMAP APPEND OK), and other connections see a transaction only once it is on disk.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  // Two connections of this process write (the store's and the writer thread's) besides the
  // CLI: a writer waits for the other's commit rather than failing.
  db.pragma('busy_timeout = 10000');
}

/**
 * A second connection to a store that openSqliteDatabase opened and checked already (the
 * writer thread's): same settings, no checks or migrations again.
 */
export function openWriterConnection(file: string): Database.Database {
  const db = new Database(file);
  try {
    configure(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function checkHeader(file: string): void {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(16);
    readSync(fd, buf, 0, 16, 0);
    if (buf.toString('latin1') !== SQLITE_MAGIC) {
      throw new StoreError('not-a-mailwarden-database', `${file} is not a Mailwarden store (not an SQLite file)`);
    }
  } finally {
    closeSync(fd);
  }
}

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new StoreError('invalid', `store schema version ${current} is newer than this Mailwarden (${MIGRATIONS.length}); upgrade Mailwarden`);
  }
  // step 13 computes the sort facts of the rows it finds (only the connection that migrates needs it)
  if (current < MIGRATIONS.length) db.function(SORT_FACTS_FUNCTION, { deterministic: true }, (data: unknown) => encodeSortFacts(storedSortFacts(data as Buffer)));
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
      db.pragma(`application_id = ${APPLICATION_ID}`);
    })();
  }
}
