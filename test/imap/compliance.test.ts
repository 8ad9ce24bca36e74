// Defects a third-party IMAP compliance run found (issue 13), each over a real socket: the raw
// client where the wire form matters (literals, untagged codes), python3 imaplib elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, assertPythonLoggedIn, sampleMessage, startTestServer, type TestServer } from './helpers.js';

async function ready(srv: TestServer, login = true): Promise<RawClient> {
  const c = await RawClient.connect(srv.port);
  await c.readResponse();
  if (login) assert.match(await c.login(), /OK/);
  return c;
}

async function inboxCount(srv: TestServer): Promise<number> {
  const inbox = (await srv.ctx.store.getFolder(srv.user.id, 'INBOX'))!;
  return (await srv.ctx.store.folderStatus(srv.user.id, inbox.id)).messages;
}

/** Sends a command whose synchronising literals each wait for the server's "+". */
async function withLiterals(c: RawClient, tag: string, parts: Array<string | Buffer>): Promise<{ untagged: string[]; tagged: string }> {
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    c.send(p);
    if (typeof p === 'string' && /\{\d+\}\r\n$/.test(p)) assert.equal(await c.readResponse(), '+ Ready for literal data');
  }
  return c.until(tag);
}

test('MULTIAPPEND (RFC 3502): two literals in one APPEND store both, APPENDUID names both; all or nothing', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv);
  t.after(() => c.close());
  const one = sampleMessage('one');
  const two = sampleMessage('two');
  // synchronising literals, as the compliance run sent them
  const r = await withLiterals(c, 'a1', [`a1 APPEND INBOX {${one.length}}\r\n`, one, ` {${two.length}}\r\n`, two, '\r\n']);
  assert.match(r.tagged, /^a1 OK \[APPENDUID \d+ 1:2\] /);
  // flags and a date for the second message, non-synchronising literals
  c.send(Buffer.concat([
    Buffer.from(`a2 APPEND INBOX (\\Seen) {${one.length}+}\r\n`), one,
    Buffer.from(` (\\Flagged) "07-Feb-1994 21:52:25 -0800" {${two.length}+}\r\n`), two, Buffer.from('\r\n'),
  ]));
  assert.match((await c.until('a2')).tagged, /^a2 OK \[APPENDUID \d+ 3:4\] /);
  // the connection goes on
  await c.command('SELECT INBOX');
  const f = await c.command('FETCH 1:4 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  assert.equal(f.untagged.length, 4, JSON.stringify(f.untagged));
  assert.match(f.untagged[1]!, /Subject: two/);
  assert.match(f.untagged[2]!, /FLAGS \(\\Seen \\Recent\)/);
  assert.match(f.untagged[3]!, /FLAGS \(\\Flagged \\Recent\) INTERNALDATE "08-Feb-1994 05:52:25 \+0000"/, 'the same instant');

  // all or nothing: an empty second message, then a quota that takes one of two but not both
  const before = await inboxCount(srv);
  c.send(`a3 APPEND INBOX {${one.length}+}\r\n`);
  c.send(Buffer.concat([one, Buffer.from(' {0+}\r\n\r\n')]));
  assert.match((await c.until('a3')).tagged, /^a3 NO /);
  assert.equal(await inboxCount(srv), before);
  const used = (await srv.ctx.store.folderStatus(srv.user.id, (await srv.ctx.store.getFolder(srv.user.id, 'INBOX'))!.id)).size;
  await srv.ctx.store.putSetting({ scope: 'user', targetId: srv.user.id, name: 'Default Mailbox Quota Bytes', value: String(used + one.length + 10) });
  c.send(Buffer.concat([Buffer.from(`a4 APPEND INBOX {${one.length}+}\r\n`), one, Buffer.from(` {${two.length}+}\r\n`), two, Buffer.from('\r\n')]));
  assert.match((await c.until('a4')).tagged, /^a4 NO \[OVERQUOTA\]/);
  assert.equal(await inboxCount(srv), before, 'neither message was stored');
  assert.match((await c.command('NOOP')).tagged, /OK/);
});

test('EXAMINE returns * n RECENT like SELECT, without taking \\Recent away (RFC 3501 6.3.2)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  for (const s of ['one', 'two']) await srv.ctx.store.deliver([srv.user.id], sampleMessage(s));
  await assertPythonLoggedIn(srv, 'examine.py', `
typ, data = M.select('INBOX', readonly=True)
assert M.response('RECENT')[1] == [b'2'], M.untagged_responses
typ, data = M.select('INBOX', readonly=True)
assert M.response('RECENT')[1] == [b'2'], 'EXAMINE claimed them'
typ, data = M.select('INBOX')
assert M.response('RECENT')[1] == [b'2'], M.untagged_responses
typ, data = M.select('INBOX', readonly=True)
assert M.response('RECENT')[1] == [b'0'], 'SELECT claimed them: nothing is unclaimed'`);
});

/** A quoted-printable part with soft line breaks, trailing white space (transport padding) and escapes. */
const QP_BODY =
  'hello  \r\n' + // trailing spaces: padding, deleted
  'bar=\r\n' + // soft break
  'foo\t=\r\n' + // white space before a soft break stays
  'bar \t \r\n' +
  'foo\t \tb=20\r\n' + // an encoded space at the end stays
  'x=3Dy=  \r\n' + // soft break followed by padding
  'z=09\r\n' +
  'foo_bar\r\n\r\n';
const QP_MESSAGE = Buffer.from(
  'From: a@example.org\r\nSubject: qp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' +
  '--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' + QP_BODY + '--b--\r\n',
);

test('BINARY of a quoted-printable part decodes as RFC 2045 6.7 says (python3 imaplib, checked against quopri)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await srv.ctx.store.deliver([srv.user.id], QP_MESSAGE);
  await assertPythonLoggedIn(srv, 'binary.py', `
import quopri
M.select('INBOX', readonly=True)
typ, data = M.fetch('1', '(BODY.PEEK[1])')
# quopri's own RFC 2045 decoder (binascii's keeps transport padding); it ends lines with LF
quopri.a2b_qp = None
want = quopri.decodestring(data[0][1]).replace(b'\\n', b'\\r\\n')
assert want.startswith(b'hello\\r\\nbarfoo\\tbar\\r\\n'), want
typ, data = M.fetch('1', '(BINARY.SIZE[1])')
assert ('BINARY.SIZE[1] %d)' % len(want)).encode() in data[0], (data, len(want))
typ, data = M.fetch('1', '(BINARY.PEEK[1])')
assert data[0][1] == want, (data, want)
for start, length in [(0, 10), (10, 10), (15, 10), (20, 10), (40, 100)]:
    typ, data = M.fetch('1', '(BINARY.PEEK[1]<%d.%d>)' % (start, length))
    assert data[0][1] == want[start:start + length], (start, length, data, want[start:start + length])`);
});

test('NUL bytes travel only in a literal8 to a client that asked for BINARY (RFC 3516 4.2)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv);
  t.after(() => c.close());
  const part = Buffer.from('ab\0cd\0', 'latin1');
  const msg = Buffer.concat([
    Buffer.from('From: a@example.org\r\nSubject: nul\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' +
      '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'),
    part, Buffer.from('\r\n--b--\r\n'),
  ]);
  c.send(Buffer.concat([Buffer.from(`a1 APPEND INBOX ~{${msg.length}+}\r\n`), msg, Buffer.from('\r\n')]));
  assert.match((await c.until('a1')).tagged, /^a1 OK/);
  await c.command('SELECT INBOX');
  for (const item of ['BODY.PEEK[1]', 'BODY.PEEK[]', 'RFC822', 'BODY.PEEK[TEXT]', 'BODY.PEEK[1]<0.4>']) {
    const r = await c.command(`FETCH 1 (${item})`);
    const line = r.untagged.join('\n');
    assert.ok(!line.includes('\0'), `${item} sent a NUL: ${JSON.stringify(line)}`);
    assert.ok(!line.includes('~{'), `${item} sent a literal8`);
  }
  // the same size: each NUL stands in as 0x80 (as Dovecot does)
  const body = (await c.command('FETCH 1 (BODY.PEEK[1])')).untagged[0]!;
  assert.ok(body.includes(`BODY[1] {${part.length}}\r\nab\x80cd\x80)`), JSON.stringify(body));
  const bin = (await c.command('FETCH 1 (BINARY.PEEK[1])')).untagged[0]!;
  assert.ok(bin.includes(`BINARY[1] ~{${part.length}}\r\nab\0cd\0)`), JSON.stringify(bin));
});

test('CONDSTORE: ESEARCH MODSEQ is that of MIN/MAX; the first enabling FETCH gets HIGHESTMODSEQ first (RFC 7162 3.1, 3.1.5)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  for (const s of ['one', 'two', 'three']) await srv.ctx.store.deliver([srv.user.id], sampleMessage(s));
  const c = await ready(srv);
  t.after(() => c.close());
  await c.command('SELECT INBOX');
  // the first CONDSTORE-enabling command while selected: OK [HIGHESTMODSEQ] before its tagged OK
  const f = await c.command('FETCH 1 MODSEQ');
  assert.match(f.untagged[0]!, /^\* OK \[HIGHESTMODSEQ \d+\]/, JSON.stringify(f.untagged));
  assert.equal((await c.command('FETCH 1 MODSEQ')).untagged.filter((l) => l.includes('HIGHESTMODSEQ')).length, 0, 'only the first time');
  // \Seen on 2, then on 1: message 1 ends with the highest MODSEQ, 2 with the next
  await c.command('STORE 2 +FLAGS (\\Seen)');
  await c.command('STORE 1 +FLAGS (\\Seen)');
  await c.command('STORE 3 +FLAGS (\\Seen)');
  const modseq = async (n: number) => Number(/MODSEQ \((\d+)\)/.exec((await c.command(`FETCH ${n} MODSEQ`)).untagged[0]!)![1]);
  const [m1, m2, m3] = [await modseq(1), await modseq(2), await modseq(3)];
  assert.ok(m3 > m1 && m1 > m2);
  const esearch = async (ret: string) => (await c.command(`SEARCH RETURN (${ret}) 1:2 MODSEQ "/flags/\\\\seen" all 1`)).untagged[0]!;
  assert.match(await esearch('MIN'), new RegExp(` MIN 1 MODSEQ ${m1}$`));
  assert.match(await esearch('MAX'), new RegExp(` MAX 2 MODSEQ ${m2}$`));
  assert.match(await esearch('MIN MAX'), new RegExp(` MIN 1 MAX 2 MODSEQ ${m1}$`));
  assert.match(await esearch('COUNT'), new RegExp(` COUNT 2 MODSEQ ${m1}$`));
  assert.match((await c.command('SEARCH MODSEQ 1')).untagged[0]!, new RegExp(`^\\* SEARCH 1 2 3 \\(MODSEQ ${m3}\\)$`));

  // siblings: ENABLE CONDSTORE, STATUS (HIGHESTMODSEQ) and STORE UNCHANGEDSINCE enable it too
  for (const cmd of ['ENABLE CONDSTORE', 'STATUS INBOX (HIGHESTMODSEQ)', 'STORE 1 (UNCHANGEDSINCE 999999) +FLAGS (\\Draft)', 'SEARCH MODSEQ 1']) {
    const d = await ready(srv);
    t.after(() => d.close());
    await d.command('SELECT INBOX');
    const r = await d.command(cmd);
    assert.match(r.untagged[0]!, /^\* OK \[HIGHESTMODSEQ \d+\]/, `${cmd}: ${JSON.stringify(r.untagged)}`);
  }
  // not selected: nothing to report
  const e = await ready(srv);
  t.after(() => e.close());
  assert.ok(!(await e.command('ENABLE CONDSTORE')).untagged.some((l) => l.includes('HIGHESTMODSEQ')));
});

test('SEARCH FROM/TO/CC/BCC find addresses written with comments and white space (RFC 5322 CFWS)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const messages = [
    'From: user-from@domain.org\r\nTo: user-to@domain.org\r\n',
    'From: RealFrom <user-from@domain.org>\r\nTo: =?utf-8?q?R=C3=A9alTo?= <user-to@domain.org>\r\n',
    'From: <user-from (comment)@ (comment) domain.org>\r\nTo: <user-to@domain.org>\r\nCc: user-cc @ domain.org\r\n',
    'From: user-from@domain.org (RealFrom)\r\nTo: groupname: groupuser1@domain.org, groupuser2@domain.org;\r\n',
    'From: other@domain.org\r\n',
  ];
  for (const h of messages) await srv.ctx.store.deliver([srv.user.id], Buffer.from(`${h}Subject: s\r\n\r\nbody\r\n`));
  await assertPythonLoggedIn(srv, 'search.py', `
M.select('INBOX', readonly=True)
def search(*q):
    typ, data = M.search('UTF-8', *q)
    return data[0].decode()
assert search('FROM', 'user-from@domain.org') == '1 2 3 4', search('FROM', 'user-from@domain.org')
assert search('FROM', 'ser-fro') == '1 2 3 4'
assert search('FROM', 'realfrom') == '2 4'
assert search('TO', 'user-to@domain.org') == '1 2 3', search('TO', 'user-to@domain.org')
assert search('TO', 'groupuser2@domain.org') == '4'
assert search('TO', 'groupname') == '4'
assert search('CC', 'user-cc@domain.org') == '3', search('CC', 'user-cc@domain.org')
assert search('HEADER', 'FROM', 'user-from@domain.org') == '1 2 3 4'
assert search('FROM', 'other@domain.org') == '5'`);
});

test('LIST-EXTENDED and LSUB (RFC 5258, RFC 3501 6.3.9): CREATE does not subscribe; parents and CHILDINFO as specified', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv);
  t.after(() => c.close());
  for (const n of ['box/test1', 'box/test2/', 'box/test2/test1', 'box/test3', 'box/test4/test5', 'box/test4/test52', 'box/test6',
    'box/test7/test7', 'box/test8/test8', 'box/test8/test9']) assert.match((await c.command(`CREATE ${n}`)).tagged, /OK/);
  for (const n of ['box/test1', 'box/test2/test1', 'box/test6', 'box/test7/test7', 'box/test8/test8', 'box/test8/test9']) {
    assert.match((await c.command(`SUBSCRIBE ${n}`)).tagged, /OK/);
  }
  await c.command('DELETE box/test6');
  const list = async (cmd: string) => (await c.command(cmd)).untagged;

  assert.deepEqual(await list('LIST "" box/% RETURN (CHILDREN SUBSCRIBED)'), [
    '* LIST (\\HasNoChildren \\Subscribed) "/" box/test1',
    '* LIST (\\HasChildren) "/" box/test2',
    '* LIST (\\HasNoChildren) "/" box/test3',
    '* LIST (\\HasChildren) "/" box/test4',
    '* LIST (\\HasChildren) "/" box/test7',
    '* LIST (\\HasChildren) "/" box/test8',
  ].map(quoted));
  assert.deepEqual(await list('LIST (SUBSCRIBED RECURSIVEMATCH) "" box/test2% RETURN (CHILDREN)'), [
    '* LIST (\\HasChildren) "/" box/test2 ("CHILDINFO" ("SUBSCRIBED"))',
  ].map(quoted));
  assert.deepEqual(await list('LIST (SUBSCRIBED RECURSIVEMATCH) "" box*test8'), [
    '* LIST (\\HasChildren) "/" box/test8 ("CHILDINFO" ("SUBSCRIBED"))',
    '* LIST (\\HasNoChildren \\Subscribed) "/" box/test8/test8',
  ].map(quoted));
  // several patterns: a parent whose subscribed child matches a pattern itself is not listed for it
  assert.deepEqual(await list('LIST (SUBSCRIBED RECURSIVEMATCH) "" (box/test2 box/test2/test1)'), [
    '* LIST (\\HasNoChildren \\Subscribed) "/" box/test2/test1',
  ].map(quoted));
  assert.deepEqual(await list('LIST "" (box/*2 box/test3)'), [
    '* LIST (\\HasChildren) "/" box/test2', '* LIST (\\HasNoChildren) "/" box/test3', '* LIST (\\HasNoChildren) "/" box/test4/test52',
  ].map(quoted));
  assert.deepEqual(await list('LIST (SUBSCRIBED) "" box/*'), [
    '* LIST (\\HasNoChildren \\Subscribed) "/" box/test1',
    '* LIST (\\HasNoChildren \\Subscribed) "/" box/test2/test1',
    '* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" box/test6',
    '* LIST (\\HasNoChildren \\Subscribed) "/" box/test7/test7',
    '* LIST (\\HasNoChildren \\Subscribed) "/" box/test8/test8',
    '* LIST (\\HasNoChildren \\Subscribed) "/" box/test8/test9',
  ].map(quoted));
  // LSUB: an unsubscribed parent of subscribed children, reached by "%", is \Noselect
  assert.deepEqual(await list('LSUB "" box/%'), [
    '* LSUB () "/" box/test1', '* LSUB (\\Noselect) "/" box/test2', '* LSUB () "/" box/test6',
    '* LSUB (\\Noselect) "/" box/test7', '* LSUB (\\Noselect) "/" box/test8',
  ].map(quoted));
  assert.deepEqual(await list('LSUB "" *test1'), ['* LSUB () "/" box/test1', '* LSUB () "/" box/test2/test1'].map(quoted));
});

/** Mailbox names go out quoted: `"/" box/x` in the expectations stands for `"/" "box/x"`. */
function quoted(line: string): string {
  return line.replace(/"\/" (\S+)/, '"/" "$1"');
}

test('mailbox names made of atom-specials are valid astrings (RFC 3501 9): NO [NONEXISTENT], an empty LIST', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv);
  t.after(() => c.close());
  const name = "!#$$&'+,-.0123456789:;<=>?@^_`|[}";
  assert.match((await c.command(`SELECT ${name}`)).tagged, /^t\d+ NO \[NONEXISTENT\]/);
  assert.match((await c.command(`EXAMINE ${name}`)).tagged, /^t\d+ NO \[NONEXISTENT\]/);
  assert.match((await c.command(`STATUS ${name} (MESSAGES)`)).tagged, /^t\d+ NO \[NONEXISTENT\]/);
  const l = await c.command(`LIST "" ${name}%*`);
  assert.deepEqual(l.untagged, []);
  assert.match(l.tagged, /^t\d+ OK/);
  // "[" without "]" elsewhere: a name that is valid modified UTF-7 can be made and used
  assert.match((await c.command('CREATE a[}b')).tagged, /OK/);
  assert.match((await c.command('SELECT a[}b')).tagged, /OK/);
  assert.deepEqual((await c.command('LIST "" a[*')).untagged, ['* LIST (\\HasNoChildren) "/" "a[}b"']);
  assert.match((await c.command('NOOP')).tagged, /OK/);
});

test('long lines: a 30-field ID (RFC 2971) is accepted; a line over the limit costs that command only', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await assertPythonLoggedIn(srv, 'id.py', `
fields = ' '.join('"field%02d" "%s"' % (i, 'v' * 1024) for i in range(30))
typ, data = M.xatom('ID', '(' + fields + ')')
assert typ == 'OK', (typ, data)
typ, data = M.noop()
assert typ == 'OK'`);
  const c = await ready(srv);
  t.after(() => c.close());
  assert.match((await c.command('NOOP ' + 'x'.repeat(70_000))).tagged, /^t\d+ BAD .*too long/);
  // too long, ending in a non-synchronising literal: its data is skipped, the next command runs
  c.send(`t2 APPEND INBOX ${'x'.repeat(70_000)} {5+}\r\nhello\r\n`);
  assert.match((await c.until('t2')).tagged, /^t2 BAD/);
  // ... a synchronising one: no "+", the command is over
  c.send(`t3 APPEND INBOX ${'x'.repeat(70_000)} {5}\r\n`);
  assert.match((await c.until('t3')).tagged, /^t3 BAD/);
  assert.match((await c.command('NOOP')).tagged, /OK/);
  assert.equal(c.closed, false);
});

test('a command refused by state is answered before its literal is invited (issue 14 item 7)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv, false);
  t.after(() => c.close());
  c.send('a1 APPEND INBOX {3}\r\n');
  assert.equal(await c.readResponse(), 'a1 BAD APPEND: Log in first');
  c.send('a2 FROBNICATE {3}\r\n');
  assert.equal(await c.readResponse(), 'a2 BAD Unknown command FROBNICATE');
  // the client sent no data: the connection is in step, and LOGIN still gets its "+"
  c.send('a3 LOGIN {17}\r\n');
  assert.equal(await c.readResponse(), '+ Ready for literal data');
  c.send('alice@example.com {13}\r\n');
  assert.equal(await c.readResponse(), '+ Ready for literal data');
  c.send('correct horse\r\n');
  assert.match((await c.until('a3')).tagged, /^a3 OK/);
  c.send('a4 UID FETCH 1 (BODY[HEADER.FIELDS {7}\r\n');
  assert.equal(await c.readResponse(), 'a4 BAD UID FETCH: Select a mailbox first');
  c.send('a5 APPEND INBOX {3}\r\n');
  assert.equal(await c.readResponse(), '+ Ready for literal data');
  c.send('abc\r\n');
  assert.match((await c.until('a5')).tagged, /^a5 OK/);
  assert.equal(await inboxCount(srv), 1);
});

test('APPEND to a missing mailbox is answered NO [TRYCREATE] before its literal is invited', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv);
  t.after(() => c.close());
  c.send('a1 APPEND Nowhere (\\Seen) {3}\r\n');
  assert.match((await c.readResponse())!, /^a1 NO \[TRYCREATE\] /);
  c.send('a2 APPEND "Nowhere" {3+}\r\nabc\r\n'); // non-synchronising: the data comes anyway and is read
  assert.match((await c.until('a2')).tagged, /^a2 NO \[TRYCREATE\]/);
  assert.match((await c.command('NOOP')).tagged, /OK/);
});
