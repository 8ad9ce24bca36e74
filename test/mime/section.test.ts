// BODY[section] per RFC 3501 6.4.5; expected bytes are read off the corpus files by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../src/mime/structure.js';
import { extractSection, parseSectionSpec, type SectionSpec } from '../../src/mime/section.js';
import { load } from './corpus.js';

function section(file: string, spec: string): string {
  const raw = load(file);
  const parsed = parseSectionSpec(spec);
  assert.ok(parsed, `spec ${spec} should parse`);
  return extractSection(raw, parseMessage(raw), parsed).toString('utf8');
}

test('parseSectionSpec accepts the RFC 3501 forms', () => {
  const cases: Array<[string, SectionSpec]> = [
    ['', { part: [], kind: '' }],
    ['TEXT', { part: [], kind: 'TEXT' }],
    ['header', { part: [], kind: 'HEADER' }],
    ['1', { part: [1], kind: '' }],
    ['3.MIME', { part: [3], kind: 'MIME' }],
    ['4.2.2.1', { part: [4, 2, 2, 1], kind: '' }],
    ['1.2.HEADER.FIELDS (From To)', { part: [1, 2], kind: 'HEADER.FIELDS', fields: ['From', 'To'] }],
    ['HEADER.FIELDS.NOT ("X-A" Subject)', { part: [], kind: 'HEADER.FIELDS.NOT', fields: ['X-A', 'Subject'] }],
  ];
  for (const [s, want] of cases) assert.deepEqual(parseSectionSpec(s), want, s);
});

test('parseSectionSpec rejects invalid specs', () => {
  for (const s of ['MIME', '0', '01', '1.', '1..2', '.1', 'HEADER.FIELDS', 'HEADER.FIELDS ()', 'FOO', '1.TEXTX', 'TEXT ', '1.2 ', 'HEADER.FIELDS (From']) {
    assert.equal(parseSectionSpec(s), null, JSON.stringify(s));
  }
});

test('whole message, HEADER and TEXT', () => {
  const raw = load('simple.eml').toString('utf8');
  assert.equal(section('simple.eml', ''), raw);
  const [head, body] = raw.split('\r\n\r\n');
  assert.equal(section('simple.eml', 'HEADER'), head + '\r\n\r\n'); // blank line included
  assert.equal(section('simple.eml', 'TEXT'), body);
  assert.equal(body, 'Hello Bob,\r\nThis is a test.\r\n');
});

test('non-multipart message has exactly part 1 (its body)', () => {
  assert.equal(section('simple.eml', '1'), 'Hello Bob,\r\nThis is a test.\r\n');
  assert.equal(section('simple.eml', '2'), '');
});

test('numbered parts and MIME headers', () => {
  assert.equal(section('mixed-attachment.eml', '1'), 'See the attached report.\r\n');
  assert.equal(section('mixed-attachment.eml', '2'), 'JVBERi0xLjQK');
  assert.equal(section('mixed-attachment.eml', '1.MIME'), 'Content-Type: text/plain; charset="us-ascii"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n');
  assert.equal(section('nested.eml', '1.2'), '<b>hi</b>');
  assert.equal(section('nested.eml', '1.1.MIME'), 'Content-Type: text/plain\r\n\r\n');
  assert.equal(section('nested.eml', '2'), 'iVBORw0KGgo=');
});

test('nonexistent parts give an empty string', () => {
  assert.equal(section('mixed-attachment.eml', '3'), '');
  assert.equal(section('mixed-attachment.eml', '3.MIME'), '');
  assert.equal(section('mixed-attachment.eml', '2.1'), ''); // a leaf inside a multipart has no children
  assert.equal(section('mixed-attachment.eml', '1.HEADER'), ''); // HEADER needs a message/rfc822 part
  assert.equal(section('nested.eml', '1.3'), '');
});

test('message/rfc822 part: whole, HEADER, TEXT, part 1, HEADER.FIELDS', () => {
  const header =
    'From: Orig Sender <orig@example.net>\r\nTo: fwd@example.com\r\nSubject: original\r\n' +
    'Date: Wed, 3 Jan 2024 12:00:00 +0100\r\nMessage-ID: <orig@example.net>\r\n\r\n';
  assert.equal(section('rfc822-attachment.eml', '2.HEADER'), header);
  assert.equal(section('rfc822-attachment.eml', '2.TEXT'), 'Original body.');
  assert.equal(section('rfc822-attachment.eml', '2'), header + 'Original body.');
  assert.equal(section('rfc822-attachment.eml', '2.1'), 'Original body.'); // non-multipart body is part 1
  assert.equal(section('rfc822-attachment.eml', '2.MIME'), 'Content-Type: message/rfc822\r\nContent-Description: forwarded message\r\n\r\n');
  assert.equal(section('rfc822-attachment.eml', '2.HEADER.FIELDS (subject)'), 'Subject: original\r\n\r\n');
});

test('HEADER.FIELDS / .NOT keep original lines (folding included) in message order', () => {
  assert.equal(
    section('mixed-attachment.eml', 'HEADER.FIELDS (Subject FROM)'),
    'From: "Doe, John" <john.doe@example.com>\r\nSubject: Report\r\n\r\n',
  );
  assert.equal(section('mixed-attachment.eml', 'HEADER.FIELDS (content-type)'), 'Content-Type: multipart/mixed;\r\n boundary="==b1=="\r\n\r\n');
  assert.equal(
    section('mixed-attachment.eml', 'HEADER.FIELDS.NOT (To Cc Date Message-ID MIME-Version Content-Type)'),
    'From: "Doe, John" <john.doe@example.com>\r\nSubject: Report\r\n\r\n',
  );
  assert.equal(section('mixed-attachment.eml', 'HEADER.FIELDS (X-Absent)'), '\r\n'); // blank line is always there
  assert.equal(section('groups.eml', 'HEADER.FIELDS (To)'), 'To: A Group: alice@example.com, "Bob \\"B\\"" <bob@example.com>;,\r\n  carol@example.com (Carol C)\r\n\r\n');
});

test('LF-only message sections keep the bytes as stored', () => {
  assert.equal(section('lf-only.eml', '1'), 'line one\nline two');
  assert.equal(section('lf-only.eml', '2'), 'Q2Fm6Q==');
  assert.equal(section('lf-only.eml', '1.MIME'), 'Content-Type: text/plain\n\n');
  assert.equal(section('lf-only.eml', 'HEADER.FIELDS (Subject)'), 'Subject: LF only\n\r\n');
});

test('header without blank line: HEADER has no blank line, TEXT is empty', () => {
  const raw = load('no-blank-line.eml').toString('utf8');
  assert.equal(section('no-blank-line.eml', 'HEADER'), raw);
  assert.equal(section('no-blank-line.eml', 'TEXT'), '');
  assert.equal(section('no-blank-line.eml', 'HEADER.FIELDS (Subject)'), 'Subject: header only\r\n\r\n');
});

test('unterminated last header line still gets its CRLF before the blank line', () => {
  const raw = Buffer.from('Subject: x\r\nFrom: a@b.c');
  const got = extractSection(raw, parseMessage(raw), parseSectionSpec('HEADER.FIELDS (From)')!);
  assert.equal(got.toString(), 'From: a@b.c\r\n\r\n');
});
