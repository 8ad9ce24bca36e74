// IMAP4rev2 pieces that extensions brought in: SEARCHRES (RFC 5182), UTF8 APPEND data
// (RFC 6855), literal8 with LITERAL+, and QRESYNC's sequence-match data (RFC 7162 3.2.5.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { imapflowClient, PASSWORD, RawClient, runPython, sampleMessage, startTestServer, type TestServer } from './helpers.js';

async function ready(srv: TestServer): Promise<RawClient> {
  const c = await RawClient.connect(srv.port);
  await c.readResponse();
  assert.match(await c.login(), /OK/);
  return c;
}

async function append(c: RawClient, raw: Buffer, extra = ''): Promise<string> {
  c.send(`ap APPEND INBOX ${extra}{${raw.length}+}\r\n`);
  c.send(Buffer.concat([raw, Buffer.from('\r\n')]));
  return (await c.until('ap')).tagged;
}

const flow = imapflowClient;

/** Five messages, UIDs 1..5, with 2 and 4 \Flagged; INBOX selected. */
async function fiveMessages(srv: TestServer): Promise<RawClient> {
  const c = await ready(srv);
  for (const s of ['m1', 'm2', 'm3', 'm4', 'm5']) assert.match(await append(c, sampleMessage(s), s === 'm2' || s === 'm4' ? '(\\Flagged) ' : ''), /OK/);
  assert.match((await c.command('SELECT INBOX')).tagged, /OK/);
  return c;
}

/** Tags vary with the number of commands before; the comparisons leave them out. */
const untag = (r: { untagged: string[]; tagged: string }) => ({
  untagged: r.untagged.map((l) => l.replace(/\(TAG "[^"]+"\)/, '(TAG)')),
  tagged: r.tagged.replace(/^\S+ /, ''),
});

const fetchedUids = (lines: string[]) => lines.map((l) => /^\* (\d+) FETCH \(UID (\d+)/.exec(l)).filter((m) => m).map((m) => `${m![1]}:${m![2]}`);

test('SEARCHRES: SAVE, "$" in FETCH/STORE/COPY/SEARCH and UID forms, MIN/MAX rules, resets', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await fiveMessages(srv);
  t.after(() => c.close());
  assert.match((await c.command('CAPABILITY')).untagged[0]!, / ESEARCH SEARCHRES /);

  // before any SAVE, "$" is valid and empty (RFC 5182 2.1)
  assert.deepEqual(untag(await c.command('FETCH $ (UID)')), { untagged: [], tagged: 'OK FETCH completed' });

  // SAVE alone: no SEARCH response at all
  assert.deepEqual(untag(await c.command('SEARCH RETURN (SAVE) FLAGGED')), { untagged: [], tagged: 'OK SEARCH completed, result saved' });
  assert.deepEqual(fetchedUids((await c.command('FETCH $ (UID)')).untagged), ['2:2', '4:4']);
  assert.deepEqual(fetchedUids((await c.command('UID FETCH $ (FLAGS)')).untagged), ['2:2', '4:4']);
  assert.deepEqual((await c.command('SEARCH $')).untagged, ['* SEARCH 2 4']);
  assert.deepEqual((await c.command('UID SEARCH UID $ SMALLER 100000')).untagged, ['* SEARCH 2 4']);
  assert.deepEqual((await c.command('SEARCH OR $ 1')).untagged, ['* SEARCH 1 2 4']);
  assert.deepEqual((await c.command('SEARCH NOT $')).untagged, ['* SEARCH 1 3 5']);
  assert.deepEqual(fetchedUids((await c.command('STORE $ +FLAGS (\\Seen)')).untagged), ['2:2', '4:4']);
  assert.deepEqual((await c.command('SEARCH SEEN')).untagged, ['* SEARCH 2 4']);
  assert.match((await c.command('CREATE Archive')).tagged, /OK/);
  assert.match((await c.command('COPY $ Archive')).tagged, /^t\d+ OK \[COPYUID \d+ 2,4 1:2\] COPY completed$/);
  // "$" only stands alone
  assert.match((await c.command('FETCH 1,$ (UID)')).tagged, /BAD/);

  // ESEARCH output is unchanged by SAVE; what is saved follows RFC 5182 2.4
  assert.deepEqual(untag(await c.command('UID SEARCH RETURN (SAVE MIN) FLAGGED')).untagged, ['* ESEARCH (TAG) UID MIN 2']);
  assert.deepEqual(fetchedUids((await c.command('FETCH $ (UID)')).untagged), ['2:2']);
  assert.deepEqual(untag(await c.command('SEARCH RETURN (MAX SAVE MIN) ALL')).untagged, ['* ESEARCH (TAG) MIN 1 MAX 5']);
  assert.deepEqual(fetchedUids((await c.command('FETCH $ (UID)')).untagged), ['1:1', '5:5']);
  assert.deepEqual(untag(await c.command('SEARCH RETURN (SAVE MIN COUNT) FLAGGED')).untagged, ['* ESEARCH (TAG) MIN 2 COUNT 2']);
  assert.deepEqual(fetchedUids((await c.command('FETCH $ (UID)')).untagged), ['2:2', '4:4']);

  // a BAD search leaves "$" alone; a NO search with SAVE empties it (RFC 5182 2.1)
  assert.match((await c.command('SEARCH RETURN (SAVE) NOSUCHKEY')).tagged, /^t\d+ BAD/);
  assert.deepEqual(fetchedUids((await c.command('FETCH $ (UID)')).untagged), ['2:2', '4:4']);
  assert.match((await c.command('SEARCH CHARSET KOI8-R $')).tagged, /^t\d+ NO \[BADCHARSET/);
  assert.deepEqual(fetchedUids((await c.command('FETCH $ (UID)')).untagged), ['2:2', '4:4'], 'a failed search without SAVE keeps it');
  assert.match((await c.command('SEARCH RETURN (SAVE) CHARSET KOI8-R ALL')).tagged, /^t\d+ NO \[BADCHARSET/);
  assert.deepEqual((await c.command('FETCH $ (UID)')).untagged, []);

  // expunged messages leave "$"; message numbers follow the expunge
  await c.command('SEARCH RETURN (SAVE) FLAGGED');
  await c.command('STORE 2 +FLAGS.SILENT (\\Deleted)');
  assert.deepEqual((await c.command('EXPUNGE')).untagged, ['* 2 EXPUNGE']);
  assert.deepEqual(fetchedUids((await c.command('FETCH $ (UID)')).untagged), ['3:4']);
  // UID EXPUNGE and MOVE take "$" too
  await c.command('UID STORE $ +FLAGS.SILENT (\\Deleted)');
  assert.deepEqual((await c.command('UID EXPUNGE $')).untagged, ['* 3 EXPUNGE']);
  await c.command('SEARCH RETURN (SAVE) UID 5');
  assert.match((await c.command('MOVE $ Archive')).untagged[0]!, /^\* OK \[COPYUID \d+ 5 3\] Moved$/);

  // SELECT, EXAMINE, UNSELECT and CLOSE start with an empty "$"
  for (const reopen of ['UNSELECT', 'CLOSE', 'EXAMINE INBOX', 'SELECT INBOX']) {
    await c.command('SELECT INBOX');
    await c.command('SEARCH RETURN (SAVE) ALL');
    assert.equal(fetchedUids((await c.command('FETCH $ (UID)')).untagged).length, 2);
    await c.command(reopen);
    if (!reopen.includes(' ')) await c.command('SELECT INBOX');
    assert.deepEqual((await c.command('FETCH $ (UID)')).untagged, [], reopen);
  }

  // IMAP4rev2 answers with ESEARCH, and still nothing for SAVE alone
  await c.command('ENABLE IMAP4rev2');
  assert.deepEqual((await c.command('SEARCH RETURN (SAVE) ALL')).untagged, []);
  assert.match((await c.command('SEARCH $')).untagged[0]!, /^\* ESEARCH \(TAG "t\d+"\) ALL 1:2$/);
});

const PY_SEARCHRES = `
import imaplib, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
M.login('alice@example.com', '${PASSWORD}')
assert b'SEARCHRES' in M.capability()[1][0]
M.create('Junk')
for i in range(4):
    flags = '(\\\\Flagged)' if i % 2 else None
    M.append('INBOX', flags, None, b'Subject: py %d\\r\\n\\r\\nbody\\r\\n' % i)
M.select('INBOX')
typ, data = M._simple_command('SEARCH', 'RETURN', '(SAVE)', 'FLAGGED')
assert typ == 'OK' and b'saved' in data[0], (typ, data)
assert M.untagged_responses.get('SEARCH') is None and M.untagged_responses.get('ESEARCH') is None
typ, data = M.fetch('$', '(UID)')
assert [d for d in data] == [b'2 (UID 2)', b'4 (UID 4)'], data
typ, data = M.copy('$', 'Junk')
assert typ == 'OK', data
typ, data = M.store('$', '+FLAGS', '\\\\Deleted')
assert len(data) == 2, data
typ, data = M.expunge()
assert data == [b'2', b'3'], data
typ, data = M.fetch('$', '(UID)')
assert typ == 'OK' and data == [None], data
M.select('Junk')
typ, data = M.uid('SEARCH', 'RETURN', '(SAVE)', 'ALL')
typ, data = M.uid('FETCH', '$', '(UID)')
assert len(data) == 2, data
M.logout()
print('searchres ok')
`;

test('python3 imaplib: SEARCH RETURN (SAVE) then FETCH, COPY, STORE on "$"', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const r = await runPython(srv, 'searchres.py', PY_SEARCHRES);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /searchres ok/);
});

test('UTF8 APPEND data after ENABLE UTF8=ACCEPT, BAD before; literal8 with LITERAL+', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv);
  t.after(() => c.close());
  const msg = Buffer.from('From: Jörg <jörg@example.org>\r\nTo: alice@example.com\r\nSubject: Grüße aus Köln\r\n\r\nÄpfel und Birnen\r\n');

  // not enabled: the UTF8 form is a syntax error (the non-synchronising literal is still read)
  c.send(Buffer.concat([Buffer.from(`u1 APPEND INBOX UTF8 (~{${msg.length}+}\r\n`), msg, Buffer.from(')\r\n')]));
  assert.equal((await c.until('u1')).tagged, 'u1 BAD UTF8 APPEND data needs ENABLE UTF8=ACCEPT');
  assert.deepEqual((await c.command('ENABLE UTF8=ACCEPT')).untagged, ['* ENABLED UTF8=ACCEPT']);

  // synchronising literal8 inside UTF8 ( )
  c.send(`u2 APPEND INBOX (\\Seen) UTF8 (~{${msg.length}}\r\n`);
  assert.match((await c.readResponse())!, /^\+ /);
  c.send(Buffer.concat([msg, Buffer.from(')\r\n')]));
  assert.match((await c.until('u2')).tagged, /^u2 OK \[APPENDUID \d+ 1\] APPEND completed$/);

  // with a date-time, LITERAL+, and two messages at once (MULTIAPPEND)
  c.send(Buffer.concat([
    Buffer.from(`u3 APPEND INBOX () "01-Jan-2020 10:00:00 +0000" UTF8 (~{${msg.length}+}\r\n`), msg,
    Buffer.from(`) UTF8 (~{${msg.length}+}\r\n`), msg, Buffer.from(')\r\n'),
  ]));
  assert.match((await c.until('u3')).tagged, /^u3 OK \[APPENDUID \d+ 2:3\]/);
  for (const bad of ['UTF8 "x"', 'UTF8 ()', 'UTF8']) assert.match((await c.command(`APPEND INBOX ${bad}`)).tagged, /BAD/, bad);
  // RFC 6855 section 4: UTF8 ( literal8 ), an ordinary literal is a syntax error
  c.send(Buffer.concat([Buffer.from(`u5 APPEND INBOX UTF8 ({${msg.length}+}\r\n`), msg, Buffer.from(')\r\n')]));
  assert.equal((await c.until('u5')).tagged, 'u5 BAD Expected UTF8 (literal8)');

  // BINARY (RFC 3516): literal8 "~{n+}" carries NUL bytes
  const binary = Buffer.concat([Buffer.from('Subject: bin\r\nContent-Type: application/octet-stream\r\n\r\n'), Buffer.from([0, 1, 2, 0, 255]), Buffer.from('\r\n')]);
  c.send(Buffer.concat([Buffer.from(`u4 APPEND INBOX ~{${binary.length}+}\r\n`), binary, Buffer.from('\r\n')]));
  assert.match((await c.until('u4')).tagged, /^u4 OK \[APPENDUID \d+ 4\]/);

  await c.command('SELECT INBOX');
  const r = await c.command('FETCH 1:4 (INTERNALDATE BODY.PEEK[])');
  const bodies = r.untagged.map((l) => Buffer.from(l.replace(/^[^\n]*\{\d+\}\r\n/, '').replace(/\)$/, ''), 'latin1'));
  assert.deepEqual(bodies.slice(0, 3), [msg, msg, msg], 'stored byte for byte');
  // an ordinary literal never carries NUL (RFC 3516 4.2): each stands in as 0x80; BINARY gets the bytes
  assert.deepEqual(bodies[3], Buffer.from(binary.map((b) => (b === 0 ? 0x80 : b))));
  const bin = (await c.command('FETCH 4 (BINARY.PEEK[])')).untagged[0]!;
  assert.deepEqual(Buffer.from(bin.replace(/^[^\n]*~\{\d+\}\r\n/, '').replace(/\)$/, ''), 'latin1'), binary);
  assert.match(r.untagged[1]!, /INTERNALDATE "01-Jan-2020 10:00:00 \+0000"/);
  assert.deepEqual((await c.command('SEARCH SUBJECT "Grüße"')).untagged, ['* SEARCH 1 2 3']);
});

test('imapflow appends a message with NUL bytes as literal8 and reads it back unchanged', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = flow(srv);
  await c.connect();
  t.after(() => c.logout().catch(() => undefined));
  const raw = Buffer.concat([Buffer.from('Subject: nul\r\nContent-Type: application/octet-stream\r\n\r\n'), Buffer.from([0, 0, 7, 0]), Buffer.from('\r\n')]);
  const res = await c.append('INBOX', raw);
  assert.ok(res && res.uid === 1);
  const lock = await c.getMailboxLock('INBOX');
  try {
    // BINARY (RFC 3516): only there may NUL travel, in a literal8
    const m = await c.fetchOne('1', { source: true }, { binary: true });
    assert.ok(m && m.source && m.source.equals(raw));
  } finally {
    lock.release();
  }
});

/** Five messages (UIDs 1..5), then 2 and 4 expunged; returns UIDVALIDITY and the MODSEQ before. */
async function expungedTwoAndFour(srv: TestServer): Promise<{ c: RawClient; uv: number; hms: number }> {
  const c = await fiveMessages(srv);
  // STATUS HIGHESTMODSEQ is the first CONDSTORE-enabling command: the selected mailbox's OK [HIGHESTMODSEQ] comes first
  const st = (await c.command('STATUS INBOX (UIDVALIDITY HIGHESTMODSEQ)')).untagged.find((l) => l.startsWith('* STATUS'))!;
  const uv = Number(/UIDVALIDITY (\d+)/.exec(st)![1]);
  const hms = Number(/HIGHESTMODSEQ (\d+)/.exec(st)![1]);
  await c.command('UID STORE 2,4 +FLAGS.SILENT (\\Deleted)');
  await c.command('EXPUNGE');
  await c.command('UNSELECT');
  // STATUS HIGHESTMODSEQ enabled CONDSTORE already (RFC 7162 3.1)
  assert.deepEqual((await c.command('ENABLE QRESYNC')).untagged, ['* ENABLED QRESYNC']);
  return { c, uv, hms };
}

const vanished = (lines: string[]) => lines.filter((l) => l.startsWith('* VANISHED'));

test('QRESYNC: VANISHED (EARLIER) narrowed by known UIDs and sequence-match data', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const { c, uv, hms } = await expungedTwoAndFour(srv);
  t.after(() => c.close());
  const select = async (param: string) => {
    const r = await c.command(`SELECT INBOX (QRESYNC (${param}))`);
    assert.match(r.tagged, /OK \[READ-WRITE\]/, param);
    return r.untagged;
  };
  assert.deepEqual(vanished(await select(`${uv} ${hms}`)), ['* VANISHED (EARLIER) 2,4']);
  assert.deepEqual(vanished(await select(`${uv} ${hms} 3:5`)), ['* VANISHED (EARLIER) 4']);
  // (1,1) and (2,3) still match: the client knows every expunge up to UID 3
  assert.deepEqual(vanished(await select(`${uv} ${hms} 1:5 (1:2 1,3)`)), ['* VANISHED (EARLIER) 4']);
  assert.deepEqual(vanished(await select(`${uv} ${hms} (1:3 1,3,5)`)), []);
  // (2,2) no longer matches (message 2 is UID 3 now): only UID 1 counts as known
  assert.deepEqual(vanished(await select(`${uv} ${hms} 1:5 (1:2 1,2)`)), ['* VANISHED (EARLIER) 2,4']);
  // a pair past the end of the mailbox does not match either
  assert.deepEqual(vanished(await select(`${uv} ${hms} 1:5 (1,7 1,9)`)), ['* VANISHED (EARLIER) 2,4']);
  // another UIDVALIDITY: the rest of the parameter is ignored
  assert.deepEqual(vanished(await select(`${uv + 1} ${hms} 1:5`)), []);

  // flag changes are reported for known UIDs only
  await c.command('UID STORE 1,5 +FLAGS.SILENT (\\Answered)');
  const lines = await select(`${uv} ${hms} 5`);
  assert.deepEqual(lines.filter((l) => / FETCH /.test(l)).map((l) => /UID (\d+)/.exec(l)![1]), ['5']);
  assert.deepEqual(vanished(lines), []);
});

test('QRESYNC: malformed parameters are BAD and leave no mailbox selected', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const { c, uv, hms } = await expungedTwoAndFour(srv);
  t.after(() => c.close());
  const bad = [
    `${uv}`, `0 ${hms}`, `${uv} 0`, `${uv} x`, `${uv} ${hms} 1:*`, `${uv} ${hms} 1:5 (1:2 1)`, `${uv} ${hms} 1:5 (2,1 3,1)`,
    `${uv} ${hms} 1:5 (1:* 1:*)`, `${uv} ${hms} 1:5 (1:2)`, `${uv} ${hms} (1:2 1,3) 1:5`, `${uv} ${hms} 1:5 (1:2 1,3) 7`,
    `${uv} ${hms} 1:5 (1:2 3,1)`, `${uv} ${hms} 99999999999999999999`,
  ];
  for (const param of bad) {
    const r = await c.command(`SELECT INBOX (QRESYNC (${param}))`);
    assert.match(r.tagged, /^t\d+ BAD /, param);
    assert.deepEqual(r.untagged, [], param);
    assert.match((await c.command('FETCH 1 (UID)')).tagged, /BAD .*Select a mailbox first/, param);
  }
  assert.match((await c.command(`SELECT INBOX (QRESYNC ${uv})`)).tagged, /BAD/);
  assert.match((await c.command('SELECT INBOX (QRESYNC)')).tagged, /BAD/);
});

test('imapflow: QRESYNC SELECT reports what vanished while it was away', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const { c, uv, hms } = await expungedTwoAndFour(srv);
  c.close();
  const f = flow(srv, { qresync: true });
  await f.connect();
  t.after(() => f.logout().catch(() => undefined));
  const gone: Array<{ uid: number; earlier: boolean }> = [];
  f.on('expunge', (e: { uid: number; earlier: boolean }) => gone.push({ uid: e.uid, earlier: e.earlier }));
  const box = await f.mailboxOpen('INBOX', { uidValidity: BigInt(uv), changedSince: BigInt(hms) } as never);
  assert.equal(box.exists, 3);
  assert.deepEqual(gone, [{ uid: 2, earlier: true }, { uid: 4, earlier: true }]);
});

/** RFC 5258 section 5's hierarchy: Fruit/Peach subscribed but deleted, Fruit not subscribed. */
async function fruitAndVegetables(srv: TestServer): Promise<RawClient> {
  const c = await ready(srv);
  for (const name of ['Fruit/Apple', 'Fruit/Banana', 'Fruit/Peach', 'Tofu', 'Vegetable/Broccoli', 'Vegetable/Corn']) {
    assert.match((await c.command(`CREATE "${name}"`)).tagged, /OK/); // CREATE does not subscribe (RFC 3501)
  }
  for (const name of ['Fruit/Banana', 'Fruit/Peach', 'Vegetable', 'Vegetable/Broccoli']) {
    assert.match((await c.command(`SUBSCRIBE "${name}"`)).tagged, /OK/);
  }
  // the account's own folders start subscribed
  for (const name of ['Drafts', 'Sent Items', 'Deleted Items', 'Junk Email']) {
    assert.match((await c.command(`UNSUBSCRIBE "${name}"`)).tagged, /OK/);
  }
  assert.match((await c.command('DELETE "Fruit/Peach"')).tagged, /OK/);
  return c;
}

test('LIST (SUBSCRIBED): a deleted mailbox keeps its subscription and lists as \\NonExistent; LSUB and RETURN (SUBSCRIBED) per RFC 3501/5258', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await fruitAndVegetables(srv);
  t.after(() => c.close());
  assert.deepEqual((await c.command('LIST (SUBSCRIBED) "" "*"')).untagged, [
    '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
    '* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Banana"',
    '* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" "Fruit/Peach"',
    '* LIST (\\HasChildren \\Subscribed) "/" "Vegetable"',
    '* LIST (\\HasNoChildren \\Subscribed) "/" "Vegetable/Broccoli"',
  ]);
  // without the SUBSCRIBED selection option only existing mailboxes are listed (RFC 5258 example 6)
  assert.deepEqual((await c.command('LIST "" "Fruit/*" RETURN (SUBSCRIBED)')).untagged, [
    '* LIST (\\HasNoChildren) "/" "Fruit/Apple"',
    '* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Banana"',
  ]);
  // LSUB lists the name without attributes; "\Noselect" keeps its LSUB meaning for "%"
  assert.deepEqual((await c.command('LSUB "" "Fruit/*"')).untagged, ['* LSUB () "/" "Fruit/Banana"', '* LSUB () "/" "Fruit/Peach"']);
  assert.deepEqual((await c.command('LSUB "" "%"')).untagged, ['* LSUB () "/" "INBOX"', '* LSUB (\\Noselect) "/" "Fruit"', '* LSUB () "/" "Vegetable"']);

  // RECURSIVEMATCH: parents of subscribed names the pattern does not reach, with CHILDINFO
  assert.deepEqual((await c.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')).untagged, [
    '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
    '* LIST (\\HasChildren) "/" "Fruit" ("CHILDINFO" ("SUBSCRIBED"))',
    '* LIST (\\HasChildren \\Subscribed) "/" "Vegetable" ("CHILDINFO" ("SUBSCRIBED"))',
  ]);
  assert.match((await c.command('LIST (RECURSIVEMATCH) "" "%"')).tagged, /^t\d+ BAD RECURSIVEMATCH needs another selection option$/);
  assert.match((await c.command('LIST (REMOTE RECURSIVEMATCH) "" "%"')).tagged, /BAD/);

  // a parent that does not exist at all (RFC 5258 example 8 A2)
  await c.command('CREATE "Gone/Child"');
  await c.command('SUBSCRIBE "Gone/Child"');
  await c.command('DELETE "Gone/Child"');
  await c.command('DELETE "Gone"');
  await c.command('UNSUBSCRIBE "Gone"');
  assert.deepEqual((await c.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" "G%"')).untagged, ['* LIST (\\NonExistent \\HasNoChildren) "/" "Gone" ("CHILDINFO" ("SUBSCRIBED"))']);
  assert.deepEqual((await c.command('LIST "" "G*"')).untagged, []);

  // RENAME takes the subscription along; UNSUBSCRIBE removes one whose mailbox is gone
  assert.match((await c.command('RENAME "Vegetable/Broccoli" "Vegetable/Kale"')).tagged, /OK/);
  assert.deepEqual((await c.command('LIST (SUBSCRIBED) "" "Vegetable/*"')).untagged, ['* LIST (\\HasNoChildren \\Subscribed) "/" "Vegetable/Kale"']);
  assert.match((await c.command('UNSUBSCRIBE "Fruit/Peach"')).tagged, /OK/);
  assert.deepEqual((await c.command('LIST (SUBSCRIBED) "" "Fruit/*"')).untagged, ['* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Banana"']);
  // SUBSCRIBE still wants an existing mailbox
  assert.match((await c.command('SUBSCRIBE "Fruit/Peach"')).tagged, /NO \[NONEXISTENT\]/);
  // re-creating the mailbox makes the name exist again
  await c.command('CREATE "Gone/Child"');
  assert.deepEqual((await c.command('LIST (SUBSCRIBED) "" "Gone/*"')).untagged, ['* LIST (\\HasNoChildren \\Subscribed) "/" "Gone/Child"']);
});

const PY_LSUB = `
import imaplib, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
M.login('alice@example.com', '${PASSWORD}')
typ, data = M.lsub('""', '"Fruit/*"')
assert data == [b'() "/" "Fruit/Banana"', b'() "/" "Fruit/Peach"'], data
typ, data = M._simple_command('LIST', '(SUBSCRIBED)', '""', '"Fruit/*"')
typ, data = M._untagged_response(typ, data, 'LIST')
assert b'(\\\\NonExistent \\\\HasNoChildren \\\\Subscribed) "/" "Fruit/Peach"' in data, data
typ, data = M.list('""', '"Fruit/*"')
assert not any(b'Peach' in d for d in data), data
M.logout()
print('lsub ok')
`;

test('python3 imaplib: LSUB and LIST (SUBSCRIBED) show a subscribed mailbox that was deleted', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await fruitAndVegetables(srv);
  c.close();
  const r = await runPython(srv, 'lsub.py', PY_LSUB);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /lsub ok/);
});

test('imapflow: list() leaves out a subscribed mailbox that was deleted', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const f = flow(srv);
  await f.connect();
  t.after(() => f.logout().catch(() => undefined));
  await f.mailboxCreate('Gone');
  await f.mailboxCreate('Kept');
  await f.mailboxDelete('Gone');
  assert.deepEqual(await srv.ctx.store.listSubscriptions(srv.user.id).then((n) => n.filter((x) => x === 'Gone' || x === 'Kept')), ['Gone', 'Kept']);
  const boxes = await f.list();
  assert.ok(boxes.some((b) => b.path === 'Kept' && b.subscribed));
  assert.ok(!boxes.some((b) => b.path === 'Gone'), JSON.stringify(boxes.map((b) => b.path)));
});
