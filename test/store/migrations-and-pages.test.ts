import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { tempDir } from '../helpers/tmp.js';
import { undoStep13, undoStep14, undoStep7 } from './change-state-helpers.js';
import { factsOf } from '../../src/mime/sort-facts.js';

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
    undoStep7(db);
    for (const t of ['insert', 'delete', 'move', 'seen']) db.exec(`DROP TRIGGER folder_counts_${t}`);
    for (const t of ['insert', 'delete', 'move']) db.exec(`DROP TRIGGER message_list_${t}`);
    db.exec('DROP TABLE message_list');
    for (const c of ['message_count', 'unseen_count', 'total_size']) db.exec(`ALTER TABLE folders DROP COLUMN ${c}`);
    db.exec('ALTER TABLE folders DROP COLUMN first_recent_uid');
    db.exec('DROP TABLE subscriptions');
    db.exec('ALTER TABLE folders ADD COLUMN subscribed INTEGER NOT NULL DEFAULT 1');
    db.exec("UPDATE folders SET subscribed = 0 WHERE name = 'Junk Email'");
    db.pragma('user_version = 1');
    db.close();
    const again = await SqliteStore.open(file);
    const check = new Database(file, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.ok(check.prepare("SELECT 1 FROM sqlite_master WHERE name = 'message_list'").get());
    assert.ok(!check.prepare("SELECT 1 FROM sqlite_master WHERE name = 'messages_by_date'").get(), 'migration 6 replaced the date index');
    check.close();
    const page = await again.listMessagePage(u.id, inbox.id, 0, 10);
    assert.equal(page.items[0].subject, 'kept');
    const subscribed = await again.listSubscriptions(u.id);
    assert.ok(subscribed.includes('INBOX') && !subscribed.includes('Junk Email'), subscribed.join());
    assert.equal((await again.getFolder(u.id, 'Junk Email'))!.subscribed, false);
    assert.equal((await again.getFolder(u.id, 'INBOX'))!.subscribed, true);
    // v3: mail stored before \Recent existed is not new to anyone
    const st = await again.folderStatus(u.id, inbox.id);
    assert.equal(st.recent, 0);
    // v5: the folder counters are filled from the messages already there
    assert.deepEqual([st.messages, st.unseen, st.size], [1, 1, 'Subject: kept\r\n\r\nbody\r\n'.length]);
    assert.equal(await again.claimRecent(u.id, inbox.id), null);
    // v11: a message stored before save dates were kept has none (SAVEDATE NIL), not its internal date
    const kept = (await again.getMessageByUid(u.id, inbox.id, 1))!;
    assert.equal(kept.saveDate, null);
    assert.ok(kept.internalDate instanceof Date);
    // v13: the sort facts of a message stored before are filled in from its bytes
    assert.deepEqual((await again.getSortFacts(u.id, inbox.id, [1]))[0]!.facts, factsOf(Buffer.from('Subject: kept\r\n\r\nbody\r\n')));
    await again.close();
  } finally {
    tmp.cleanup();
  }
});

test('schema step 13 fills in the sort facts of every message stored before it, in the store and its message list', async () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 's.sqlite');
  const raws = [
    Buffer.from('From: "Zed" <z@example.org>\r\nSubject: Re: old one\r\nMessage-ID: <old1@x>\r\nDate: Mon, 1 Jan 2001 00:00:00 +0000\r\n\r\nbody\r\n'),
    Buffer.from('From: a@example.org\r\nSubject: old two\r\nIn-Reply-To: <old1@x>\r\n\r\nbody\r\n'),
  ];
  try {
    const s = await SqliteStore.open(file);
    const u = await s.createUser({ address: 'mig13@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    for (const raw of raws) await s.append(u.id, inbox.id, raw);
    await s.close();
    const db = new Database(file);
    undoStep13(db);
    db.close();
    const again = await SqliteStore.open(file);
    try {
      const check = new Database(file, { readonly: true });
      assert.equal(check.pragma('user_version', { simple: true }), MIGRATIONS.length);
      assert.equal(check.prepare('SELECT count(*) FROM blobs WHERE sort_facts IS NULL').pluck().get(), 0);
      assert.equal(check.prepare('SELECT count(*) FROM message_list WHERE sort_facts IS NULL').pluck().get(), 0);
      check.close();
      const got = await again.getSortFacts(u.id, inbox.id, [1, 2]);
      assert.deepEqual(got.map((m) => m.facts), raws.map((r) => factsOf(r)));
      // a message stored after the step gets its facts from the new insert trigger
      await again.append(u.id, inbox.id, raws[0]!);
      assert.deepEqual((await again.getSortFacts(u.id, inbox.id, [3]))[0]!.facts, factsOf(raws[0]!));
    } finally {
      await again.close();
    }
  } finally {
    tmp.cleanup();
  }
});

test('schema step 14 gives every message stored before it a thread of its own, and a later reply joins it by Message-ID', async () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 's.sqlite');
  try {
    const s = await SqliteStore.open(file);
    const u = await s.createUser({ address: 'mig14@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    await s.append(u.id, inbox.id, Buffer.from('Subject: old\r\nMessage-ID: <old1@x>\r\n\r\nbody\r\n'));
    await s.append(u.id, inbox.id, Buffer.from('Subject: old reply\r\nReferences: <old1@x>\r\n\r\nbody\r\n'));
    await s.close();
    const db = new Database(file);
    undoStep14(db);
    db.close();
    const again = await SqliteStore.open(file);
    try {
      const [a, b] = await again.getMessages(u.id, inbox.id, [1, 2]);
      assert.notEqual(a!.threadId, b!.threadId, 'rows stored before: each its own thread');
      await again.deliver([u.id], Buffer.from('Subject: new reply\r\nIn-Reply-To: <old1@x>\r\n\r\nbody\r\n'));
      const [c] = await again.getMessages(u.id, inbox.id, [3]);
      assert.equal(c!.threadId, a!.threadId, 'the backfilled Message-ID key finds the old parent');
    } finally {
      await again.close();
    }
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

test('folder counters (messages, unseen, bytes) and the stored message list stay equal to the rows through every kind of write', async () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 's.sqlite');
  try {
    const s = await SqliteStore.open(file);
    const u = await s.createUser({ address: 'counts@example.com', password: 'pw' });
    const other = await s.createUser({ address: 'counts2@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    const work = await s.createFolder(u.id, 'Work');
    const check = new Database(file, { readonly: true });
    // what STATUS used to compute by scanning: the truth the counters must match
    const truth = (folderId: number) =>
      check.prepare("SELECT count(*) AS messages, coalesce(sum(instr(' ' || flags || ' ', ' \\Seen ') = 0), 0) AS unseen, coalesce(sum(size), 0) AS size FROM messages WHERE folder_id = ?").get(folderId) as { messages: number; unseen: number; size: number };
    // the list as the join it replaces would give it
    const listTruth = (folderId: number) =>
      check.prepare(`SELECT m.id, m.uid, m.modseq, m.flags, m.internal_date, m.size, b.subject, b.preview FROM messages m JOIN blobs b ON b.hash = m.blob_hash
        WHERE m.folder_id = ? ORDER BY m.internal_date DESC, m.uid DESC`).all(folderId);
    const agree = async (when: string) => {
      for (const { folder: f, messages, unseen, size } of await s.listFolderCounts(u.id)) {
        const st = await s.folderStatus(u.id, f.id);
        assert.deepEqual({ messages: st.messages, unseen: st.unseen, size: st.size }, truth(f.id), `${f.name} after ${when}`);
        assert.deepEqual({ messages, unseen, size }, truth(f.id), `${f.name} in listFolderCounts after ${when}`);
        const page = await s.listMessagePage(u.id, f.id, 0, 100);
        assert.deepEqual(
          page.items.map((m) => ({ id: m.id, uid: m.uid, modseq: m.modseq, flags: m.flags.join(' '), internal_date: m.internalDate.getTime(), size: m.size, subject: m.subject, preview: m.preview })),
          listTruth(f.id), `${f.name}'s list after ${when}`,
        );
      }
    };
    const msg = (i: number) => Buffer.from(`Subject: m${i}\r\n\r\n${'x'.repeat(i * 7)}\r\n`);
    for (let i = 1; i <= 6; i++) await s.append(u.id, inbox.id, msg(i), { flags: i % 2 ? ['\\Seen'] : [] });
    await s.deliver([u.id, other.id], msg(7));
    await agree('append and deliver');
    await s.storeFlags(u.id, inbox.id, [2, 4], 'add', ['\\Seen']);
    await agree('\\Seen added');
    await s.storeFlags(u.id, inbox.id, [1], 'remove', ['\\Seen']);
    await agree('\\Seen removed');
    await s.storeFlags(u.id, inbox.id, [1, 2, 3], 'add', ['\\Flagged']);
    await s.storeFlags(u.id, inbox.id, [5], 'set', ['\\Answered']);
    await agree('other flags changed');
    await s.copyMessages(u.id, inbox.id, [1, 2], work.id);
    await s.moveMessages(u.id, inbox.id, [3, 4], work.id);
    await agree('copy and move');
    await s.storeFlags(u.id, work.id, [1], 'add', ['\\Deleted']);
    await s.expunge(u.id, work.id);
    await s.expunge(u.id, inbox.id, [5]);
    await agree('expunge');
    await s.renameFolder(u.id, inbox.id, 'Old Inbox'); // RENAME INBOX moves the messages into a new folder
    await agree('RENAME INBOX');
    await s.deleteFolder(u.id, work.id);
    await agree('folder deleted');
    const otherInbox = await s.getSpecialFolder(other.id, '\\Inbox');
    assert.equal((await s.folderStatus(other.id, otherInbox.id)).messages, 1, "another user's copy counts in their folder only");
    check.close();
    await s.close();
  } finally {
    tmp.cleanup();
  }
});
