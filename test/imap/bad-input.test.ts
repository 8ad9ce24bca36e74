// Hostile or broken input: answered with BAD/NO, the server keeps serving, memory stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, eventually, sampleMessage, startTestServer } from './helpers.js';

async function ready(port: number, login = true): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.readResponse();
  if (login) assert.match(await c.login(), /OK/);
  return c;
}

test('syntax errors, wrong state and invalid arguments get BAD or NO and the session goes on', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv.port, false);
  t.after(() => c.close());
  assert.match((await c.command('SELECT INBOX')).tagged, /^t1 BAD .*Log in first/);
  assert.match((await c.command('FROBNICATE')).tagged, /^t2 BAD Unknown command/);
  c.send('\r\n'); // blank lines are ignored
  c.send('no-command-here\r\n');
  assert.match((await c.readResponse())!, /^no-command-here BAD/);
  c.send('"quoted tag" NOOP\r\n');
  assert.match((await c.readResponse())!, /^\* BAD/);
  assert.match(await c.login(), /OK/);
  assert.match((await c.command('FETCH 1 FLAGS')).tagged, /BAD .*Select a mailbox first/);
  assert.match((await c.command('LOGIN a b')).tagged, /BAD/);
  await c.command('SELECT INBOX');
  assert.match((await c.command('FETCH 0:x FLAGS')).tagged, /BAD Invalid sequence set/);
  assert.match((await c.command('FETCH 1 (FLAGS')).tagged, /BAD/);
  assert.match((await c.command('FETCH 1 (NOSUCHITEM)')).tagged, /BAD/);
  assert.match((await c.command('FETCH 1 ' + '('.repeat(200) + ')'.repeat(200))).tagged, /BAD .*nested too deeply/);
  assert.match((await c.command('SEARCH ' + 'NOT '.repeat(500) + 'ALL')).tagged, /BAD/);
  assert.match((await c.command('STORE 1 +FLAGS (\\Bogus)')).tagged, /BAD Invalid system flag/);
  // no mailbox can have a name that is not modified UTF-7: to use it is NONEXISTENT, to make it CANNOT
  assert.match((await c.command('SELECT "&Jjo"')).tagged, /^t\d+ NO \[NONEXISTENT\]/);
  assert.match((await c.command('CREATE "&Jjo"')).tagged, /^t\d+ NO \[CANNOT\]/);
  assert.match((await c.command('CREATE "a//b"')).tagged, /NO \[CANNOT\]/);
  assert.match((await c.command('CREATE "x*"')).tagged, /NO \[CANNOT\]/);
  assert.match((await c.command('SELECT Nowhere')).tagged, /NO \[NONEXISTENT\]/);
  assert.match((await c.command('DELETE INBOX')).tagged, /NO/);
  // a failed SELECT leaves no mailbox selected (RFC 3501 6.3.1)
  assert.match((await c.command('FETCH 1 FLAGS')).tagged, /BAD/);
  await c.command('SELECT INBOX');
  assert.match((await c.command('SEARCH CHARSET KOI8-R ALL')).tagged, /NO \[BADCHARSET/);
  assert.match((await c.command('SEARCH CHARSET X-NO-SUCH ALL')).tagged, /NO \[BADCHARSET \(UTF-8 US-ASCII\)\] Unsupported charset X-NO-SUCH$/);
  assert.match((await c.command('SEARCH CHARSET utf-8 ALL')).tagged, /OK/);
  assert.match((await c.command('SEARCH RETURN (SAVE BOGUS) ALL')).tagged, /BAD Unknown RETURN option/);
  assert.match((await c.command('SEARCH NOSUCHKEY')).tagged, /BAD Unknown search key/);
  // a line longer than MaxCommandSize (65536)
  assert.match((await c.command('NOOP ' + 'x'.repeat(70_000))).tagged, /BAD/);
  c.send(Buffer.from([0xff, 0x00, 0x0d, 0x0a, 0x41, 0x0a]));
  assert.match((await c.command('NOOP')).tagged, /OK/);
});

test('a 1 GB literal is refused without reading it; memory stays bounded', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv.port);
  t.after(() => c.close());
  const before = process.memoryUsage().rss;
  // synchronising: the server never sends "+", so the client never sends the data
  c.send('big APPEND INBOX {1073741824}\r\n');
  assert.match((await c.readResponse())!, /^big BAD \[TOOBIG\]/);
  assert.match((await c.command('NOOP')).tagged, /OK/);
  // pre-auth literals are small: a 1 MB literal before LOGIN is refused too
  const p = await ready(srv.port, false);
  t.after(() => p.close());
  p.send('pl LOGIN {1048576}\r\n');
  assert.match((await p.readResponse())!, /^pl BAD \[TOOBIG\]/);
  // non-synchronising: the data is on its way and cannot be skipped sensibly: BYE
  const d = await ready(srv.port);
  d.send('huge APPEND INBOX {1073741824+}\r\n');
  d.send(Buffer.alloc(64 * 1024, 0x61));
  const bye = await d.readResponse();
  assert.match(bye!, /BYE|BAD/);
  await d.closedByServer();
  assert.ok(process.memoryUsage().rss - before < 200 * 1024 * 1024);
  await eventually(async () => (await srv.ctx.governor.counts(srv.user.id)).all === 1);
});

test('unterminated literal and mid-command disconnect release everything', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv.port);
  c.send('a1 APPEND INBOX {500}\r\n');
  assert.equal(await c.readResponse(), '+ Ready for literal data');
  // part of the literal, then the end of the connection (in one segment or two: either way the
  // server is inside the literal when the connection ends, which is what this checks)
  c.send('only part of it');
  c.close();
  await eventually(async () => (await srv.ctx.governor.counts(srv.user.id)).all === 0 && srv.ctx.connections.imap.connections === 0);
  assert.equal((await srv.ctx.store.folderStatus(srv.user.id, (await srv.ctx.store.getFolder(srv.user.id, 'INBOX'))!.id)).messages, 0);
});

test('APPEND over quota answers NO [OVERQUOTA]; a too-large message NO/BAD [TOOBIG]', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await srv.ctx.store.putSetting({ scope: 'user', targetId: srv.user.id, name: 'Default Mailbox Quota Bytes', value: '300' });
  const c = await ready(srv.port);
  t.after(() => c.close());
  const msg = sampleMessage('fits');
  c.send(`a1 APPEND INBOX {${msg.length}+}\r\n`);
  c.send(Buffer.concat([msg, Buffer.from('\r\n')]));
  assert.match((await c.until('a1')).tagged, /^a1 OK/);
  c.send(`a2 APPEND INBOX {${msg.length}+}\r\n`);
  c.send(Buffer.concat([msg, Buffer.from('\r\n')]));
  assert.match((await c.until('a2')).tagged, /^a2 NO \[OVERQUOTA\]/);
  const q = await c.command('GETQUOTAROOT INBOX');
  assert.ok(q.untagged.includes('* QUOTA "" (STORAGE 1 0)'), JSON.stringify(q.untagged));
  assert.match((await c.command('APPEND Nowhere {1+}\r\nx')).tagged, /NO \[TRYCREATE\]/);
});

test('the protocol log records commands without passwords', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await srv.ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'ImapSettings.ProtocolLogEnabled', value: 'true' });
  const c = await ready(srv.port);
  await c.command('SELECT INBOX');
  await c.command('LOGOUT');
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  await eventually(() => {
    try {
      return readFileSync(join(srv.dir, 'logs', 'imap-protocol.log'), 'utf8').includes('SELECT completed');
    } catch {
      return false;
    }
  });
  const log = readFileSync(join(srv.dir, 'logs', 'imap-protocol.log'), 'utf8');
  assert.match(log, /LOGIN ""alice@example.com"" \*\*\*\*\*/);
  assert.ok(!log.includes('correct horse'));
});
