// Other implementations, spawned as real processes: python3 imaplib (also over implicit TLS), curl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../helpers/run.js';
import { PASSWORD, sampleMessage, startTestServer } from './helpers.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

const PY = `
import imaplib, ssl, sys
port, mode, cafile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if mode == 'tls':
    ctx = ssl.create_default_context(cafile=cafile)
    M = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
else:
    M = imaplib.IMAP4('127.0.0.1', port)
    M.starttls(ssl.create_default_context(cafile=cafile))
M.login('alice@example.com', '${PASSWORD}')
typ, boxes = M.list()
assert typ == 'OK' and any(b'"Sent Items"' in b for b in boxes), boxes
M.create('Py/Sub')
msg = b'From: py@example.org\\r\\nSubject: from python\\r\\n\\r\\nbody \\xc3\\xa4\\r\\n'
typ, data = M.append('INBOX', '(\\\\Flagged)', imaplib.Time2Internaldate(1700000000), msg)
assert typ == 'OK' and b'APPENDUID' in data[0], data
typ, data = M.select('INBOX')
assert typ == 'OK' and data[0] == b'1', data
typ, data = M.fetch('1', '(RFC822 FLAGS INTERNALDATE)')
assert data[0][1] == msg, data
assert b'\\\\Flagged' in data[1] and b'\\\\Seen' in data[1] and b'14-Nov-2023' in data[1], data
typ, data = M.search(None, 'FROM', 'py@example.org')
assert data == [b'1'], data
typ, data = M.uid('SEARCH', 'SUBJECT', '"from python"')
assert data == [b'1'], data
M.store('1', '+FLAGS', '\\\\Deleted')
typ, data = M.expunge()
assert data == [b'1'], data
typ, data = M.status('INBOX', '(MESSAGES UIDNEXT)')
assert b'MESSAGES 0' in data[0] and b'UIDNEXT 2' in data[0], data
M.close()
M.logout()
print('python ok')
`;

test('python3 imaplib: STARTTLS and implicit TLS, full mailbox round trip', async (t) => {
  for (const mode of ['starttls', 'tls'] as const) {
    const srv = await startTestServer({ implicitTls: mode === 'tls', secureLogin: true });
    t.after(() => srv.close());
    const script = join(srv.dir, 'client.py');
    const ca = join(srv.dir, 'tls', 'cert.pem');
    writeFileSync(script, PY);
    // run, not spawnSync: the server runs in this process, so spawnSync would block it
    const r = await run('python3', [script, String(srv.port), mode, ca]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /python ok/);
    assert.equal((await srv.ctx.governor.counts(srv.user.id)).all, 0);
  }
});

test('curl imap:// lists, fetches and searches', { skip: !has('curl') }, async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const raw = sampleMessage('curl test', 'fetched by curl\r\n');
  await srv.ctx.store.deliver([srv.user.id], raw);
  const base = `imap://127.0.0.1:${srv.port}`;
  const auth = ['--user', `alice@example.com:${PASSWORD}`, '-s', '--max-time', '600']; // a bound for a hung transfer, not a speed requirement
  const list = await run('curl', [...auth, `${base}/`]);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /\* LIST \(\\HasNoChildren\) "\/" "INBOX"/);
  const msg = await run('curl', [...auth, `${base}/INBOX;UID=1`]);
  assert.equal(msg.status, 0, msg.stderr);
  assert.equal(msg.stdout, raw.toString());
  const search = await run('curl', [...auth, `${base}/INBOX?SUBJECT%20curl`]);
  assert.match(search.stdout, /\* SEARCH 1/);
  // STARTTLS is mandatory with --ssl-reqd; the self-signed certificate is given as CA
  await srv.ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'ImapSettings.LoginType', value: 'SecureLogin' });
  const tls = await run('curl', [...auth, '--ssl-reqd', '--cacert', join(srv.dir, 'tls', 'cert.pem'), `imap://localhost:${srv.port}/INBOX;UID=1`]);
  assert.equal(tls.status, 0, tls.stderr);
  assert.equal(tls.stdout, raw.toString());
});
