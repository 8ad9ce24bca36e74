// \Recent (RFC 3501 2.3.2) with real clients: the first session to SELECT after mail arrived
// gets it, no other session does, EXAMINE and STATUS never claim, IMAP4rev2 never sees it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { PASSWORD, RawClient, runPython, sampleMessage, startTestServer, type TestServer } from './helpers.js';

const PY = `
import imaplib, sys
port = int(sys.argv[1])
def login():
    M = imaplib.IMAP4('127.0.0.1', port)
    M.login('alice@example.com', '${PASSWORD}')
    return M
def recent(M):
    return M.response('RECENT')[1]

A, B, C = login(), login(), login()
# STATUS counts what nobody claimed yet, without claiming it
typ, data = A.status('INBOX', '(MESSAGES RECENT)')
assert b'(MESSAGES 2 RECENT 2)' in data[0], data
# EXAMINE shows them as recent without claiming them (RFC 3501 6.3.2: the same data as SELECT)
typ, data = A.select('INBOX', readonly=True)
assert data == [b'2'] and recent(A) == [b'2'], (data, recent(A))
typ, data = A.search(None, 'RECENT')
assert data == [b'1 2'], data
typ, data = B.status('INBOX', '(RECENT)')
assert b'RECENT 2' in data[0], data

# the first SELECT claims both
typ, data = A.select('INBOX')
assert data == [b'2'] and recent(A) == [b'2'], (data, recent(A))
typ, data = A.fetch('1:2', '(FLAGS)')
assert all(b'\\\\Recent' in d for d in data), data
typ, data = A.search(None, 'RECENT')
assert data == [b'1 2'], data
A.store('1', '+FLAGS', '\\\\Seen')
typ, data = A.search(None, 'NEW')
assert data == [b'2'], data
typ, data = A.search(None, 'OLD')
assert data == [b''], data
# \\Recent cannot be stored or removed by a client
typ, data = A.store('2', '-FLAGS', '\\\\Recent')
assert typ == 'OK' and b'\\\\Recent' in data[0], data
typ, data = B.status('INBOX', '(RECENT)')
assert b'RECENT 0' in data[0], data

# a second session selecting later does not see them as recent
typ, data = B.select('INBOX')
assert data == [b'2'] and recent(B) == [b'0'], (data, recent(B))
typ, data = B.fetch('1:2', '(FLAGS)')
assert not any(b'\\\\Recent' in d for d in data), data
typ, data = B.search(None, 'OLD')
assert data == [b'1 2'], data
typ, data = B.store('1', '+FLAGS', '(\\\\Recent)')
assert typ == 'OK' and b'\\\\Recent' not in data[0], data

# new mail while both have INBOX selected: the first to be told claims it
C.append('INBOX', None, None, b'Subject: third\\r\\n\\r\\nbody\\r\\n')
typ, data = B.noop()
assert B.response('EXISTS')[1][-1] == b'3' and recent(B) == [b'1'], B.untagged_responses
typ, data = A.noop()
assert A.response('EXISTS')[1][-1] == b'3' and recent(A) == [b'2'], A.untagged_responses
typ, data = A.search(None, 'RECENT')
assert data == [b'1 2'], data
typ, data = B.search(None, 'RECENT')
assert data == [b'3'], data

# durable: a new session after the others logged out sees nothing recent
A.logout(); B.logout()
typ, data = C.select('INBOX')
assert data == [b'3'] and recent(C) == [b'0'], (data, recent(C))
C.logout()
print('python ok')
`;

function flow(srv: TestServer, extra: Record<string, unknown> = {}): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1', port: srv.port, secure: false, logger: false,
    auth: { user: 'alice@example.com', pass: PASSWORD }, tls: { ca: [srv.ctx.tls.cert], servername: 'localhost' }, ...extra,
  });
}

test('python3 imaplib: SELECT claims \\Recent once, EXAMINE shows it without claiming, STATUS counts it, new mail goes to one session', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  for (const s of ['one', 'two']) await srv.ctx.store.deliver([srv.user.id], sampleMessage(s));
  const r = await runPython(srv, 'recent.py', PY);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /python ok/);
});

test('imapflow: IMAP4rev1 sessions see \\Recent, SEARCH NEW and STATUS RECENT; IMAP4rev2 ones neither see nor claim it', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await srv.ctx.store.deliver([srv.user.id], sampleMessage('first'));
  const rev2 = flow(srv); // imapflow enables IMAP4rev2 where the server offers it
  const a = flow(srv, { disableIMAP4rev2: true });
  const b = flow(srv, { disableIMAP4rev2: true });
  for (const c of [rev2, a, b]) {
    await c.connect();
    t.after(() => c.logout().catch(() => undefined));
  }
  const recentOf = async (c: ImapFlow) => (await c.status('INBOX', { recent: true }) as { recent?: number }).recent;

  await rev2.mailboxOpen('INBOX');
  for await (const m of rev2.fetch('1:*', { flags: true })) assert.ok(!m.flags!.has('\\Recent'));
  assert.equal(await recentOf(b), 1, 'an IMAP4rev2 SELECT leaves \\Recent to IMAP4rev1 clients');

  await a.mailboxOpen('INBOX');
  const flags: string[][] = [];
  for await (const m of a.fetch('1:*', { flags: true })) flags.push([...m.flags!]);
  assert.deepEqual(flags, [['\\Recent']]);
  assert.deepEqual(await a.search({ new: true }), [1]);
  assert.equal(await recentOf(b), 0);

  await b.mailboxOpen('INBOX');
  assert.deepEqual(await b.search({ recent: true }), []);
  assert.deepEqual(await b.search({ old: true }), [1]);

  // a delivery while b idles: b announces it at once, so b claims it
  const seen = new Promise<void>((resolve) => b.on('exists', (e: { count: number }) => e.count === 2 && resolve()));
  void b.idle();
  await srv.ctx.store.deliver([srv.user.id], sampleMessage('second'));
  await seen;
  assert.deepEqual(await b.search({ recent: true }), [2]);
  assert.deepEqual(await a.search({ recent: true }), [1], 'a keeps its own recent message and does not get b\'s');
});

test('raw: RECENT with new EXISTS; EXAMINE shows the unclaimed ones, IMAP4rev2 sessions none', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const open = async (select: string, rev2 = false) => {
    const c = await RawClient.connect(srv.port);
    await c.readResponse();
    await c.login();
    if (rev2) assert.match((await c.command('ENABLE IMAP4rev2')).tagged, /OK/);
    const r = await c.command(select);
    t.after(() => c.close());
    return { c, r };
  };
  await srv.ctx.store.deliver([srv.user.id], sampleMessage('one'));

  const rev2 = await open('SELECT INBOX', true);
  assert.ok(!rev2.r.untagged.some((l) => /RECENT/.test(l)), JSON.stringify(rev2.r.untagged));
  const examine = await open('EXAMINE INBOX');
  assert.ok(examine.r.untagged.includes('* 1 RECENT'), JSON.stringify(examine.r.untagged));
  // neither claimed: the next rev1 SELECT gets the message as recent
  const sel = await open('SELECT INBOX');
  assert.ok(sel.r.untagged.includes('* 1 RECENT'), JSON.stringify(sel.r.untagged));

  await srv.ctx.store.deliver([srv.user.id], sampleMessage('two'));
  assert.deepEqual((await sel.c.command('NOOP')).untagged, ['* 2 EXISTS', '* 2 RECENT']);
  // sel claimed the new one first (and the first since): nothing is unclaimed for EXAMINE to show
  assert.deepEqual((await examine.c.command('NOOP')).untagged, ['* 2 EXISTS', '* 0 RECENT']);
  assert.deepEqual((await rev2.c.command('NOOP')).untagged, ['* 2 EXISTS']);
  let r = await rev2.c.command('FETCH 1:* (FLAGS)');
  assert.ok(!r.untagged.some((l) => /Recent/.test(l)), JSON.stringify(r.untagged));
  r = await sel.c.command('FETCH 1:* (FLAGS)');
  assert.deepEqual(r.untagged, ['* 1 FETCH (FLAGS (\\Recent))', '* 2 FETCH (FLAGS (\\Recent))']);
  // an expunged recent message no longer counts
  await sel.c.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
  assert.deepEqual((await sel.c.command('EXPUNGE')).untagged, ['* 1 EXPUNGE']);
  await srv.ctx.store.deliver([srv.user.id], sampleMessage('three'));
  assert.deepEqual((await sel.c.command('NOOP')).untagged, ['* 2 EXISTS', '* 2 RECENT']);
  r = await sel.c.command('SEARCH RECENT');
  assert.deepEqual(r.untagged, ['* SEARCH 1 2']);
});
