// Extensions added for issue 13, each with a client nobody here wrote (python3 imaplib):
// WITHIN (RFC 5032), PREVIEW (RFC 8970), CREATE-SPECIAL-USE (RFC 6154), OBJECTID (RFC 8474).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertPythonLoggedIn, startTestServer } from './helpers.js';

test('WITHIN: SEARCH YOUNGER/OLDER by internal date, interval in seconds (python3 imaplib)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await assertPythonLoggedIn(srv, 'within.py', `
assert 'WITHIN' in caps, caps
now = time.time()
# an hour old, ten days old, a year old: the bounds below are hours away from any of them
for age in (3600, 10 * 86400, 365 * 86400):
    M.append('INBOX', None, imaplib.Time2Internaldate(now - age), b'Subject: x\\r\\n\\r\\nbody\\r\\n')
M.select('INBOX', readonly=True)
def search(*q):
    typ, data = M.search(None, *q)
    assert typ == 'OK', (typ, data)
    return data[0].decode()
assert search('YOUNGER', '86400') == '1'
assert search('OLDER', '86400') == '2 3'
assert search('OLDER', str(30 * 86400)) == '3'
assert search('YOUNGER', str(30 * 86400), 'OLDER', '86400') == '2'
assert search('NOT', 'YOUNGER', '86400') == '2 3'
typ, data = M.uid('SEARCH', 'YOUNGER', str(30 * 86400))
assert data[0] == b'1 2', data
for bad in (['YOUNGER', '0'], ['OLDER', 'x'], ['YOUNGER']):
    try:
        M.search(None, *bad)
        raise SystemExit('accepted %r' % bad)
    except imaplib.IMAP4.error:
        pass`);
});

test('PREVIEW: the text of the message, white space collapsed, at most 256 characters (python3 imaplib)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const long = 'word '.repeat(100);
  await srv.ctx.store.deliver([srv.user.id], Buffer.from(`Subject: a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n\r\n  Grüße,\r\n  Bob\r\n`));
  await srv.ctx.store.deliver([srv.user.id], Buffer.from(`Subject: b\r\nContent-Type: text/html\r\n\r\n<p>${long}</p>\r\n`));
  await srv.ctx.store.deliver([srv.user.id], Buffer.from('Subject: c\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n'));
  await assertPythonLoggedIn(srv, 'preview.py', `
assert 'PREVIEW' in caps, caps
M.select('INBOX')
typ, data = M.fetch('1', '(PREVIEW)')
assert data[0][1].decode('utf-8') == 'Hello Grüße, Bob', data
typ, data = M.fetch('2', '(UID PREVIEW (LAZY))')
assert data[0] == b'2 (UID 2 PREVIEW "' + ('word ' * 52)[:256].encode() + b'")', data
typ, data = M.fetch('3', 'PREVIEW')
assert data == [b'3 (PREVIEW "")'], data
# PREVIEW does not set \\Seen
typ, data = M.fetch('1:3', '(FLAGS)')
assert all(b'Seen' not in d for d in data), data
try:
    M.fetch('1', '(PREVIEW (FAST))')
    raise SystemExit('an unknown modifier was accepted')
except imaplib.IMAP4.error:
    pass`);
});

test('CREATE-SPECIAL-USE: CREATE with USE makes a special-use mailbox; unsupported uses NO [USEATTR] (python3 imaplib)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await assertPythonLoggedIn(srv, 'createuse.py', `
assert 'CREATE-SPECIAL-USE' in caps, caps
typ, data = M._simple_command('CREATE', 'Old/Drafts', '(USE (\\\\Drafts))')
assert typ == 'OK', (typ, data)
typ, data = M._simple_command('LIST', '(SPECIAL-USE)', '""', '"Old/*"')
typ, data = M._untagged_response(typ, data, 'LIST')
assert data == [b'(\\\\HasNoChildren \\\\Drafts) "/" "Old/Drafts"'], data
for use in ('(USE (\\\\All))', '(USE (\\\\Drafts \\\\Sent))', '(USE (\\\\Bogus))'):
    typ, data = M._simple_command('CREATE', 'Other', use)
    assert typ == 'NO' and b'[USEATTR]' in data[0], (use, typ, data)
typ, data = M.list('""', '"Other"')
assert data == [None], data`);
});

test('OBJECTID: MAILBOXID on CREATE, SELECT and STATUS, kept by RENAME; EMAILID kept by COPY and MOVE, searchable; unrelated messages in threads of their own (python3 imaplib)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await assertPythonLoggedIn(srv, 'objectid.py', `
import re
assert 'OBJECTID' in caps, caps
typ, data = M.create('Box')
mailboxid = re.match(rb'\\[MAILBOXID \\((F[0-9a-z]+)\\)\\]', data[0]).group(1)
def status_id(name):
    typ, data = M.status(name, '(MAILBOXID)')
    return re.search(rb'MAILBOXID \\((\\w+)\\)', data[0]).group(1)
assert status_id('Box') == mailboxid
M.rename('Box', 'Renamed')
assert status_id('Renamed') == mailboxid, 'RENAME keeps the MAILBOXID'
assert status_id('INBOX') != mailboxid
M.select('Renamed', readonly=True)
assert M.response('MAILBOXID')[1] == [b'(' + mailboxid + b')'], M.untagged_responses

M.append('INBOX', None, None, b'Subject: one\\r\\n\\r\\nbody\\r\\n')
M.append('INBOX', None, None, b'Subject: two\\r\\n\\r\\nbody\\r\\n')
M.select('INBOX')
typ, data = M.fetch('1:2', '(EMAILID THREADID)')
ids = [re.search(rb'EMAILID \\((E\\w+)\\) THREADID \\((T\\w+)\\)', d).group(1) for d in data]
threads = [re.search(rb'THREADID \\((T\\w+)\\)', d).group(1) for d in data]
assert ids[0] != ids[1], ids
assert threads[0] != threads[1], threads
typ, data = M.search(None, 'EMAILID', ids[1].decode())
assert data == [b'2'], data
typ, data = M.search(None, 'THREADID', 'T999999')
assert data == [b''], data
M.copy('1', 'Renamed')
M._simple_command('MOVE', '2', 'Renamed')
M.select('Renamed')
typ, data = M.fetch('1:2', '(EMAILID)')
assert [re.search(rb'EMAILID \\((E\\w+)\\)', d).group(1) for d in data] == ids, (data, ids)
typ, data = M.uid('SEARCH', 'EMAILID', ids[0].decode())
assert data == [b'1'], data
typ, data = M.search(None, 'NOT', 'EMAILID', ids[0].decode())
assert data == [b'2'], data
try:
    M.search(None, 'EMAILID', '"a b"')
    raise SystemExit('a malformed object id was accepted')
except imaplib.IMAP4.error:
    pass`);
});

test('OBJECTID THREADID: a reply chain across two folders shares one THREADID, kept by MOVE and COPY, searchable; other mail has its own (python3 imaplib)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await assertPythonLoggedIn(srv, 'threadid.py', `
import re
def msg(mid, refs=''):
    return ('Subject: x\\r\\nMessage-ID: <%s@example.org>\\r\\n%s\\r\\nbody\\r\\n' % (mid, refs)).encode()
M.create('Sent')
M.create('Archive')
M.append('INBOX', None, None, msg('root'))
M.append('Sent', None, None, msg('r1', 'In-Reply-To: <root@example.org>\\r\\n'))
M.append('INBOX', None, None, msg('unrelated'))
def thread_ids(box, seqs):
    M.select(box)
    typ, data = M.fetch(seqs, '(UID THREADID)')
    assert typ == 'OK', data
    return [re.search(rb'THREADID \\(([A-Za-z0-9_-]+)\\)', d).group(1).decode() for d in data]
root, unrelated = thread_ids('INBOX', '1:2')
assert root != unrelated, (root, unrelated)
assert thread_ids('Sent', '1') == [root]
# the root moves to Archive; a reply to the reply (in Sent), appended after, still joins the thread
M.select('INBOX')
typ, data = M._simple_command('MOVE', '1', 'Archive')
assert typ == 'OK', data
assert thread_ids('Archive', '1') == [root], 'MOVE keeps the THREADID'
M.append('INBOX', None, None, msg('r2', 'References: <root@example.org> <r1@example.org>\\r\\n'))
M.select('Sent')
M.copy('1', 'INBOX')
assert thread_ids('INBOX', '1:3') == [unrelated, root, root], 'a reply joins; COPY keeps the THREADID'
typ, data = M.uid('SEARCH', 'THREADID', root)
assert typ == 'OK' and len(data[0].split()) == 2, data
typ, data = M.search(None, 'NOT', 'THREADID', root)
assert data == [b'1'], data`);
});
