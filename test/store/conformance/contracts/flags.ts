import assert from 'node:assert/strict';
import { msg, rejectsWith, type Contract } from '../harness.js';

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
  {
    name: 'appendAndClaimRecent: the append and the claim right after it in one write; a failed append claims nothing',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      // nothing unclaimed before: the new messages alone
      let r = await store.appendAndClaimRecent(u.id, inbox.id, [{ raw: msg('a1') }, { raw: msg('a2'), flags: ['\\Seen'] }]);
      assert.deepEqual(r.appended.map((m) => m.uid), [1, 2]);
      assert.deepEqual(r.recent, { from: 1, to: 3 });
      assert.deepEqual((await store.listMessages(u.id, inbox.id)).map((m) => [m.uid, m.flags]), [[1, []], [2, ['\\Seen']]]);
      let st = await store.folderStatus(u.id, inbox.id);
      assert.deepEqual([st.recent, st.firstRecentUid, st.uidNext], [0, 3, 3]);
      assert.equal(await store.claimRecent(u.id, inbox.id), null, 'claimed once only');
      // a message nobody claimed yet, then an append that claims: both, as claimRecent right after it would
      await store.append(u.id, inbox.id, msg('a3'));
      r = await store.appendAndClaimRecent(u.id, inbox.id, [{ raw: msg('a4') }]);
      assert.deepEqual(r.appended.map((m) => m.uid), [4]);
      assert.deepEqual(r.recent, { from: 3, to: 5 });
      // another claimer took the earlier ones: never UIDs already claimed
      await store.append(u.id, inbox.id, msg('a5'));
      assert.deepEqual(await store.claimRecent(u.id, inbox.id), { from: 5, to: 6 });
      r = await store.appendAndClaimRecent(u.id, inbox.id, [{ raw: msg('a6') }]);
      assert.deepEqual(r.recent, { from: 6, to: 7 });
      // no messages: claimRecent alone
      await store.append(u.id, inbox.id, msg('a7'));
      assert.deepEqual(await store.appendAndClaimRecent(u.id, inbox.id, []), { appended: [], recent: { from: 7, to: 8 } });
      assert.deepEqual(await store.appendAndClaimRecent(u.id, inbox.id, []), { appended: [], recent: null });
      // refused (over quota, no such folder): nothing stored, nothing claimed
      await store.append(u.id, inbox.id, msg('a8'));
      await rejectsWith(store.appendAndClaimRecent(u.id, 987_654, [{ raw: msg('a10') }]), 'not-found');
      const used = (await store.quota(u.id)).usedBytes;
      await store.putSetting({ scope: 'user', targetId: u.id, name: 'Default Mailbox Quota Bytes', value: String(used + 10) });
      await rejectsWith(store.appendAndClaimRecent(u.id, inbox.id, [{ raw: msg('a9') }]), 'over-quota');
      st = await store.folderStatus(u.id, inbox.id);
      assert.deepEqual([st.messages, st.recent, st.firstRecentUid, st.uidNext], [8, 1, 8, 9]);
      // another user's folder: not-found, and its mark stays
      const other = await user();
      await rejectsWith(store.appendAndClaimRecent(other.id, inbox.id, [{ raw: msg('a11') }]), 'not-found');
      assert.equal((await store.folderStatus(u.id, inbox.id)).firstRecentUid, 8);
    },
  },
  {
    name: 'appendAndClaimRecent beside claimRecent and other appends at once: each UID claimed by one caller',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      await store.append(u.id, inbox.id, msg('b0'));
      const out = await Promise.all([
        store.appendAndClaimRecent(u.id, inbox.id, [{ raw: msg('b1') }]),
        store.claimRecent(u.id, inbox.id),
        store.append(u.id, inbox.id, msg('b2')),
        store.appendAndClaimRecent(u.id, inbox.id, [{ raw: msg('b3') }, { raw: msg('b4') }]),
        store.claimRecent(u.id, inbox.id),
      ]);
      const claims = [out[0].recent, out[1], out[3].recent, out[4]].filter((c): c is { from: number; to: number } => c !== null);
      const claimed = claims.flatMap((c) => Array.from({ length: c.to - c.from }, (_, i) => c.from + i)).sort((a, b) => a - b);
      const st = await store.folderStatus(u.id, inbox.id);
      const unclaimed = Array.from({ length: st.uidNext - st.firstRecentUid }, (_, i) => st.firstRecentUid + i);
      // every UID once: claimed by exactly one caller, or still unclaimed (b2 after the last claim)
      assert.deepEqual([...claimed, ...unclaimed].sort((a, b) => a - b), [1, 2, 3, 4, 5]);
      // an append that claims holds its own messages among what it claimed
      for (const r of [out[0], out[3]]) {
        for (const m of r.appended) assert.ok(r.recent && m.uid >= r.recent.from && m.uid < r.recent.to, JSON.stringify(r));
      }
    },
  },
];
