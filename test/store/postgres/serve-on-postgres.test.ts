/**
 * Two `mailwarden serve --store postgres://…` nodes (real processes, data folders of their own)
 * on one PostgreSQL database: a user added by the CLI with --store logs on at both; mail taken
 * by SMTP (python smtplib) on node 1 is read over IMAPS (python imaplib) and POP3S (poplib) on
 * node 2; a submission through node 2 lands in node 1's view of the Sent folder. No --data store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { cli, serve } from '../../cli/run-cli.js';
import { run } from '../../helpers/run.js';
import { tempDir } from '../../helpers/tmp.js';
import { createTestDatabase } from '../../helpers/postgres.js';

const SCRIPT = `
import imaplib, poplib, smtplib, ssl, sys
smtp1, imaps2, pop3s2, subs2 = (int(x) for x in sys.argv[1:5])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
msg = b'From: bob@remote.example\\r\\nTo: alice@example.com\\r\\nSubject: across nodes\\r\\nMessage-ID: <x1@remote.example>\\r\\n\\r\\nhello from node 1\\r\\n'
s = smtplib.SMTP('127.0.0.1', smtp1)
s.sendmail('bob@remote.example', ['alice@example.com'], msg)
s.quit()
m = imaplib.IMAP4_SSL('127.0.0.1', imaps2, ssl_context=ctx)
m.login('alice@example.com', 'secret-pw')
typ, data = m.select('INBOX')
print('imap-exists', data[0].decode())
typ, data = m.uid('FETCH', '1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
print('imap-subject', data[0][1].decode().strip())
m.logout()
p = poplib.POP3_SSL('127.0.0.1', pop3s2, context=ctx)
p.user('alice@example.com'); p.pass_('secret-pw')
print('pop-stat', p.stat()[0])
p.quit()
s = smtplib.SMTP_SSL('127.0.0.1', subs2, context=ctx)
s.login('alice@example.com', 'secret-pw')
s.sendmail('alice@example.com', ['alice@example.com'], b'From: alice@example.com\\r\\nTo: alice@example.com\\r\\nSubject: to myself\\r\\n\\r\\nnote\\r\\n')
s.quit()
print('done')
`;

test('serve --store postgres://…: two nodes on one database, SMTP on one, IMAP and POP3 on the other, the CLI with --store', { timeout: 300_000 }, async () => {
  const db = await createTestDatabase();
  const tmp = tempDir();
  const nodes: Array<Awaited<ReturnType<typeof serve>>> = [];
  try {
    nodes.push(await serve(join(tmp.dir, 'node1'), ['--store', db.url]));
    nodes.push(await serve(join(tmp.dir, 'node2'), ['--store', db.url]));
    const [n1, n2] = nodes as [Awaited<ReturnType<typeof serve>>, Awaited<ReturnType<typeof serve>>];
    assert.match(n1.out, /store: postgres /);
    assert.match(n1.out, /user add alice@example\.com --password-stdin --store postgres:\/\//);
    assert.equal(existsSync(join(tmp.dir, 'node1', 'mailwarden.sqlite')), false, 'no SQLite store made beside PostgreSQL');
    const add = cli(['user', 'add', 'alice@example.com', '--password-stdin', '--store', db.url], 'secret-pw\n');
    assert.equal(add.code, 0, add.stderr);
    const r = await run('python3', ['-c', SCRIPT, String(n1.port('smtp')), String(n2.port('imaps')), String(n2.port('pop3s')), String(n2.port('smtps'))], { timeoutMs: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^imap-exists 1$/m);
    assert.match(r.stdout, /^imap-subject Subject: across nodes$/m);
    assert.match(r.stdout, /^pop-stat 1$/m);
    assert.match(r.stdout, /^done$/m);
    // the CLI reads the same store: the user, the submission's local delivery, an empty queue
    const users = cli(['user', 'list', '--json', '--store', db.url]);
    assert.equal(users.code, 0, users.stderr);
    assert.deepEqual((JSON.parse(users.stdout) as Array<{ address: string }>).map((u) => u.address), ['alice@example.com']);
    const queue = cli(['queue', 'list', '--store', db.url]);
    assert.equal(queue.code, 0, queue.stderr);
    assert.match(queue.stdout, /the outbound queue is empty/);
  } finally {
    for (const n of nodes) await n.stop();
    await db.drop();
    tmp.cleanup();
  }
});
