// POP3 removes the messages it was told to delete as one store write (Store.removeMessages):
// an IMAP session watching the mailbox sees them expunged, never flagged \Deleted first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server.js';
import { LineClient } from '../helpers/line-client.js';
import { RawClient } from '../imap/helpers.js';

test('DELE + QUIT: an IMAP session watching sees the messages expunged, never flagged \\Deleted first', async (t) => {
  const srv = await startTestServer({ plaintext: true });
  t.after(() => srv.close());
  const user = await srv.addUser('dora@example.com');
  for (const s of ['one', 'two', 'three']) await srv.ctx.store.deliver([user.id], Buffer.from(`Subject: ${s}\r\n\r\n${s}\r\n`));

  const imap = await RawClient.connect(srv.port('imap'));
  t.after(() => imap.close());
  await imap.readResponse();
  assert.match(await imap.login('dora@example.com', 'secret-pw'), /OK/);
  assert.match((await imap.command('ENABLE CONDSTORE')).tagged, /OK/);
  assert.match((await imap.command('SELECT INBOX')).tagged, /OK/);

  const pop = await LineClient.connect(srv.port('pop3'));
  t.after(() => pop.destroy());
  await pop.line();
  await pop.cmd('USER dora@example.com');
  assert.match(await pop.cmd('PASS secret-pw'), /^\+OK/);
  assert.match(await pop.cmd('DELE 1'), /^\+OK/);
  assert.match(await pop.cmd('DELE 3'), /^\+OK/);
  assert.match(await pop.cmd('QUIT'), /^\+OK/);
  await pop.waitClose();

  const noop = await imap.command('NOOP');
  assert.match(noop.tagged, /OK/);
  assert.deepEqual(noop.untagged.filter((l) => /FETCH/.test(l)), [], `no flag change announced: ${JSON.stringify(noop.untagged)}`);
  assert.deepEqual(noop.untagged.filter((l) => /EXPUNGE/.test(l)), ['* 1 EXPUNGE', '* 2 EXPUNGE']);
  const inbox = await srv.ctx.store.getSpecialFolder(user.id, '\\Inbox');
  assert.deepEqual((await srv.ctx.store.listMessages(user.id, inbox.id)).map((m) => [m.uid, m.flags]), [[2, []]]);
});
