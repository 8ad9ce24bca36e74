import assert from 'node:assert/strict';
import { msg, type Contract } from '../harness.js';

export const area = 'flags and MODSEQ';

export const contracts: Contract[] = [
  {
    name: 'add, remove (case-insensitively) and set; only real changes are reported, each with a new MODSEQ above HIGHESTMODSEQ',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      for (let i = 0; i < 3; i++) await store.append(u.id, inbox.id, msg(`f${i}`));
      const h0 = (await store.folderStatus(u.id, inbox.id)).highestModseq;
      let r = await store.storeFlags(u.id, inbox.id, [1, 2, 3], 'add', ['\\Seen']);
      assert.deepEqual(r.changed.map((c) => c.uid), [1, 2, 3]);
      assert.ok(r.changed.every((c) => c.modseq > h0));
      const h1 = (await store.folderStatus(u.id, inbox.id)).highestModseq;
      assert.equal(h1, Math.max(...r.changed.map((c) => c.modseq)));
      r = await store.storeFlags(u.id, inbox.id, [1, 2], 'add', ['\\Seen']);
      assert.deepEqual(r.changed, [], 'no change, no MODSEQ');
      assert.equal((await store.folderStatus(u.id, inbox.id)).highestModseq, h1);
      r = await store.storeFlags(u.id, inbox.id, [2], 'remove', ['\\SEEN']);
      assert.deepEqual(r.changed.map((c) => [c.uid, c.flags]), [[2, []]]);
      r = await store.storeFlags(u.id, inbox.id, [3], 'set', ['\\Flagged', '$Work']);
      assert.deepEqual([...r.changed[0]!.flags].sort(), ['$Work', '\\Flagged']);
      const byUid = new Map((await store.listMessages(u.id, inbox.id)).map((m) => [m.uid, [...m.flags].sort()]));
      assert.deepEqual(byUid.get(1), ['\\Seen']);
      assert.deepEqual(byUid.get(2), []);
      assert.deepEqual(byUid.get(3), ['$Work', '\\Flagged']);
      assert.equal((await store.folderStatus(u.id, inbox.id)).unseen, 2);
    },
  },
  {
    name: 'UNCHANGEDSINCE (RFC 7162): a message changed after the given MODSEQ fails, the others change; unknown UIDs are ignored',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      await store.append(u.id, inbox.id, msg('u1'));
      await store.append(u.id, inbox.id, msg('u2'));
      const before = (await store.folderStatus(u.id, inbox.id)).highestModseq;
      await store.storeFlags(u.id, inbox.id, [2], 'add', ['\\Answered']);
      const r = await store.storeFlags(u.id, inbox.id, [1, 2, 77], 'add', ['\\Flagged'], before);
      assert.deepEqual(r.failedModified, [2]);
      assert.deepEqual(r.changed.map((c) => c.uid), [1]);
    },
  },
  {
    name: 'listMessages changedSince: exactly the messages changed after a MODSEQ; expungedSince: those removed after it',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      for (let i = 0; i < 4; i++) await store.append(u.id, inbox.id, msg(`c${i}`));
      const mark = (await store.folderStatus(u.id, inbox.id)).highestModseq;
      await store.storeFlags(u.id, inbox.id, [2], 'add', ['\\Seen']);
      await store.storeFlags(u.id, inbox.id, [4], 'add', ['\\Deleted']);
      await store.expunge(u.id, inbox.id);
      await store.append(u.id, inbox.id, msg('c4'));
      assert.deepEqual((await store.listMessages(u.id, inbox.id, { changedSince: mark })).map((m) => m.uid), [2, 5]);
      assert.deepEqual([...(await store.listMessageIndex(u.id, inbox.id, { changedSince: mark })).uids], [2, 5]);
      assert.deepEqual((await store.expungedSince(u.id, inbox.id, mark)).map((e) => e.uid), [4]);
      assert.deepEqual(await store.expungedSince(u.id, inbox.id, (await store.folderStatus(u.id, inbox.id)).highestModseq), []);
    },
  },
  {
    name: '\\Recent (RFC 3501 2.3.2): new messages are claimed once, by one caller',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      await store.append(u.id, inbox.id, msg('r1'));
      await store.append(u.id, inbox.id, msg('r2'));
      assert.equal((await store.folderStatus(u.id, inbox.id)).recent, 2);
      const claims = await Promise.all([store.claimRecent(u.id, inbox.id), store.claimRecent(u.id, inbox.id)]);
      assert.deepEqual(claims.filter(Boolean), [{ from: 1, to: 3 }]);
      assert.equal((await store.folderStatus(u.id, inbox.id)).recent, 0);
      assert.equal(await store.claimRecent(u.id, inbox.id), null);
    },
  },
];
