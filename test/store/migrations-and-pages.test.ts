import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { tempDir } from '../helpers/tmp.js';

test('a store made by schema version 1 is migrated on open and keeps its messages', async () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 's.sqlite');
  try {
    const s = await SqliteStore.open(file);
    const u = await s.createUser({ address: 'mig@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    await s.append(u.id, inbox.id, Buffer.from('Subject: kept\r\n\r\nbody\r\n'));
    await s.close();
    // wind the file back to version 1, as an older Mailwarden left it: subscriptions were a folder column
    const db = new Database(file);
    db.exec('DROP INDEX messages_by_date');
    db.exec('ALTER TABLE folders DROP COLUMN first_recent_uid');
    db.exec('DROP TABLE subscriptions');
    db.exec('ALTER TABLE folders ADD COLUMN subscribed INTEGER NOT NULL DEFAULT 1');
    db.exec("UPDATE folders SET subscribed = 0 WHERE name = 'Junk Email'");
    db.pragma('user_version = 1');
    db.close();
    const again = await SqliteStore.open(file);
    const check = new Database(file, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.ok(check.prepare("SELECT 1 FROM sqlite_master WHERE name = 'messages_by_date'").get());
    check.close();
    const page = await again.listMessagePage(u.id, inbox.id, 0, 10);
    assert.equal(page.items[0].subject, 'kept');
    const subscribed = await again.listSubscriptions(u.id);
    assert.ok(subscribed.includes('INBOX') && !subscribed.includes('Junk Email'), subscribed.join());
    assert.equal((await again.getFolder(u.id, 'Junk Email'))!.subscribed, false);
    assert.equal((await again.getFolder(u.id, 'INBOX'))!.subscribed, true);
    // v3: mail stored before \Recent existed is not new to anyone
    assert.equal((await again.folderStatus(u.id, inbox.id)).recent, 0);
    assert.equal(await again.claimRecent(u.id, inbox.id), null);
    await again.close();
  } finally {
    tmp.cleanup();
  }
});

test('claimRecent hands each new message to one claimer, durably; folderStatus counts the unclaimed', async () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 's.sqlite');
  try {
    const s = await SqliteStore.open(file);
    const u = await s.createUser({ address: 'recent@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    assert.equal(await s.claimRecent(u.id, inbox.id), null, 'an empty folder has nothing to claim');
    for (const n of [1, 2]) await s.append(u.id, inbox.id, Buffer.from(`Subject: ${n}\r\n\r\nbody\r\n`));
    assert.equal((await s.folderStatus(u.id, inbox.id)).recent, 2);
    assert.deepEqual(await s.claimRecent(u.id, inbox.id), { from: 1, to: 3 });
    assert.equal(await s.claimRecent(u.id, inbox.id), null, 'claimed once only');
    assert.equal((await s.folderStatus(u.id, inbox.id)).recent, 0);
    await s.append(u.id, inbox.id, Buffer.from('Subject: 3\r\n\r\nbody\r\n'));
    await s.close();
    const again = await SqliteStore.open(file);
    assert.equal((await again.folderStatus(u.id, inbox.id)).recent, 1, 'the mark survives a restart');
    assert.deepEqual(await again.claimRecent(u.id, inbox.id), { from: 3, to: 4 });
    assert.equal(await again.claimRecent(u.id + 1, inbox.id), null, 'another user cannot claim');
    await again.close();
  } finally {
    tmp.cleanup();
  }
});

test('listMessagePage: newest first, stable across equal dates, paged, counted, searchable', async () => {
  const tmp = tempDir();
  try {
    const s = await SqliteStore.open(join(tmp.dir, 's.sqlite'));
    const u = await s.createUser({ address: 'pages@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    const when = new Date('2026-01-01T00:00:00Z');
    for (let i = 0; i < 25; i++) {
      await s.append(u.id, inbox.id, Buffer.from(`Subject: n${i}\r\nFrom: ${i % 5 === 0 ? 'Zed <zed@example.org>' : 'a@example.org'}\r\n\r\nbody ${i}\r\n`), { internalDate: i < 20 ? when : new Date(when.getTime() + i * 1000) });
    }
    const first = await s.listMessagePage(u.id, inbox.id, 0, 10);
    assert.equal(first.total, 25);
    assert.deepEqual(first.items.map((m) => m.subject), ['n24', 'n23', 'n22', 'n21', 'n20', 'n19', 'n18', 'n17', 'n16', 'n15']);
    const last = await s.listMessagePage(u.id, inbox.id, 20, 10);
    assert.deepEqual(last.items.map((m) => m.subject), ['n4', 'n3', 'n2', 'n1', 'n0']);
    const zed = await s.listMessagePage(u.id, inbox.id, 0, 10, 'zed');
    assert.equal(zed.total, 5);
    assert.ok(zed.items.every((m) => m.from.includes('Zed')));
    await s.close();
  } finally {
    tmp.cleanup();
  }
});
