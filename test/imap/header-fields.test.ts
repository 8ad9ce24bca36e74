// FETCH of header sections answered from the header block alone (the message list a desktop
// client fetches: BODY.PEEK[HEADER.FIELDS (...)], .NOT, BODY[HEADER], RFC822.HEADER) must give
// the bytes the full path gives (whole message and MIME structure, taken when another item needs
// the body), on headers that are easy to get wrong. Raw socket: the literal bytes are compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startTestServer } from './helpers.js';

const messages: Buffer[] = [
  // folded field, repeated fields in mixed case, CRLF
  Buffer.from('Received: from a\r\n\tby b; Mon, 1 Jan 2024\r\nSubject: a folded\r\n  subject line\r\nX-A: 1\r\nFrom: x@example.org\r\nx-a: 2\r\nMessage-ID: <m1@example.org>\r\nRECEIVED: from c\r\n\r\nbody\r\n'),
  // LF line ends, 8-bit bytes, a name with white space before the colon, no Message-ID
  Buffer.from('sUbJeCt : caf\xe9\nFrom: J\xe9r\xf4me <j@example.org>\nX-A:\n\nbody\n', 'latin1'),
  // all header: no blank line, the last line unterminated
  Buffer.from('Subject: no body\r\nMessage-ID: <m3@example.org>'),
  // no header at all: the first line is not a field
  Buffer.from('this is not a field\r\nSubject: s\r\n\r\nbody\r\n'),
  // empty body, fields none of the requests ask for
  Buffer.from('Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nX-Other: y\r\n\r\n'),
  // multipart with an encapsulated message: the top-level header only
  Buffer.from('Subject: outer\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nMessage-ID: <inner@example.org>\r\n\r\ninner body\r\n--b--\r\n'),
];

const sections = [
  'HEADER.FIELDS (SUBJECT MESSAGE-ID)',
  'HEADER.FIELDS (x-a "Received" FROM)',
  'HEADER.FIELDS (MISSING-FIELD)',
  'HEADER.FIELDS.NOT (SUBJECT received)',
  'HEADER',
];

/** The literal after `name {n}` in a FETCH response (the last one of that name). */
function literalOf(resp: string, name: string): string {
  const at = resp.lastIndexOf(`${name} {`);
  assert.ok(at !== -1, `${name} in ${JSON.stringify(resp.slice(0, 200))}`);
  const m = /^\{(\d+)\}\r\n/.exec(resp.slice(at + name.length + 1))!;
  const start = at + name.length + 1 + m[0].length;
  return resp.slice(start, start + Number(m[1]));
}

test('FETCH header sections from the header block alone: the same bytes as from the whole message, on folded, repeated, missing, mixed-case and 8-bit fields', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const inbox = (await srv.ctx.store.getFolder(srv.user.id, 'INBOX'))!;
  for (const raw of messages) await srv.ctx.store.append(srv.user.id, inbox.id, raw);
  const c = await RawClient.connect(srv.port);
  t.after(() => c.close());
  await c.readResponse();
  assert.match(await c.login(), /OK/);
  assert.match((await c.command('SELECT INBOX')).tagged, /OK/);

  const requests = [...sections.map((s) => ({ item: `BODY.PEEK[${s}]`, name: `BODY[${s.replaceAll('"', '')}]` })), { item: 'RFC822.HEADER', name: 'RFC822.HEADER' }, { item: 'BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]<4.20>', name: 'BODY[HEADER.FIELDS (SUBJECT FROM)]<4>' }];
  for (const { item, name } of requests) {
    // the list fetch (header blocks only), then each message with an item that needs the body (full path)
    const list = await c.command(`UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ${item})`);
    assert.match(list.tagged, /OK/);
    assert.equal(list.untagged.length, messages.length);
    for (let uid = 1; uid <= messages.length; uid++) {
      const full = await c.command(`UID FETCH ${uid} (BODY.PEEK[TEXT] ${item})`);
      assert.match(full.tagged, /OK/);
      assert.equal(literalOf(list.untagged[uid - 1]!, name), literalOf(full.untagged[0]!, name), `${item} of message ${uid}`);
    }
  }

  // and what the bytes are, written out for the tricky ones
  const one = async (uid: number, section: string) => literalOf((await c.command(`UID FETCH ${uid} (BODY.PEEK[${section}])`)).untagged[0]!, `BODY[${section.replaceAll('"', '')}]`);
  assert.equal(await one(1, 'HEADER.FIELDS (x-a "Received" FROM)'), 'Received: from a\r\n\tby b; Mon, 1 Jan 2024\r\nX-A: 1\r\nFrom: x@example.org\r\nx-a: 2\r\nRECEIVED: from c\r\n\r\n');
  assert.equal(await one(1, 'HEADER.FIELDS (SUBJECT MESSAGE-ID)'), 'Subject: a folded\r\n  subject line\r\nMessage-ID: <m1@example.org>\r\n\r\n');
  assert.equal(await one(2, 'HEADER.FIELDS (SUBJECT MESSAGE-ID)'), 'sUbJeCt : caf\xe9\n\r\n');
  assert.equal(await one(2, 'HEADER.FIELDS.NOT (SUBJECT received)'), 'From: J\xe9r\xf4me <j@example.org>\nX-A:\n\r\n');
  assert.equal(await one(3, 'HEADER.FIELDS (SUBJECT MESSAGE-ID)'), 'Subject: no body\r\nMessage-ID: <m3@example.org>\r\n\r\n');
  assert.equal(await one(4, 'HEADER.FIELDS (SUBJECT)'), '\r\n');
  assert.equal(await one(4, 'HEADER'), '');
  assert.equal(await one(5, 'HEADER.FIELDS (SUBJECT MESSAGE-ID)'), '\r\n');
  assert.equal(await one(6, 'HEADER.FIELDS (SUBJECT MESSAGE-ID)'), 'Subject: outer\r\n\r\n');
});
