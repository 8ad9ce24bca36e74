// SPEC 3.3 over IMAP: a per-session object limit refuses one command with NO [LIMIT] and the
// counts, writes event 9646 once a minute, and leaves the connection usable; nothing leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../helpers/run.js';
import { tempDir } from '../helpers/tmp.js';
import { cli, serve } from '../cli/run-cli.js';
import { PASSWORD, RawClient, eventually, sampleMessage, startTestServer, type TestServer } from './helpers.js';

/** A live settings change as the admin API makes it (the CLI's applies from the next logon on). */
async function setLive(srv: TestServer, name: string, value: string): Promise<void> {
  await srv.ctx.store.putSetting({ scope: 'server', targetId: 0, name, value });
  await srv.ctx.settings.refresh();
}

async function objects(srv: TestServer): Promise<Record<string, number | undefined>> {
  const [s] = await srv.ctx.governor.list({ userId: srv.user.id });
  return s!.objects;
}

test('objtFolder: STATUS and COPY past the limit get NO [LIMIT], once-a-minute event 9646, then work after a live raise', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const inbox = await srv.ctx.store.getSpecialFolder(srv.user.id, '\\Inbox');
  await srv.ctx.store.append(srv.user.id, inbox.id, sampleMessage('one'));
  const archive = await srv.ctx.store.createFolder(srv.user.id, 'Archive');
  await setLive(srv, 'MaxObjsPerMapiSession.objtFolder', '1');

  const c = await RawClient.connect(srv.port);
  t.after(() => c.close());
  await c.readResponse();
  await c.login();
  // the selected mailbox is the one folder this session may hold
  assert.match((await c.command('SELECT INBOX')).tagged, /OK \[READ-WRITE\]/);
  assert.equal((await objects(srv)).objtFolder, 1);

  const refusal = 'NO [LIMIT] Server Unavailable. 15: 1 of 1 objtFolder objects in use for alice@example.com';
  let r = await c.command('STATUS Archive (MESSAGES)');
  assert.deepEqual(r.untagged, []);
  assert.equal(r.tagged, `t3 ${refusal}`);
  r = await c.command('COPY 1 Archive');
  assert.equal(r.tagged, `t4 ${refusal}`);
  assert.equal((await srv.ctx.store.listMessages(srv.user.id, archive.id)).length, 0, 'a refused COPY copies nothing');
  // LIST-STATUS opens each folder it reports on the same way
  r = await c.command('LIST "" Archive RETURN (STATUS (MESSAGES))');
  assert.match(r.tagged, /^t5 NO \[LIMIT\] Server Unavailable\. 15: 1 of 1 objtFolder objects/);
  assert.equal((await objects(srv)).objtFolder, 1, 'refused opens hold nothing');
  assert.equal(srv.ctx.governor.metrics.objectRefusals.objtFolder, 3);

  // one event for the three refusals within the minute, with the original's text
  await eventually(async () => (await srv.ctx.store.listEvents({ eventId: 9646 }))[0]?.count === 3);
  const [ev] = await srv.ctx.store.listEvents({ eventId: 9646 });
  assert.equal(ev!.message, `Mapi session "${srv.user.dn}" exceeded the maximum of 1 objects of type "objtFolder".`);
  assert.equal(ev!.user, 'alice@example.com');

  // the connection stays usable and still has its mailbox selected
  assert.match((await c.command('NOOP')).tagged, /^t6 OK/);
  assert.deepEqual((await c.command('FETCH 1 (UID)')).untagged, ['* 1 FETCH (UID 1)']);

  // raised live: the very next command of the same session may open the folder
  await setLive(srv, 'MaxObjsPerMapiSession.objtFolder', '2');
  r = await c.command('STATUS Archive (MESSAGES)');
  assert.deepEqual(r.untagged, ['* STATUS "Archive" (MESSAGES 0)']);
  assert.match((await c.command('COPY 1 Archive')).tagged, /OK \[COPYUID/);
  assert.equal((await srv.ctx.store.listMessages(srv.user.id, archive.id)).length, 1);
  assert.equal((await objects(srv)).objtFolder, 1);
  assert.match((await c.command('UNSELECT')).tagged, /OK/);
  assert.equal((await objects(srv)).objtFolder, 0);
});

test('objtFolder limit 1 without a selected mailbox: STATUS works, objects come back after every command', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await setLive(srv, 'MaxObjsPerMapiSession.objtFolder', '1');
  const script = join(srv.dir, 'limits.py');
  writeFileSync(script, `
import imaplib, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
M.login('alice@example.com', '${PASSWORD}')
for _ in range(3):
    typ, data = M.status('INBOX', '(MESSAGES)')
    assert typ == 'OK', data
M.select('INBOX')
typ, data = M.status('"Sent Items"', '(MESSAGES)')
assert typ == 'NO' and data == [b'[LIMIT] Server Unavailable. 15: 1 of 1 objtFolder objects in use for alice@example.com'], data
typ, data = M.noop()
assert typ == 'OK', data
M.close()
typ, data = M.status('"Sent Items"', '(MESSAGES)')
assert typ == 'OK', data
M.logout()
print('python ok')
`);
  const r = await run('python3', [script, String(srv.port)]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /python ok/);
  await eventually(async () => (await srv.ctx.governor.list({ userId: srv.user.id })).length === 0);
});

test('objtMessage limit 1: FETCH of many bodies holds one message at a time; IDLE with objtNotify 1', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const inbox = await srv.ctx.store.getSpecialFolder(srv.user.id, '\\Inbox');
  for (const s of ['a', 'b', 'c']) await srv.ctx.store.append(srv.user.id, inbox.id, sampleMessage(s));
  await setLive(srv, 'MaxObjsPerMapiSession.objtMessage', '1');
  await setLive(srv, 'MaxObjsPerMapiSession.objtNotify', '1');
  const c = await RawClient.connect(srv.port);
  t.after(() => c.close());
  await c.readResponse();
  await c.login();
  await c.command('SELECT INBOX');
  const r = await c.command('FETCH 1:* (BODY.PEEK[])');
  assert.match(r.tagged, /OK/);
  assert.equal(r.untagged.length, 3);
  assert.equal((await objects(srv)).objtMessage, 0);
  c.send('i1 IDLE\r\n');
  assert.equal(await c.readResponse(), '+ idling');
  assert.equal((await objects(srv)).objtNotify, 1);
  c.send('DONE\r\n');
  assert.equal(await c.readResponse(), 'i1 OK IDLE terminated');
  assert.equal((await objects(srv)).objtNotify, 0);
  assert.equal((await srv.ctx.store.listEvents({ eventId: 9646 })).length, 0);
});

test('a limit lowered by `mailwarden settings set` reaches a session that is already open, without a new logon', async (t) => {
  const tmp = tempDir();
  t.after(() => tmp.cleanup());
  const data = join(tmp.dir, 'data');
  assert.equal(cli(['user', 'add', 'alice@example.com', '--password-stdin', '--data', data], `${PASSWORD}\n`).code, 0);
  assert.equal(cli(['settings', 'set', 'ImapSettings.LoginType', 'PlainTextLogin', '--data', data]).code, 0);
  const server = await serve(data);
  t.after(() => server.stop());
  const c = await RawClient.connect(server.port('imap'));
  t.after(() => c.close());
  await c.readResponse();
  await c.login();
  assert.match((await c.command('CREATE Archive')).tagged, /OK/);
  assert.match((await c.command('SELECT INBOX')).tagged, /OK/);
  assert.match((await c.command('STATUS Archive (MESSAGES)')).tagged, /OK/);

  // another process changes the setting; the server polls the settings version once a second
  assert.equal(cli(['settings', 'set', 'MaxObjsPerMapiSession.objtFolder', '1', '--data', data]).code, 0);
  let tagged = '';
  await eventually(async () => {
    tagged = (await c.command('STATUS Archive (MESSAGES)')).tagged;
    return tagged.includes('NO [LIMIT]');
  });
  assert.match(tagged, /NO \[LIMIT\] Server Unavailable\. 15: 1 of 1 objtFolder objects in use for alice@example\.com/);
});
