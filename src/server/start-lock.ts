/**
 * One server per data folder, by a lock the kernel releases when the process dies (issue 14 item 6).
 * A PID in DATA/server.json cannot tell: after kill -9 the PID may belong to another process (or
 * a zombie), and the server would refuse to start for good. Here the server holds an exclusive
 * SQLite lock (a POSIX fcntl lock, on DATA/server.lock) for as long as it runs: SQLite's own
 * locking, already depended on, works the same on every platform it supports, and the lock goes
 * with the process whatever way it ends. server.json stays, for the CLI to find the ports, and
 * counts only while the lock is held.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export function startLockFile(dataDir: string): string {
  return join(dataDir, 'server.lock');
}

export interface StartLock {
  release(): void;
}

/** Takes the data folder's lock, or returns null when another live process holds it. Never waits. */
export function acquireStartLock(dataDir: string): StartLock | null {
  const db = new Database(startLockFile(dataDir), { timeout: 0 });
  try {
    // EXCLUSIVE locking mode: the lock the first write takes is kept until the connection closes
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER)');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('DELETE FROM holder');
    db.prepare('INSERT INTO holder (pid) VALUES (?)').run(process.pid);
    db.exec('COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY') || (err as { code?: string }).code?.startsWith('SQLITE_LOCKED')) return null;
    throw err;
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      db.close();
    },
  };
}

/** True while a live process holds the data folder's lock (the CLI's "is a server running?"). */
export function startLockHeld(dataDir: string): boolean {
  if (!existsSync(startLockFile(dataDir))) return false;
  const lock = acquireStartLock(dataDir);
  if (!lock) return true;
  lock.release();
  return false;
}
