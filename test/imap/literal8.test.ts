// NUL bytes in what a client sends (RFC 9051 4.3.1 and 9, RFC 3516 4.3): an ordinary literal is
// *CHAR8, which excludes NUL; binary data travels in a literal8 ("~{n}"). Raw socket: the wire
// form (which literal) is what is tested.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

async function inboxCount(srv: TestServer): Promise<number> {
  const inbox = (await srv.ctx.store.getFolder(srv.user.id, 'INBOX'))!;
  return (await srv.ctx.store.folderStatus(srv.user.id, inbox.id)).messages;
}

const withNul = Buffer.concat([
  Buffer.from('From: a@example.org\r\nSubject: nul\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\nab'),
  Buffer.from([0]), Buffer.from('cd\r\n'),
]);
const plain = Buffer.from('From: a@example.org\r\nSubject: plain\r\n\r\nno nul here\r\n');

test('APPEND: NUL in an ordinary literal is BAD and stores nothing (MULTIAPPEND: neither message); the same bytes as literal8 are stored; the session goes on', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await RawClient.connect(srv.port);
  t.after(() => c.close());
  await c.readResponse();
  assert.match(await c.login(), /OK/);

  // non-synchronising literal (LITERAL+)
  c.send(Buffer.concat([Buffer.from(`a1 APPEND INBOX {${withNul.length}+}\r\n`), withNul, Buffer.from('\r\n')]));
  assert.equal((await c.until('a1')).tagged, 'a1 BAD NUL in a literal: binary data needs a literal8 (~{n})');

  // synchronising literal: the server asks for the data, then refuses it
  c.send(`a2 APPEND INBOX (\\Seen) {${withNul.length}}\r\n`);
  assert.match((await c.readResponse())!, /^\+ /);
  c.send(Buffer.concat([withNul, Buffer.from('\r\n')]));
  assert.match((await c.until('a2')).tagged, /^a2 BAD NUL in a literal/);

  // MULTIAPPEND: the second message carries the NUL: all or nothing, so nothing
  c.send(Buffer.concat([
    Buffer.from(`a3 APPEND INBOX {${plain.length}+}\r\n`), plain,
    Buffer.from(` {${withNul.length}+}\r\n`), withNul, Buffer.from('\r\n'),
  ]));
  assert.match((await c.until('a3')).tagged, /^a3 BAD NUL in a literal/);
  assert.equal(await inboxCount(srv), 0, 'nothing stored');

  // the connection still serves, and the same bytes as a literal8 are stored byte for byte
  assert.match((await c.command('NOOP')).tagged, /OK/);
  c.send(Buffer.concat([Buffer.from(`a4 APPEND INBOX ~{${withNul.length}+}\r\n`), withNul, Buffer.from('\r\n')]));
  assert.match((await c.until('a4')).tagged, /^a4 OK \[APPENDUID \d+ 1\]/);
  c.send(Buffer.concat([Buffer.from(`a5 APPEND INBOX {${plain.length}+}\r\n`), plain, Buffer.from('\r\n')]));
  assert.match((await c.until('a5')).tagged, /^a5 OK \[APPENDUID \d+ 2\]/, 'an ordinary literal without NUL is fine');
  const inbox = (await srv.ctx.store.getFolder(srv.user.id, 'INBOX'))!;
  const [stored] = await srv.ctx.store.getMessages(srv.user.id, inbox.id, [1], { raw: true });
  assert.ok(stored!.raw!.equals(withNul));

  // any other command's literal too: the grammar is the same (LOGIN is past; SEARCH takes one)
  await c.command('SELECT INBOX');
  c.send(Buffer.concat([Buffer.from('a6 SEARCH SUBJECT {3+}\r\n'), Buffer.from([0x61, 0, 0x62]), Buffer.from('\r\n')]));
  assert.match((await c.until('a6')).tagged, /^a6 BAD NUL in a literal/);
  assert.deepEqual((await c.command('SEARCH SUBJECT {5+}\r\nplain')).untagged, ['* SEARCH 2']);
});
