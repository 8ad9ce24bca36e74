import assert from 'node:assert/strict';
import type { Contract, Fixture } from '../harness.js';

export const area = 'thread ids';

const mail = (id: string, refs = ''): Buffer => Buffer.from(`Subject: ${id}\r\nMessage-ID: <${id}@example.org>\r\n${refs}\r\nbody\r\n`);

async function threadOf(f: Fixture, userId: number, folderId: number, uid: number): Promise<string> {
  const [m] = await f.store.getMessages(userId, folderId, [uid]);
  assert.ok(m, `UID ${uid} is there`);
  return m.threadId;
}

export const contracts: Contract[] = [
  {
    name: 'a reply (References or In-Reply-To) joins its parent\'s thread, in any folder of the user; other mail starts a thread of its own',
    async run(f) {
      const u = await f.user();
      const inbox = await f.store.getSpecialFolder(u.id, '\\Inbox');
      const sent = await f.store.createFolder(u.id, 'Sent');
      await f.store.append(u.id, inbox.id, mail('root'));
      await f.store.append(u.id, sent.id, mail('reply1', 'In-Reply-To: <root@example.org>\r\n'));
      await f.store.deliver([u.id], mail('reply2', 'References: <root@example.org> <reply1@example.org>\r\n'));
      // in one APPEND, a message finds its parent appended just before it
      await f.store.appendMany(u.id, inbox.id, [{ raw: mail('other') }, { raw: mail('other-reply', 'References: <other@example.org>\r\n') }]);
      await f.store.append(u.id, inbox.id, Buffer.from('Subject: no ids\r\n\r\nx\r\n'));
      const root = await threadOf(f, u.id, inbox.id, 1);
      assert.match(root, /^[A-Za-z0-9_-]{1,255}$/, 'RFC 8474 objectid syntax');
      assert.equal(await threadOf(f, u.id, sent.id, 1), root);
      assert.equal(await threadOf(f, u.id, inbox.id, 2), root);
      const other = await threadOf(f, u.id, inbox.id, 3);
      assert.notEqual(other, root);
      assert.equal(await threadOf(f, u.id, inbox.id, 4), other);
      const lone = await threadOf(f, u.id, inbox.id, 5);
      assert.ok(lone !== root && lone !== other);
    },
  },
  {
    name: 'COPY and MOVE keep the thread, and so does a folder rename; a reply to a moved message still finds it',
    async run(f) {
      const u = await f.user();
      const inbox = await f.store.getSpecialFolder(u.id, '\\Inbox');
      const archive = await f.store.createFolder(u.id, 'Archive');
      await f.store.append(u.id, inbox.id, mail('p'));
      const root = await threadOf(f, u.id, inbox.id, 1);
      const copied = await f.store.copyMessages(u.id, inbox.id, [1], archive.id);
      assert.equal(await threadOf(f, u.id, archive.id, copied.pairs[0]![1]), root);
      const moved = await f.store.moveMessages(u.id, inbox.id, [1], archive.id);
      assert.equal(await threadOf(f, u.id, archive.id, moved.pairs[0]![1]), root);
      await f.store.renameFolder(u.id, archive.id, 'Archive2');
      assert.equal(await threadOf(f, u.id, archive.id, moved.pairs[0]![1]), root);
      await f.store.removeMessages(u.id, archive.id, [copied.pairs[0]![1]]);
      await f.store.deliver([u.id], mail('q', 'In-Reply-To: <p@example.org>\r\n'));
      const [q] = await f.store.listMessages(u.id, inbox.id);
      assert.equal(await threadOf(f, u.id, inbox.id, q!.uid), root);
    },
  },
  {
    name: 'threads are per user: another user\'s message with the parent\'s Message-ID is not joined, and thread ids are never reused',
    async run(f) {
      const a = await f.user();
      const b = await f.user();
      const aInbox = await f.store.getSpecialFolder(a.id, '\\Inbox');
      const bInbox = await f.store.getSpecialFolder(b.id, '\\Inbox');
      await f.store.deliver([a.id, b.id], mail('shared'));
      await f.store.deliver([b.id], mail('b-reply', 'In-Reply-To: <shared@example.org>\r\n'));
      const aRoot = await threadOf(f, a.id, aInbox.id, 1);
      const bRoot = await threadOf(f, b.id, bInbox.id, 1);
      assert.notEqual(aRoot, bRoot, 'each user\'s copy is its own thread');
      assert.equal(await threadOf(f, b.id, bInbox.id, 2), bRoot);
      // a thread whose every message is gone: its id is not given to new mail
      await f.store.removeMessages(a.id, aInbox.id, [1]);
      await f.store.deliver([a.id], mail('later'));
      assert.notEqual(await threadOf(f, a.id, aInbox.id, 2), aRoot);
    },
  },
];
