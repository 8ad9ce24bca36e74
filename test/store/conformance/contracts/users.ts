import assert from 'node:assert/strict';
import { rejectsWith, type Contract } from '../harness.js';

export const area = 'users and addresses';

export const contracts: Contract[] = [
  {
    name: 'a new user has the default folders, an alias, a DN, and is found by address, alias and added address, case-insensitively',
    async run({ store }) {
      const u = await store.createUser({ address: 'Alice.Smith@Example.COM', password: 'secret', displayName: 'Alice' });
      assert.equal(u.address, 'alice.smith@example.com');
      assert.equal(u.displayName, 'Alice');
      assert.match(u.dn, /cn=Recipients\/cn=alice\.smith$/);
      const names = (await store.listFolders(u.id)).map((f) => f.name);
      for (const n of ['INBOX', 'Drafts', 'Sent Items', 'Deleted Items', 'Junk Email']) assert.ok(names.includes(n), `${n} in ${names}`);
      assert.equal((await store.getSpecialFolder(u.id, '\\Inbox')).name, 'INBOX');
      assert.equal((await store.findUser('ALICE.SMITH@example.com'))?.id, u.id);
      assert.equal((await store.findUser(u.alias.toUpperCase()))?.id, u.id);
      await store.addAddress(u.id, 'A.Smith@Example.com');
      assert.equal((await store.findUser('a.smith@example.com'))?.id, u.id);
      assert.equal((await store.getUser(u.id))?.address, u.address);
      assert.ok((await store.listUsers()).some((x) => x.id === u.id));
      assert.equal(await store.findUser('nobody@example.com'), null);
    },
  },
  {
    name: 'passwords: the right one verifies (by address or alias), a wrong one or an unknown user gives null; setPassword replaces it',
    async run({ store }) {
      const u = await store.createUser({ address: 'pw@example.com', password: 'first' });
      assert.equal((await store.verifyPassword('pw@example.com', 'first'))?.id, u.id);
      assert.equal((await store.verifyPassword(u.alias, 'first'))?.id, u.id);
      assert.equal(await store.verifyPassword('pw@example.com', 'wrong'), null);
      assert.equal(await store.verifyPassword('nobody@example.com', 'first'), null);
      await store.setPassword(u.id, 'second');
      assert.equal(await store.verifyPassword('pw@example.com', 'first'), null);
      assert.equal((await store.verifyPassword('pw@example.com', 'second'))?.id, u.id);
      await rejectsWith(store.setPassword(u.id, ''), 'invalid');
      await rejectsWith(store.setPassword(987654, 'x'), 'not-found');
    },
  },
  {
    name: 'a second user of one address, or an address taken by another user, is refused as "exists"; aliases stay unique',
    async run({ store }) {
      const a = await store.createUser({ address: 'same@example.com', password: 'pw' });
      await rejectsWith(store.createUser({ address: 'SAME@example.com', password: 'pw' }), 'exists');
      const b = await store.createUser({ address: 'same@other.example', password: 'pw' });
      assert.notEqual(a.alias, b.alias, 'aliases are unique');
      await rejectsWith(store.addAddress(b.id, 'same@example.com'), 'exists');
      await rejectsWith(store.createUser({ address: 'not an address', password: 'pw' }), 'invalid');
      await rejectsWith(store.createUser({ address: 'x@example.com', password: 'pw', database: 'No Such Database' }), 'not-found');
    },
  },
  {
    name: 'removing a user removes their mailbox (messages, folders, addresses) and leaves other users alone',
    async run({ store, user }) {
      const a = await user();
      const b = await user();
      const inboxA = await store.getSpecialFolder(a.id, '\\Inbox');
      const inboxB = await store.getSpecialFolder(b.id, '\\Inbox');
      await store.deliver([a.id, b.id], Buffer.from('Subject: both\r\n\r\nshared bytes\r\n'));
      await store.addAddress(a.id, 'extra@conformance.test');
      await store.removeUser(a.id);
      assert.equal(await store.getUser(a.id), null);
      assert.equal(await store.findUser('extra@conformance.test'), null);
      await rejectsWith(store.folderStatus(a.id, inboxA.id), 'not-found');
      const list = await store.listMessages(b.id, inboxB.id);
      assert.equal(list.length, 1);
      assert.match((await store.readBlob(list[0]!.blobHash)).toString(), /shared bytes/, 'the other recipient keeps the shared bytes');
      await rejectsWith(store.removeUser(a.id), 'not-found');
    },
  },
  {
    name: 'mailbox databases: the default exists, a new one is listed and found, a duplicate is "exists"',
    async run({ store }) {
      assert.ok((await store.listDatabases()).length >= 1);
      const d = await store.createDatabase('Mailbox Database 02');
      assert.equal((await store.findDatabase('mailbox database 02'))?.id, d.id);
      await rejectsWith(store.createDatabase('Mailbox Database 02'), 'exists');
      const u = await store.createUser({ address: 'd2@example.com', password: 'pw', database: 'Mailbox Database 02' });
      assert.equal(u.databaseName, 'Mailbox Database 02');
    },
  },
];
