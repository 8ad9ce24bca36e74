// Which domains are local is one indexed store lookup per RCPT (Store.isLocalDomain): a domain is
// local from the moment its first mailbox exists, not after a cache expires.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpServer } from '../../src/protocols/smtp/server.js';
import { RawSmtp, addUser, makeEnv } from './helpers.js';

test('RCPT at a domain becomes local (550 unknown user, not 554 relay) as soon as a mailbox has an address there', async (t) => {
  const env = await makeEnv();
  const mx = await startSmtpServer(env.ctx, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'mx' });
  t.after(async () => {
    await mx.close();
    await env.cleanup();
  });
  const user = await addUser(env.ctx, 'erin@first.example');
  const { client } = await RawSmtp.connect(mx.port);
  t.after(() => client.close());
  assert.match(await client.cmd('EHLO client.example'), /^250/);
  assert.match(await client.cmd('MAIL FROM:<s@remote.example>'), /^250/);
  assert.match(await client.cmd('RCPT TO:<nobody@FIRST.example>'), /^550 5\.1\.1 /);
  assert.match(await client.cmd('RCPT TO:<nobody@second.example>'), /^554 5\.7\.1 .*Relay access denied/);
  await env.ctx.store.addAddress(user.id, 'erin@second.example');
  assert.match(await client.cmd('RCPT TO:<nobody@second.example>'), /^550 5\.1\.1 /);
  assert.match(await client.cmd('RCPT TO:<erin@second.example>'), /^250/);
  // postmaster at every local domain reaches the administrator (RFC 5321 4.5.1): there is none here
  assert.match(await client.cmd('RCPT TO:<postmaster@second.example>'), /^550 5\.1\.1 /);
});
