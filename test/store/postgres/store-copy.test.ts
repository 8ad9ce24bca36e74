/**
 * `mailwarden store copy` (the real command) from a SQLite data folder to PostgreSQL and back:
 * per-folder counts, UIDVALIDITY, UIDs, MODSEQs, flags, object ids, internal and save dates and the bytes' checksums
 * survive both ways, an account sync state taken before the copy still answers after it, and
 * a target that holds mailboxes already is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import type { Store } from '../../../src/store/store.js';
import { tempDir } from '../../helpers/tmp.js';
import { createTestDatabase } from '../../helpers/postgres.js';
import { cli } from '../../cli/run-cli.js';
import Database from 'better-sqlite3';
import { ManualClock } from '../../../src/shared-state/clock.js';

const STORE_FILE = 'mailwarden.sqlite';
const raw = (i: number, extra = '') => Buffer.from(`From: b@example.org\r\nSubject: copy ${i}\r\nMessage-ID: <c${i}@t>\r\n\r\n${extra}body ${i} ${'z'.repeat(i * 37)}\r\n`);

/** Mailboxes with history: gaps in UIDs, raised MODSEQs, a renamed and a deleted folder, a move, a queue entry, an event. */
async function fill(store: Store): Promise<void> {
  const a = await store.createUser({ address: 'alice@copy.example', password: 'pw-a' });
  const b = await store.createUser({ address: 'bob@copy.example', password: 'pw-b' });
  await store.addAddress(a.id, 'al@copy.example');
  const inbox = await store.getSpecialFolder(a.id, '\\Inbox');
  for (let i = 0; i < 12; i++) await store.append(a.id, inbox.id, raw(i), { flags: i % 3 ? [] : ['\\Seen'], internalDate: new Date(Date.UTC(2025, 0, 1 + i)) });
  await store.storeFlags(a.id, inbox.id, [2, 4, 6], 'add', ['\\Deleted']);
  await store.expunge(a.id, inbox.id);
  await store.storeFlags(a.id, inbox.id, [7, 8], 'add', ['\\Flagged', '$Label1']);
  const work = await store.createFolder(a.id, 'Work');
  await store.createFolder(a.id, 'Work/Old');
  await store.moveMessages(a.id, inbox.id, [9, 10], work.id);
  await store.copyMessages(a.id, inbox.id, [1], work.id);
  await store.renameFolder(a.id, work.id, 'Projects');
  const gone = await store.createFolder(a.id, 'Gone');
  await store.append(a.id, gone.id, raw(100));
  await store.deleteFolder(a.id, gone.id);
  // a reply to c0 (in INBOX and, copied, in Projects): alice's copy joins its thread, bob's starts one
  await store.deliver([a.id, b.id], Buffer.from(raw(200, 'shared ').toString().replace('\r\n\r\n', '\r\nIn-Reply-To: <c0@t>\r\n\r\n')));
  await store.putSetting({ scope: 'user', targetId: b.id, name: 'Default Mailbox Quota Bytes', value: '5000000' });
  await store.enqueue('alice@copy.example', ['far@remote.example'], raw(300), a.id);
  // RFC 3461 parameters and a sent delay notice travel with the entry
  const dsnEntry = await store.enqueue('alice@copy.example', ['far@remote.example'], raw(301), a.id, {
    ret: 'HDRS', envid: 'copy-env', recipients: { 'far@remote.example': { notify: ['DELAY'], orcpt: 'rfc822;far@remote.example' } },
  });
  await store.updateQueueEntry(dsnEntry.id, { attempts: 1, nextAttempt: new Date(Date.now() + 60_000), lastError: 'deferred', delayNotified: true });
  await store.appendEvent({ time: new Date(), provider: 'MSExchangeIS', eventId: 1000, qualifiers: 0, level: 4, task: 0, keywords: '0x80000000000000', computer: 'copy', user: null, data: ['x'], message: 'copied' });
}

/** Everything a client can see of a store, and what must be equal after a copy. */
async function picture(store: Store) {
  const users = [];
  for (const u of await store.listUsers()) {
    const folders = [];
    for (const f of await store.listFolders(u.id)) {
      const status = await store.folderStatus(u.id, f.id);
      const page = await store.listMessagePage(u.id, f.id, 0, 1000);
      const threadIds = new Map((await store.getMessages(u.id, f.id, page.items.map((m) => m.uid))).map((m) => [m.uid, m.threadId]));
      const messages = await Promise.all(page.items.sort((x, y) => x.uid - y.uid).map(async (m) => ({
        uid: m.uid, modseq: m.modseq, flags: [...m.flags].sort(), objectId: m.objectId, emailId: m.emailId, threadId: threadIds.get(m.uid), subject: m.subject,
        internalDate: m.internalDate.toISOString(), saveDate: m.saveDate?.toISOString() ?? null, sha256: createHash('sha256').update(await store.readBlob(m.blobHash)).digest('hex'),
      })));
      folders.push({ id: f.id, name: f.name, mailboxId: f.mailboxId, specialUse: f.specialUse, subscribed: f.subscribed, status, messages });
    }
    users.push({ id: u.id, address: u.address, alias: u.alias, folders, quota: await store.quota(u.id), subscriptions: await store.listSubscriptions(u.id), state: await store.changeState(u.id) });
  }
  const queue = (await store.listQueue()).map((q) => ({ ...q, nextAttempt: q.nextAttempt.toISOString(), createdAt: q.createdAt.toISOString() }));
  const events = (await store.listEvents()).map((e) => ({ ...e, time: e.time.toISOString() }));
  return { users, queue, events, settings: await store.listSettingOverrides(), databases: (await store.listDatabases()).map((d) => d.name) };
}

test('store copy: SQLite data folder → PostgreSQL → SQLite data folder, everything a client sees kept and verified', { timeout: 300_000 }, async () => {
  const tmp = tempDir();
  const pg = await createTestDatabase();
  try {
    const first = join(tmp.dir, 'first');
    mkdirSync(first);
    // a clock that moves a minute per save: every save date differs, none equals an internal date
    const clock = new ManualClock(Date.UTC(2026, 5, 1));
    const sqlite = await SqliteStore.open(join(first, STORE_FILE), { clock: { now: () => (clock.advance(60_000), clock.now()) } });
    await fill(sqlite);
    // and a message from before save dates were kept (schema step 11 left it NULL): still none after the copies
    const raw3 = new Database(join(first, STORE_FILE));
    raw3.prepare("UPDATE messages SET save_date = NULL WHERE uid = 1 AND folder_id = (SELECT id FROM folders WHERE name = 'INBOX' LIMIT 1)").run();
    raw3.close();
    const before = await picture(sqlite);
    const alice = (await sqlite.findUser('alice@copy.example'))!;
    const oldState = before.users.find((u) => u.address === 'alice@copy.example')!.state;
    await sqlite.close();

    const toPg = cli(['store', 'copy', '--from', first, '--to', pg.url]);
    assert.equal(toPg.code, 0, toPg.stderr);
    assert.match(toPg.stdout, /2 users, 12 folders, 12 messages/);
    assert.match(toPg.stdout, /verified/);

    const onPg = await PostgresStore.open(pg.url);
    try {
      assert.deepEqual(await picture(onPg), before, 'PostgreSQL shows what SQLite showed');
      // a sync state from before the copy answers "nothing changed" after it; a new change is seen
      assert.equal((await onPg.changesSince(alice.id, oldState, 100)).messages.created.length, 0);
      const inbox = await onPg.getSpecialFolder(alice.id, '\\Inbox');
      const added = await onPg.append(alice.id, inbox.id, raw(400));
      assert.equal(added.uid, before.users.find((u) => u.id === alice.id)!.folders.find((f) => f.name === 'INBOX')!.status.uidNext, 'the next UID follows on');
      assert.deepEqual((await onPg.changesSince(alice.id, oldState, 100)).messages.created, [added.objectId]);
      assert.ok((await onPg.verifyPassword('al@copy.example', 'pw-a'))?.id === alice.id, 'passwords and addresses copied');
      await onPg.removeMessages(alice.id, inbox.id, [added.uid]);
    } finally {
      await onPg.close();
    }

    // a target with mailboxes is refused, nothing changed there
    const again = cli(['store', 'copy', '--from', first, '--to', pg.url]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /holds mailboxes already/);

    const back = join(tmp.dir, 'back');
    const toSqlite = cli(['store', 'copy', '--from', pg.url, '--to', back, '--json']);
    assert.equal(toSqlite.code, 0, toSqlite.stderr);
    assert.equal(JSON.parse(toSqlite.stdout).verified, true);
    const returned = await SqliteStore.open(join(back, STORE_FILE));
    try {
      const after = await picture(returned);
      // the round trip through PostgreSQL added and removed one message: INBOX's UIDNEXT and
      // HIGHESTMODSEQ moved on, alice's change state too; everything else is as it was
      const aliceAfter = after.users.find((u) => u.id === alice.id)!;
      const aliceBefore = before.users.find((u) => u.id === alice.id)!;
      const inboxAfter = aliceAfter.folders.find((f) => f.name === 'INBOX')!;
      const inboxBefore = aliceBefore.folders.find((f) => f.name === 'INBOX')!;
      assert.equal(inboxAfter.status.uidNext, inboxBefore.status.uidNext + 1);
      assert.equal(inboxAfter.status.highestModseq, inboxBefore.status.highestModseq + 2);
      inboxAfter.status = inboxBefore.status;
      aliceAfter.state = aliceBefore.state;
      assert.deepEqual(after, before, 'the SQLite copy shows what the first SQLite store showed');
      const inbox = await returned.getSpecialFolder(alice.id, '\\Inbox');
      assert.equal((await returned.append(alice.id, inbox.id, raw(500))).uid, inboxBefore.status.uidNext + 1, 'UIDs never reused');
    } finally {
      await returned.close();
    }
  } finally {
    await pg.drop();
    tmp.cleanup();
  }
});
