import assert from 'node:assert/strict';
import { msg, rejectsWith, type Contract } from '../harness.js';

export const area = 'operations of the store as a contract (appendMany, removeMessages, getMessages, isLocalDomain)';

export const contracts: Contract[] = [
  {
    name: 'appendMany: consecutive UIDs in the given order, all or nothing',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      await store.append(u.id, inbox.id, msg('first'));
      const raws = [msg('m1'), msg('m2'), msg('m3')];
      const r = await store.appendMany(u.id, inbox.id, raws.map((raw, i) => ({ raw, flags: i === 1 ? ['\\Seen'] : [] })));
      assert.deepEqual(r.map((x) => x.uid), [2, 3, 4]);
      const list = await store.listMessages(u.id, inbox.id);
      for (const [i, raw] of raws.entries()) assert.ok((await store.readBlob(list[i + 1]!.blobHash)).equals(raw));
      assert.deepEqual(list[2]!.flags, ['\\Seen']);
      await rejectsWith(store.appendMany(u.id, 999999, [{ raw: msg('x') }]), 'not-found');
      assert.equal((await store.folderStatus(u.id, inbox.id)).messages, 4);
    },
  },
  {
    name: 'appendMany over quota: nothing of it is stored',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      await store.putSetting({ scope: 'user', targetId: u.id, name: 'Default Mailbox Quota Bytes', value: '600' });
      await rejectsWith(store.appendMany(u.id, inbox.id, [0, 1, 2].map((i) => ({ raw: msg(`q${i}`, 'z'.repeat(250)) }))), 'over-quota');
      assert.equal((await store.folderStatus(u.id, inbox.id)).messages, 0);
    },
  },
  {
    name: 'removeMessages: the given UIDs whatever their flags, ascending, unknown ones skipped; recorded for QRESYNC',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      for (let i = 0; i < 5; i++) await store.append(u.id, inbox.id, msg(`r${i}`), { flags: i === 1 ? ['\\Deleted'] : [] });
      const before = (await store.folderStatus(u.id, inbox.id)).highestModseq;
      assert.deepEqual(await store.removeMessages(u.id, inbox.id, [4, 1, 99, 4]), [1, 4]);
      assert.deepEqual((await store.listMessages(u.id, inbox.id)).map((m) => m.uid), [2, 3, 5]);
      assert.deepEqual((await store.expungedSince(u.id, inbox.id, before)).map((e) => e.uid), [1, 4]);
      await rejectsWith(store.removeMessages(u.id, 999999, [1]), 'not-found');
    },
  },
  {
    name: 'getMessages: the UIDs the folder holds, ascending, with the parts asked for and their EMAILIDs',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const raws = [msg('g0'), msg('g1'), msg('g2')];
      for (const raw of raws) await store.append(u.id, inbox.id, raw);
      const got = await store.getMessages(u.id, inbox.id, [3, 1, 42], { raw: true, structure: true });
      assert.deepEqual(got.map((m) => m.uid), [1, 3]);
      assert.ok(got[0]!.raw?.equals(raws[0]!));
      assert.ok(got[1]!.raw?.equals(raws[2]!));
      assert.ok(got[0]!.structure);
      // each with its EMAILID (RFC 8474), the one the message list gives
      const listed = (await store.listMessagePage(u.id, inbox.id, 0, 10)).items;
      for (const m of got) assert.equal(m.emailId, listed.find((l) => l.uid === m.uid)!.emailId);
      const bare = await store.getMessages(u.id, inbox.id, [2]);
      assert.equal(bare[0]!.raw, undefined);
      await rejectsWith(store.getMessages(u.id, 999999, [1]), 'not-found');
    },
  },
  {
    name: 'getMessages with `header`: the top-level header block alone (BODY[HEADER]\'s bytes, blank line included), whatever the header\'s shape',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const raws = [
        msg('h0'),
        // folded and repeated fields, LF line ends, 8-bit bytes in a field
        Buffer.from('Subject: one\n two\nX-A: 1\nx-a: 2\nFrom: J\xe9r\xf4me <j@x.test>\n\nbody\n', 'latin1'),
        Buffer.from('Subject: all header, no blank line\r\nX-Last: 1\r\n'), // all of it is header
        Buffer.from('not a field line\r\nSubject: s\r\n\r\nbody\r\n'), // no header at all (RFC 3501: empty)
        Buffer.from('Subject: empty body\r\n\r\n'),
      ];
      for (const raw of raws) await store.append(u.id, inbox.id, raw);
      const got = await store.getMessages(u.id, inbox.id, [1, 2, 3, 4, 5], { header: true });
      assert.deepEqual(got.map((m) => m.uid), [1, 2, 3, 4, 5]);
      const ends = [raws[0]!.indexOf('\r\n\r\n') + 4, raws[1]!.indexOf('\n\n') + 2, raws[2]!.length, 0, raws[4]!.length];
      got.forEach((m, i) => {
        assert.ok(m.header?.equals(raws[i]!.subarray(0, ends[i])), `message ${i + 1}: ${JSON.stringify(m.header?.toString('latin1'))}`);
        assert.equal(m.raw, undefined, 'no body read');
      });
    },
  },
  {
    name: 'isLocalDomain: the domains of every mailbox address, case-insensitively; not others',
    async run({ store, user }) {
      const u = await store.createUser({ address: 'someone@Local.Example', password: 'pw' });
      await store.addAddress(u.id, 'alias@second.example');
      assert.equal(await store.isLocalDomain('local.example'), true);
      assert.equal(await store.isLocalDomain('LOCAL.EXAMPLE'), true);
      assert.equal(await store.isLocalDomain('second.example'), true);
      assert.equal(await store.isLocalDomain('remote.example'), false);
      assert.equal(await store.isLocalDomain('example'), false);
      await user();
    },
  },
  {
    name: 'outbound queue: the RFC 3461 parameters and the delay notice mark are kept with each entry',
    async run({ store, user }) {
      const u = await user();
      const dsn = { ret: 'HDRS' as const, envid: 'env 1+2', recipients: { 'far@remote.example': { notify: ['SUCCESS' as const, 'DELAY' as const], orcpt: 'rfc822;Far@Remote.Example' } } };
      const a = await store.enqueue(u.address, ['far@remote.example', 'near@remote.example'], msg('dsn-q'), u.id, dsn);
      assert.deepEqual(a.dsn, dsn);
      assert.equal(a.delayNotified, false);
      const plain = await store.enqueue(u.address, ['x@remote.example'], msg('dsn-none'), u.id);
      assert.equal(plain.dsn, null);
      const { queueId } = await store.deliverAndEnqueue([u.id], msg('dsn-both'), { sender: u.address, recipients: ['far@remote.example'], raw: msg('dsn-both'), submittedBy: u.id, dsn });
      const listed = await store.listQueue();
      assert.deepEqual(listed.find((e) => e.id === queueId)!.dsn, dsn);
      await store.updateQueueEntry(a.id, { attempts: 1, nextAttempt: new Date(0), lastError: 'deferred', delayNotified: true });
      // left out: kept as it was
      await store.updateQueueEntry(a.id, { attempts: 2, nextAttempt: new Date(0), lastError: 'deferred again' });
      const due = (await store.dueQueueEntries(new Date(1))).find((e) => e.id === a.id)!;
      assert.equal(due.attempts, 2);
      assert.equal(due.delayNotified, true);
      assert.deepEqual(due.dsn, dsn);
      for (const id of [a.id, plain.id, queueId]) await store.removeQueueEntry(id);
    },
  },
];
