import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { pruneTombstones } from '../../src/store/sqlite/change-state.js';
import { MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { StoreError } from '../../src/store/errors.js';
import type { AccountChanges } from '../../src/store/types.js';
import { tempDir } from '../helpers/tmp.js';
import { undoStep7 } from './change-state-helpers.js';

const msg = (subject: string) => Buffer.from(`Subject: ${subject}\r\nFrom: a@example.org\r\n\r\nbody of ${subject}\r\n`);

async function withStore(fn: (s: SqliteStore, file: string) => Promise<void>): Promise<void> {
  const tmp = tempDir();
  const file = join(tmp.dir, 's.sqlite');
  const s = await SqliteStore.open(file);
  try {
    await fn(s, file);
  } finally {
    await s.close();
    tmp.cleanup();
  }
}

/** The changes as sorted id lists, for comparison. */
const shape = (c: AccountChanges) => ({
  messages: { created: [...c.messages.created].sort(), updated: [...c.messages.updated].sort(), destroyed: [...c.messages.destroyed].sort() },
  folders: { created: [...c.folders.created].sort(), updated: [...c.folders.updated].sort(), destroyed: [...c.folders.destroyed].sort() },
});
const none = { created: [], updated: [], destroyed: [] };
const objectIdOf = async (s: SqliteStore, userId: number, folderId: number, subject: string) =>
  (await s.listMessagePage(userId, folderId, 0, 100, subject)).items[0]!.objectId;

test('every kind of write moves the account state and is reported once by changesSince, by id', async () => {
  await withStore(async (s) => {
    const u = await s.createUser({ address: 'sync@example.com', password: 'pw' });
    const other = await s.createUser({ address: 'other@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    const states: string[] = [await s.changeState(u.id)];
    /** Runs a write, checks the state moved, and returns what changed in it alone. */
    const step = async (what: string, write: () => Promise<unknown>) => {
      const before = await s.changeState(u.id);
      await write();
      const after = await s.changeState(u.id);
      assert.notEqual(after, before, `${what} moves the state`);
      states.push(after);
      const c = await s.changesSince(u.id, before, 1000);
      assert.equal(c.newState, after, what);
      assert.equal(c.hasMore, false, what);
      return shape(c);
    };

    const appended = await s.append(u.id, inbox.id, msg('one'));
    assert.match(appended.objectId, /^M[0-9a-z]+$/);
    let c = await step('append', () => s.append(u.id, inbox.id, msg('two')));
    const two = await objectIdOf(s, u.id, inbox.id, 'two');
    assert.deepEqual(c, { messages: { ...none, created: [two] }, folders: none });

    c = await step('deliver', () => s.deliver([u.id, other.id], msg('three')));
    const three = await objectIdOf(s, u.id, inbox.id, 'three');
    assert.deepEqual(c, { messages: { ...none, created: [three] }, folders: none }, 'the other recipient’s copy is not this account’s');

    c = await step('flags', () => s.storeFlags(u.id, inbox.id, [1, 2], 'add', ['\\Seen']));
    assert.deepEqual(c, { messages: { ...none, updated: [appended.objectId, two].sort() }, folders: none });

    const work = await s.createFolder(u.id, 'Work');
    assert.match(work.mailboxId, /^F[0-9a-z]+$/);
    c = await step('folder create', () => s.createFolder(u.id, 'Later'));
    const later = (await s.getFolder(u.id, 'Later'))!;
    assert.deepEqual(c, { messages: none, folders: { ...none, created: [later.mailboxId] } });

    c = await step('copy', () => s.copyMessages(u.id, inbox.id, [1], work.id));
    const copy = (await s.listMessagePage(u.id, work.id, 0, 10)).items[0]!;
    const original = (await s.getMessage(u.id, appended.objectId))!;
    assert.notEqual(copy.objectId, appended.objectId, 'a copy is a new message');
    assert.equal(copy.emailId, original.emailId, 'RFC 8474 5.1: the copy keeps the EMAILID');
    assert.deepEqual(c, { messages: { ...none, created: [copy.objectId] }, folders: none });

    c = await step('move', () => s.moveMessages(u.id, inbox.id, [2], work.id));
    const moved = (await s.getMessage(u.id, two))!;
    assert.equal(moved.folderId, work.id, 'the moved message keeps its id');
    assert.deepEqual(c, { messages: { ...none, updated: [two] }, folders: none });

    c = await step('expunge', async () => {
      await s.storeFlags(u.id, inbox.id, [3], 'add', ['\\Deleted']);
      await s.expunge(u.id, inbox.id);
    });
    assert.deepEqual(c, { messages: { ...none, destroyed: [three] }, folders: none });
    assert.equal(await s.getMessage(u.id, three), null);

    c = await step('folder rename', () => s.renameFolder(u.id, work.id, 'Work 2026'));
    assert.equal((await s.getFolderById(u.id, work.id))!.mailboxId, work.mailboxId, 'MAILBOXID is kept across rename');
    assert.deepEqual(c, { messages: none, folders: { ...none, updated: [work.mailboxId] } });

    c = await step('folder delete', () => s.deleteFolder(u.id, work.id));
    assert.deepEqual(c, { messages: { ...none, destroyed: [copy.objectId, two].sort() }, folders: { ...none, destroyed: [work.mailboxId] } });
    const recreated = await s.createFolder(u.id, 'Work 2026');
    assert.notEqual(recreated.mailboxId, work.mailboxId, 'a deleted folder’s id is never given again');

    // RFC 3501 6.3.5: renaming INBOX moves its messages into a new folder; they keep their ids
    const left = (await s.listMessagePage(u.id, inbox.id, 0, 10)).items.map((m) => m.objectId);
    c = await step('INBOX rename', () => s.renameFolder(u.id, inbox.id, 'Old Inbox'));
    const oldInbox = (await s.getFolder(u.id, 'Old Inbox'))!;
    assert.notEqual(oldInbox.mailboxId, inbox.mailboxId);
    assert.deepEqual(c, { messages: { ...none, updated: left.sort() }, folders: { ...none, created: [oldInbox.mailboxId] } });

    // every state handed out is still answerable, and answers up to the newest
    assert.equal(new Set(states).size, states.length, 'no state twice');
    for (const st of states) assert.equal((await s.changesSince(u.id, st, 1000)).newState, states[states.length - 1]);
    assert.deepEqual(shape(await s.changesSince(u.id, states[states.length - 1]!, 1000)), { messages: none, folders: none });
    // from the very first state: net effect (made and gone within the range are left out)
    const all = shape(await s.changesSince(u.id, states[0]!, 1000));
    assert.deepEqual(all.messages.destroyed, [], 'one, two and three were created after the first state');
    assert.ok(all.messages.created.includes(two) === false && all.messages.created.includes(appended.objectId));
  });
});

test('a second SqliteStore on the same file (another process) moves the state the first one reports', async () => {
  await withStore(async (s, file) => {
    const u = await s.createUser({ address: 'twin@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    const start = await s.changeState(u.id);
    const other = await SqliteStore.open(file);
    try {
      const r = await other.append(u.id, inbox.id, msg('from elsewhere'));
      await other.storeFlags(u.id, inbox.id, [r.uid], 'add', ['\\Flagged']);
      const f = await other.createFolder(u.id, 'Elsewhere');
      const c = await s.changesSince(u.id, start, 100);
      assert.deepEqual(shape(c), { messages: { ...none, created: [r.objectId] }, folders: { ...none, created: [f.mailboxId] } });
      assert.equal(c.newState, await other.changeState(u.id));
      const mid = c.newState;
      await other.moveMessages(u.id, inbox.id, [r.uid], f.id);
      await other.deleteFolder(u.id, f.id);
      assert.deepEqual(shape(await s.changesSince(u.id, mid, 100)), { messages: { ...none, destroyed: [r.objectId] }, folders: { ...none, destroyed: [f.mailboxId] } });
    } finally {
      await other.close();
    }
  });
});

test('a writer that knows nothing of change states (plain SQL) still moves them: the triggers are the fallback', async () => {
  await withStore(async (s, file) => {
    const u = await s.createUser({ address: 'raw@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    const a = await s.append(u.id, inbox.id, msg('a'));
    const b = await s.append(u.id, inbox.id, msg('b'));
    const start = await s.changeState(u.id);
    const db = new Database(file);
    try {
      db.prepare("UPDATE messages SET flags = '\\Flagged' WHERE folder_id = ? AND uid = ?").run(inbox.id, a.uid);
      db.prepare('DELETE FROM messages WHERE folder_id = ? AND uid = ?').run(inbox.id, b.uid);
      db.prepare("UPDATE folders SET name = 'Renamed raw' WHERE id = (SELECT id FROM folders WHERE user_id = ? AND name = 'Junk Email')").run(u.id);
    } finally {
      db.close();
    }
    const junk = (await s.getFolder(u.id, 'Renamed raw'))!;
    assert.deepEqual(shape(await s.changesSince(u.id, start, 10)), {
      messages: { ...none, updated: [a.objectId], destroyed: [b.objectId] }, folders: { ...none, updated: [junk.mailboxId] },
    });
  });
});

test('changesSince of one folder: a move is destroyed in the folder left and created in the folder entered', async () => {
  await withStore(async (s) => {
    const u = await s.createUser({ address: 'folders@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    const work = await s.createFolder(u.id, 'Work');
    const a = await s.append(u.id, inbox.id, msg('a'));
    const b = await s.append(u.id, inbox.id, msg('b'));
    const w = await s.append(u.id, work.id, msg('w'));
    const start = await s.changeState(u.id);
    await s.storeFlags(u.id, inbox.id, [a.uid], 'add', ['\\Seen']);
    await s.moveMessages(u.id, inbox.id, [b.uid], work.id);
    await s.storeFlags(u.id, work.id, [w.uid], 'add', ['\\Deleted']);
    await s.expunge(u.id, work.id);
    const c = await s.append(u.id, work.id, msg('c'));
    const inInbox = await s.changesSince(u.id, start, 100, { folderId: inbox.id });
    assert.deepEqual(shape(inInbox), { messages: { ...none, updated: [a.objectId], destroyed: [b.objectId] }, folders: none });
    assert.equal(inInbox.newState, await s.changeState(u.id), 'states are the account’s');
    assert.deepEqual(shape(await s.changesSince(u.id, start, 100, { folderId: work.id })), {
      messages: { created: [b.objectId, c.objectId].sort(), updated: [], destroyed: [w.objectId] }, folders: none,
    });
    // the account sees the same as one update (the move), one destroyed and one created
    assert.deepEqual(shape(await s.changesSince(u.id, start, 100)).messages, {
      created: [c.objectId], updated: [a.objectId, b.objectId].sort(), destroyed: [w.objectId],
    });
    await assert.rejects(s.changesSince(u.id, start, 100, { folderId: 999_999 }), (e: unknown) => e instanceof StoreError && e.kind === 'not-found');
  });
});

test('changesSince pages by maxChanges, oldest first, and the pages add up to the whole', async () => {
  await withStore(async (s) => {
    const u = await s.createUser({ address: 'pages@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    const start = await s.changeState(u.id);
    const made: string[] = [];
    for (let i = 0; i < 12; i++) made.push((await s.append(u.id, inbox.id, msg(`p${i}`))).objectId);
    await s.storeFlags(u.id, inbox.id, [1, 2, 3], 'add', ['\\Seen']); // already reported as created: no second mention
    await s.storeFlags(u.id, inbox.id, [4], 'add', ['\\Deleted']);
    await s.expunge(u.id, inbox.id); // made and gone: not reported from `start`
    const seen: string[] = [];
    let state = start;
    let pages = 0;
    for (;;) {
      const c = await s.changesSince(u.id, state, 5);
      const ids = [...c.messages.created, ...c.messages.updated, ...c.messages.destroyed];
      assert.ok(ids.length <= 5, `page ${pages}: ${ids.length} ids`);
      seen.push(...ids);
      state = c.newState;
      pages++;
      if (!c.hasMore) break;
      assert.ok(pages < 10, 'pages end');
    }
    assert.equal(state, await s.changeState(u.id));
    assert.ok(pages >= 3, `${pages} pages`);
    // the first page is the oldest changes
    const expected = made.filter((id, i) => i !== 3);
    for (const id of expected) assert.ok(seen.includes(id), `${id} reported`);
    // no id twice; the one made and destroyed is at most reported destroyed (by a page after its
    // creation's), never as living. In one answer it is not reported at all.
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(seen.filter((id) => id === made[3]).length <= 1);
    const whole = await s.changesSince(u.id, start, 1000);
    assert.deepEqual(shape(whole).messages, { created: expected.sort(), updated: [], destroyed: [] });
  });
});

test('changesSince refuses a state that is not the account’s, and one older than the tombstones kept', async () => {
  await withStore(async (s, file) => {
    const u = await s.createUser({ address: 'old@example.com', password: 'pw' });
    const v = await s.createUser({ address: 'other2@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    const early = await s.changeState(u.id);
    await s.append(u.id, inbox.id, msg('x'));
    const kind = (err: unknown) => err instanceof StoreError && err.kind === 'cannot-calculate-changes';
    for (const bad of ['', 'S', 'Sz!', 'M12', '12', 'S' + 'z'.repeat(11), '../etc']) {
      await assert.rejects(s.changesSince(u.id, bad, 10), kind, JSON.stringify(bad));
    }
    await assert.rejects(s.changesSince(v.id, await s.changeState(u.id), 10), kind, 'a state from the future of this account');
    await assert.rejects(s.changesSince(9999, early, 10), (e: unknown) => e instanceof StoreError && e.kind === 'not-found');
    assert.equal((await s.changesSince(u.id, early, 10)).messages.created.length, 1);
    // pruning (90 days in production; "older than tomorrow" here) drops the tombstones and the states before them
    await s.storeFlags(u.id, inbox.id, [1], 'add', ['\\Deleted']);
    await s.expunge(u.id, inbox.id);
    const afterExpunge = await s.changeState(u.id);
    const db = new Database(file);
    try {
      assert.equal(pruneTombstones(db, (sql) => db.prepare(sql), new Date(Date.now() + 86_400_000)), 1);
    } finally {
      db.close();
    }
    await assert.rejects(s.changesSince(u.id, early, 10), kind, 'too old: the tombstone it needs is gone');
    assert.deepEqual(shape(await s.changesSince(u.id, afterExpunge, 10)), { messages: none, folders: none });
  });
});

test('removing a user leaves no tombstones behind', async () => {
  await withStore(async (s, file) => {
    const u = await s.createUser({ address: 'gone@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    await s.append(u.id, inbox.id, msg('bye'));
    await s.createFolder(u.id, 'Extra');
    await s.removeUser(u.id);
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.prepare('SELECT count(*) FROM tombstones WHERE user_id = ?').pluck().get(u.id), 0);
    } finally {
      db.close();
    }
  });
});

test('a store from schema 6 is upgraded: existing messages and folders get ids, and changes are answered from the first state', async () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 's.sqlite');
  try {
    const s = await SqliteStore.open(file);
    const u = await s.createUser({ address: 'v6@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    for (let i = 0; i < 3; i++) await s.append(u.id, inbox.id, msg(`v6-${i}`));
    await s.close();
    const db = new Database(file);
    undoStep7(db);
    db.close();

    const again = await SqliteStore.open(file);
    try {
      const check = new Database(file, { readonly: true });
      assert.equal(check.pragma('user_version', { simple: true }), MIGRATIONS.length);
      check.close();
      const page = await again.listMessagePage(u.id, inbox.id, 0, 10);
      const ids = page.items.map((m) => m.objectId);
      assert.equal(new Set(ids).size, 3);
      for (const id of ids) assert.equal((await again.getMessage(u.id, id))!.folderId, inbox.id);
      const folders = await again.listFolders(u.id);
      assert.equal(new Set(folders.map((f) => f.mailboxId)).size, folders.length);
      const start = await again.changeState(u.id);
      const n = await again.append(u.id, inbox.id, msg('after upgrade'));
      assert.ok(!ids.includes(n.objectId), 'new ids never meet the ones the upgrade gave');
      await again.moveMessages(u.id, inbox.id, [1], (await again.getSpecialFolder(u.id, '\\Trash')).id);
      assert.deepEqual(shape(await again.changesSince(u.id, start, 10)), { messages: { ...none, created: [n.objectId], updated: [ids[2]!] }, folders: none });
    } finally {
      await again.close();
    }
  } finally {
    tmp.cleanup();
  }
});
