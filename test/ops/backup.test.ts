import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createTransport } from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { startTestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/run.js';
import { serve } from '../cli/run-cli.js';
import { sqliteBackend } from '../store/conformance/backends.js';
import { checkInvariants } from '../store/conformance/invariants.js';
import { STORE_FILE } from '../../src/server/create-context.js';
import type { Store } from '../../src/store/store.js';

const BIN = resolve('bin/mailwarden');
const mailwarden = (args: string[]) => run(process.execPath, [BIN, ...args], { timeoutMs: 120_000 });

function message(i: number, size = 2_000): Buffer {
  return Buffer.from(
    `From: load@remote.example\r\nTo: alice@example.com\r\nSubject: message ${i}\r\nMessage-ID: <m${i}@remote.example>\r\n\r\n` +
      `${'x'.repeat(size)} ${i}\r\n`,
  );
}

interface FolderImage {
  uidValidity: number;
  mailboxId: string;
  messages: Map<number, { modseq: number; flags: string; sha256: string; internalDate: number }>;
}

/** Every folder of every user, by "user/folder": UIDs, flags, MODSEQs and a checksum of each message's bytes. */
async function image(store: Store): Promise<Map<string, FolderImage>> {
  const out = new Map<string, FolderImage>();
  for (const user of await store.listUsers()) {
    for (const folder of await store.listFolders(user.id)) {
      const messages = new Map<number, { modseq: number; flags: string; sha256: string; internalDate: number }>();
      const list = await store.listMessages(user.id, folder.id);
      const full = await store.getMessages(user.id, folder.id, list.map((m) => m.uid), { raw: true });
      for (const m of full) {
        messages.set(m.uid, {
          modseq: m.modseq, flags: [...m.flags].sort().join(' '), internalDate: m.internalDate.getTime(),
          sha256: createHash('sha256').update(m.raw!).digest('hex'),
        });
      }
      out.set(`${user.address}/${folder.name}`, { uidValidity: folder.uidValidity, mailboxId: folder.mailboxId, messages });
    }
  }
  return out;
}

test('a backup taken while mail is delivered restores to a consistent store holding everything acknowledged before it began', async () => {
  const server = await startTestServer();
  const tmp = tempDir();
  try {
    const alice = await server.addUser('alice@example.com', 'alice-pw-1');
    const archive = await server.ctx.store.createFolder(alice.id, 'Archive');
    const inbox = (await server.ctx.store.getFolder(alice.id, 'INBOX'))!;
    await server.ctx.store.appendMany(alice.id, archive.id, Array.from({ length: 150 }, (_, i) => ({ raw: message(i), flags: i % 3 === 0 ? ['\\Seen'] : [] })));
    await server.ctx.store.appendMany(alice.id, inbox.id, Array.from({ length: 50 }, (_, i) => ({ raw: message(1000 + i) })));

    // The load: SMTP deliveries to alice, one after another on 3 connections, until told to stop.
    let acknowledged = 0;
    let stop = false;
    let firstAcks!: () => void;
    const twentyAcked = new Promise<void>((r) => (firstAcks = r));
    const sender = async (n: number) => {
      const t = createTransport({ host: '127.0.0.1', port: server.port('smtp'), ignoreTLS: true, pool: false });
      for (let i = 0; !stop; i++) {
        await t.sendMail({ envelope: { from: 'load@remote.example', to: ['alice@example.com'] }, raw: message(10_000 * (n + 1) + i, 4_000) });
        if (++acknowledged >= 20) firstAcks();
      }
      t.close();
    };
    const load = Promise.all([0, 1, 2].map(sender));
    await twentyAcked;

    const backupFile = join(tmp.dir, 'during-load.mwb');
    const ackedBefore = acknowledged;
    const b = await mailwarden(['backup', '--data', server.dataDir, '--to', backupFile]);
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stdout, /backed up .* users?, .* messages/s);
    stop = true;
    await load;

    const restoredDir = join(tmp.dir, 'restored');
    const r = await mailwarden(['restore', '--from', backupFile, '--data', restoredDir]);
    assert.equal(r.status, 0, r.stderr);

    const restored = await sqliteBackend.open(join(restoredDir, STORE_FILE));
    try {
      // every invariant of the conformance suite holds on the restored store
      await checkInvariants(restored);
      const before = await image(restored.store);
      const after = await image(server.ctx.store);
      assert.deepEqual([...before.keys()].sort(), [...after.keys()].sort());
      for (const [name, folder] of before) {
        const live = after.get(name)!;
        assert.equal(folder.uidValidity, live.uidValidity, `${name}: UIDVALIDITY`);
        assert.equal(folder.mailboxId, live.mailboxId, `${name}: MAILBOXID`);
        // a snapshot of one moment: each UID it holds is the same message as on the live store
        for (const [uid, m] of folder.messages) {
          assert.equal(m.sha256, live.messages.get(uid)?.sha256, `${name} UID ${uid}: bytes`);
          assert.equal(m.internalDate, live.messages.get(uid)?.internalDate, `${name} UID ${uid}: internal date`);
        }
        // and a UID present live but not in the backup came after every UID of the backup
        const maxBackedUp = Math.max(0, ...folder.messages.keys());
        for (const uid of live.messages.keys()) if (!folder.messages.has(uid)) assert.ok(uid > maxBackedUp, `${name}: UID ${uid} missing from the middle`);
      }
      assert.equal(before.get('alice@example.com/Archive')!.messages.size, 150);
      assert.ok(before.get('alice@example.com/INBOX')!.messages.size >= 50 + ackedBefore, 'every delivery acknowledged before the backup began is in it');
    } finally {
      await restored.close();
    }

    // Quiet now: a second backup equals the live store exactly (counts, UIDs, MODSEQs, flags, checksums).
    const quietFile = join(tmp.dir, 'quiet.mwb');
    assert.equal((await mailwarden(['backup', '--data', server.dataDir, '--to', quietFile])).status, 0);
    const quietDir = join(tmp.dir, 'quiet');
    assert.equal((await mailwarden(['restore', '--from', quietFile, '--data', quietDir])).status, 0);
    const quiet = await sqliteBackend.open(join(quietDir, STORE_FILE));
    try {
      assert.deepEqual(await image(quiet.store), await image(server.ctx.store));
    } finally {
      await quiet.close();
    }
    // the certificate came back with the mail
    assert.equal(readFileSync(join(quietDir, 'tls', 'cert.pem'), 'utf8'), readFileSync(join(server.dataDir, 'tls', 'cert.pem'), 'utf8'));
  } finally {
    await server.close();
    tmp.cleanup();
  }
});

test('a restored data folder serves its users with their passwords and certificate', async () => {
  const tmp = tempDir();
  const source = join(tmp.dir, 'source');
  const first = await serve(source);
  try {
    assert.equal((await run(process.execPath, [BIN, 'user', 'add', 'bob@example.com', '--password-stdin', '--data', source], { input: 'bob-pw-22\n' })).status, 0);
    const c = new ImapFlow({ host: '127.0.0.1', port: first.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'bob@example.com', pass: 'bob-pw-22' }, logger: false });
    await c.connect();
    await c.append('INBOX', message(1), ['\\Flagged']);
    await c.logout();
    assert.equal((await mailwarden(['backup', '--data', source, '--to', join(tmp.dir, 'b.mwb')])).status, 0);
  } finally {
    await first.stop();
  }
  const target = join(tmp.dir, 'target');
  assert.equal((await mailwarden(['restore', '--from', join(tmp.dir, 'b.mwb'), '--data', target])).status, 0);
  const second = await serve(target);
  try {
    const c = new ImapFlow({ host: '127.0.0.1', port: second.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'bob@example.com', pass: 'bob-pw-22' }, logger: false });
    await c.connect();
    const lock = await c.getMailboxLock('INBOX');
    try {
      const msgs = [];
      for await (const m of c.fetch('1:*', { flags: true, source: true })) msgs.push(m);
      assert.equal(msgs.length, 1);
      assert.ok(msgs[0].flags?.has('\\Flagged'));
      assert.ok(msgs[0].source?.includes('Subject: message 1'));
    } finally {
      lock.release();
    }
    await c.logout();
  } finally {
    await second.stop();
    tmp.cleanup();
  }
});

test('backup and restore refuse what would lose or overwrite data, with a clear message', async () => {
  const tmp = tempDir();
  try {
    const data = join(tmp.dir, 'data');
    const first = await serve(data);
    await first.stop();
    const file = join(tmp.dir, 'b.mwb');
    assert.equal((await mailwarden(['backup', '--data', data, '--to', file])).status, 0);
    const again = await mailwarden(['backup', '--data', data, '--to', file]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /exists already/);
    const over = await mailwarden(['restore', '--from', file, '--data', data]);
    assert.equal(over.status, 2);
    assert.match(over.stderr, /holds a store already/);
    const notBackup = join(tmp.dir, 'plain.txt');
    writeFileSync(notBackup, 'hello');
    const bad = await mailwarden(['restore', '--from', notBackup, '--data', join(tmp.dir, 'x')]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /not (an SQLite file|a Mailwarden backup|a usable database)/);
    assert.equal(existsSync(join(tmp.dir, 'x', STORE_FILE)), false, 'nothing left behind');
    assert.equal((await mailwarden(['backup', '--data', data])).status, 2);
  } finally {
    tmp.cleanup();
  }
});
