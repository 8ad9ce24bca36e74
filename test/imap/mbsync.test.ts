// isync/mbsync (Debian package "isync"), a strict UIDPLUS-based synchroniser, over STARTTLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../helpers/run.js';
import { PASSWORD, sampleMessage, startTestServer } from './helpers.js';

const hasMbsync = spawnSync('sh', ['-c', 'command -v mbsync']).status === 0;

async function mbsync(config: string): Promise<{ status: number | null; out: string }> {
  const r = await run('mbsync', ['-c', config, '-a']);
  return { status: r.status, out: r.stdout + r.stderr };
}

test('mbsync pulls every folder into a Maildir and pushes a local message back', { skip: !hasMbsync && 'mbsync not installed (apt-get install isync)' }, async (t) => {
  const srv = await startTestServer({ secureLogin: true });
  t.after(() => srv.close());
  const raw = sampleMessage('for mbsync', 'synchronised body\r\n');
  await srv.ctx.store.deliver([srv.user.id], raw);
  const maildir = join(srv.dir, 'maildir');
  mkdirSync(maildir);
  const config = join(srv.dir, 'mbsyncrc');
  writeFileSync(config, [
    'IMAPAccount mw', 'Host 127.0.0.1', `Port ${srv.port}`, 'User alice@example.com', `Pass "${PASSWORD}"`,
    'SSLType STARTTLS', `CertificateFile ${join(srv.dir, 'tls', 'cert.pem')}`, '',
    'IMAPStore remote', 'Account mw', '',
    'MaildirStore local', `Path ${maildir}/`, `Inbox ${maildir}/INBOX`, 'SubFolders Verbatim', '',
    'Channel sync', 'Far :remote:', 'Near :local:', 'Patterns *', 'Create Both', 'SyncState *', '',
  ].join('\n'));
  let r = await mbsync(config);
  assert.equal(r.status, 0, r.out);
  const cur = [...readdirSync(join(maildir, 'INBOX', 'new')), ...readdirSync(join(maildir, 'INBOX', 'cur'))];
  assert.equal(cur.length, 1);
  const file = readdirSync(join(maildir, 'INBOX', 'new'))[0] ?? readdirSync(join(maildir, 'INBOX', 'cur'))[0]!;
  const dir = readdirSync(join(maildir, 'INBOX', 'new')).length ? 'new' : 'cur';
  // mbsync stores Maildir files with local (LF) line ends and its X-TUID tracking header
  const lf = (b: Buffer) => b.toString('latin1').replace(/\r\n/g, '\n').replace(/^X-TUID: .*\n/m, '');
  assert.equal(lf(readFileSync(join(maildir, 'INBOX', dir, file))), lf(raw));
  assert.ok(readdirSync(maildir).includes('Sent Items'));

  // a message written locally goes up with APPEND (mbsync relies on APPENDUID)
  const local = Buffer.from(lf(sampleMessage('written offline')));
  writeFileSync(join(maildir, 'Sent Items', 'cur', '1700000000.1.host:2,S'), local);
  r = await mbsync(config);
  assert.equal(r.status, 0, r.out);
  const sent = await srv.ctx.store.getFolder(srv.user.id, 'Sent Items');
  const msgs = await srv.ctx.store.listMessages(srv.user.id, sent!.id);
  assert.equal(msgs.length, 1);
  assert.ok(msgs[0]!.flags.includes('\\Seen'));
  assert.equal(lf(await srv.ctx.store.readBlob(msgs[0]!.blobHash)), lf(local));
});
