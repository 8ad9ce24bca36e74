import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openThreadedStore, type ThreadedStore } from '../../src/store/sqlite/threaded/threaded-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { InProcessChangeBus } from '../../src/store/change-bus.js';
import { StoreError } from '../../src/store/errors.js';
import type { StoreChange } from '../../src/store/store.js';
import { tempDir } from '../helpers/tmp.js';
import Database from 'better-sqlite3';
import { handOver } from '../../src/store/hand-over.js';

const msg = (i: number, body = 'x') => Buffer.from(`From: a@example.com\r\nTo: b@example.com\r\nSubject: m${i}\r\n\r\n${body}\r\n`);

async function withThreaded(fn: (store: ThreadedStore, bus: InProcessChangeBus, file: string) => Promise<void>): Promise<void> {
  const tmp = tempDir();
  const file = join(tmp.dir, 'store.sqlite');
  const bus = new InProcessChangeBus();
  const store = await openThreadedStore(file, bus);
  try {
    await fn(store, bus, file);
  } finally {
    await store.close();
    tmp.cleanup();
  }
}

test('the store thread answers every operation as SqliteStore does: Buffers, Dates, Maps, typed arrays, shared flags', async () => {
  await withThreaded(async (store, _bus, file) => {
    const u = await store.createUser({ address: 'thread@example.com', password: 'pw' });
    assert.ok(u.createdAt instanceof Date);
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    const { delivered } = await store.deliver([u.id], msg(1, 'delivered'));
    assert.ok(delivered instanceof Map);
    // a Buffer that is a slice of a bigger one (Node's pool): the bytes of the slice only
    const pooled = Buffer.concat([Buffer.from('junk'), msg(2, 'appended')]).subarray(4);
    await store.append(u.id, inbox.id, pooled, { flags: ['\\Seen'], internalDate: new Date(1_700_000_000_000) });
    const list = await store.listMessages(u.id, inbox.id);
    assert.deepEqual(list.map((m) => m.uid), [1, 2]);
    assert.ok(list[1]!.internalDate instanceof Date);
    assert.equal(list[1]!.internalDate.getTime(), 1_700_000_000_000);
    const raw = await store.readBlob(list[1]!.blobHash);
    assert.ok(Buffer.isBuffer(raw), 'readBlob gives a Buffer');
    assert.equal(raw.toString(), msg(2, 'appended').toString());
    const idx = await store.listMessageIndex(u.id, inbox.id);
    assert.ok(idx.uids instanceof Uint32Array);
    assert.deepEqual([...idx.uids], [1, 2]);
    assert.ok(list[1]!.saveDate instanceof Date, 'save dates cross as Dates');
    // a message without a save date (stored before they were kept) crosses as null, not as a date
    const db = new Database(file);
    db.prepare('UPDATE messages SET save_date = NULL WHERE uid = 1').run();
    db.close();
    assert.equal((await store.listMessages(u.id, inbox.id))[0]!.saveDate, null);
    // what the thread answers equals what the store on this thread answers
    const direct = await SqliteStore.open(file);
    try {
      assert.deepEqual(await store.listMessages(u.id, inbox.id), await direct.listMessages(u.id, inbox.id));
      assert.deepEqual(await store.listMessagePage(u.id, inbox.id, 0, 10), await direct.listMessagePage(u.id, inbox.id, 0, 10));
      assert.deepEqual(await store.listFolders(u.id), await direct.listFolders(u.id));
    } finally {
      await direct.close();
    }
  });
});

test('a handed-over Buffer moves to the store thread and is stored whole; a kept one is copied and stays readable', async () => {
  await withThreaded(async (store) => {
    const u = await store.createUser({ address: 'moved@example.com', password: 'pw' });
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    const body = 'y'.repeat(20_000); // above Node's pool size: a Buffer with memory of its own
    const given = handOver(Buffer.concat([msg(1, body)]));
    const kept = Buffer.concat([msg(2, body)]);
    // two calls in one turn: they cross in one message, with the handed-over memory moved
    await Promise.all([store.deliver([u.id], given), store.deliver([u.id], kept)]);
    assert.equal(given.length, 0, 'the handed-over memory left this thread');
    assert.equal(kept.toString(), msg(2, body).toString(), 'a Buffer not handed over stays as it was');
    const list = await store.listMessages(u.id, inbox.id);
    assert.deepEqual((await Promise.all(list.map((m) => store.readBlob(m.blobHash)))).map(String).sort(), [msg(1, body), msg(2, body)].map(String).sort());
    // a handed-over slice of a bigger buffer (its memory is not its own alone) is copied, not moved
    const slice = handOver(Buffer.concat([Buffer.from('junk'), msg(3, body)]).subarray(4));
    await store.deliver([u.id], slice);
    assert.equal(slice.toString(), msg(3, body).toString());
  });
});

test('a read sent after a write resolved sees it; changes are published here before the write resolves', async () => {
  await withThreaded(async (store, bus) => {
    const u = await store.createUser({ address: 'ryw@example.com', password: 'pw' });
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    const heard: StoreChange[] = [];
    bus.subscribeUser(u.id, (c) => heard.push(c));
    for (let i = 0; i < 20; i++) {
      const a = await store.append(u.id, inbox.id, msg(i));
      assert.equal(heard.at(-1)?.modseq, a.modseq, 'the append was published before it resolved');
      const f = await store.storeFlags(u.id, inbox.id, [a.uid], 'add', ['\\Flagged']);
      assert.equal(heard.at(-1)?.kind, 'flags');
      assert.equal((await store.getMessageByUid(u.id, inbox.id, a.uid))!.modseq, f.changed[0]!.modseq);
      assert.deepEqual((await store.getMessageByUid(u.id, inbox.id, a.uid))!.flags, ['\\Flagged']);
    }
    assert.equal((await store.folderStatus(u.id, inbox.id)).messages, 20);
  });
});

test('errors cross the thread with their kind; an unknown operation and a closed store are refused', async () => {
  await withThreaded(async (store) => {
    const u = await store.createUser({ address: 'err@example.com', password: 'pw' });
    await assert.rejects(store.createFolder(u.id, 'INBOX'), (e: unknown) => e instanceof StoreError && e.kind === 'exists');
    await assert.rejects(store.folderStatus(u.id, 999_999), (e: unknown) => e instanceof StoreError && e.kind === 'not-found');
    assert.equal((store as unknown as Record<string, unknown>).noSuchOperation, undefined);
  });
  const tmp = tempDir();
  try {
    const store = await openThreadedStore(join(tmp.dir, 's.sqlite'), new InProcessChangeBus());
    await store.close();
    await assert.rejects(store.listUsers(), (e: unknown) => e instanceof StoreError);
  } finally {
    tmp.cleanup();
  }
});

test('opening refuses what SqliteStore.open refuses, with the same kind', async () => {
  const tmp = tempDir();
  try {
    const file = join(tmp.dir, 'not-a-store.sqlite');
    writeFileSync(file, 'plain text, not SQLite');
    await assert.rejects(openThreadedStore(file, new InProcessChangeBus()), (e: unknown) => e instanceof StoreError && e.kind === 'not-a-mailwarden-database');
  } finally {
    tmp.cleanup();
  }
});

test('close commits the writes already sent: every acknowledged and pending append is there after reopening', async () => {
  const tmp = tempDir();
  try {
    const file = join(tmp.dir, 'store.sqlite');
    const store = await openThreadedStore(file, new InProcessChangeBus());
    const u = await store.createUser({ address: 'close@example.com', password: 'pw' });
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    const pending = Array.from({ length: 50 }, (_, i) => store.append(u.id, inbox.id, msg(i)));
    const closed = store.close();
    const settled = await Promise.allSettled(pending);
    await closed;
    const ok = settled.filter((s) => s.status === 'fulfilled').length;
    const reopened = await SqliteStore.open(file);
    try {
      assert.equal((await reopened.listMessages(u.id, inbox.id)).length, ok);
      assert.equal(ok, 50, 'writes sent before close were committed');
    } finally {
      await reopened.close();
    }
  } finally {
    tmp.cleanup();
  }
});

test('a message analysed on the caller\'s thread (small) or on the store thread (big) is stored with the facts SqliteStore alone gives it', async () => {
  const mime = (subject: string, body: string) => Buffer.from(
    `From: "Ann Example" <ann@example.com>\r\nTo: bob@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.com>\r\n` +
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n' +
      `--b1\r\nContent-Type: text/plain\r\n\r\n${body}\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="a.bin"\r\n\r\nAAAA\r\n--b1--\r\n`,
  );
  // the caller's thread analyses up to 128 KiB (threaded-store.ts): one of each side of the line
  const small = mime('small', 'hello   there\r\n'.repeat(10));
  const big = mime('big', 'z'.repeat(200 * 1024));
  const facts = async (store: Pick<ThreadedStore, 'createUser' | 'getSpecialFolder' | 'deliver' | 'deliverAndEnqueue' | 'append' | 'listMessagesAfter' | 'getSortFacts' | 'getMessages' | 'listQueue'>) => {
    const u = await store.createUser({ address: 'facts@example.com', password: 'pw' });
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    await store.deliver([u.id], handOver(Buffer.from(small)));
    await store.append(u.id, inbox.id, Buffer.from(big));
    await store.deliverAndEnqueue([u.id], handOver(Buffer.from(small)), { sender: 'a@example.com', recipients: ['r@remote.example'], raw: Buffer.from(big), submittedBy: null });
    const items = (await store.listMessagesAfter(u.id, inbox.id, 0, 100, 100)).map(({ subject, from, to, preview, hasAttachments, size, messageId, date }) => ({ subject, from, to, preview, hasAttachments, size, messageId, date }));
    // (less the arrival time, which SORT ARRIVAL compares and which differs between the two stores)
    const sort = (await store.getSortFacts(u.id, inbox.id, [1, 2, 3])).map(({ internalDate: _, ...rest }) => rest);
    const stored = (await store.getMessages(u.id, inbox.id, [1, 2, 3], { raw: true, structure: true })).map((m) => ({ raw: m.raw?.toString('latin1'), structure: m.structure }));
    return { items, sort, stored, queued: (await store.listQueue()).length };
  };
  let threaded: Awaited<ReturnType<typeof facts>> | undefined;
  await withThreaded(async (store) => {
    threaded = await facts(store);
  });
  const tmp = tempDir();
  const direct = await SqliteStore.open(join(tmp.dir, 'direct.sqlite'));
  try {
    const alone = await facts(direct as unknown as ThreadedStore);
    assert.deepEqual(threaded, alone);
    assert.equal(alone.items.length, 3);
    assert.deepEqual(alone.items.map((i) => [i.subject, i.hasAttachments]), [['small', true], ['big', true], ['small', true]]);
    assert.equal(alone.items[0]!.preview, 'hello there '.repeat(10).trim());
  } finally {
    await direct.close();
    tmp.cleanup();
  }
});
