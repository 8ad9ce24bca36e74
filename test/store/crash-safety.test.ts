import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tempDir } from '../helpers/tmp.js';

const CHILD = resolve('dist/test/store/append-child.js');

/**
 * Runs the appending child and SIGKILLs it `afterMs` after its first acknowledged append (the
 * clock starts there, not at spawn, so that a slow start on a busy machine does not turn the
 * round into a kill during start-up); returns the UIDs it had acknowledged.
 */
function runAndKill(file: string, address: string, afterMs: number): Promise<number[]> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [CHILD, file, address], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let timer = setTimeout(() => child.kill('SIGKILL'), 300_000); // a child that never acknowledges: a bound for a broken test
    child.stdout.on('data', (c: Buffer) => {
      if (!out) {
        clearTimeout(timer);
        timer = setTimeout(() => child.kill('SIGKILL'), afterMs);
      }
      out += c.toString();
    });
    child.on('exit', () => {
      clearTimeout(timer);
      // only complete lines were acknowledged
      resolvePromise(out.split('\n').slice(0, -1).map(Number));
    });
  });
}

test('kill -9 at random moments while appending: the store opens, passes integrity_check, holds every acknowledged message and no partial one', async () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 'store.sqlite');
  try {
    const setup = await SqliteStore.open(file);
    await setup.createUser({ address: 'crash@example.com', password: 'pw' });
    await setup.close();
    const acknowledged: number[] = [];
    for (let round = 0; round < 20; round++) {
      acknowledged.push(...(await runAndKill(file, 'crash@example.com', Math.floor(Math.random() * 400))));
      const db = new Database(file);
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok', `round ${round}`);
      db.close();
    }
    assert.ok(acknowledged.length > 20, `the child appended something (${acknowledged.length})`);
    const db = new Database(file, { readonly: true });
    const uids = new Set(db.prepare('SELECT uid FROM messages').pluck().all() as number[]);
    for (const uid of acknowledged) assert.ok(uids.has(uid), `acknowledged UID ${uid} is in the store`);
    // no partial message: every row's blob exists, is complete and matches its hash and size
    const rows = db.prepare('SELECT m.uid, m.size, b.hash, b.size AS bsize, b.data, b.structure FROM messages m LEFT JOIN blobs b ON b.hash = m.blob_hash').all() as Array<{ uid: number; size: number; hash: string | null; bsize: number; data: Buffer; structure: string | null }>;
    for (const r of rows) {
      assert.ok(r.hash, `message ${r.uid} has its bytes`);
      assert.equal(r.data.length, r.size);
      assert.equal(r.bsize, r.size);
      assert.equal(createHash('sha256').update(r.data).digest('hex'), r.hash);
      assert.ok(r.structure && JSON.parse(r.structure).root, 'structure stored with the bytes');
      assert.match(r.data.toString('latin1'), /\r\n$/);
    }
    // counters agree with the rows
    const u = db.prepare('SELECT used_bytes, message_count FROM users').get() as { used_bytes: number; message_count: number };
    assert.equal(u.message_count, rows.length);
    assert.equal(u.used_bytes, rows.reduce((s, r) => s + r.size, 0));
    const f = db.prepare("SELECT uid_next FROM folders WHERE name = 'INBOX'").get() as { uid_next: number };
    assert.ok(f.uid_next > Math.max(...uids), 'UIDs are never reused');
    db.close();
  } finally {
    tmp.cleanup();
  }
});
