// The Store operations added or corrected by the store-as-a-contract work (store.ts): each as
// its specification says, on the real SQLite backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { StoreError, type StoreErrorKind } from '../../src/store/errors.js';
import { toStoreError } from '../../src/store/sqlite/backend-errors.js';
import { tempDir } from '../helpers/tmp.js';
import { withStore } from './with-store.js';

const msg = (i: number | string, body = 'x') => Buffer.from(`From: a@example.com\r\nTo: b@example.com\r\nSubject: m${i}\r\n\r\n${body}\r\n`);


const kindIs = (kind: StoreErrorKind) => (e: unknown) => e instanceof StoreError && e.kind === kind;

test('expunge removes only \\Deleted messages; removeMessages removes the given ones whatever their flags, atomically', async () => {
  await withStore(async (store) => {
    const u = await store.createUser({ address: 'rm@example.com', password: 'pw' });
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    for (let i = 1; i <= 5; i++) await store.append(u.id, inbox.id, msg(i), { flags: i === 2 ? ['\\Deleted'] : [] });
    assert.deepEqual(await store.expunge(u.id, inbox.id, [1, 2, 3]), [2], 'expunge: only the \\Deleted among the given UIDs');
    const before = await store.folderStatus(u.id, inbox.id);
    const published: string[] = [];
    const unsubscribe = store.changes.subscribeUser(u.id, (c) => published.push(c.kind));
    assert.deepEqual(await store.removeMessages(u.id, inbox.id, [4, 1, 99, 4]), [1, 4], 'ascending, unknown UIDs skipped, duplicates once');
    unsubscribe();
    assert.deepEqual(published, ['expunge'], 'one change, an expunge: no flag change is ever visible');
    const after = await store.folderStatus(u.id, inbox.id);
    assert.equal(after.messages, before.messages - 2);
    assert.equal(after.highestModseq, before.highestModseq + 1);
    assert.deepEqual((await store.listMessages(u.id, inbox.id)).map((m) => [m.uid, m.flags]), [[3, []], [5, []]]);
    assert.deepEqual((await store.expungedSince(u.id, inbox.id, before.highestModseq)).map((e) => e.uid), [1, 4]);
    assert.equal((await store.quota(u.id)).messages, 2);
    assert.deepEqual(await store.removeMessages(u.id, inbox.id, []), []);
    await assert.rejects(store.removeMessages(u.id, 987_654, [1]), kindIs('not-found'));
  });
});

test('appendMany: consecutive UIDs in order, all or nothing (over quota, no such folder)', async () => {
  await withStore(async (store) => {
    const u = await store.createUser({ address: 'many@example.com', password: 'pw' });
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    const date = new Date('2020-02-02T10:00:00Z');
    const r = await store.appendMany(u.id, inbox.id, [{ raw: msg(1) }, { raw: msg(2), flags: ['\\Seen', '$Work'], internalDate: date }]);
    assert.deepEqual(r.map((x) => x.uid), [1, 2]);
    assert.ok(r[1]!.modseq > r[0]!.modseq);
    const listed = await store.listMessages(u.id, inbox.id);
    assert.deepEqual(listed[1]!.flags, ['\\Seen', '$Work']);
    assert.equal(listed[1]!.internalDate.getTime(), date.getTime());
    const used = (await store.quota(u.id)).usedBytes;
    await store.putSetting({ scope: 'user', targetId: u.id, name: 'Default Mailbox Quota Bytes', value: String(used + msg(3).length + 10) });
    // each fits alone, both together do not: neither is stored
    await assert.rejects(store.appendMany(u.id, inbox.id, [{ raw: msg(3) }, { raw: msg(4) }]), kindIs('over-quota'));
    await assert.rejects(store.appendMany(u.id, 987_654, [{ raw: msg(5) }]), kindIs('not-found'));
    const status = await store.folderStatus(u.id, inbox.id);
    assert.equal(status.messages, 2);
    assert.equal(status.uidNext, 3, 'no UID was used up by the refused appends');
    assert.deepEqual(await store.appendMany(u.id, inbox.id, []), []);
  });
});

test('getMessages: the UIDs the folder holds, ascending, with the parts asked for, in one call', async () => {
  await withStore(async (store) => {
    const u = await store.createUser({ address: 'get@example.com', password: 'pw' });
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    for (let i = 1; i <= 4; i++) await store.append(u.id, inbox.id, msg(i, 'body ' + i), { flags: i === 3 ? ['\\Flagged'] : [] });
    const bare = await store.getMessages(u.id, inbox.id, [3, 1, 42]);
    assert.deepEqual(bare.map((m) => m.uid), [1, 3]);
    assert.deepEqual(bare[1]!.flags, ['\\Flagged']);
    assert.equal(bare[0]!.raw, undefined);
    assert.equal(bare[0]!.structure, undefined);
    const full = await store.getMessages(u.id, inbox.id, [2, 4], { raw: true, structure: true });
    assert.deepEqual(full.map((m) => m.raw!.toString()), [msg(2, 'body 2').toString(), msg(4, 'body 4').toString()]);
    assert.equal(JSON.parse(full[0]!.structure!).envelope.subject, 'm2');
    const byUid = await store.getMessageByUid(u.id, inbox.id, 2);
    assert.deepEqual({ ...full[0], raw: undefined, structure: undefined, emailId: undefined, threadId: undefined }, { ...byUid, raw: undefined, structure: undefined, emailId: undefined, threadId: undefined });
    assert.deepEqual(await store.getMessages(u.id, inbox.id, []), []);
    await assert.rejects(store.getMessages(u.id, 987_654, [1]), kindIs('not-found'));
  });
});

test('isLocalDomain: any address of any mailbox, case-insensitive, from the moment it is added', async () => {
  await withStore(async (store) => {
    assert.equal(await store.isLocalDomain('example.com'), false);
    const u = await store.createUser({ address: 'dom@Example.COM', password: 'pw' });
    assert.equal(await store.isLocalDomain('example.com'), true);
    assert.equal(await store.isLocalDomain('EXAMPLE.com.'), true, 'a trailing root dot is the same domain');
    assert.equal(await store.isLocalDomain('sub.example.com'), false);
    assert.equal(await store.isLocalDomain('ample.com'), false);
    assert.equal(await store.isLocalDomain(''), false);
    await store.addAddress(u.id, 'other@second.example');
    assert.equal(await store.isLocalDomain('second.example'), true);
    await store.removeUser(u.id);
    assert.equal(await store.isLocalDomain('example.com'), false);
  });
});

test('quota inside the write: deliver names the recipients over quota and stores for the others; copy is refused, move is not', async () => {
  await withStore(async (store) => {
    const a = await store.createUser({ address: 'qa@example.com', password: 'pw' });
    const b = await store.createUser({ address: 'qb@example.com', password: 'pw' });
    await store.putSetting({ scope: 'user', targetId: b.id, name: 'Default Mailbox Quota Bytes', value: '100' });
    const out = await store.deliver([a.id, b.id], msg(1, 'y'.repeat(200)));
    assert.deepEqual([...out.delivered.keys()], [a.id]);
    assert.deepEqual(out.overQuota, [b.id]);
    assert.equal((await store.quota(b.id)).messages, 0);
    // all over quota: nothing stored, no blob left behind
    const none = await store.deliver([b.id], msg(2, 'y'.repeat(200)));
    assert.equal(none.delivered.size, 0);
    assert.deepEqual(none.overQuota, [b.id]);
    const queued = await store.deliverAndEnqueue([b.id], msg(3, 'y'.repeat(200)), { sender: 's@example.com', recipients: ['r@remote.example'], raw: msg(3), submittedBy: null });
    assert.deepEqual(queued.overQuota, [b.id]);
    assert.equal((await store.listQueue()).length, 1, 'the queue entry commits even when no local recipient had room');

    await store.putSetting({ scope: 'user', targetId: a.id, name: 'Default Mailbox Quota Bytes', value: String((await store.quota(a.id)).usedBytes + 10) });
    const inbox = await store.getSpecialFolder(a.id, '\\Inbox');
    const trash = await store.getSpecialFolder(a.id, '\\Trash');
    await assert.rejects(store.copyMessages(a.id, inbox.id, [1], trash.id), kindIs('over-quota'));
    assert.equal((await store.moveMessages(a.id, inbox.id, [1], trash.id)).pairs.length, 1, 'a move takes no more room');
    assert.equal((await store.quota(a.id)).limitBytes > 0, true);
  });
});

test('a store opened without a quota rule has no quota', async () => {
  const tmp = tempDir();
  const store = await SqliteStore.open(join(tmp.dir, 's.sqlite'));
  try {
    const u = await store.createUser({ address: 'free@example.com', password: 'pw' });
    await store.putSetting({ scope: 'server', targetId: 0, name: 'Default Mailbox Quota Bytes', value: '10' });
    await store.deliver([u.id], msg(1, 'z'.repeat(100)));
    assert.equal((await store.quota(u.id)).limitBytes, 0);
  } finally {
    await store.close();
    tmp.cleanup();
  }
});

test('concurrent writers of one name: the second gets a typed `exists`, never a driver error', async () => {
  await withStore(async (store) => {
    const u = await store.createUser({ address: 'race@example.com', password: 'pw' });
    // both check "no such folder" before either writes: the second meets the UNIQUE constraint
    const folders = await Promise.allSettled([store.createFolder(u.id, 'Same'), store.createFolder(u.id, 'Same')]);
    assert.deepEqual(folders.map((r) => r.status), ['fulfilled', 'rejected']);
    assert.ok(kindIs('exists')((folders[1] as PromiseRejectedResult).reason), String((folders[1] as PromiseRejectedResult).reason));
    const users = await Promise.allSettled([1, 2].map(() => store.createUser({ address: 'twice@example.com', password: 'pw' })));
    assert.deepEqual(users.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    assert.ok(kindIs('exists')(users.find((r) => r.status === 'rejected')!.reason));
    const renames = await Promise.allSettled([store.createFolder(u.id, 'A'), store.createFolder(u.id, 'B')]);
    assert.ok(renames.every((r) => r.status === 'fulfilled'));
    const [a, b] = await Promise.all([store.getFolder(u.id, 'A'), store.getFolder(u.id, 'B')]);
    const moved = await Promise.allSettled([store.renameFolder(u.id, a!.id, 'Target'), store.renameFolder(u.id, b!.id, 'Target')]);
    assert.deepEqual(moved.map((r) => r.status), ['fulfilled', 'rejected']);
    assert.ok(kindIs('exists')((moved[1] as PromiseRejectedResult).reason));
  });
});

test('backend errors become StoreErrors: a locked database is `unavailable`, a damaged file `corrupt`', async () => {
  const tmp = tempDir();
  try {
    const file = join(tmp.dir, 'locked.sqlite');
    const holder = new Database(file);
    holder.exec('CREATE TABLE t (x)');
    holder.exec('BEGIN EXCLUSIVE');
    const other = new Database(file, { timeout: 0 });
    let busy: unknown;
    try {
      other.exec('INSERT INTO t VALUES (1)');
    } catch (err) {
      busy = err;
    }
    holder.exec('ROLLBACK');
    other.close();
    holder.close();
    assert.match(String((busy as { code?: string }).code), /^SQLITE_BUSY/);
    const mapped = toStoreError(busy);
    assert.ok(kindIs('unavailable')(mapped), String(mapped));

    const junk = join(tmp.dir, 'junk.sqlite');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(junk, Buffer.alloc(8192, 0x5a));
    let notADb: unknown;
    try {
      new Database(junk).pragma('user_version');
    } catch (err) {
      notADb = err;
    }
    assert.ok(kindIs('corrupt')(toStoreError(notADb)), String(toStoreError(notADb)));
    // not a backend error (a bug): left as it is, for the front end's SERVERBUG and the log
    const bug = new TypeError('x is undefined');
    assert.equal(toStoreError(bug), bug);
  } finally {
    tmp.cleanup();
  }
});
