import assert from 'node:assert/strict';
import { msg, type Contract, type Fixture } from '../harness.js';
import type { Store } from '../../../../src/store/store.js';

export const area = 'save dates';

const OLD = new Date('2001-02-03T04:05:06Z');

/** The save date of `uid` as every read hands it out; they must agree. */
async function saveDateOf(store: Store, userId: number, folderId: number, uid: number): Promise<number | null> {
  const listed = (await store.listMessages(userId, folderId)).find((m) => m.uid === uid)!;
  const one = (await store.getMessageByUid(userId, folderId, uid))!;
  const [fetched] = await store.getMessages(userId, folderId, [uid], { raw: true });
  const paged = (await store.listMessagePage(userId, folderId, 0, 100)).items.find((m) => m.uid === uid)!;
  const byId = (await store.getMessage(userId, paged.objectId))!;
  const all = [listed, one, fetched!, paged, byId].map((m) => m.saveDate?.getTime() ?? null);
  assert.equal(new Set(all).size, 1, `every read gives one save date (${all.join(', ')})`);
  return all[0]!;
}

async function setup(f: Fixture) {
  const u = await f.user();
  const inbox = await f.store.getSpecialFolder(u.id, '\\Inbox');
  const dest = await f.store.createFolder(u.id, 'Dest');
  return { u, inbox, dest };
}

export const contracts: Contract[] = [
  {
    name: 'append and deliver: the save date is the store clock\'s now, whatever internal date the message has',
    async run(f) {
      const { u, inbox } = await setup(f);
      const t0 = f.clock.now();
      await f.store.append(u.id, inbox.id, msg('old'), { internalDate: OLD });
      f.clock.advance(60_000);
      await f.store.appendMany(u.id, inbox.id, [{ raw: msg('many1') }, { raw: msg('many2'), internalDate: OLD }]);
      f.clock.advance(60_000);
      await f.store.deliver([u.id], msg('delivered'));
      assert.equal(await saveDateOf(f.store, u.id, inbox.id, 1), t0);
      assert.equal((await f.store.getMessageByUid(u.id, inbox.id, 1))!.internalDate.getTime(), OLD.getTime());
      assert.equal(await saveDateOf(f.store, u.id, inbox.id, 2), t0 + 60_000);
      assert.equal(await saveDateOf(f.store, u.id, inbox.id, 3), t0 + 60_000);
      assert.equal(await saveDateOf(f.store, u.id, inbox.id, 4), t0 + 120_000);
    },
  },
  {
    name: 'copy and move: the message in the target is saved now, keeps its internal date; the source keeps its save date',
    async run(f) {
      const { u, inbox, dest } = await setup(f);
      const t0 = f.clock.now();
      await f.store.append(u.id, inbox.id, msg('a'), { internalDate: OLD });
      await f.store.append(u.id, inbox.id, msg('b'), { internalDate: OLD });
      f.clock.advance(3_600_000);
      const copied = await f.store.copyMessages(u.id, inbox.id, [1], dest.id);
      f.clock.advance(3_600_000);
      const moved = await f.store.moveMessages(u.id, inbox.id, [2], dest.id);
      assert.equal(await saveDateOf(f.store, u.id, inbox.id, 1), t0, 'the source of a copy keeps its save date');
      const [[, copyUid]] = copied.pairs;
      const [[, moveUid]] = moved.pairs;
      assert.equal(await saveDateOf(f.store, u.id, dest.id, copyUid!), t0 + 3_600_000);
      assert.equal(await saveDateOf(f.store, u.id, dest.id, moveUid!), t0 + 7_200_000);
      for (const m of await f.store.listMessages(u.id, dest.id)) assert.equal(m.internalDate.getTime(), OLD.getTime());
    },
  },
  {
    name: 'a message stored before save dates were kept (NULL) has none: null in every read, and keeps none until it is saved again',
    async run(f) {
      const { u, inbox, dest } = await setup(f);
      await f.store.append(u.id, inbox.id, msg('legacy'), { internalDate: OLD });
      // what schema step 11 (SQLite) / migration 4 (PostgreSQL) leaves on rows from before
      await f.opened.inspector.exec('UPDATE messages SET save_date = NULL');
      assert.equal(await saveDateOf(f.store, u.id, inbox.id, 1), null);
      await f.store.storeFlags(u.id, inbox.id, [1], 'add', ['\\Seen']);
      assert.equal(await saveDateOf(f.store, u.id, inbox.id, 1), null, 'a flag change is no save');
      f.clock.advance(1_000);
      await f.store.copyMessages(u.id, inbox.id, [1], dest.id);
      assert.equal(await saveDateOf(f.store, u.id, dest.id, 1), f.clock.now());
    },
  },
];
