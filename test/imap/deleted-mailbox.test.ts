// Another session deletes the selected mailbox: "* BYE" and the connection closes, as Dovecot
// does, and the store session is released. A rename keeps the mailbox selected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { run } from '../helpers/run.js';
import { PASSWORD, RawClient, eventually, sampleMessage, startTestServer, type TestServer } from './helpers.js';

const BYE = '* BYE Selected mailbox was deleted, have to disconnect.';

async function open(srv: TestServer, select?: string): Promise<RawClient> {
  const c = await RawClient.connect(srv.port);
  await c.readResponse();
  await c.login();
  if (select) assert.match((await c.command(`SELECT ${select}`)).tagged, /OK/);
  return c;
}

const sessions = async (srv: TestServer) => (await srv.ctx.governor.list({ userId: srv.user.id })).length;

test('raw: BYE at once to a session that has the mailbox selected (idle or in IDLE); the deleter itself gets [CLOSED]', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const work = await srv.ctx.store.createFolder(srv.user.id, 'Work');
  await srv.ctx.store.append(srv.user.id, work.id, sampleMessage('w'));
  const idle = await open(srv, 'Work');
  const quiet = await open(srv, 'Work');
  const other = await open(srv, 'INBOX');
  const deleter = await open(srv, 'Work');
  t.after(() => [idle, quiet, other, deleter].forEach((c) => c.close()));
  idle.send('i1 IDLE\r\n');
  assert.equal(await idle.readResponse(), '+ idling');
  assert.equal(await sessions(srv), 4);

  const r = await deleter.command('DELETE Work');
  assert.deepEqual(r.untagged, ['* OK [CLOSED] Mailbox deleted']);
  assert.match(r.tagged, /OK DELETE completed/);

  assert.equal(await idle.readResponse(), BYE);
  await idle.closedByServer();
  // a session between commands is told too, without waiting for its next command
  assert.equal(await quiet.readResponse(), BYE);
  await quiet.closedByServer();
  await eventually(async () => (await sessions(srv)) === 2);

  // the others go on: the deleter is unselected, the INBOX session untouched
  assert.match((await deleter.command('NOOP')).tagged, /OK/);
  assert.match((await deleter.command('FETCH 1 FLAGS')).tagged, /BAD/);
  assert.deepEqual((await other.command('NOOP')).untagged, []);
  assert.match((await other.command('CREATE Work')).tagged, /OK/);
});

test('raw: a rename elsewhere keeps the selected mailbox working; deleting it under its new name ends the session', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const work = await srv.ctx.store.createFolder(srv.user.id, 'Work');
  await srv.ctx.store.append(srv.user.id, work.id, sampleMessage('w'));
  const a = await open(srv, 'Work');
  const b = await open(srv);
  t.after(() => [a, b].forEach((c) => c.close()));
  assert.match((await b.command('RENAME Work Play')).tagged, /OK/);
  assert.match((await a.command('NOOP')).tagged, /OK/);
  const f = await a.command('FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  assert.match(f.untagged[0]!, /Subject: w/);
  assert.match((await b.command('DELETE Play')).tagged, /OK/);
  assert.equal(await a.readResponse(), BYE);
  await a.closedByServer();
  await eventually(async () => (await sessions(srv)) === 1);
});

test('raw: RENAME INBOX elsewhere empties INBOX: its sessions are told EXPUNGE (or VANISHED), the new folder has the messages', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const inbox = await srv.ctx.store.getSpecialFolder(srv.user.id, '\\Inbox');
  for (const s of ['one', 'two']) await srv.ctx.store.append(srv.user.id, inbox.id, sampleMessage(s));
  const a = await open(srv, 'INBOX');
  const q = await open(srv);
  const b = await open(srv);
  t.after(() => [a, q, b].forEach((c) => c.close()));
  await q.command('ENABLE QRESYNC');
  const sel = await q.command('SELECT INBOX');
  const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel.untagged.join('\n'))![1]);

  assert.match((await b.command('RENAME INBOX Old')).tagged, /OK/);
  assert.deepEqual((await a.command('NOOP')).untagged, ['* 1 EXPUNGE', '* 1 EXPUNGE']);
  assert.deepEqual((await q.command('NOOP')).untagged, ['* VANISHED 1:2']);
  const st = await b.command('STATUS Old (MESSAGES UIDNEXT RECENT HIGHESTMODSEQ)');
  assert.match(st.untagged[0]!, new RegExp(`^\\* STATUS "Old" \\(MESSAGES 2 UIDNEXT 3 RECENT 0 HIGHESTMODSEQ ${modseq}\\)$`));
  // INBOX stays selected and usable, and takes new mail as before
  await srv.ctx.store.deliver([srv.user.id], sampleMessage('three'));
  assert.deepEqual((await a.command('NOOP')).untagged, ['* 1 EXISTS', '* 1 RECENT']);
});

test('imapflow and python3 imaplib are told BYE and see the connection close', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await srv.ctx.store.createFolder(srv.user.id, 'Doomed');
  const flow = new ImapFlow({
    host: '127.0.0.1', port: srv.port, secure: false, logger: false,
    auth: { user: 'alice@example.com', pass: PASSWORD }, tls: { ca: [srv.ctx.tls.cert], servername: 'localhost' },
  });
  await flow.connect();
  await flow.mailboxOpen('Doomed');
  const closed = new Promise<void>((resolve) => flow.once('close', () => resolve()));

  // python selects the folder too and waits (NOOP) until the deletion has happened
  const script = join(srv.dir, 'bye.py');
  writeFileSync(script, `
import imaplib, sys, time
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
M.login('alice@example.com', '${PASSWORD}')
assert M.select('Doomed')[0] == 'OK'
open(sys.argv[2], 'w').close()  # selected: the test deletes the folder now
while True:  # until the BYE: the test's run timeout is the only bound (no time budget here)
    try:
        M.noop()
    except imaplib.IMAP4.abort as e:
        assert 'Selected mailbox was deleted' in str(e), e
        print('bye ok')
        sys.exit(0)
    time.sleep(0.05)
`);
  const selected = join(srv.dir, 'selected');
  const py = run('python3', [script, String(srv.port), selected], { timeoutMs: 600_000 });
  // python's SELECT has been answered OK (imapflow's too, mailboxOpen resolved) before the deletion
  await eventually(async () => existsSync(selected), 300_000);
  const deleter = await open(srv);
  t.after(() => deleter.close());
  assert.match((await deleter.command('DELETE Doomed')).tagged, /OK/);
  await closed;
  const r = await py;
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /bye ok/);
  await eventually(async () => (await sessions(srv)) === 1);
});

test('raw: a SELECT whose loading overlaps the DELETE of its folder is refused or ended, never left selected on nothing', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const doomed = await srv.ctx.store.createFolder(srv.user.id, 'Doomed');
  await srv.ctx.store.append(srv.user.id, doomed.id, sampleMessage('d'));
  // the SELECT's view load waits until the folder has been deleted (and its change announced)
  const store = srv.ctx.store;
  const listIndex = store.listMessageIndex.bind(store);
  let entered!: () => void;
  const loading = new Promise<void>((resolve) => (entered = resolve));
  let deleted!: () => void;
  const gate = new Promise<void>((resolve) => (deleted = resolve));
  store.listMessageIndex = async (userId, folderId, o) => {
    const index = await listIndex(userId, folderId, o);
    if (folderId === doomed.id && !o) {
      // read before the deletion, the rest of the SELECT after it
      entered();
      await gate;
    }
    return index;
  };
  // ... and until the selecting session has looked the folder up after its change notification
  const folderById = store.getFolderById.bind(store);
  let lookedUp!: () => void;
  const notified = new Promise<void>((resolve) => (lookedUp = resolve));
  store.getFolderById = async (userId, folderId) => {
    const f = await folderById(userId, folderId);
    if (folderId === doomed.id && !f) setImmediate(lookedUp); // after the caller has acted on it
    return f;
  };
  t.after(() => {
    store.listMessageIndex = listIndex;
    store.getFolderById = folderById;
  });

  const a = await open(srv);
  const deleter = await open(srv);
  t.after(() => [a, deleter].forEach((c) => c.close()));
  a.send('s1 SELECT Doomed\r\n');
  await loading;
  assert.match((await deleter.command('DELETE Doomed')).tagged, /OK/);
  await notified;
  deleted();
  // either answer is right; what must not happen is an OK with nothing to follow it
  const lines: string[] = [];
  for (;;) {
    const line = await a.readResponse();
    assert.ok(line !== null, `closed without an answer after ${lines.join(' | ')}`);
    lines.push(line);
    if (line.startsWith('s1 ') || line.startsWith('* BYE')) break;
  }
  const last = lines[lines.length - 1]!;
  if (last.startsWith('s1 ')) {
    if (/^s1 OK/.test(last)) {
      assert.equal(await a.readResponse(), BYE);
      await a.closedByServer();
    } else {
      assert.match(last, /^s1 NO \[NONEXISTENT\]/);
      assert.match((await a.command('FETCH 1 FLAGS')).tagged, /BAD/); // not selected
      assert.match((await a.command('NOOP')).tagged, /OK/);
    }
  } else {
    assert.equal(last, BYE);
    await a.closedByServer();
  }
  // the folder object is released on every path
  await eventually(async () => (await srv.ctx.governor.list({ userId: srv.user.id })).every((x) => !x.objects.objtFolder));
});
