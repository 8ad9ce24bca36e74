import assert from 'node:assert/strict';
import { msg, rejectsWith, type Contract } from '../harness.js';

export const area = 'list order and pages';

export const contracts: Contract[] = [
  {
    name: 'pages are newest first by internal date (UID breaks ties), cover the folder without overlap, and carry the header facts',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const dates = [5, 1, 3, 3, 9, 2, 7, 3].map((d) => new Date(Date.UTC(2024, 0, d)));
      for (const [i, d] of dates.entries()) await store.append(u.id, inbox.id, msg(`page ${i}`, `body ${i}`), { internalDate: d });
      const expected = dates.map((d, i) => ({ uid: i + 1, t: d.getTime() })).sort((a, b) => b.t - a.t || b.uid - a.uid).map((x) => x.uid);
      const seen: number[] = [];
      for (let off = 0; off < 10; off += 3) {
        const p = await store.listMessagePage(u.id, inbox.id, off, 3);
        assert.equal(p.total, 8);
        seen.push(...p.items.map((m) => m.uid));
      }
      assert.deepEqual(seen, expected);
      const first = (await store.listMessagePage(u.id, inbox.id, 0, 1)).items[0]!;
      assert.equal(first.subject, `page ${first.uid - 1}`);
      assert.equal(first.from, 'sender@example.org');
      assert.match(first.preview, /body/);
      assert.deepEqual((await store.listMessagePage(u.id, inbox.id, 100, 5)).items, []);
    },
  },
  {
    name: 'order stays right through flag changes, moves and expunges; a search narrows the list and its total',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const other = await store.createFolder(u.id, 'Other');
      for (let i = 0; i < 6; i++) await store.append(u.id, inbox.id, msg(i % 2 ? `needle ${i}` : `hay ${i}`), { internalDate: new Date(Date.UTC(2024, 1, 1 + i)) });
      await store.storeFlags(u.id, inbox.id, [2, 3], 'add', ['\\Seen']);
      await store.moveMessages(u.id, inbox.id, [3], other.id);
      await store.storeFlags(u.id, inbox.id, [5], 'add', ['\\Deleted']);
      await store.expunge(u.id, inbox.id);
      assert.deepEqual((await store.listMessagePage(u.id, inbox.id, 0, 10)).items.map((m) => m.uid), [6, 4, 2, 1]);
      const found = await store.listMessagePage(u.id, inbox.id, 0, 10, 'needle');
      assert.equal(found.total, 3);
      assert.deepEqual(found.items.map((m) => m.uid), [6, 4, 2]);
    },
  },
  {
    name: 'listMessagesAfter: a walk by UID in pages below a bound, ascending, with header facts, reading past removed UIDs',
    async run({ store, user }) {
      const u = await user();
      const other = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      for (let i = 1; i <= 9; i++) await store.append(u.id, inbox.id, msg(`walk ${i}`), { internalDate: new Date(Date.UTC(2024, 0, 10 - i)) });
      await store.removeMessages(u.id, inbox.id, [3, 4, 7]);
      const seen: number[] = [];
      let after = 0;
      for (;;) {
        const page = await store.listMessagesAfter(u.id, inbox.id, after, 9, 2);
        if (!page.length) break;
        assert.ok(page.length <= 2);
        seen.push(...page.map((m) => m.uid));
        after = page[page.length - 1]!.uid;
      }
      assert.deepEqual(seen, [1, 2, 5, 6, 8], 'below the bound (UID 9 is not in the walk), removed UIDs skipped');
      const [m] = await store.listMessagesAfter(u.id, inbox.id, 5, 100, 1);
      assert.equal(m?.uid, 6);
      assert.equal(m?.subject, 'walk 6');
      assert.equal(m?.from, 'sender@example.org');
      assert.equal(m?.objectId, (await store.listMessagePage(u.id, inbox.id, 0, 100)).items.find((x) => x.uid === 6)?.objectId);
      assert.deepEqual(await store.listMessagesAfter(u.id, inbox.id, 9, 100, 10), []);
      await rejectsWith(store.listMessagesAfter(other.id, inbox.id, 0, 100, 10), 'not-found');
    },
  },
  {
    name: 'getMessage by object id: found with its folder; another user\'s, a malformed or a removed id is null',
    async run({ store, user }) {
      const u = await user();
      const other = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const r = await store.append(u.id, inbox.id, msg('by id'));
      const m = await store.getMessage(u.id, r.objectId);
      assert.equal(m?.uid, r.uid);
      assert.equal(m?.folderId, inbox.id);
      assert.equal(m?.subject, 'by id');
      assert.equal(await store.getMessage(other.id, r.objectId), null);
      for (const bad of ['', 'X1', 'M', '../1', 'M!!']) assert.equal(await store.getMessage(u.id, bad), null);
      await store.storeFlags(u.id, inbox.id, [r.uid], 'add', ['\\Deleted']);
      await store.expunge(u.id, inbox.id);
      assert.equal(await store.getMessage(u.id, r.objectId), null);
    },
  },
];
