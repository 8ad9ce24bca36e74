import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../helpers/run.js';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import type { User } from '../../src/store/types.js';

// Real POP3 clients nobody here wrote: python3 poplib, curl, fetchmail, getmail6 (Debian).
// Mail goes in through Mailwarden's own SMTP listener, as a user's mail would.

let srv: TestServer;
let certFile: string;
const work = tempDir('mailwarden-clients-');

function mail(n: number, to: string): string {
  return `From: Sender <sender@example.org>\r\nTo: ${to}\r\nSubject: client test ${n}\r\nMessage-ID: <c${n}@example.org>\r\n\r\nLine one of ${n}\r\n.starts with a dot\r\n\r\nLast line\r\n`;
}

/** Delivers through the SMTP listener with python3 smtplib and returns the stored bytes. */
async function sendSmtp(to: string, n: number): Promise<void> {
  const py = `import smtplib,sys\ns=smtplib.SMTP('127.0.0.1', ${srv.port('smtp')})\ns.sendmail('sender@example.org', ['${to}'], sys.stdin.buffer.read())\ns.quit()\n`;
  const r = await run('python3', ['-c', py], { input: mail(n, to) });
  assert.equal(r.status, 0, r.stderr);
}

async function inboxCount(user: User): Promise<number> {
  const inbox = await srv.ctx.store.getSpecialFolder(user.id, '\\Inbox');
  return (await srv.ctx.store.listMessages(user.id, inbox.id)).length;
}

async function storedBytes(user: User): Promise<Buffer[]> {
  const inbox = await srv.ctx.store.getSpecialFolder(user.id, '\\Inbox');
  return Promise.all((await srv.ctx.store.listMessages(user.id, inbox.id)).map((m) => srv.ctx.store.readBlob(m.blobHash)));
}

before(async () => {
  srv = await startTestServer();
  certFile = join(srv.dataDir, 'tls', 'cert.pem');
});
after(async () => {
  await srv.close();
  work.cleanup();
});

test('python3 poplib over STLS: list, retrieve byte-identical, delete', async () => {
  const user = await srv.addUser('py@example.com');
  for (let i = 1; i <= 3; i++) await sendSmtp(user.address, i);
  const stored = await storedBytes(user);
  const py = `
import poplib, ssl, json
ctx = ssl.create_default_context(cafile=${JSON.stringify(certFile)})
p = poplib.POP3('127.0.0.1', ${srv.port('pop3')})
p.stls(context=ctx)
p.user('py@example.com'); p.pass_('secret-pw')
count, size = p.stat()
msgs = [b'\\r\\n'.join(p.retr(i + 1)[1]).decode('latin1') for i in range(count)]
uidl = [x.decode() for x in p.uidl()[1]]
for i in range(count): p.dele(i + 1)
p.quit()
print(json.dumps({'count': count, 'msgs': msgs, 'uidl': uidl}))
`;
  const r = await run('python3', ['-c', py]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { count: number; msgs: string[]; uidl: string[] };
  assert.equal(out.count, 3);
  assert.deepEqual(out.msgs.map((m) => m + '\r\n'), stored.map((b) => b.toString('latin1')));
  assert.equal(out.uidl.length, 3);
  assert.equal(await inboxCount(user), 0);
});

test('curl pop3s://: list and retrieve with certificate verification', async () => {
  const user = await srv.addUser('curl@example.com');
  await sendSmtp(user.address, 7);
  const [stored] = await storedBytes(user);
  const base = `pop3s://127.0.0.1:${srv.port('pop3s')}`;
  const list = await run('curl', ['-sS', '--cacert', certFile, '-u', 'curl@example.com:secret-pw', `${base}/`]);
  assert.equal(list.status, 0, list.stderr);
  assert.equal(list.stdout.trim(), `1 ${stored.length}`);
  const retr = await run('curl', ['-sS', '--cacert', certFile, '-u', 'curl@example.com:secret-pw', `${base}/1`]);
  assert.equal(retr.status, 0, retr.stderr);
  assert.equal(retr.stdoutBytes.toString('latin1'), stored.toString('latin1'));
  const bad = await run('curl', ['-sS', '--cacert', certFile, '-u', 'curl@example.com:wrong', `${base}/`]);
  assert.notEqual(bad.status, 0);
});

test('fetchmail downloads over implicit TLS into an MDA and deletes from the server', async () => {
  const user = await srv.addUser('fm@example.com');
  for (let i = 1; i <= 2; i++) await sendSmtp(user.address, 20 + i);
  const dir = join(work.dir, 'fetchmail');
  mkdirSync(join(dir, 'out'), { recursive: true });
  const rc = join(dir, 'fetchmailrc');
  writeFileSync(rc, [
    `poll localhost via 127.0.0.1 protocol pop3 port ${srv.port('pop3s')}`,
    `  user "fm@example.com" there with password "secret-pw" is "tester" here`,
    `  ssl sslcertck sslcertfile "${certFile}" sslcommonname localhost`,
    `  mda "/bin/sh -c 'cat > ${join(dir, 'out')}/msg.$$'"`,
    '  no keep',
    '',
  ].join('\n'));
  chmodSync(rc, 0o600);
  const r = await run('fetchmail', ['-f', rc, '--nodetach', '--nosyslog', '-v', '--pidfile', join(dir, 'pid')], { env: { ...process.env, HOME: dir, FETCHMAILHOME: dir } });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const got = readdirSync(join(dir, 'out')).map((f) => readFileSync(join(dir, 'out', f), 'latin1'));
  assert.equal(got.length, 2);
  assert.ok(got.every((m) => /Subject: client test 2[12]/.test(m)));
  assert.equal(await inboxCount(user), 0);
});

test('getmail6 retrieves into a Maildir over POP3 with TLS and deletes', async () => {
  const user = await srv.addUser('gm@example.com');
  for (let i = 1; i <= 3; i++) await sendSmtp(user.address, 30 + i);
  const dir = join(work.dir, 'getmail');
  const maildir = join(dir, 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
  // getmail refuses to deliver as root; when the tests run as root it delivers as nobody
  const asRoot = process.getuid?.() === 0;
  if (asRoot) for (const p of [work.dir, dir, maildir, ...['cur', 'new', 'tmp'].map((s) => join(maildir, s))]) chmodSync(p, 0o777);
  writeFileSync(join(dir, 'getmailrc'), [
    '[retriever]',
    'type = SimplePOP3SSLRetriever',
    'server = 127.0.0.1',
    `port = ${srv.port('pop3s')}`,
    'username = gm@example.com',
    'password = secret-pw',
    `ca_certs = ${certFile}`,
    'ssl_hostname = localhost',
    '[destination]',
    'type = Maildir',
    `path = ${maildir}/`,
    ...(asRoot ? ['user = nobody'] : []),
    '[options]',
    'delete = true',
    'read_all = true',
    '',
  ].join('\n'));
  const r = await run('getmail', ['--getmaildir', dir, '--rcfile', 'getmailrc']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const files = readdirSync(join(maildir, 'new'));
  assert.equal(files.length, 3);
  assert.ok(files.map((f) => readFileSync(join(maildir, 'new', f), 'latin1')).every((m) => /Subject: client test 3[123]/.test(m)));
  assert.equal(await inboxCount(user), 0);
});
