import assert from 'node:assert/strict';
import { msg, rejectsWith, type Contract } from '../harness.js';

export const area = 'append and deliver';

export const contracts: Contract[] = [
  {
    name: 'append: UIDs 1, 2, 3… in order, the bytes back exactly, flags and internal date kept, each a new object id and email id',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const raws = [msg('a'), msg('b'), msg('c')];
      const date = new Date('2025-02-03T04:05:06Z');
      const results = [];
      for (const [i, raw] of raws.entries()) results.push(await store.append(u.id, inbox.id, raw, { flags: i === 1 ? ['\\Seen', '\\Flagged', '$Label'] : [], internalDate: date }));
      assert.deepEqual(results.map((r) => r.uid), [1, 2, 3]);
      assert.ok(results.every((r) => r.uidValidity === inbox.uidValidity));
      assert.ok(results[0]!.modseq < results[1]!.modseq && results[1]!.modseq < results[2]!.modseq);
      assert.equal(new Set(results.map((r) => r.objectId)).size, 3);
      const list = await store.listMessages(u.id, inbox.id);
      for (const [i, m] of list.entries()) {
        assert.ok((await store.readBlob(m.blobHash)).equals(raws[i]!));
        assert.equal(m.size, raws[i]!.length);
        assert.equal(m.internalDate.getTime(), date.getTime());
      }
      assert.deepEqual([...list[1]!.flags].sort(), ['$Label', '\\Flagged', '\\Seen']);
      const one = await store.getMessageByUid(u.id, inbox.id, 2);
      assert.equal(one?.uid, 2);
      assert.equal(await store.getMessageByUid(u.id, inbox.id, 99), null);
      const page = await store.listMessagePage(u.id, inbox.id, 0, 10);
      assert.equal(new Set(page.items.map((m) => m.emailId)).size, 3);
      assert.ok((await store.readStructure(list[0]!.blobHash)) !== null, 'the structure is stored with the bytes');
    },
  },
  {
    name: 'append to an unknown or another user\'s folder is "not-found" and stores nothing',
    async run({ store, user }) {
      const u = await user();
      const other = await user();
      const theirs = await store.getSpecialFolder(other.id, '\\Inbox');
      await rejectsWith(store.append(u.id, theirs.id, msg('x')), 'not-found');
      await rejectsWith(store.append(u.id, 999999, msg('x')), 'not-found');
      assert.equal((await store.quota(u.id)).messages, 0);
      assert.equal((await store.folderStatus(other.id, theirs.id)).messages, 0);
    },
  },
  {
    name: 'deliver: one message per recipient (duplicates once) into the Inbox or the special folder asked, bytes shared',
    async run({ store, user }) {
      const a = await user();
      const b = await user();
      const raw = msg('delivered');
      const out = (await store.deliver([a.id, b.id, a.id], raw)).delivered;
      assert.deepEqual([...out.keys()].sort(), [a.id, b.id].sort());
      for (const u of [a, b]) {
        const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
        const list = await store.listMessages(u.id, inbox.id);
        assert.equal(list.length, 1);
        assert.equal(list[0]!.uid, out.get(u.id)!.uid);
        assert.ok((await store.readBlob(list[0]!.blobHash)).equals(raw));
      }
      assert.notEqual(out.get(a.id)!.objectId, out.get(b.id)!.objectId);
      const junk = (await store.deliver([a.id], msg('spam'), { specialUse: '\\Junk', flags: ['$Junk'] })).delivered;
      const junkFolder = await store.getSpecialFolder(a.id, '\\Junk');
      const j = await store.getMessageByUid(a.id, junkFolder.id, junk.get(a.id)!.uid);
      assert.deepEqual(j?.flags, ['$Junk']);
    },
  },
  {
    name: 'deliverAndEnqueue: local copies and the queue entry together; removing the entry keeps the delivered bytes',
    async run({ store, user }) {
      const a = await user();
      const raw = msg('out');
      const r = await store.deliverAndEnqueue([a.id], raw, { sender: a.address, recipients: ['far@remote.example'], raw, submittedBy: a.id });
      const q = (await store.listQueue()).find((e) => e.id === r.queueId);
      assert.deepEqual(q?.recipients, ['far@remote.example']);
      assert.equal(q?.submittedBy, a.id);
      assert.equal(await store.removeQueueEntry(r.queueId), true);
      assert.equal(await store.removeQueueEntry(r.queueId), false);
      const inbox = await store.getSpecialFolder(a.id, '\\Inbox');
      const m = (await store.listMessages(a.id, inbox.id))[0]!;
      assert.ok((await store.readBlob(m.blobHash)).equals(raw));
    },
  },
  {
    name: 'many appends in flight at once: every one acknowledged, distinct UIDs, all stored',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store.append(u.id, inbox.id, msg(`burst ${i}`))));
      assert.equal(new Set(results.map((r) => r.uid)).size, 40);
      assert.equal((await store.folderStatus(u.id, inbox.id)).messages, 40);
    },
  },
];
