import assert from 'node:assert/strict';
import { msg, rejectsWith, type Contract } from '../harness.js';

export const area = 'change state and tombstones';

const sorted = (a: string[]) => [...a].sort();

export const contracts: Contract[] = [
  {
    name: 'every change moves the state; changesSince reports created, updated (flags, move) and destroyed messages and folders, each once',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const s0 = await store.changeState(u.id);
      const a = await store.append(u.id, inbox.id, msg('a'));
      const b = await store.append(u.id, inbox.id, msg('b'));
      const folder = await store.createFolder(u.id, 'Box');
      const s1 = await store.changeState(u.id);
      assert.notEqual(s1, s0);
      let c = await store.changesSince(u.id, s0, 1000);
      assert.equal(c.newState, s1);
      assert.equal(c.hasMore, false);
      assert.deepEqual(sorted(c.messages.created), sorted([a.objectId, b.objectId]));
      assert.deepEqual(c.folders.created, [folder.mailboxId]);
      await store.storeFlags(u.id, inbox.id, [a.uid], 'add', ['\\Seen']);
      await store.moveMessages(u.id, inbox.id, [b.uid], folder.id);
      await store.renameFolder(u.id, folder.id, 'Box2');
      c = await store.changesSince(u.id, s1, 1000);
      assert.deepEqual(sorted(c.messages.updated), sorted([a.objectId, b.objectId]));
      assert.deepEqual(c.messages.created, []);
      assert.deepEqual(c.messages.destroyed, []);
      assert.deepEqual(c.folders.updated, [folder.mailboxId]);
      const s2 = c.newState;
      await store.deleteFolder(u.id, folder.id);
      c = await store.changesSince(u.id, s2, 1000);
      assert.deepEqual(c.messages.destroyed, [b.objectId]);
      assert.deepEqual(c.folders.destroyed, [folder.mailboxId]);
      const same = await store.changesSince(u.id, c.newState, 1000);
      assert.deepEqual([same.messages, same.folders, same.hasMore], [{ created: [], updated: [], destroyed: [] }, { created: [], updated: [], destroyed: [] }, false]);
    },
  },
  {
    name: 'a long history comes in pieces of at most maxChanges ids; following newState reaches the current state with nothing lost',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const s0 = await store.changeState(u.id);
      const made: string[] = [];
      for (let i = 0; i < 12; i++) made.push((await store.append(u.id, inbox.id, msg(`h${i}`))).objectId);
      const got: string[] = [];
      let state = s0;
      for (let round = 0; round < 20; round++) {
        const c = await store.changesSince(u.id, state, 5);
        assert.ok(c.messages.created.length + c.messages.updated.length + c.messages.destroyed.length <= 5);
        got.push(...c.messages.created);
        state = c.newState;
        if (!c.hasMore) break;
      }
      assert.equal(state, await store.changeState(u.id));
      assert.deepEqual(sorted(got), sorted(made));
    },
  },
  {
    name: 'per folder: a message moved in is created there, moved out destroyed there',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const box = await store.createFolder(u.id, 'Box');
      const m = await store.append(u.id, inbox.id, msg('travels'));
      const s = await store.changeState(u.id);
      await store.moveMessages(u.id, inbox.id, [m.uid], box.id);
      assert.deepEqual((await store.changesSince(u.id, s, 100, { folderId: box.id })).messages.created, [m.objectId]);
      assert.deepEqual((await store.changesSince(u.id, s, 100, { folderId: inbox.id })).messages.destroyed, [m.objectId]);
    },
  },
  {
    name: 'states of another account, from the future, or malformed are "cannot-calculate-changes"; other users\' changes are not seen',
    async run({ store, user }) {
      const u = await user();
      const other = await user();
      const s = await store.changeState(u.id);
      const otherInbox = await store.getSpecialFolder(other.id, '\\Inbox');
      await store.append(other.id, otherInbox.id, msg('not yours'));
      assert.equal(await store.changeState(u.id), s, "another user's change leaves this state");
      const c = await store.changesSince(u.id, s, 100);
      assert.deepEqual(c.messages.created, []);
      await rejectsWith(store.changesSince(u.id, 'garbage', 10), 'cannot-calculate-changes');
      await rejectsWith(store.changesSince(u.id, await store.changeState(other.id), 10), 'cannot-calculate-changes');
    },
  },
];
