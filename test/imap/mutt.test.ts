// Debian mutt over implicit TLS, driven by keys pushed from its muttrc; it sends nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../helpers/run.js';
import { PASSWORD, sampleMessage, startTestServer, type TestServer } from './helpers.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const missing = !has('mutt') ? 'mutt not installed (apt-get install mutt)' : !has('script') ? 'script (util-linux) not installed' : false;

/**
 * Opens =INBOX with -z (start only if the mailbox has messages), runs `keys`, quits. Mutt
 * reads a message to send from stdin when stdin is not a terminal, so it runs under
 * script(1) for a pseudo-terminal.
 */
async function mutt(srv: TestServer, keys: string, args = '-z -f =INBOX') {
  const cert = join(srv.dir, 'tls', 'cert.pem');
  const muttrc = join(srv.dir, 'muttrc');
  writeFileSync(muttrc, [
    'set imap_user=alice@example.com', `set imap_pass="${PASSWORD}"`,
    `set folder=imaps://127.0.0.1:${srv.port}/`, 'set spoolfile=+INBOX', 'mailboxes =INBOX',
    `set certificate_file=${cert}`, `set ssl_ca_certificates_file=${cert}`,
    'set move=no confirmappend=no confirmcreate=no record=""', 'set sendmail=/bin/false',
    // mutt gives up on an IMAP answer after 15 s of polling by default: no client deadline on a loaded machine
    'set imap_poll_timeout=0',
    `push "${keys}<quit>"`,
  ].join('\n') + '\n');
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return run('script', ['-qec', `mutt -n -F ${quote(muttrc)} ${args}`, '/dev/null'], {
    env: { ...process.env, TERM: 'dumb', HOME: srv.dir },
  });
}

test('mutt opens INBOX over IMAPS only when it has mail, and copies a message to another folder', { skip: missing }, async (t) => {
  const srv = await startTestServer({ implicitTls: true });
  t.after(() => srv.close());
  const archive = await srv.ctx.store.createFolder(srv.user.id, 'Archive');

  // -z: an empty mailbox is not opened, and mutt says so with its exit status
  let r = await mutt(srv, '');
  assert.equal(r.status, 1, r.stdout);

  const raw = sampleMessage('for mutt', 'copied by mutt\r\n');
  await srv.ctx.store.deliver([srv.user.id], raw);
  r = await mutt(srv, '<copy-message>=Archive<enter>');
  assert.equal(r.status, 0, r.stdout);
  const copied = await srv.ctx.store.listMessages(srv.user.id, archive.id);
  assert.equal(copied.length, 1);
  assert.deepEqual(await srv.ctx.store.readBlob(copied[0]!.blobHash), raw);
  const inbox = await srv.ctx.store.getFolder(srv.user.id, 'INBOX');
  assert.equal((await srv.ctx.store.listMessages(srv.user.id, inbox!.id)).length, 1, 'a copy leaves the original');
});

test('mutt -Z finds new mail by \\Recent: once, until a session has selected the mailbox', { skip: missing }, async (t) => {
  const srv = await startTestServer({ implicitTls: true });
  t.after(() => srv.close());
  let r = await mutt(srv, '', '-Z');
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /No mailbox with new mail/);

  await srv.ctx.store.deliver([srv.user.id], sampleMessage('new for mutt'));
  r = await mutt(srv, '', '-Z');
  assert.equal(r.status, 0, r.stdout);
  // mutt's own SELECT took the \Recent flag: the (still unseen) message is no longer new mail
  r = await mutt(srv, '', '-Z');
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /No mailbox with new mail/);
});
