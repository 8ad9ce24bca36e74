// Exact protocol behaviour, command by command, seen through a raw client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, PASSWORD, eventually, sampleMessage, startTestServer, type TestServer } from './helpers.js';

async function ready(srv: TestServer, login = true): Promise<RawClient> {
  const c = await RawClient.connect(srv.port);
  await c.readResponse();
  if (login) assert.match(await c.login(), /OK/);
  return c;
}

async function append(c: RawClient, box: string, raw: Buffer, extra = ''): Promise<string> {
  c.send(`ap APPEND ${box} ${extra}{${raw.length}+}\r\n`);
  c.send(Buffer.concat([raw, Buffer.from('\r\n')]));
  return (await c.until('ap')).tagged;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('SecureLogin: LOGINDISABLED and PRIVACYREQUIRED before STARTTLS, logon after it', async (t) => {
  const srv = await startTestServer({ secureLogin: true });
  t.after(() => srv.close());
  const c = await RawClient.connect(srv.port);
  t.after(() => c.close());
  const greeting = (await c.readResponse())!;
  assert.match(greeting, /^\* OK \[CAPABILITY .*STARTTLS.*LOGINDISABLED\] The Mailwarden IMAP4 service is ready\.$/);
  assert.doesNotMatch(greeting, /AUTH=PLAIN/);
  assert.equal(await c.login(), 't1 NO [PRIVACYREQUIRED] Use STARTTLS (or the TLS port) before logging in');
  assert.match((await c.command(`AUTHENTICATE PLAIN ${b64(`\0alice@example.com\0${PASSWORD}`)}`)).tagged, /NO \[PRIVACYREQUIRED\]/);
  assert.match((await c.command('STARTTLS')).tagged, /^t3 OK Begin TLS/);
  await c.startTls(srv.ctx.tls.cert);
  const caps = (await c.command('CAPABILITY')).untagged[0]!;
  assert.match(caps, /AUTH=PLAIN AUTH=LOGIN/);
  assert.doesNotMatch(caps, /STARTTLS|LOGINDISABLED/);
  assert.match((await c.command('STARTTLS')).tagged, /BAD/);
  assert.match(await c.login(), /^t6 OK \[CAPABILITY .*COMPRESS=DEFLATE.*\] alice@example.com authenticated$/);
});

test('AUTHENTICATE PLAIN (SASL-IR and continuation), LOGIN mechanism, failures and cancel', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv, false);
  t.after(() => c.close());
  assert.match((await c.command(`AUTHENTICATE PLAIN ${b64(`\0alice@example.com\0wrong`)}`)).tagged, /^t1 NO \[AUTHENTICATIONFAILED\] Authentication failed$/);
  c.send('a2 AUTHENTICATE PLAIN\r\n');
  assert.equal(await c.readResponse(), '+ ');
  c.send('*\r\n');
  assert.match((await c.readResponse())!, /^a2 BAD Authentication cancelled/);
  c.send('a3 AUTHENTICATE LOGIN\r\n');
  assert.equal(await c.readResponse(), `+ ${b64('Username:')}`);
  c.send(`${b64('alice')}\r\n`); // the alias works as a logon name too
  assert.equal(await c.readResponse(), `+ ${b64('Password:')}`);
  c.send(`${b64(PASSWORD)}\r\n`);
  assert.match((await c.readResponse())!, /^a3 OK \[CAPABILITY /);
  const d = await ready(srv, false);
  t.after(() => d.close());
  d.send('a1 AUTHENTICATE PLAIN\r\n');
  assert.equal(await d.readResponse(), '+ ');
  d.send(`${b64(`alice@example.com\0alice@example.com\0${PASSWORD}`)}\r\n`);
  assert.match((await d.readResponse())!, /^a1 OK/);
});

test('LIST, LSUB, LIST-EXTENDED, LIST-STATUS, hierarchy, modified UTF-7 and UTF8=ACCEPT names', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv);
  t.after(() => c.close());
  assert.deepEqual((await c.command('LIST "" ""')).untagged, ['* LIST (\\Noselect) "/" ""']);
  assert.match((await c.command('CREATE "Projects/2024/Q1"')).tagged, /OK/);
  assert.match((await c.command('SUBSCRIBE "Projects/2024/Q1"')).tagged, /OK/); // CREATE does not subscribe (RFC 3501)
  assert.match((await c.command('CREATE "&AMQ-rger"')).tagged, /OK/); // "Ärger"
  assert.ok(await srv.ctx.store.getFolder(srv.user.id, 'Ärger'));
  assert.match((await c.command('CREATE INBOX')).tagged, /NO \[ALREADYEXISTS\]/);
  let r = await c.command('LIST "" "%"');
  assert.ok(r.untagged.includes('* LIST (\\HasChildren) "/" "Projects"'), JSON.stringify(r.untagged));
  assert.ok(r.untagged.includes('* LIST (\\HasNoChildren) "/" "&AMQ-rger"'));
  assert.ok(!r.untagged.some((l) => l.includes('Q1')));
  r = await c.command('LIST "Projects/" "*"');
  assert.deepEqual(r.untagged, ['* LIST (\\HasChildren) "/" "Projects/2024"', '* LIST (\\HasNoChildren) "/" "Projects/2024/Q1"']);
  assert.deepEqual((await c.command('LIST "" inbox')).untagged, ['* LIST (\\HasNoChildren) "/" "INBOX"']);
  r = await c.command('LIST (SPECIAL-USE) "" "*"');
  assert.deepEqual(r.untagged.sort(), [
    '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"', '* LIST (\\HasNoChildren \\Junk) "/" "Junk Email"',
    '* LIST (\\HasNoChildren \\Sent) "/" "Sent Items"', '* LIST (\\HasNoChildren \\Trash) "/" "Deleted Items"',
  ].sort());
  r = await c.command('LIST "" ("INBOX" "Drafts") RETURN (SUBSCRIBED STATUS (MESSAGES UNSEEN))');
  assert.deepEqual(r.untagged, [
    '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"', '* STATUS "INBOX" (MESSAGES 0 UNSEEN 0)',
    '* LIST (\\HasNoChildren \\Drafts \\Subscribed) "/" "Drafts"', '* STATUS "Drafts" (MESSAGES 0 UNSEEN 0)',
  ]);
  await c.command('SUBSCRIBE "Projects/2024"');
  assert.deepEqual((await c.command('LSUB "" "Projects/%"')).untagged, ['* LSUB () "/" "Projects/2024"']);
  await c.command('UNSUBSCRIBE "Projects/2024"');
  // "Projects/2024/Q1" is still subscribed: "%" stops above it, so LSUB names its parent \Noselect (RFC 3501 6.3.9)
  assert.deepEqual((await c.command('LSUB "" "Projects/%"')).untagged, ['* LSUB (\\Noselect) "/" "Projects/2024"']);
  await c.command('UNSUBSCRIBE "Projects/2024/Q1"');
  assert.deepEqual((await c.command('LSUB "" "Projects/%"')).untagged, []);
  // DELETE keeps children: the name lives on as \Noselect (RFC 3501 6.3.4)
  await c.command('DELETE "Projects/2024"');
  assert.deepEqual((await c.command('LIST "" "Projects/*"')).untagged, ['* LIST (\\Noselect \\HasChildren) "/" "Projects/2024"', '* LIST (\\HasNoChildren) "/" "Projects/2024/Q1"']);
  assert.match((await c.command('RENAME "Projects" "Archive/Projects"')).tagged, /OK/);
  assert.ok(await srv.ctx.store.getFolder(srv.user.id, 'Archive/Projects/2024/Q1'));
  assert.match((await c.command('RENAME "Nope" "Other"')).tagged, /NO \[NONEXISTENT\]/);
  assert.deepEqual((await c.command('ENABLE UTF8=ACCEPT')).untagged, ['* ENABLED UTF8=ACCEPT']);
  assert.deepEqual((await c.command('LIST "" "Ä*"')).untagged.map((l) => Buffer.from(l, 'latin1').toString('utf8')), ['* LIST (\\HasNoChildren) "/" "Ärger"']);
});

test('SELECT/EXAMINE responses, FETCH items and sections, \\Seen, STORE, CONDSTORE, UID EXPUNGE, MULTIAPPEND', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv);
  t.after(() => c.close());
  const mp = Buffer.from(
    'Subject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n' +
      '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC/w==\r\n--b--\r\n',
  );
  const plain = sampleMessage('plain', 'plain body\r\n', 'X-Extra: yes\r\n');
  c.send(`m1 APPEND INBOX (\\Seen) {${mp.length}+}\r\n`);
  c.send(mp);
  c.send(` (\\Draft) "01-Jan-2020 10:00:00 +0100" {${plain.length}+}\r\n`);
  c.send(Buffer.concat([plain, Buffer.from('\r\n')]));
  assert.match((await c.until('m1')).tagged, /^m1 OK \[APPENDUID \d+ 1:2\]/);

  const ex = await c.command('EXAMINE INBOX');
  assert.ok(ex.untagged.includes('* 2 EXISTS'));
  assert.ok(ex.untagged.includes('* 2 RECENT'), 'nobody claimed them: EXAMINE shows them, and leaves them recent');
  assert.ok(ex.untagged.includes('* OK [PERMANENTFLAGS ()] Flags permitted'));
  assert.ok(ex.untagged.includes('* OK [UNSEEN 2] First unseen'));
  assert.match(ex.tagged, /OK \[READ-ONLY\]/);
  assert.match((await c.command('STORE 1 +FLAGS (\\Flagged)')).tagged, /NO/);
  await c.command('FETCH 2 BODY[TEXT]');
  assert.deepEqual((await c.command('FETCH 2 FLAGS')).untagged, ['* 2 FETCH (FLAGS (\\Draft \\Recent))'], 'EXAMINE never sets \\Seen');

  const sel = await c.command('SELECT INBOX');
  assert.ok(sel.untagged.some((l) => l.startsWith('* OK [CLOSED]')));
  assert.match(sel.tagged, /OK \[READ-WRITE\]/);
  assert.ok(sel.untagged.includes('* 2 RECENT'), 'EXAMINE left both messages \\Recent for the first SELECT');
  let r = await c.command('FETCH 1 (BODY.PEEK[1] BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[1.MIME] BODY.PEEK[]<0.13>)');
  assert.equal(r.untagged[0], '* 1 FETCH (BODY[1] {10}\r\nfirst part BINARY[2] ~{4}\r\n\x00\x01\x02\xff BINARY.SIZE[2] 4 BODY[1.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n BODY[]<0> {13}\r\nSubject: part)');
  r = await c.command('UID FETCH 2 (INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS.NOT (From To Date Message-ID MIME-Version Content-Type)])');
  assert.equal(r.untagged[0], `* 2 FETCH (UID 2 INTERNALDATE "01-Jan-2020 09:00:00 +0000" RFC822.SIZE ${plain.length} BODY[HEADER.FIELDS.NOT (From To Date Message-ID MIME-Version Content-Type)] {32}\r\nSubject: plain\r\nX-Extra: yes\r\n\r\n)`);
  r = await c.command('FETCH 2 (BODY[TEXT])');
  assert.equal(r.untagged[0], '* 2 FETCH (BODY[TEXT] {12}\r\nplain body\r\n FLAGS (\\Draft \\Seen \\Recent))');
  r = await c.command('FETCH 2 (BODY ENVELOPE)');
  assert.match(r.untagged[0]!, /^\* 2 FETCH \(BODY \("TEXT" "PLAIN" \("CHARSET" "utf-8"\) NIL NIL "7BIT" 12 1\) ENVELOPE \("Mon, 7 Feb 1994 21:52:25 -0800" "plain" /);

  r = await c.command('FETCH 1:2 (UID MODSEQ)');
  // the first CONDSTORE-enabling command while selected: its HIGHESTMODSEQ first (RFC 7162 3.1)
  assert.match(r.untagged.shift()!, /^\* OK \[HIGHESTMODSEQ \d+\]/);
  const m1 = Number(/MODSEQ \((\d+)\)/.exec(r.untagged[0]!)![1]);
  r = await c.command(`STORE 1:2 (UNCHANGEDSINCE ${m1}) +FLAGS (\\Answered)`);
  assert.match(r.tagged, /^t\d+ OK \[MODIFIED 2\] Conditional STORE failed for some messages$/);
  assert.match(r.untagged[0]!, /^\* 1 FETCH \(UID 1 FLAGS \(\\Seen \\Answered \\Recent\) MODSEQ \(\d+\)\)$/);
  r = await c.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${m1})`);
  assert.equal(r.untagged.length, 2);
  r = await c.command('SEARCH RETURN (MIN MAX COUNT ALL) OR ANSWERED DRAFT');
  assert.match(r.untagged[0]!, /^\* ESEARCH \(TAG "t\d+"\) MIN 1 MAX 2 ALL 1:2 COUNT 2$/);
  assert.deepEqual((await c.command('SEARCH NOT LARGER 300 HEADER X-Extra yes')).untagged, ['* SEARCH 2']);
  assert.deepEqual((await c.command('SEARCH SENTON 7-Feb-1994 BEFORE 2-Jan-2020')).untagged, ['* SEARCH 2']);
  assert.deepEqual((await c.command('UID SEARCH UID 2:* TEXT "PLAIN BODY"')).untagged, ['* SEARCH 2']);
  assert.deepEqual((await c.command('SEARCH *')).untagged, ['* SEARCH 2']);
  assert.match((await c.command('SEARCH MODSEQ 1')).untagged[0]!, /^\* SEARCH 1 2 \(MODSEQ \d+\)$/);

  await c.command('STORE 1:2 +FLAGS.SILENT (\\Deleted)');
  assert.deepEqual((await c.command('UID EXPUNGE 2')).untagged, ['* 2 EXPUNGE']);
  const st = await c.command('STATUS INBOX (MESSAGES UIDNEXT UNSEEN DELETED SIZE)');
  assert.equal(st.untagged[0], `* STATUS "INBOX" (MESSAGES 1 UIDNEXT 3 UNSEEN 0 DELETED 1 SIZE ${mp.length})`);
  assert.match((await c.command('CLOSE')).tagged, /OK/);
  assert.equal((await c.command('STATUS INBOX (MESSAGES)')).untagged[0], '* STATUS "INBOX" (MESSAGES 0)');
  assert.match(await append(c, 'INBOX', sampleMessage('x')), /OK/);
});

test('ID before (or after) logon is recorded as the session\'s client; NAMESPACE, GETQUOTA', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv, false);
  t.after(() => c.close());
  const id = await c.command('ID ("name" "Thunderbird" "version" "128.0")');
  assert.match(id.untagged[0]!, /^\* ID \("name" "Mailwarden"/);
  await c.login();
  const [s] = await srv.ctx.governor.list({ userId: srv.user.id });
  assert.equal(s!.clientInfo, 'Thunderbird 128.0');
  // an ID after logon updates the listing too (through the accounting, where the record lives)
  await c.command('ID ("name" "Thunderbird" "version" "140.1")');
  assert.equal((await srv.ctx.governor.list({ userId: srv.user.id }))[0]!.clientInfo, 'Thunderbird 140.1');
  assert.deepEqual((await c.command('NAMESPACE')).untagged, ['* NAMESPACE (("" "/")) NIL NIL']);
  assert.deepEqual((await c.command('GETQUOTA ""')).untagged, ['* QUOTA "" (STORAGE 0 2097152)']);
  assert.match((await c.command('SETQUOTA "" (STORAGE 1)')).tagged, /NO/);
});

test('pipelined commands followed by FIN are all answered (half-close)', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const { default: net } = await import('node:net');
  const out = await new Promise<string>((resolve) => {
    let text = '';
    const s = net.connect(srv.port, '127.0.0.1', () => s.end(`a LOGIN alice@example.com "${PASSWORD}"\r\nb SELECT INBOX\r\nc LOGOUT\r\n`));
    s.on('data', (d) => (text += d));
    s.on('close', () => resolve(text));
  });
  assert.match(out, /\r\na OK .*\r\n[^]*\r\nb OK \[READ-WRITE\][^]*\r\nc OK LOGOUT completed\r\n$/);
});

test('COMPRESS=DEFLATE: everything after the tagged OK is deflated both ways', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv);
  t.after(() => c.close());
  assert.equal((await c.command('COMPRESS DEFLATE')).tagged, 't2 OK DEFLATE active');
  const zlib = await import('node:zlib');
  const deflate = zlib.createDeflateRaw();
  const inflate = zlib.createInflateRaw();
  c.socket.removeAllListeners('data');
  c.socket.on('data', (d: Buffer) => inflate.write(d));
  deflate.on('data', (d: Buffer) => c.socket.write(d));
  let text = '';
  inflate.on('data', (d: Buffer) => (text += d.toString('latin1')));
  deflate.write('z1 SELECT INBOX\r\nz2 COMPRESS DEFLATE\r\n');
  deflate.flush(zlib.constants.Z_SYNC_FLUSH);
  await eventually(() => text.includes('z2 '));
  assert.match(text, /z1 OK \[READ-WRITE\] SELECT completed\r\n/);
  assert.match(text, /z2 NO \[COMPRESSIONACTIVE\]/);
});
