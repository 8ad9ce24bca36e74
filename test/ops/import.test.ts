import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, utimesSync, writeFileSync, readdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ImapFlow } from 'imapflow';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/run.js';
import { serve } from '../cli/run-cli.js';
import { dovecotMissing, startDovecot, writeMaildir, type Dovecot } from '../../bench/lib/dovecot.js';

const BIN = resolve('bin/mailwarden');
const mailwarden = (args: string[], input?: string) => run(process.execPath, [BIN, ...args], { input, timeoutMs: 600_000 });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Seen { flags: string; date: number }
/** Every folder over IMAP: message checksum → flags and internal date, and the subscribed names. */
async function imapImage(client: ImapFlow, rename: (name: string) => string = (n) => n): Promise<{ folders: Map<string, Map<string, Seen>>; subscribed: Set<string> }> {
  const folders = new Map<string, Map<string, Seen>>();
  const subscribed = new Set<string>();
  for (const e of await client.list()) {
    if (e.flags.has('\\Noselect')) continue;
    const name = rename(e.path.toUpperCase() === 'INBOX' ? 'INBOX' : e.path.split(e.delimiter).join('/'));
    if (e.subscribed) subscribed.add(name);
    const box = await client.mailboxOpen(e.path, { readOnly: true });
    const messages = folders.get(name) ?? new Map<string, Seen>();
    if (box.exists) {
      for await (const m of client.fetch('1:*', { flags: true, internalDate: true, source: true })) {
        const flags = [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort().join(' ');
        messages.set(sha(m.source!), { flags, date: new Date(m.internalDate!).getTime() });
      }
    }
    folders.set(name, messages);
  }
  return { folders, subscribed };
}

function message(i: number, extra = ''): Buffer {
  return Buffer.from(`From: sender${i % 7}@old.example\r\nTo: mover@example.com\r\nSubject: old mail ${i}\r\nMessage-ID: <old${i}@old.example>\r\n${extra}\r\n${'line of old mail\r\n'.repeat(5 + (i % 20))}`);
}

const N = Number(process.env.MW_IMPORT_MESSAGES ?? 1000);

test(`moving in from Dovecot: its Maildir and its IMAP server (${N} messages), folders, flags, dates and checksums equal; a second run copies nothing`, { skip: dovecotMissing() ?? false }, async () => {
  const tmp = tempDir();
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }] });
  writeFileSync(join(tmp.dir, 'dc.pem'), pems.cert);
  writeFileSync(join(tmp.dir, 'dc.key'), pems.private);
  let dovecot: Dovecot | null = null;
  let server: Awaited<ReturnType<typeof serve>> | null = null;
  try {
    dovecot = await startDovecot({ users: [{ name: 'mover', password: 'old-server-pw' }], tls: { certFile: join(tmp.dir, 'dc.pem'), keyFile: join(tmp.dir, 'dc.key') } });
    // Dovecot's Maildir: INBOX with N messages and Maildir flag letters, folders made and flagged over IMAP
    const maildir = dovecot.maildir('mover');
    writeMaildir(maildir, Array.from({ length: N }, (_, i) => message(i)), (i) => ['', 'S', 'FS', 'RS', 'PS', 'DS'][i % 6]);
    // dates as Dovecot keeps them: the file times
    readdirSync(join(maildir, 'cur')).forEach((f, i) => utimesSync(join(maildir, 'cur', f), 1_600_000_000 + i * 60, 1_600_000_000 + i * 60));
    mkdirSync(join(maildir, 'new'), { recursive: true });
    writeFileSync(join(maildir, 'new', '1700000000.Mnew.host'), message(N, 'X-New: yes\r\n'));
    // a fixed time, as for cur/: a file written "now" can be read on either side of a second's edge
    utimesSync(join(maildir, 'new', '1700000000.Mnew.host'), 1_700_000_000, 1_700_000_000);
    dovecot.fixOwnership();
    const old = new ImapFlow({ host: '127.0.0.1', port: dovecot.ports.imap, secure: false, doSTARTTLS: false, auth: { user: 'mover', pass: 'old-server-pw' }, logger: false });
    await old.connect();
    for (const name of ['Archive', 'Archive.2024', 'Sent', 'Trash']) await old.mailboxCreate(name);
    await old.mailboxSubscribe('Archive.2024');
    await old.append('Archive.2024', message(100_001), ['\\Seen', '$Label1', 'custom-keyword'], new Date('2024-03-01T10:00:00Z'));
    await old.append('Sent', message(100_002), ['\\Seen', '\\Answered'], new Date('2023-01-05T08:00:00Z'));
    await old.append('Archive', message(100_003), [], new Date('2022-06-01T00:00:00Z'));
    const source = await imapImage(old, (n) => n.replace(/\./g, '/'));
    await old.logout();
    assert.equal(source.folders.get('INBOX')!.size, N + 1);

    const data = join(tmp.dir, 'data');
    server = await serve(data);
    for (const u of ['a@example.com', 'b@example.com']) {
      assert.equal((await run(process.execPath, [BIN, 'user', 'add', u, '--password-stdin', '--data', data], { input: 'new-server-pw\n' })).status, 0);
    }
    const check = async (user: string) => {
      const c = new ImapFlow({ host: '127.0.0.1', port: server!.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user, pass: 'new-server-pw' }, logger: false });
      await c.connect();
      // Dovecot's Sent/Trash land in the mailbox's own special-use folders
      const mine = await imapImage(c, (n) => ({ 'Sent Items': 'Sent', 'Deleted Items': 'Trash' } as Record<string, string>)[n] ?? n);
      await c.logout();
      for (const [name, messages] of source.folders) {
        const got = mine.folders.get(name);
        assert.ok(got, `${user}: folder ${name}`);
        assert.equal(got.size, messages.size, `${user} ${name}: count`);
        for (const [hash, m] of messages) {
          const g = got.get(hash);
          assert.ok(g, `${user} ${name}: a message is missing or its bytes differ`);
          assert.equal(g.flags, m.flags, `${user} ${name}: flags`);
          assert.equal(g.date, m.date, `${user} ${name}: internal date`);
        }
      }
      assert.ok(mine.subscribed.has('Archive/2024'), `${user}: subscription`);
    };

    // 1. from Dovecot's Maildir on disk
    const a = await mailwarden(['import', 'maildir', maildir, '--user', 'a@example.com', '--data', data]);
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stdout, new RegExp(`imported ${N + 4} messages`));
    assert.match(a.stderr, /INBOX -> INBOX: .* \(done\)/, 'progress is shown');
    await check('a@example.com');
    const again = await mailwarden(['import', 'maildir', maildir, '--user', 'a@example.com', '--data', data]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`imported 0 messages .* \\(${N + 4} were there already\\)`));

    // 2. from Dovecot's running IMAP server, over TLS (its certificate pinned with --ca)
    const b = await mailwarden(['import', 'imap', '--from', `imaps://localhost:${dovecot.ports.imaps}`, '--ca', join(tmp.dir, 'dc.pem'), '--user', 'b@example.com', '--source-user', 'mover', '--password-stdin', '--data', data], 'old-server-pw\n');
    assert.equal(b.status, 0, b.stderr);
    await check('b@example.com');
    const b2 = await mailwarden(['import', 'imap', '--from', `imaps://localhost:${dovecot.ports.imaps}`, '--ca', join(tmp.dir, 'dc.pem'), '--user', 'b@example.com', '--source-user', 'mover', '--password-stdin', '--data', data, '--json'], 'old-server-pw\n');
    const report = JSON.parse(b2.stdout) as { folders: Array<{ imported: number; skipped: number }> };
    assert.equal(report.folders.reduce((n, f) => n + f.imported, 0), 0, 'a second run copies nothing');
    // a wrong password or an untrusted certificate: a clear refusal, nothing imported
    const bad = await mailwarden(['import', 'imap', '--from', `imaps://localhost:${dovecot.ports.imaps}`, '--user', 'b@example.com', '--source-user', 'mover', '--password-stdin', '--data', data], 'old-server-pw\n');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /certificate/i);
  } finally {
    await server?.stop();
    await dovecot?.stop();
    tmp.cleanup();
  }
});

test('an mbox file: messages split at "From " lines, ">From " unescaped, flags from Status/X-Status, dates from the From line', async () => {
  const tmp = tempDir();
  const data = join(tmp.dir, 'data');
  const server = await serve(data);
  try {
    assert.equal((await run(process.execPath, [BIN, 'user', 'add', 'c@example.com', '--password-stdin', '--data', data], { input: 'pw-for-c-1\n' })).status, 0);
    const mbox = [
      'From alice@old.example Mon Jan  6 10:00:00 2020',
      'From: alice@old.example', 'Subject: one', 'Status: RO', 'X-Status: AF', '', 'body one', '>From the start of a line', '>>From twice', '',
      'From bob@old.example Tue Feb  4 12:30:00 2020',
      'From: bob@old.example', 'Subject: two', 'Status: O', '', 'body two', 'From inside a paragraph is not a separator', '',
    ].join('\n');
    const file = join(tmp.dir, 'Old Mail.mbox');
    writeFileSync(file, mbox);
    const r = await mailwarden(['import', 'mbox', file, '--user', 'c@example.com', '--data', data]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /imported 2 messages into 1 folders/);
    const c = new ImapFlow({ host: '127.0.0.1', port: server.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'c@example.com', pass: 'pw-for-c-1' }, logger: false });
    await c.connect();
    await c.mailboxOpen('Old Mail');
    const got = [];
    for await (const m of c.fetch('1:*', { flags: true, internalDate: true, source: true })) got.push(m);
    await c.logout();
    assert.equal(got.length, 2);
    assert.deepEqual([...got[0].flags!].filter((f) => f !== '\\Recent').sort(), ['\\Answered', '\\Flagged', '\\Seen']);
    assert.deepEqual([...got[1].flags!].filter((f) => f !== '\\Recent'), []);
    assert.equal(new Date(got[0].internalDate!).toISOString().slice(0, 10), '2020-01-06');
    const one = got[0].source!.toString();
    assert.match(one, /\r\nFrom the start of a line\r\n>From twice\r\n$/);
    assert.match(got[1].source!.toString(), /From inside a paragraph/);
    // the blank separator line is not part of the message
    assert.ok(!one.endsWith('\r\n\r\n'));
    renameSync(file, file + '.gone');
    const missing = await mailwarden(['import', 'mbox', file, '--user', 'c@example.com', '--data', data]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /is not a file/);
  } finally {
    await server.stop();
    tmp.cleanup();
  }
});
