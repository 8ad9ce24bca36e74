// SORT (RFC 5256, DISPLAYFROM/DISPLAYTO of RFC 5957, ESORT of RFC 5267) and THREAD
// (ORDEREDSUBJECT, REFERENCES) on a generated corpus with known answers, through python3 imaplib,
// npm imapflow and a raw socket. The same corpus gives the same answers from Dovecot 2.3.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { RawClient, assertPythonLoggedIn, imapflowClient, startTestServer, type TestServer } from './helpers.js';
import Database from 'better-sqlite3';
import pg from 'pg';
import { STORE_FILE } from '../../src/server/create-context.js';
import { connectionConfig } from '../../src/store/postgres/postgres-store.js';
import { factsOf } from '../../src/mime/sort-facts.js';
import { undoStep13 } from '../store/change-state-helpers.js';
import type { Folder } from '../../src/store/types.js';
import { message, SORT_ANSWERS, SORT_CORPUS, SUBJECT_ANSWERS, SUBJECT_CORPUS, THREAD_ANSWERS, THREAD_CORPUS, type CorpusMessage } from './sort-corpus.js';

/** The corpus as JSON a python script reads: base64 bytes and the internal date (epoch seconds). */
function corpusJson(srv: TestServer, name: string, corpus: CorpusMessage[]): string {
  const file = join(srv.dir, name);
  writeFileSync(file, JSON.stringify(corpus.map((m) => ({ raw: m.raw.toString('base64'), t: m.internal.getTime() / 1000 }))));
  return file;
}

test('SORT and THREAD answer the known results of a generated corpus (python3 imaplib)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const sortFile = corpusJson(srv, 'sort.json', SORT_CORPUS);
  const threadFile = corpusJson(srv, 'thread.json', THREAD_CORPUS);
  const subjectFile = corpusJson(srv, 'subject.json', SUBJECT_CORPUS);
  await assertPythonLoggedIn(srv, 'sort-thread.py', `
import base64, json
for cap in ('SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES'):
    assert cap in caps, (cap, caps)
def load(box, path):
    if box != 'INBOX':
        M.create(box)
    # one message appended and expunged first: UIDs are then sequence numbers + 1
    M.append(box, None, None, b'Subject: gone\\r\\n\\r\\nx\\r\\n')
    M.select(box)
    M.store('1', '+FLAGS', '\\\\Deleted')
    M.expunge()
    for m in json.load(open(path)):
        typ, data = M.append(box, None, imaplib.Time2Internaldate(m['t']), base64.b64decode(m['raw']))
        assert typ == 'OK', (typ, data)
    M.select(box, readonly=True)
load('INBOX', ${JSON.stringify(sortFile)})
for criteria, want in ${JSON.stringify(SORT_ANSWERS)}:
    for charset in ('UTF-8', 'US-ASCII'):
        typ, data = M.sort(criteria, charset, 'ALL')
        assert typ == 'OK' and data[0].decode() == want, (criteria, charset, data, want)
    typ, data = M.uid('SORT', criteria, 'UTF-8', 'ALL')
    uids = ' '.join(str(int(n) + 1) for n in want.split())
    assert data[0].decode() == uids, (criteria, data, uids)
# the search criteria narrow what is sorted
typ, data = M.sort('(REVERSE DATE)', 'UTF-8', 'FROM', 'alice')
assert data[0] == b'6 2', data
typ, data = M.sort('(SUBJECT)', 'UTF-8', 'SUBJECT', '"nothing like it"')
assert data == [None] or data[0] in (b'', None), data
load('threads', ${JSON.stringify(threadFile)})
for algorithm, want in ${JSON.stringify(THREAD_ANSWERS)}:
    typ, data = M.thread(algorithm, 'UTF-8', 'ALL')
    assert typ == 'OK' and data[0].decode() == want, (algorithm, data, want)
    typ, data = M.uid('THREAD', algorithm, 'UTF-8', 'ALL')
    import re
    uids = re.sub(r'\\d+', lambda m: str(int(m.group(0)) + 1), want)
    assert data[0].decode() == uids, (algorithm, data, uids)
typ, data = M.thread('REFERENCES', 'UTF-8', 'SUBJECT', 'Cycle')
assert data[0] == b'(10 9)', data
load('subjects', ${JSON.stringify(subjectFile)})
for command, want in ${JSON.stringify(SUBJECT_ANSWERS)}:
    name, arg = command.split(' ', 1)
    typ, data = (M.sort if name == 'SORT' else M.thread)(arg, 'UTF-8', 'ALL')
    assert typ == 'OK' and data[0].decode() == want, (command, data, want)`);
});

const flow = imapflowClient;

type Attr = { type: string; value: string } | Attr[];
const atoms = (...words: string[]): Attr[] => words.map((value) => ({ type: 'ATOM', value }));

/** Runs a command through imapflow (it has no SORT/THREAD helper: its generic exec) and returns the untagged answer's numbers as text. */
async function flowCommand(c: ImapFlow, command: string, attributes: Attr[], answer: 'SORT' | 'THREAD'): Promise<string> {
  let out = '';
  const text = (a: unknown): string => (Array.isArray(a) ? `(${a.map(text).join(' ')})` : String((a as { value: string }).value));
  const exec = (c as unknown as { exec(cmd: string, attrs: Attr[], opts: object): Promise<{ next(): void }> }).exec.bind(c);
  const r = await exec(command, attributes, {
    untagged: {
      [answer]: async (u: { attributes?: unknown[] }) => {
        out = (u.attributes ?? []).map(text).join(answer === 'SORT' ? ' ' : '');
      },
    },
  });
  r.next();
  return out;
}

test('SORT and THREAD through imapflow give the same known results', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = flow(srv);
  await c.connect();
  t.after(() => c.logout().catch(() => undefined));
  for (const m of SORT_CORPUS) await c.append('INBOX', m.raw, [], m.internal);
  await c.mailboxCreate('threads');
  for (const m of THREAD_CORPUS) await c.append('threads', m.raw, [], m.internal);
  const lock = await c.getMailboxLock('INBOX');
  try {
    for (const [criteria, want] of SORT_ANSWERS) {
      const keys = criteria.slice(1, -1).split(' ');
      assert.equal(await flowCommand(c, 'SORT', [atoms(...keys), ...atoms('UTF-8', 'ALL')], 'SORT'), want, criteria);
      assert.equal(await flowCommand(c, 'UID SORT', [atoms(...keys), ...atoms('UTF-8', 'ALL')], 'SORT'), want, criteria); // fresh folder: UID = sequence number
    }
  } finally {
    lock.release();
  }
  const lock2 = await c.getMailboxLock('threads');
  try {
    for (const [algorithm, want] of THREAD_ANSWERS) {
      const got = await flowCommand(c, 'UID THREAD', atoms(algorithm, 'UTF-8', 'ALL'), 'THREAD');
      // imapflow's parser reads "(1 (2 3))" as nested lists; compare the numbers and their nesting
      assert.equal(got.replace(/ \(/g, '('), want.replace(/ \(/g, '('), algorithm);
    }
  } finally {
    lock2.release();
  }
});

/** A server whose Inbox holds SORT_CORPUS (UID = sequence number) and a raw client logged in to it. */
async function corpusInbox(t: TestContext): Promise<{ srv: TestServer; inbox: Folder; c: RawClient }> {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const inbox = await srv.ctx.store.getSpecialFolder(srv.user.id, '\\Inbox');
  for (const m of SORT_CORPUS) await srv.ctx.store.append(srv.user.id, inbox.id, m.raw, { internalDate: m.internal });
  const c = await RawClient.connect(srv.port);
  t.after(() => c.close());
  await c.readResponse();
  await c.login();
  return { srv, inbox, c };
}

test('SORT errors, ESORT answers, and the THREAD wire form (raw socket)', async (t) => {
  const { c } = await corpusInbox(t);
  assert.match((await c.command('SORT (DATE) UTF-8 ALL')).tagged, /^t\d+ BAD/); // not selected
  await c.command('SELECT INBOX');

  for (const bad of ['SORT (FOO) UTF-8 ALL', 'SORT () UTF-8 ALL', 'SORT (REVERSE) UTF-8 ALL', 'SORT DATE UTF-8 ALL', 'SORT (DATE) UTF-8', 'SORT (DATE)', 'THREAD FOO UTF-8 ALL', 'THREAD REFERENCES UTF-8 FOO']) {
    const r = await c.command(bad);
    assert.match(r.tagged, /^t\d+ BAD /, bad);
    assert.deepEqual(r.untagged, [], bad);
  }
  for (const cmd of ['SORT (DATE) KOI8-R ALL', 'THREAD REFERENCES X-UNKNOWN ALL', 'UID SORT (DATE) ISO-8859-99 ALL']) {
    assert.match((await c.command(cmd)).tagged, /^t\d+ NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/, cmd);
  }

  // the connection is still good, and the answers are the known ones
  assert.deepEqual((await c.command('SORT (REVERSE DATE) UTF-8 ALL')).untagged, ['* SORT 4 1 5 6 2 3']);
  assert.deepEqual((await c.command('SORT (DATE) "UTF-8" 1:3')).untagged, ['* SORT 3 2 1']);
  assert.deepEqual((await c.command('SORT (DATE) UTF-8 LARGER 100000')).untagged, ['* SORT']);
  assert.deepEqual((await c.command('THREAD REFERENCES UTF-8 LARGER 100000')).untagged, ['* THREAD']);
  assert.deepEqual((await c.command('THREAD ORDEREDSUBJECT UTF-8 ALL')).untagged, ['* THREAD (3 (1)(5))(2)(6 4)']);

  // ESORT (RFC 5267): MIN/MAX are the ends of the sort order, ALL is in sort order
  let r = await c.command('SORT RETURN (MIN MAX COUNT ALL) (REVERSE DATE) UTF-8 ALL');
  assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${r.tagged.split(' ')[0]}") MIN 4 MAX 3 ALL 4,1,5:6,2:3 COUNT 6`]);
  r = await c.command('UID SORT RETURN (COUNT) (SUBJECT) UTF-8 FROM alice');
  assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${r.tagged.split(' ')[0]}") UID COUNT 2`]);
  r = await c.command('SORT RETURN () (SIZE) UTF-8 ALL');
  assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${r.tagged.split(' ')[0]}") ALL 6,2,4,1,3,5`]);
  r = await c.command('SORT RETURN (MIN MAX) (SIZE) UTF-8 LARGER 100000');
  assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${r.tagged.split(' ')[0]}")`]);
  assert.match((await c.command('SORT RETURN (BOGUS) (SIZE) UTF-8 ALL')).tagged, /^t\d+ BAD /);
  // SAVE keeps the sorted messages for "$" (SEARCHRES)
  r = await c.command('SORT RETURN (SAVE) (DATE) UTF-8 FROM alice');
  assert.deepEqual(r.untagged, []);
  assert.deepEqual((await c.command('SEARCH $')).untagged, ['* SEARCH 2 6']);
  // CONTEXT=SORT (live updates of a sort) is not offered
  const caps = (await c.command('CAPABILITY')).untagged.join(' ');
  assert.doesNotMatch(caps, /CONTEXT=SORT/);
});

test('THREAD REFERENCES survives long reference chains and wide threads', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const inbox = await srv.ctx.store.getSpecialFolder(srv.user.id, '\\Inbox');
  // 3,000 messages: each refers to all before it (a chain as deep as the folder), plus one parent with 1,000 children
  const n = 3000;
  const batch: Array<{ raw: Buffer }> = [];
  let refs = '';
  for (let i = 1; i <= n; i++) {
    batch.push({ raw: message({ 'Message-ID': `<n${i}@x>`, References: refs || undefined, Subject: `Re: deep ${i}`, Date: 'Mon, 01 Jan 2024 09:00:00 +0000' }) });
    refs = i <= 40 ? `${refs} <n${i}@x>`.trim() : `<n1@x> <n${i}@x>`; // References may also be short: parent only
  }
  for (let i = 1; i <= 1000; i++) batch.push({ raw: message({ 'Message-ID': `<w${i}@x>`, References: '<wide-root@x>', Subject: 'wide', Date: 'Mon, 01 Jan 2024 09:00:00 +0000' }) });
  await srv.ctx.store.appendMany(srv.user.id, inbox.id, batch);
  const c = await RawClient.connect(srv.port);
  t.after(() => c.close());
  await c.readResponse();
  await c.login();
  await c.command('SELECT INBOX');
  const r = await c.command('THREAD REFERENCES UTF-8 ALL');
  assert.match(r.tagged, /OK/);
  const line = r.untagged[0]!;
  // the chain is one thread, written as one run of numbers; the wide one a dummy with 1,000 children
  assert.ok(line.startsWith(`* THREAD (${Array.from({ length: n }, (_, i) => i + 1).join(' ')})((`), line.slice(0, 200));
  assert.equal((line.match(/\(/g) ?? []).length, 1 + 1 + 1000);
});

/** Winds the store of a stopped server back to before the sort facts were kept (SQLite step 13, PostgreSQL migration 6). */
async function forgetSortFacts(srv: TestServer): Promise<void> {
  if (srv.storeUrl) {
    const c = new pg.Client(connectionConfig(srv.storeUrl));
    await c.connect();
    try {
      await c.query('ALTER TABLE blobs DROP COLUMN sort_facts');
      await c.query('UPDATE mailwarden_schema SET version = 5');
    } finally {
      await c.end();
    }
  } else {
    const db = new Database(join(srv.dir, STORE_FILE));
    undoStep13(db);
    db.close();
  }
}

test('SORT and THREAD answer from the facts the store kept, for mail stored before it kept them too (backfilled), after a restart', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const inbox = await srv.ctx.store.getSpecialFolder(srv.user.id, '\\Inbox');
  const threads = await srv.ctx.store.createFolder(srv.user.id, 'threads');
  // the first half stored by a Mailwarden that did not keep sort facts, the rest after the upgrade
  const half = (c: CorpusMessage[]) => Math.ceil(c.length / 2);
  for (const m of SORT_CORPUS.slice(0, half(SORT_CORPUS))) await srv.ctx.store.append(srv.user.id, inbox.id, m.raw, { internalDate: m.internal });
  for (const m of THREAD_CORPUS.slice(0, half(THREAD_CORPUS))) await srv.ctx.store.append(srv.user.id, threads.id, m.raw, { internalDate: m.internal });
  await srv.restart(() => forgetSortFacts(srv));
  for (const m of SORT_CORPUS.slice(half(SORT_CORPUS))) await srv.ctx.store.append(srv.user.id, inbox.id, m.raw, { internalDate: m.internal });
  for (const m of THREAD_CORPUS.slice(half(THREAD_CORPUS))) await srv.ctx.store.append(srv.user.id, threads.id, m.raw, { internalDate: m.internal });
  // the facts are in the store, old rows included: a fresh server (empty in-memory cache) reads them, not the bytes
  const kept = await srv.ctx.store.getSortFacts(srv.user.id, inbox.id, SORT_CORPUS.map((_, i) => i + 1));
  assert.deepEqual(kept.map((m) => m.facts), SORT_CORPUS.map((m) => factsOf(m.raw)));
  await srv.restart();
  const c = await RawClient.connect(srv.port);
  t.after(() => c.close());
  await c.readResponse();
  await c.login();
  await c.command('EXAMINE INBOX');
  for (const [criteria, want] of SORT_ANSWERS) assert.deepEqual((await c.command(`SORT ${criteria} UTF-8 ALL`)).untagged, [`* SORT ${want}`], criteria);
  await c.command('EXAMINE threads');
  for (const [algorithm, want] of THREAD_ANSWERS) assert.deepEqual((await c.command(`THREAD ${algorithm} UTF-8 ALL`)).untagged, [`* THREAD ${want}`], algorithm);
});

test('a SORT or THREAD asked again answers for the messages there are now: new mail, expunges and renumbering show (raw socket)', async (t) => {
  const { srv, inbox, c } = await corpusInbox(t);
  await c.command('SELECT INBOX');
  const ask = async (cmd: string) => (await c.command(cmd)).untagged.filter((l) => /^\* (SORT|THREAD)\b/.test(l));
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(await ask('SORT (REVERSE DATE) UTF-8 ALL'), ['* SORT 4 1 5 6 2 3']);
    assert.deepEqual(await ask('THREAD ORDEREDSUBJECT UTF-8 ALL'), ['* THREAD (3 (1)(5))(2)(6 4)']);
  }
  // new mail, newest of all, in a thread of its own
  await srv.ctx.store.append(srv.user.id, inbox.id, message({ Subject: 'brand new', Date: 'Fri, 01 Jan 2038 00:00:00 +0000', 'Message-ID': '<new@x>' }));
  await c.command('NOOP');
  assert.deepEqual(await ask('SORT (REVERSE DATE) UTF-8 ALL'), ['* SORT 7 4 1 5 6 2 3']);
  assert.deepEqual(await ask('UID SORT (REVERSE DATE) UTF-8 ALL'), ['* SORT 7 4 1 5 6 2 3']);
  // UID 4 expunged: the others after it are renumbered, in both answers
  await c.command('STORE 4 +FLAGS.SILENT (\\Deleted)');
  await c.command('EXPUNGE');
  assert.deepEqual(await ask('SORT (REVERSE DATE) UTF-8 ALL'), ['* SORT 6 1 4 5 2 3']);
  assert.deepEqual(await ask('UID SORT (REVERSE DATE) UTF-8 ALL'), ['* SORT 7 1 5 6 2 3']);
  assert.deepEqual(await ask('THREAD ORDEREDSUBJECT UTF-8 ALL'), ['* THREAD (3 (1)(4))(2)(5)(6)']);
  assert.deepEqual(await ask('UID THREAD ORDEREDSUBJECT UTF-8 ALL'), ['* THREAD (3 (1)(5))(2)(6)(7)']);
});
