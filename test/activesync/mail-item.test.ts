// The EAS item built from the structure the store keeps (no second parse of the message): the
// body in each preferred type, an HTML-only message as plain text, attachments described from
// their headers and fetched by index, encoded words, importance, truncation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applicationData, attachmentOf } from '../../src/protocols/activesync/mail-item.js';
import { parseMessage } from '../../src/mime/structure.js';
import { child, childText, children, type WbxmlElement } from '../../src/protocols/activesync/wbxml/codec.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'));
const MIXED = crlf([
  'From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>',
  'To: "Doe, Jane" <jane@example.com>, bob@example.com',
  'Cc: carol@example.com',
  'Subject: =?utf-8?b?UmU6IELDvGNoZXI=?=',
  'X-Priority: 1 (Highest)',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: multipart/alternative; boundary="b2"',
  '',
  '--b2',
  'Content-Type: text/plain; charset=iso-8859-1',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Gr=FC=DFe, the plain text',
  '--b2',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Gr&uuml;&szlig;e, <b>the html</b></p>',
  '--b2--',
  '--b1',
  'Content-Type: application/pdf; name="report.pdf"',
  'Content-Disposition: attachment; filename*=utf-8\'\'r%C3%A9port.pdf',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('0123456789'.repeat(10)).toString('base64'),
  '--b1--',
  '',
]);

async function item(raw: Buffer, type: 1 | 2 | 4, truncationSize: number | null = null, stored = true): Promise<WbxmlElement> {
  return applicationData({ objectId: 'M1', raw, flags: ['\\Seen'], internalDate: new Date('2024-01-01T10:00:00Z'), structure: stored ? JSON.stringify(parseMessage(raw)) : null }, { type, truncationSize });
}

test('headers, plain and HTML bodies, and the attachment, from the stored structure', async () => {
  for (const stored of [true, false]) {
    const a = await item(MIXED, 1, null, stored);
    assert.equal(childText(a, 'From', 'Email'), 'Jörg Müller <joerg@example.com>');
    assert.equal(childText(a, 'To', 'Email'), '"Doe, Jane" <jane@example.com>, bob@example.com');
    assert.equal(childText(a, 'DisplayTo', 'Email'), 'Doe, Jane; bob@example.com');
    assert.equal(childText(a, 'Cc', 'Email'), 'carol@example.com');
    assert.equal(childText(a, 'Subject', 'Email'), 'Re: Bücher');
    assert.equal(childText(a, 'ThreadTopic', 'Email'), 'Bücher');
    assert.equal(childText(a, 'Importance', 'Email'), '2');
    assert.equal(childText(a, 'Read', 'Email'), '1');
    assert.equal(childText(a, 'NativeBodyType', 'AirSyncBase'), '2');
    const body = child(a, 'Body', 'AirSyncBase');
    assert.equal(childText(body, 'Type', 'AirSyncBase'), '1');
    assert.equal(childText(body, 'Data', 'AirSyncBase'), 'Grüße, the plain text');
    const [att] = children(child(a, 'Attachments', 'AirSyncBase'), 'Attachment');
    assert.equal(childText(att, 'DisplayName', 'AirSyncBase'), 'réport.pdf');
    assert.equal(childText(att, 'FileReference', 'AirSyncBase'), 'M1:0');
    assert.equal(childText(att, 'EstimatedDataSize', 'AirSyncBase'), '100');
  }
  const html = child(await item(MIXED, 2), 'Body', 'AirSyncBase');
  assert.equal(childText(html, 'Type', 'AirSyncBase'), '2');
  assert.equal(childText(html, 'Data', 'AirSyncBase'), '<p>Gr&uuml;&szlig;e, <b>the html</b></p>');
  const mime = child(await item(MIXED, 4, 50), 'Body', 'AirSyncBase');
  assert.equal(childText(mime, 'Truncated', 'AirSyncBase'), '1');
  assert.equal(childText(mime, 'EstimatedDataSize', 'AirSyncBase'), String(MIXED.length));
  assert.equal(childText(mime, 'Data', 'AirSyncBase'), MIXED.subarray(0, 50).toString());
  const fetched = await attachmentOf(MIXED, 0);
  assert.equal(fetched?.contentType, 'application/pdf');
  assert.equal(fetched?.filename, 'réport.pdf');
  assert.equal(fetched?.content.toString(), '0123456789'.repeat(10));
  assert.equal(await attachmentOf(MIXED, 1), null);
});

test('an HTML-only message reads as its text in plain-text preference; no headers at all is empty fields', async () => {
  const raw = crlf(['From: a@example.com', 'Subject: html', 'Content-Type: text/html', '', '<html><body><p>Hello&nbsp;<i>there</i></p></body></html>', '']);
  const a = await item(raw, 1);
  assert.equal(childText(child(a, 'Body', 'AirSyncBase'), 'Data', 'AirSyncBase'), 'Hello there');
  assert.equal(childText(a, 'Importance', 'Email'), '1');
  assert.equal(child(a, 'Attachments', 'AirSyncBase'), undefined);
  const bare = await item(Buffer.from('\r\njust a body\r\n'), 1);
  assert.equal(childText(bare, 'Subject', 'Email'), '');
  assert.equal(childText(bare, 'To', 'Email'), '');
});
