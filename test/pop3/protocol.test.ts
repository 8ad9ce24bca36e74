import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { LineClient } from '../helpers/line-client.js';
import type { User } from '../../src/store/types.js';

let srv: TestServer;
let alice: User;
let ca: string;

const message = (n: number) => Buffer.from(`From: Bob <bob@example.org>\r\nTo: alice@example.com\r\nSubject: Test ${n}\r\nMessage-ID: <m${n}@example.org>\r\n\r\nHello ${n}\r\n.leading dot line\r\n..two dots\r\nend\r\n`);

async function login(user = 'alice@example.com', pw = 'secret-pw'): Promise<LineClient> {
  const c = await LineClient.connect(srv.port('pop3s'), { tls: true, ca });
  assert.match(await c.line(), /^\+OK /);
  assert.match(await c.cmd(`USER ${user}`), /^\+OK/);
  const r = await c.cmd(`PASS ${pw}`);
  assert.match(r, /^\+OK/, r);
  return c;
}

before(async () => {
  srv = await startTestServer();
  ca = readFileSync(join(srv.dataDir, 'tls', 'cert.pem'), 'utf8');
  alice = await srv.addUser('alice@example.com');
  for (let i = 1; i <= 3; i++) await srv.ctx.store.deliver([alice.id], message(i));
});
after(async () => srv.close());

test('greeting, CAPA before and after logon; plaintext refused without TLS under SecureLogin', async () => {
  const plain = await LineClient.connect(srv.port('pop3'));
  assert.equal(await plain.line(), '+OK The Mailwarden POP3 service is ready.');
  assert.equal(await plain.cmd('CAPA'), '+OK Capability list follows');
  const caps = await plain.block();
  assert.ok(caps.includes('STLS') && caps.includes('RESP-CODES') && caps.includes('AUTH-RESP-CODE') && caps.includes('PIPELINING') && caps.includes('UIDL') && caps.includes('TOP'));
  assert.ok(!caps.includes('USER'), 'USER is not offered before TLS under SecureLogin');
  assert.match(await plain.cmd('USER alice@example.com'), /^-ERR \[AUTH\] Plaintext authentication is disallowed without TLS \(PopSettings.LoginType is SecureLogin\)/);
  assert.match(await plain.cmd('AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHNlY3JldC1wdw=='), /^-ERR \[AUTH\] Plaintext/);
  plain.destroy();
});

test('STAT, LIST, UIDL, RETR (dot-stuffed, byte-identical), TOP, NOOP, RSET', async () => {
  const c = await login();
  assert.match(await c.cmd('STAT'), /^\+OK 3 \d+$/);
  assert.match(await c.cmd('LIST'), /^\+OK 3 messages/);
  const list = await c.block();
  assert.deepEqual(list, [1, 2, 3].map((n) => `${n} ${message(n).length}`));
  assert.equal(await c.cmd('LIST 2'), `+OK 2 ${message(2).length}`);
  assert.match(await c.cmd('UIDL'), /^\+OK/);
  const uidl = await c.block();
  assert.equal(uidl.length, 3);
  assert.match(await c.cmd('RETR 1'), /^\+OK \d+ octets$/);
  const body = await c.block();
  assert.equal(body.join('\r\n') + '\r\n', message(1).toString('latin1'));
  assert.match(await c.cmd('TOP 2 1'), /^\+OK/);
  assert.deepEqual((await c.block()).slice(-2), ['', 'Hello 2']);
  assert.equal(await c.cmd('NOOP'), '+OK');
  assert.match(await c.cmd('DELE 1'), /^\+OK/);
  assert.match(await c.cmd('RETR 1'), /^-ERR Message 1 is deleted/);
  assert.match(await c.cmd('RSET'), /^\+OK Maildrop has 3 messages/);
  assert.match(await c.cmd('QUIT'), /^\+OK .*\(0 messages deleted\)/);
  await c.waitClose();
  // UIDL values are stable across sessions
  const again = await login();
  assert.match(await again.cmd('UIDL'), /^\+OK/);
  assert.deepEqual(await again.block(), uidl);
  assert.match(await again.cmd('QUIT'), /^\+OK/);
});

test('DELE takes effect at QUIT only; a dropped connection deletes nothing', async () => {
  const bob = await srv.addUser('bob@example.com');
  for (let i = 1; i <= 2; i++) await srv.ctx.store.deliver([bob.id], message(10 + i));
  const inbox = await srv.ctx.store.getSpecialFolder(bob.id, '\\Inbox');
  const dropped = await login('bob@example.com');
  assert.match(await dropped.cmd('DELE 1'), /^\+OK/);
  assert.match(await dropped.cmd('DELE 2'), /^\+OK/);
  dropped.destroy();
  await eventually(async () => (await srv.ctx.governor.counts(bob.id)).all === 0, 'session release');
  assert.equal((await srv.ctx.store.listMessages(bob.id, inbox.id)).length, 2);
  const c = await login('bob@example.com');
  assert.match(await c.cmd('DELE 1'), /^\+OK/);
  assert.equal((await srv.ctx.store.listMessages(bob.id, inbox.id)).length, 2, 'not before QUIT');
  assert.match(await c.cmd('QUIT'), /\(1 messages deleted\)/);
  await c.waitClose();
  assert.equal((await srv.ctx.store.listMessages(bob.id, inbox.id)).length, 1);
});

test('AUTH PLAIN with an initial response and as a continuation; STLS upgrades the plain port', async () => {
  const c = await LineClient.connect(srv.port('pop3s'), { tls: true, ca });
  await c.line();
  const b64 = Buffer.from('\0alice@example.com\0secret-pw').toString('base64');
  assert.match(await c.cmd(`AUTH PLAIN ${b64}`), /^\+OK alice@example.com has \d+ messages/);
  await c.cmd('QUIT');
  const d = await LineClient.connect(srv.port('pop3s'), { tls: true, ca });
  await d.line();
  assert.equal(await d.cmd('AUTH PLAIN'), '+ ');
  assert.match(await d.cmd(Buffer.from('\0alice@example.com\0wrong').toString('base64')), /^-ERR \[AUTH\] Authentication failed/);
  d.destroy();
  // STLS on the plain port, then logon inside TLS with the raw socket upgraded
  const { connect } = await import('node:tls');
  const p = await LineClient.connect(srv.port('pop3'));
  await p.line();
  assert.equal(await p.cmd('STLS'), '+OK Begin TLS negotiation');
  const secure = connect({ socket: p.socket, ca, servername: 'localhost' });
  await new Promise<void>((r) => secure.once('secureConnect', () => r()));
  let text = '';
  secure.on('data', (ch: Buffer) => (text += ch.toString()));
  secure.write('USER alice@example.com\r\nPASS secret-pw\r\nSTAT\r\nQUIT\r\n'); // pipelined
  await eventually(() => text.includes('signing off'), 'pipelined answers');
  const lines = text.trim().split('\r\n');
  assert.match(lines[0], /^\+OK/);
  assert.match(lines[1], /^\+OK alice@example.com has/);
  assert.match(lines[2], /^\+OK \d+ \d+$/);
  secure.destroy();
});
