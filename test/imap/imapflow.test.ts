// A real client library (imapflow: STARTTLS, COMPRESS, CONDSTORE, IDLE, UIDPLUS, MOVE) against the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { PASSWORD, eventually, idling, sampleMessage, startTestServer, type TestServer } from './helpers.js';

function client(srv: TestServer, extra: Record<string, unknown> = {}): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1', port: srv.port, secure: false, logger: false,
    auth: { user: 'alice@example.com', pass: PASSWORD },
    tls: { ca: [srv.ctx.tls.cert], servername: 'localhost' },
    ...extra,
  });
}

/** A message with 8-bit text and a base64 attachment, to check bytes come back unchanged. */
function multipart(): Buffer {
  return Buffer.from(
    'From: Bob <bob@example.org>\r\nTo: alice@example.com\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      'Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n--XX\r\nContent-Type: application/octet-stream; name="b.bin"\r\n' +
      'Content-Disposition: attachment; filename="b.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      Buffer.from([0, 1, 2, 255, 254, 13, 10, 0]).toString('base64') + '\r\n--XX--\r\n',
  );
}

test('imapflow over STARTTLS with SecureLogin: list, append, fetch, flags, search, copy, move, expunge', async (t) => {
  const srv = await startTestServer({ secureLogin: true });
  t.after(() => srv.close());
  const c = client(srv);
  await c.connect();
  t.after(() => c.logout().catch(() => undefined));
  assert.equal((c as unknown as { secureConnection: boolean }).secureConnection, true, 'upgraded with STARTTLS');

  const boxes = await c.list();
  const byUse = Object.fromEntries(boxes.map((b) => [b.specialUse ?? b.path, b.path]));
  assert.equal(byUse['\\Inbox'], 'INBOX');
  assert.equal(byUse['\\Sent'], 'Sent Items');
  assert.equal(byUse['\\Trash'], 'Deleted Items');

  await c.mailboxCreate('Projekte/Köln');
  assert.ok((await c.list()).some((b) => b.path === 'Projekte/Köln'));

  const raw1 = multipart();
  const raw2 = sampleMessage('second', 'needle in the body\r\n');
  const r1 = await c.append('INBOX', raw1, ['\\Seen']);
  const r2 = await c.append('INBOX', raw2);
  assert.ok(r1 && r2 && r1.uid === 1 && r2.uid === 2);

  const lock = await c.getMailboxLock('INBOX');
  try {
    const got: Buffer[] = [];
    for await (const m of c.fetch('1:*', { source: true, flags: true, envelope: true, bodyStructure: true, uid: true })) {
      got.push(m.source!);
      if (m.uid === 1) {
        assert.equal(m.envelope!.subject, 'Grüße');
        assert.ok(m.flags!.has('\\Seen'));
        assert.equal(m.bodyStructure!.childNodes!.length, 2);
      }
    }
    assert.ok(got[0]!.equals(raw1), 'first message byte-identical');
    assert.ok(got[1]!.equals(raw2), 'second message byte-identical');

    const part = await c.download('1', '2');
    const chunks: Buffer[] = [];
    for await (const ch of part.content!) chunks.push(ch as Buffer);
    assert.deepEqual([...Buffer.concat(chunks)], [0, 1, 2, 255, 254, 13, 10, 0]);

    await c.messageFlagsAdd('2', ['\\Flagged', '$Work']);
    const two = await c.fetchOne('2', { flags: true });
    assert.ok(two && two.flags!.has('\\Flagged') && two.flags!.has('$Work'));
    assert.deepEqual(await c.search({ flagged: true }), [2]);
    assert.deepEqual(await c.search({ body: 'needle' }), [2]);
    assert.deepEqual(await c.search({ subject: 'grüße' }), [1]);
    assert.deepEqual(await c.search({ seen: false }, { uid: true }), [2]);

    const copied = await c.messageCopy('1', 'Drafts');
    assert.ok(copied && copied.uidMap!.get(1) === 1);
    const moved = await c.messageMove('2', 'Projekte/Köln');
    assert.ok(moved && moved.uidMap!.size === 1);
    assert.equal(c.mailbox && (c.mailbox as { exists: number }).exists, 1);
    await c.messageDelete('1');
    assert.equal((c.mailbox as { exists: number }).exists, 0);
  } finally {
    lock.release();
  }
  const st = await c.status('Projekte/Köln', { messages: true, unseen: true, uidNext: true });
  assert.equal(st && st.messages, 1);
  const q = await c.getQuota('INBOX');
  assert.ok(q && q.storage);
  const sessions = await srv.ctx.governor.list({ userId: srv.user.id });
  assert.equal(sessions.length, 1);
});

test('imapflow IDLE sees another session\'s append, and the ID name lands in the session list', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const a = client(srv, { clientInfo: { name: 'watcher', version: '9' } });
  const b = client(srv);
  await a.connect();
  await b.connect();
  t.after(() => a.logout().catch(() => undefined));
  t.after(() => b.logout().catch(() => undefined));
  await a.mailboxOpen('INBOX');
  const seen: number[] = [];
  a.on('exists', (d: { count: number }) => seen.push(d.count));
  void a.idle(); // imapflow would start IDLE by itself only after 15 s
  await idling(srv);
  await b.append('INBOX', sampleMessage('idle news'));
  await eventually(() => seen.includes(1));
  const infos = (await srv.ctx.governor.list({ userId: srv.user.id })).map((s) => s.clientInfo);
  assert.ok(infos.includes('watcher 9'), JSON.stringify(infos));
});
