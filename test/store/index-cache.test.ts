/**
 * listMessageIndex keeps a big folder's index in memory (sqlite-store.ts, INDEX_CACHE_MIN_MESSAGES)
 * and answers it again only while the folder is unchanged: each kind of write, also one made
 * through another connection to the same file (another process, the CLI), is seen at the next call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { openThreadedStore } from '../../src/store/sqlite/threaded/threaded-store.js';
import { InProcessChangeBus } from '../../src/store/change-bus.js';
import type { Store } from '../../src/store/store.js';
import type { MessageIndex } from '../../src/store/types.js';
import { withStore } from './with-store.js';

const BIG = 5_000;
const msg = (i: number) => Buffer.from(`From: a@example.com\r\nSubject: m${i}\r\n\r\nbody ${i}\r\n`);

/** The index as plain data, compared with what listMessages says. */
async function expected(store: Store, userId: number, folderId: number) {
  const list = await store.listMessages(userId, folderId);
  return { uids: list.map((m) => m.uid), modseqs: list.map((m) => m.modseq), sizes: list.map((m) => m.size), flags: list.map((m) => [...m.flags].sort().join(' ')) };
}
const plain = (x: MessageIndex) => ({ uids: [...x.uids], modseqs: [...x.modseqs], sizes: [...x.sizes], flags: x.flags.map((f) => [...f].sort().join(' ')) });

test('a big folder\'s cached index follows every write, through this store and through another connection', async () => {
  await withStore(async (store, file) => {
    const u = await store.createUser({ address: 'index@example.com', password: 'pw' });
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    await store.appendMany(u.id, inbox.id, Array.from({ length: BIG }, (_, i) => ({ raw: msg(i), flags: i % 3 ? [] : ['\\Seen'] })));
    const check = async (what: string, via: Store = store) => assert.deepEqual(plain(await via.listMessageIndex(u.id, inbox.id)), await expected(store, u.id, inbox.id), what);
    await check('first read');
    const first = await store.listMessageIndex(u.id, inbox.id);
    first.uids[0] = 999_999; // the caller owns its copy: the next answer is not changed by this
    (first.flags as unknown[]).length = 0;
    await check('answered again, unchanged by what a caller did to its copy');

    const other = await SqliteStore.open(file);
    const threaded = await openThreadedStore(file, new InProcessChangeBus());
    try {
      await other.storeFlags(u.id, inbox.id, [5], 'add', ['\\Flagged']);
      await check('a flag change by another connection');
      await other.append(u.id, inbox.id, msg(BIG));
      await check('an append by another connection');
      await other.storeFlags(u.id, inbox.id, [7], 'add', ['\\Deleted']);
      await other.expunge(u.id, inbox.id);
      await check('an expunge by another connection');
      await store.removeMessages(u.id, inbox.id, [9, 10]);
      await check('a removal by this store');
      await store.moveMessages(u.id, inbox.id, [11], (await store.getSpecialFolder(u.id, '\\Trash')).id);
      await check('a move away');
      await check('the store thread: the index crosses in its compact form', threaded);
      await threaded.storeFlags(u.id, inbox.id, [13], 'remove', ['\\Seen']);
      await check('after a write on the store thread', threaded);
      await check('and seen here');
    } finally {
      await threaded.close();
      await other.close();
    }
  });
});
