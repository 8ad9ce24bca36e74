import assert from 'node:assert/strict';
import { msg, rejectsWith, type Contract, type Fixture } from '../harness.js';

export const area = 'quota';

const limit = (f: Fixture, userId: number, bytes: number) => f.store.putSetting({ scope: 'user', targetId: userId, name: 'Default Mailbox Quota Bytes', value: String(bytes) });

export const contracts: Contract[] = [
  {
    name: 'quota counts every message of the mailbox (all folders) and follows appends, copies, moves and expunges',
    async run(f) {
      const u = await f.user();
      const inbox = await f.store.getSpecialFolder(u.id, '\\Inbox');
      const box = await f.store.createFolder(u.id, 'Box');
      const a = msg('q1');
      const b = msg('q2', 'x'.repeat(500));
      await f.store.append(u.id, inbox.id, a);
      await f.store.append(u.id, box.id, b);
      let q = await f.store.quota(u.id);
      assert.deepEqual([q.messages, q.usedBytes], [2, a.length + b.length]);
      await f.store.copyMessages(u.id, inbox.id, [1], box.id);
      await f.store.moveMessages(u.id, box.id, [1], inbox.id);
      q = await f.store.quota(u.id);
      assert.deepEqual([q.messages, q.usedBytes], [3, 2 * a.length + b.length]);
      await f.store.storeFlags(u.id, inbox.id, [1], 'add', ['\\Deleted']);
      await f.store.expunge(u.id, inbox.id);
      q = await f.store.quota(u.id);
      assert.deepEqual([q.messages, q.usedBytes], [2, a.length + b.length]);
      await rejectsWith(f.store.quota(987654), 'not-found');
    },
  },
  {
    name: 'append and copy beyond the limit are refused ("over-quota") and store nothing; a move needs no room',
    async run(f) {
      const u = await f.user();
      const inbox = await f.store.getSpecialFolder(u.id, '\\Inbox');
      const box = await f.store.createFolder(u.id, 'Box');
      const m = msg('fits', 'y'.repeat(300));
      await f.store.append(u.id, inbox.id, m);
      await limit(f, u.id, m.length + 100);
      assert.equal((await f.store.quota(u.id)).limitBytes, m.length + 100);
      await rejectsWith(f.store.append(u.id, inbox.id, msg('too much', 'z'.repeat(300))), 'over-quota');
      await rejectsWith(f.store.copyMessages(u.id, inbox.id, [1], box.id), 'over-quota');
      await f.store.moveMessages(u.id, inbox.id, [1], box.id);
      const q = await f.store.quota(u.id);
      assert.deepEqual([q.messages, q.usedBytes], [1, m.length]);
    },
  },
  {
    name: 'a delivery beyond the limit is refused inside the write ("over-quota"), the other recipients still get theirs',
    async run(f) {
      const full = await f.user();
      const fine = await f.user();
      await limit(f, full.id, 10);
      const out = await f.store.deliver([full.id, fine.id], msg('big', 'w'.repeat(200)));
      assert.deepEqual(out.overQuota, [full.id]);
      assert.deepEqual([...out.delivered.keys()], [fine.id]);
      assert.equal((await f.store.quota(full.id)).messages, 0, 'nothing delivered beyond the quota');
      assert.equal((await f.store.quota(fine.id)).messages, 1);
    },
  },
];
