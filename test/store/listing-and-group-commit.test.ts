import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { StoreError } from '../../src/store/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { withStore } from './with-store.js';

const msg = (i: number, body = 'x') => Buffer.from(`From: a@example.com\r\nTo: b@example.com\r\nSubject: m${i}\r\n\r\n${body}\r\n`);


test('listMessages and listMessageIndex agree, in UID order, with flags, sizes, MODSEQs and changedSince', async () => {
  await withStore(async (store) => {
    const u = await store.createUser({ address: 'list@example.com', password: 'pw' });
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    const empty = await store.listMessageIndex(u.id, inbox.id);
    assert.equal(empty.uids.length, 0);
    assert.deepEqual(await store.listMessages(u.id, inbox.id), []);
    const flagSets = [[], ['\\Seen'], ['\\Seen', '\\Flagged'], ['$Label "odd"']];
    for (let i = 0; i < 40; i++) await store.append(u.id, inbox.id, msg(i, 'y'.repeat(i)), { flags: flagSets[i % 4], internalDate: new Date(1_700_000_000_000 + i * 1000) });
    await store.expunge(u.id, inbox.id, []); // no-op
    await store.storeFlags(u.id, inbox.id, [3, 5], 'add', ['\\Deleted']);
    await store.expunge(u.id, inbox.id);
    const list = await store.listMessages(u.id, inbox.id);
    const idx = await store.listMessageIndex(u.id, inbox.id);
    assert.equal(list.length, 38);
    assert.deepEqual([...idx.uids], list.map((m) => m.uid));
    assert.deepEqual([...idx.uids], [...idx.uids].sort((a, b) => a - b));
    assert.deepEqual([...idx.sizes], list.map((m) => m.size));
    assert.deepEqual([...idx.modseqs], list.map((m) => m.modseq));
    assert.deepEqual(idx.flags.map((f) => [...f]), list.map((m) => m.flags));
    // flags are arrays at the API, one shared array per combination (no per-message array, no text to match on)
    const seen = idx.flags.filter((f) => f.length === 1 && f[0] === '\\Seen');
    assert.ok(seen.length > 1 && seen.every((f) => f === seen[0]));
    for (const m of list) {
      const one = await store.getMessageByUid(u.id, inbox.id, m.uid);
      assert.deepEqual(m, one);
    }
    assert.deepEqual(list.find((m) => m.uid === 4)!.flags, ['$Label', '"odd"']);
    const top = list[list.length - 1]!.modseq;
    await store.storeFlags(u.id, inbox.id, [10], 'add', ['\\Answered']);
    const changed = await store.listMessages(u.id, inbox.id, { changedSince: top });
    assert.deepEqual(changed.map((m) => m.uid), [10]);
    const changedIdx = await store.listMessageIndex(u.id, inbox.id, { changedSince: top });
    assert.deepEqual([...changedIdx.uids], [10]);
    await assert.rejects(store.listMessageIndex(u.id, 999_999), StoreError);
  });
});

/** Users a and b with their Inboxes; b may hold 200 bytes. */
async function twoUsers(store: SqliteStore) {
  const a = await store.createUser({ address: 'a@example.com', password: 'pw' });
  const b = await store.createUser({ address: 'b@example.com', password: 'pw' });
  await store.putSetting({ scope: 'user', targetId: b.id, name: 'Default Mailbox Quota Bytes', value: '200' });
  return { a, b, ia: await store.getSpecialFolder(a.id, '\\Inbox'), ib: await store.getSpecialFolder(b.id, '\\Inbox') };
}

test('group commit: concurrent appends share a commit, each acknowledged after it, a failing one alone is refused', async () => {
  await withStore(async (store, file) => {
    const { a, b, ia, ib } = await twoUsers(store);
    const big = msg(0, 'z'.repeat(500));
    const results = await Promise.allSettled([
      store.append(a.id, ia.id, msg(1)),
      store.append(b.id, ib.id, big), // over quota: refused alone
      store.deliver([a.id, b.id], msg(2)), // fits b's quota
      store.append(a.id, 987_654, msg(3)), // no such folder
      store.append(a.id, ia.id, msg(4)),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    assert.equal(((results[1] as PromiseRejectedResult).reason as StoreError).kind, 'over-quota');
    assert.deepEqual((await store.listMessages(a.id, ia.id)).map((m) => m.uid), [1, 2, 3]);
    assert.deepEqual((await store.listMessages(b.id, ib.id)).map((m) => m.uid), [1]);
    const q = await store.quota(b.id);
    assert.equal(q.messages, 1);
    assert.equal(q.limitBytes, 200);
    // what was acknowledged is on disk for another connection
    const other = await SqliteStore.open(file);
    try {
      assert.equal((await other.listMessages(a.id, ia.id)).length, 3);
      assert.equal(other.integrityCheck(), 'ok');
    } finally {
      await other.close();
    }
  });
});

/**
 * Commits recorded in a WAL file: frames whose header carries the database size after a commit
 * (non-zero only in a transaction's last frame) and the salts of the WAL's current generation.
 */
function walCommits(wal: string): number {
  if (!existsSync(wal)) return 0;
  const fd = openSync(wal, 'r');
  try {
    const head = Buffer.alloc(32);
    if (readSync(fd, head, 0, 32, 0) < 32) return 0;
    const pageSize = head.readUInt32BE(8);
    const frame = Buffer.alloc(24);
    let commits = 0;
    for (let at = 32; readSync(fd, frame, 0, 24, at) === 24; at += 24 + pageSize) {
      if (frame.readUInt32BE(8) !== head.readUInt32BE(16) || frame.readUInt32BE(12) !== head.readUInt32BE(20)) break;
      if (frame.readUInt32BE(4) !== 0) commits++;
    }
    return commits;
  } finally {
    closeSync(fd);
  }
}

test("the store thread's group commit: a turn's flag changes, copies, moves, expunges and appends share one commit; a failing one is rolled back alone", async () => {
  await withStore(async (store, file) => {
    const { a, b, ia, ib } = await twoUsers(store);
    const box = await store.createFolder(a.id, 'Box');
    for (let i = 1; i <= 3; i++) await store.append(a.id, ia.id, msg(i));
    await store.append(b.id, ib.id, msg(9, 'y'.repeat(60))); // over half b's quota: a copy of it does not fit
    // no checkpoint in between: the WAL then holds every commit of the turn below
    (store as unknown as { db: Database.Database }).db.pragma('wal_autocheckpoint = 0');
    const before = walCommits(`${file}-wal`);
    const results = await Promise.allSettled([
      store.storeFlags(a.id, ia.id, [1, 2], 'add', ['\\Seen']),
      store.copyMessages(b.id, ib.id, [1], ib.id), // over quota: refused alone
      store.storeFlags(a.id, ia.id, [3], 'add', ['\\Deleted']),
      store.expunge(a.id, ia.id),
      store.append(a.id, ia.id, msg(4)),
      store.moveMessages(a.id, ia.id, [1], box.id),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    assert.equal(((results[1] as PromiseRejectedResult).reason as StoreError).kind, 'over-quota');
    assert.deepEqual((results[3] as PromiseFulfilledResult<number[]>).value, [3]);
    assert.equal(walCommits(`${file}-wal`) - before, 1, 'one commit for the whole turn');
    // in call order, each seeing the ones before it
    assert.deepEqual((await store.listMessages(a.id, ia.id)).map((m) => [m.uid, m.flags]), [[2, ['\\Seen']], [4, []]]);
    assert.deepEqual((await store.listMessages(a.id, box.id)).map((m) => [m.uid, m.flags]), [[1, ['\\Seen']]]);
    assert.deepEqual((await store.listMessages(b.id, ib.id)).map((m) => m.uid), [1]);
    const other = await SqliteStore.open(file);
    try {
      assert.equal((await other.listMessages(a.id, box.id)).length, 1, 'acknowledged: on disk for another connection');
      assert.equal(other.integrityCheck(), 'ok');
    } finally {
      await other.close();
    }
  }, 'this-thread');
});

test('quota limit follows settings changes (cached per settings version)', async () => {
  await withStore(async (store) => {
    const u = await store.createUser({ address: 'q@example.com', password: 'pw' });
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    await store.append(u.id, inbox.id, msg(1));
    await store.putSetting({ scope: 'server', targetId: 0, name: 'Default Mailbox Quota Bytes', value: '10' });
    await assert.rejects(store.append(u.id, inbox.id, msg(2)), (e: unknown) => e instanceof StoreError && e.kind === 'over-quota');
    assert.equal((await store.quota(u.id)).limitBytes, 10);
    await store.deleteSetting({ scope: 'server', targetId: 0, name: 'Default Mailbox Quota Bytes' });
    await store.append(u.id, inbox.id, msg(3));
    assert.equal((await store.listMessages(u.id, inbox.id)).length, 2);
  });
});

test('close() commits writes that were queued but not yet flushed', async () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 'store.sqlite');
  try {
    const store = await SqliteStore.open(file);
    const u = await store.createUser({ address: 'c@example.com', password: 'pw' });
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    const p = store.append(u.id, inbox.id, msg(1));
    await store.close();
    assert.equal((await p).uid, 1);
    const again = await SqliteStore.open(file);
    assert.equal((await again.listMessages(u.id, inbox.id)).length, 1);
    await again.close();
  } finally {
    tmp.cleanup();
  }
});

test('LiveSettings: resolved values are cached per overrides version and follow refresh()', async () => {
  const { LiveSettings } = await import('../../src/settings/resolve.js');
  await withStore(async (store) => {
    const u = await store.createUser({ address: 's@example.com', password: 'pw' });
    const live = new LiveSettings(store);
    await live.refresh();
    const ctx = { userId: u.id, databaseId: u.databaseId };
    assert.equal(live.int('PopSettings.MaxCommandSize'), live.int('pop.MaxCommandSize'));
    const before = live.int('Maximum Allowed Sessions Per User', ctx);
    assert.equal(live.int('Maximum Allowed Sessions Per User', ctx), before); // cached answer
    await store.putSetting({ scope: 'user', targetId: u.id, name: 'Maximum Allowed Sessions Per User', value: String(before + 5) });
    assert.equal(live.int('Maximum Allowed Sessions Per User', ctx), before, 'not before refresh()');
    await live.refresh();
    assert.equal(live.int('Maximum Allowed Sessions Per User', ctx), before + 5);
    assert.equal(live.int('Maximum Allowed Sessions Per User'), before, 'server-wide value unchanged');
    await store.deleteSetting({ scope: 'user', targetId: u.id, name: 'Maximum Allowed Sessions Per User' });
    await live.refresh();
    assert.equal(live.int('Maximum Allowed Sessions Per User', ctx), before);
    assert.throws(() => live.get('No Such Setting'));
  });
});
