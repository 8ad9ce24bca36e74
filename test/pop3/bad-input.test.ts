import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { LineClient } from '../helpers/line-client.js';
import type { User } from '../../src/store/types.js';

let srv: TestServer;
let user: User;

before(async () => {
  srv = await startTestServer({ plaintext: true });
  user = await srv.addUser('carol@example.com');
  await srv.ctx.store.deliver([user.id], Buffer.from('Subject: keep me\r\n\r\nbody\r\n'));
});
after(async () => srv.close());

async function loggedIn(): Promise<LineClient> {
  const c = await LineClient.connect(srv.port('pop3'));
  await c.line();
  await c.cmd('USER carol@example.com');
  assert.match(await c.cmd('PASS secret-pw'), /^\+OK/);
  return c;
}

test('over-long lines, unknown commands, wrong state, bad numbers: the right -ERR, nothing lost, still serving', async () => {
  const c = await LineClient.connect(srv.port('pop3'));
  await c.line();
  assert.equal(await c.cmd('x'.repeat(5000)), '-ERR Command line too long (PopSettings.MaxCommandSize is 512 bytes)');
  assert.equal(await c.cmd('FROB'), '-ERR Unknown command: FROB');
  assert.equal(await c.cmd('STAT'), '-ERR STAT is not valid in the AUTHORIZATION state');
  assert.equal(await c.cmd('PASS x'), '-ERR Send USER first');
  assert.equal(await c.cmd('RETR 1'), '-ERR RETR is not valid in the AUTHORIZATION state');
  c.destroy();
  const d = await loggedIn();
  assert.equal(await d.cmd('RETR 99'), '-ERR No message 99 (1 in maildrop)');
  assert.equal(await d.cmd('RETR 0'), '-ERR No message 0 (1 in maildrop)');
  assert.equal(await d.cmd('RETR abc'), '-ERR Invalid message number');
  assert.equal(await d.cmd('DELE -1'), '-ERR Invalid message number');
  assert.equal(await d.cmd('TOP 1'), '-ERR TOP needs a message number and a line count');
  assert.equal(await d.cmd('USER again'), '-ERR USER is not valid in the TRANSACTION state');
  assert.match(await d.cmd('DELE 1'), /^\+OK/);
  assert.equal(await d.cmd('DELE 1'), '-ERR Message 1 is deleted');
  assert.equal(await d.cmd('RETR 1'), '-ERR Message 1 is deleted');
  d.destroy(); // dropped: the DELE must not take effect
  await eventually(async () => (await srv.ctx.governor.counts(user.id)).all === 0);
  const inbox = await srv.ctx.store.getSpecialFolder(user.id, '\\Inbox');
  assert.equal((await srv.ctx.store.listMessages(user.id, inbox.id)).length, 1);
});

test('binary garbage and a flood of bad commands: connection closed after 10, others keep being served', async () => {
  const g = await LineClient.connect(srv.port('pop3'));
  await g.line();
  for (let i = 0; i < 12; i++) g.send(Buffer.concat([randomBytes(40).map((b) => (b === 10 ? 11 : b)), Buffer.from('\r\n')]));
  await g.waitClose();
  const ok = await loggedIn();
  assert.match(await ok.cmd('STAT'), /^\+OK 1 /);
  await ok.cmd('QUIT');
  // a line with no newline at all, larger than any limit, does not grow memory without bound
  const big = await LineClient.connect(srv.port('pop3'));
  await big.line();
  for (let i = 0; i < 64; i++) big.send(Buffer.alloc(64 * 1024, 0x41));
  assert.match(await big.line(), /^-ERR Command line too long/);
  big.send('\r\nNOOP\r\n');
  assert.equal(await big.line(), '-ERR NOOP is not valid in the AUTHORIZATION state');
  big.destroy();
});
