import assert from 'node:assert/strict';
import { msg, rejectsWith, type Contract } from '../harness.js';

export const area = 'copy, move and expunge';

async function setup(f: Parameters<Contract['run']>[0], n: number) {
  const u = await f.user();
  const inbox = await f.store.getSpecialFolder(u.id, '\\Inbox');
  const dest = await f.store.createFolder(u.id, 'Dest');
  for (let i = 0; i < n; i++) await f.store.append(u.id, inbox.id, msg(`m${i}`), { flags: i % 2 ? ['\\Seen'] : [] });
  return { u, inbox, dest };
}

export const contracts: Contract[] = [
  {
    name: 'copy: new UIDs in the destination paired in source UID order, flags copied, new object ids, same email ids; source untouched',
    async run(f) {
      const { u, inbox, dest } = await setup(f, 4);
      const before = await f.store.listMessagePage(u.id, inbox.id, 0, 10);
      const r = await f.store.copyMessages(u.id, inbox.id, [4, 2, 2, 99], dest.id);
      assert.equal(r.uidValidity, dest.uidValidity);
      assert.deepEqual(r.pairs, [[2, 1], [4, 2]]);
      const copies = await f.store.listMessagePage(u.id, dest.id, 0, 10);
      const src = new Map(before.items.map((m) => [m.uid, m]));
      for (const [from, to] of r.pairs) {
        const c = copies.items.find((m) => m.uid === to)!;
        assert.deepEqual(c.flags, src.get(from)!.flags);
        assert.notEqual(c.objectId, src.get(from)!.objectId);
        assert.equal(c.emailId, src.get(from)!.emailId);
      }
      assert.equal((await f.store.folderStatus(u.id, inbox.id)).messages, 4);
    },
  },
  {
    name: 'move: the messages leave the source (expunged there), keep their object ids, get new UIDs in the destination',
    async run(f) {
      const { u, inbox, dest } = await setup(f, 3);
      const ids = new Map((await f.store.listMessagePage(u.id, inbox.id, 0, 10)).items.map((m) => [m.uid, m.objectId]));
      const before = (await f.store.folderStatus(u.id, inbox.id)).highestModseq;
      const r = await f.store.moveMessages(u.id, inbox.id, [1, 3], dest.id);
      assert.deepEqual(r.pairs, [[1, 1], [3, 2]]);
      assert.deepEqual((await f.store.listMessages(u.id, inbox.id)).map((m) => m.uid), [2]);
      assert.deepEqual((await f.store.expungedSince(u.id, inbox.id, before)).map((e) => e.uid), [1, 3]);
      const moved = await f.store.listMessagePage(u.id, dest.id, 0, 10);
      assert.deepEqual(moved.items.map((m) => m.objectId).sort(), [ids.get(1), ids.get(3)].sort());
      const found = await f.store.getMessage(u.id, ids.get(1)!);
      assert.equal(found?.folderId, dest.id);
    },
  },
  {
    name: 'copy/move between users or into an unknown folder is "not-found" and changes nothing',
    async run(f) {
      const { u, inbox } = await setup(f, 1);
      const other = await f.user();
      const theirs = await f.store.getSpecialFolder(other.id, '\\Inbox');
      await rejectsWith(f.store.copyMessages(u.id, inbox.id, [1], theirs.id), 'not-found');
      await rejectsWith(f.store.moveMessages(u.id, inbox.id, [1], 424242), 'not-found');
      assert.equal((await f.store.folderStatus(u.id, inbox.id)).messages, 1);
    },
  },
  {
    name: 'expunge without UIDs removes every \\Deleted message; with UIDs, those of them that are \\Deleted; UIDs never come back',
    async run(f) {
      const { u, inbox } = await setup(f, 5);
      await f.store.storeFlags(u.id, inbox.id, [1, 2, 4], 'add', ['\\Deleted']);
      assert.deepEqual(await f.store.expunge(u.id, inbox.id, [2, 3, 4]), [2, 4]);
      assert.deepEqual((await f.store.listMessages(u.id, inbox.id)).map((m) => m.uid), [1, 3, 5]);
      assert.deepEqual(await f.store.expunge(u.id, inbox.id), [1]);
      assert.deepEqual(await f.store.expunge(u.id, inbox.id), []);
      const next = await f.store.append(u.id, inbox.id, msg('after'));
      assert.equal(next.uid, 6);
    },
  },
  {
    name: 'a message removed everywhere takes its bytes with it; bytes still used by a copy stay',
    async run(f) {
      const { u, inbox, dest } = await setup(f, 1);
      const m = (await f.store.listMessages(u.id, inbox.id))[0]!;
      await f.store.copyMessages(u.id, inbox.id, [1], dest.id);
      await f.store.storeFlags(u.id, inbox.id, [1], 'add', ['\\Deleted']);
      await f.store.expunge(u.id, inbox.id);
      assert.ok((await f.store.readBlob(m.blobHash)).length > 0);
      await f.store.storeFlags(u.id, dest.id, [1], 'add', ['\\Deleted']);
      await f.store.expunge(u.id, dest.id);
      await rejectsWith(f.store.readBlob(m.blobHash), 'not-found');
    },
  },
];
