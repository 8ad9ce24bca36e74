import assert from 'node:assert/strict';
import { msg, rejectsWith, type Contract } from '../harness.js';

export const area = 'folders and subscriptions';

export const contracts: Contract[] = [
  {
    name: 'create: listed, subscribed, found by name and id, with a mailbox id and UIDVALIDITY; duplicates and bad names refused',
    async run({ store, user }) {
      const u = await user();
      const f = await store.createFolder(u.id, 'Projects/2026');
      assert.equal(f.name, 'Projects/2026');
      assert.match(f.mailboxId, /^F[0-9a-z]+$/);
      assert.ok(f.uidValidity > 0);
      assert.equal(f.uidNext, 1);
      assert.equal((await store.getFolder(u.id, 'Projects/2026'))?.id, f.id);
      assert.equal((await store.getFolderById(u.id, f.id))?.name, f.name);
      assert.ok((await store.listSubscriptions(u.id)).includes('Projects/2026'));
      await rejectsWith(store.createFolder(u.id, 'Projects/2026'), 'exists');
      for (const bad of ['', 'a*b', 'a%b', '/lead', 'trail/', 'a//b', 'x\r\ny']) await rejectsWith(store.createFolder(u.id, bad), 'invalid');
      assert.equal((await store.getFolder(u.id, 'inbox'))?.name, 'INBOX', 'INBOX is case-insensitive');
      const other = await user();
      assert.equal(await store.getFolderById(other.id, f.id), null, "another user's folder is not found");
    },
  },
  {
    name: 'UIDVALIDITY of a folder re-created under a deleted one\'s name differs; mailbox ids are never reused',
    async run({ store, user }) {
      const u = await user();
      const a = await store.createFolder(u.id, 'Again');
      await store.deleteFolder(u.id, a.id);
      const b = await store.createFolder(u.id, 'Again');
      assert.notEqual(b.uidValidity, a.uidValidity);
      assert.notEqual(b.mailboxId, a.mailboxId);
    },
  },
  {
    name: 'rename: keeps id, mailbox id, UIDVALIDITY and messages; children follow; the subscription follows; a taken name is "exists"',
    async run({ store, user }) {
      const u = await user();
      const f = await store.createFolder(u.id, 'Old');
      const child = await store.createFolder(u.id, 'Old/Child');
      await store.append(u.id, f.id, msg('kept'));
      await store.createFolder(u.id, 'Taken');
      await rejectsWith(store.renameFolder(u.id, f.id, 'Taken'), 'exists');
      await rejectsWith(store.renameFolder(u.id, 999999, 'Whatever'), 'not-found');
      await store.renameFolder(u.id, f.id, 'New');
      const r = (await store.getFolderById(u.id, f.id))!;
      assert.equal(r.name, 'New');
      assert.equal(r.mailboxId, f.mailboxId);
      assert.equal(r.uidValidity, f.uidValidity);
      assert.equal((await store.getFolderById(u.id, child.id))?.name, 'New/Child');
      assert.equal((await store.listMessages(u.id, f.id)).length, 1);
      const subs = await store.listSubscriptions(u.id);
      assert.ok(subs.includes('New') && subs.includes('New/Child') && !subs.includes('Old'), subs.join());
      assert.equal(await store.getFolder(u.id, 'Old'), null);
    },
  },
  {
    name: 'renaming INBOX (RFC 3501 6.3.5) moves its messages to a new folder, keeps their ids, and leaves INBOX empty with its mailbox id',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      await store.append(u.id, inbox.id, msg('one'), { flags: ['\\Seen'] });
      await store.append(u.id, inbox.id, msg('two'));
      const ids = (await store.listMessagePage(u.id, inbox.id, 0, 10)).items.map((m) => m.objectId).sort();
      const state = await store.changeState(u.id);
      await store.renameFolder(u.id, inbox.id, 'Old Mail');
      assert.deepEqual([...(await store.changesSince(u.id, state, 100, { folderId: inbox.id })).messages.destroyed].sort(), ids, 'a sync of INBOX hears they left');
      const moved = (await store.getFolder(u.id, 'Old Mail'))!;
      assert.notEqual(moved.id, inbox.id);
      assert.deepEqual([...(await store.changesSince(u.id, state, 100, { folderId: moved.id })).messages.created].sort(), ids, 'a sync of the new folder hears them arrive');
      assert.notEqual(moved.mailboxId, inbox.mailboxId);
      const page = await store.listMessagePage(u.id, moved.id, 0, 10);
      assert.deepEqual(page.items.map((m) => m.objectId).sort(), ids);
      assert.deepEqual((await store.listMessages(u.id, moved.id)).map((m) => m.uid), [1, 2]);
      const after = (await store.getFolder(u.id, 'INBOX'))!;
      assert.equal(after.id, inbox.id);
      assert.equal(after.mailboxId, inbox.mailboxId);
      assert.equal((await store.folderStatus(u.id, inbox.id)).messages, 0);
      assert.ok(after.uidNext >= 3, 'INBOX does not reuse the UIDs it gave');
    },
  },
  {
    name: 'delete: messages go (tombstoned), INBOX cannot be deleted, the subscription stays (RFC 3501 6.3.9), unknown is "not-found"',
    async run({ store, user }) {
      const u = await user();
      const f = await store.createFolder(u.id, 'Doomed');
      await store.append(u.id, f.id, msg('doomed'));
      await store.deleteFolder(u.id, f.id);
      assert.equal(await store.getFolderById(u.id, f.id), null);
      await rejectsWith(store.listMessages(u.id, f.id), 'not-found');
      assert.ok((await store.listSubscriptions(u.id)).includes('Doomed'));
      await store.setSubscribed(u.id, 'Doomed', false);
      assert.ok(!(await store.listSubscriptions(u.id)).includes('Doomed'));
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      await rejectsWith(store.deleteFolder(u.id, inbox.id), 'invalid');
      await rejectsWith(store.deleteFolder(u.id, f.id), 'not-found');
    },
  },
  {
    name: 'subscriptions: subscribing needs the folder, unsubscribing any name, both idempotent',
    async run({ store, user }) {
      const u = await user();
      await store.createFolder(u.id, 'Sub');
      await store.setSubscribed(u.id, 'Sub', false);
      await store.setSubscribed(u.id, 'Sub', false);
      assert.ok(!(await store.listSubscriptions(u.id)).includes('Sub'));
      assert.equal((await store.getFolder(u.id, 'Sub'))?.subscribed, false);
      await store.setSubscribed(u.id, 'Sub', true);
      await store.setSubscribed(u.id, 'Sub', true);
      assert.equal((await store.listSubscriptions(u.id)).filter((s) => s === 'Sub').length, 1);
      assert.equal((await store.getFolder(u.id, 'Sub'))?.subscribed, true);
      await rejectsWith(store.setSubscribed(u.id, 'Nowhere', true), 'not-found');
    },
  },
  {
    name: 'create with subscribe: false (IMAP CREATE): not subscribed, and a subscription the name kept from a deleted folder stays',
    async run({ store, user }) {
      const u = await user();
      const f = await store.createFolder(u.id, 'Plain', null, { subscribe: false });
      assert.equal(f.subscribed, false);
      assert.ok(!(await store.listSubscriptions(u.id)).includes('Plain'));
      const kept = await store.createFolder(u.id, 'Kept');
      await store.deleteFolder(u.id, kept.id);
      assert.equal((await store.createFolder(u.id, 'Kept', null, { subscribe: false })).subscribed, true);
    },
  },
];
