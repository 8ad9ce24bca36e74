// ENVELOPE / BODY / BODYSTRUCTURE of the corpus. Every expected string is derived by hand
// from RFC 3501 7.4.2 (field order, defaults) and RFC 2045/2046 (defaults, boundaries);
// sizes/line counts were counted on the files (the CRLF before a boundary belongs to the
// boundary, RFC 2046 5.1.1, so "text\r\n--b" is a 4-byte, 1-line body).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, paramText, MISSING_DOMAIN } from '../../src/mime/structure.js';
import { renderBodyStructure, renderEnvelope } from '../../src/mime/imap-render.js';
import { load } from './corpus.js';

const US_ASCII = '("CHARSET" "us-ascii")'; // RFC 2046 4.1.2 default charset, made explicit
const NIL_EXT = 'NIL NIL NIL NIL'; // md5 disposition language location all absent

function check(file: string, want: { envelope?: string; body?: string; bodystructure?: string }): void {
  const raw = load(file);
  const s = parseMessage(raw);
  assert.equal(s.size, raw.length);
  if (want.envelope !== undefined) assert.equal(renderEnvelope(s.envelope), want.envelope, `${file} ENVELOPE`);
  if (want.body !== undefined) assert.equal(renderBodyStructure(s.root, false), want.body, `${file} BODY`);
  if (want.bodystructure !== undefined) assert.equal(renderBodyStructure(s.root, true), want.bodystructure, `${file} BODYSTRUCTURE`);
}

test('simple text message', () => {
  // Sender and Reply-To are absent, so both repeat From (RFC 3501 7.4.2).
  const alice = '(("Alice Example" NIL "alice" "example.com"))';
  check('simple.eml', {
    envelope: `("Mon, 1 Jan 2024 10:00:00 +0000" "Hello" ${alice} ${alice} ${alice} ((NIL NIL "bob" "example.org")) NIL NIL NIL "<simple-1@example.com>")`,
    // Body "Hello Bob,\r\nThis is a test.\r\n": 12 + 17 = 29 octets, 2 lines.
    body: `("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 29 2)`,
    bodystructure: `("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 29 2 ${NIL_EXT})`,
  });
});

test('message without headers (starts with the blank line)', () => {
  check('no-headers.eml', {
    envelope: '(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)', // every header absent -> NIL
    bodystructure: `("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 19 1 ${NIL_EXT})`, // "Just a body line.\r\n"
  });
});

test('message with no blank line: all header, empty body', () => {
  const a = '((NIL NIL "a" "example.com"))';
  check('no-blank-line.eml', {
    envelope: `(NIL "header only" ${a} ${a} ${a} NIL NIL NIL NIL NIL)`,
    bodystructure: `("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 0 0 ${NIL_EXT})`,
  });
});

test('multipart/alternative', () => {
  check('alternative.eml', {
    // "plain text" = 10 octets; "<p>html =3D text</p>" = 20 octets; both one line.
    body: '(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 10 1)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 20 1) "ALTERNATIVE")',
    bodystructure:
      `(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 10 1 ${NIL_EXT})` +
      `("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 20 1 ${NIL_EXT})` +
      ' "ALTERNATIVE" ("BOUNDARY" "XX") NIL NIL NIL)',
  });
});

test('multipart/mixed with attachment, preamble, epilogue, folded Content-Type', () => {
  const john = '(("Doe, John" NIL "john.doe" "example.com"))'; // quoted display name, comma inside
  check('mixed-attachment.eml', {
    envelope:
      `("Tue, 2 Jan 2024 08:30:00 -0500" "Report" ${john} ${john} ${john} ` +
      '(("Mary Smith" NIL "mary" "x.test")(NIL NIL "jdoe" "one.test")) ((NIL NIL "boss" "nil.test")) NIL NIL "<mixed-1@example.com>")',
    bodystructure:
      // Part 1 body "See the attached report.\r\n" (its 2nd CRLF belongs to the boundary): 26 octets, 1 line.
      `(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 26 1 ${NIL_EXT})` +
      // Part 2 is not text: no line count; md5 NIL, then disposition, language NIL, location NIL.
      '("APPLICATION" "PDF" ("NAME" "report.pdf") "<part2@example.com>" "Quarterly report" "BASE64" 12 NIL ("ATTACHMENT" ("FILENAME" "report.pdf")) NIL NIL)' +
      ' "MIXED" ("BOUNDARY" "==b1==") NIL NIL NIL)',
  });
});

test('nested multipart', () => {
  check('nested.eml', {
    body:
      `((("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 2 1)("TEXT" "HTML" ${US_ASCII} NIL NIL "7BIT" 9 1) "ALTERNATIVE")` +
      '("IMAGE" "PNG" NIL NIL NIL "BASE64" 12) "MIXED")',
    bodystructure:
      `((("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 2 1 ${NIL_EXT})("TEXT" "HTML" ${US_ASCII} NIL NIL "7BIT" 9 1 ${NIL_EXT}) "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL)` +
      '("IMAGE" "PNG" NIL NIL NIL "BASE64" 12 NIL ("INLINE" NIL) NIL NIL) "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)',
  });
});

test('message/rfc822 attachment carries envelope, structure and line count', () => {
  const orig = '(("Orig Sender" NIL "orig" "example.net"))';
  const innerEnv = `("Wed, 3 Jan 2024 12:00:00 +0100" "original" ${orig} ${orig} ${orig} ((NIL NIL "fwd" "example.com")) NIL NIL NIL "<orig@example.net>")`;
  // Encapsulated message: header lines of 38+21+19+38+32 octets, blank line 2, "Original body." 14 = 164
  // octets; 6 LFs plus the final unterminated line = 7 lines.
  check('rfc822-attachment.eml', {
    body: `(("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 10 1)("MESSAGE" "RFC822" NIL NIL "forwarded message" "7BIT" 164 ${innerEnv} ("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 14 1) 7) "MIXED")`,
    bodystructure:
      `(("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 10 1 ${NIL_EXT})` +
      `("MESSAGE" "RFC822" NIL NIL "forwarded message" "7BIT" 164 ${innerEnv} ("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 14 1 ${NIL_EXT}) 7 ${NIL_EXT})` +
      ' "MIXED" ("BOUNDARY" "fwd") NIL NIL NIL)',
  });
});

test('group syntax, route, comment names, missing domain', () => {
  const lead = '(("Team Lead" NIL "lead" "example.com"))';
  // Group start = (NIL NIL "name" NIL), end = (NIL NIL NIL NIL) (RFC 3501 7.4.2).
  const to =
    '((NIL NIL "A Group" NIL)(NIL NIL "alice" "example.com")("Bob \\"B\\"" NIL "bob" "example.com")(NIL NIL NIL NIL)' +
    '("Carol C" NIL "carol" "example.com"))';
  const cc = '((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))';
  const replyTo = '((NIL "@relay.example,@hop.example" "route" "example.com"))';
  // "nodomain" has no host. A NIL host would read as a group start, so it gets a placeholder.
  const sender = `((NIL NIL "nodomain" "${MISSING_DOMAIN}"))`;
  // Bcc holds only a comment: present but empty -> NIL.
  check('groups.eml', { envelope: `(NIL "groups" ${lead} ${sender} ${replyTo} ${to} ${cc} NIL NIL NIL)` });
});

test('encoded words stay encoded in ENVELOPE; folded subject is unfolded', () => {
  const from = '(("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.de"))';
  check('encoded-subject.eml', {
    envelope:
      `("Thu, 4 Jan 2024 00:00:00 +0000" "=?UTF-8?B?SGVsbG8g4pyT?= and =?UTF-8?Q?more_=E2=9C=93?=" ${from} ${from} ${from} ` +
      '(("=?ISO-8859-1?Q?Andr=E9?= Pirard" NIL "PIRARD" "vm1.ulg.ac.be")) NIL NIL NIL NIL)',
    // "Grüße\r\n" is 9 octets in UTF-8.
    bodystructure: `("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" 9 1 ${NIL_EXT})`,
  });
});

test('8-bit header values are sent as literals', () => {
  const from = '(({5}\r\nJörg NIL "joerg" "example.de"))'; // "Jörg" is 5 octets
  check('eightbit-header.eml', { envelope: `(NIL {17}\r\nGrüße aus Köln ${from} ${from} ${from} NIL NIL NIL NIL NIL)` });
});

test('missing, broken and boundary-less Content-Type fall back to text/plain (RFC 2045 5.2)', () => {
  check('missing-content-type.eml', { bodystructure: `("TEXT" "PLAIN" ${US_ASCII} NIL NIL "QUOTED-PRINTABLE" 24 2 ${NIL_EXT})` });
  check('broken-content-type.eml', { bodystructure: `("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 6 1 ${NIL_EXT})` });
  check('no-boundary.eml', { bodystructure: `("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 19 2 ${NIL_EXT})` });
});

test('LF-only message', () => {
  check('lf-only.eml', {
    // "line one\nline two" = 17 octets, 2 lines; "Q2Fm6Q==" = 8 octets, 1 line.
    bodystructure:
      `(("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 17 2 ${NIL_EXT})("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "BASE64" 8 1 ${NIL_EXT})` +
      ' "MIXED" ("BOUNDARY" "lf") NIL NIL NIL)',
  });
});

test('RFC 2231 parameters: continuations joined, extended values kept encoded', () => {
  check('rfc2231.eml', {
    bodystructure:
      '(("APPLICATION" "OCTET-STREAM" ("NAME" "very long file name.txt") NIL NIL "BASE64" 4 NIL' +
      ` ("ATTACHMENT" ("FILENAME*" "utf-8''%E2%82%AC%20rates%20%C3%A9t%C3%A9.txt")) NIL NIL)` +
      // charset given only as charset*: no us-ascii default is invented next to it.
      `("TEXT" "PLAIN" ("CHARSET*" "us-ascii'en'plain") NIL NIL "7BIT" 1 1 NIL ("ATTACHMENT" ("FILENAME*" "UTF-8''na%C3%AFve.txt")) NIL NIL)` +
      ' "MIXED" ("BOUNDARY" "b2231") NIL NIL NIL)',
  });
  const s = parseMessage(load('rfc2231.eml'));
  assert.equal(paramText(s.root.parts![0]!.disposition!.params, 'filename'), '€ rates été.txt');
  assert.equal(paramText(s.root.parts![1]!.disposition!.params, 'filename'), 'naïve.txt');
  assert.equal(paramText(s.root.parts![0]!.contentType.params, 'name'), 'very long file name.txt');
});

test('missing final boundary: last part runs to the end', () => {
  check('missing-final-boundary.eml', {
    body: `(("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 5 1)("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 11 1) "MIXED")`,
  });
});

test('multipart/digest parts default to message/rfc822', () => {
  const one = '((NIL NIL "one" "example.com"))';
  check('digest.eml', {
    // First part has an empty header, so it is message/rfc822 (RFC 2046 5.1.5): 40 octets, 4 lines.
    body:
      `(("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 40 (NIL "one" ${one} ${one} ${one} NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 1 1) 4)` +
      `("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 13 1) "DIGEST")`,
  });
});

test('extension data: md5, disposition, language list, location, invalid encoding', () => {
  check('extended.eml', {
    bodystructure:
      '(("TEXT" "X-CUSTOM" ("CHARSET" "us-ascii" "Q" "quoted\\"string") "<id1@example.com>" "a description" "7BIT" 3 1' +
      ' "Q2hlY2sgSW50ZWdyaXR5IQ==" ("INLINE" ("SIZE" "3")) ("en" "de") "http://example.com/a.txt")' +
      ' "MIXED" ("BOUNDARY" "ext" "FOO" "bar") NIL ("en") NIL)',
    body: '(("TEXT" "X-CUSTOM" ("CHARSET" "us-ascii" "Q" "quoted\\"string") "<id1@example.com>" "a description" "7BIT" 3 1) "MIXED")',
  });
});

test('multipart whose boundary never occurs gets an empty text/plain part (1*body)', () => {
  const raw = Buffer.from('Content-Type: multipart/mixed; boundary=zz\r\n\r\nno delimiters here\r\n');
  const s = parseMessage(raw);
  assert.deepEqual(s.root.parts, []);
  assert.equal(renderBodyStructure(s.root, false), `(("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" 0 0) "MIXED")`);
});

test('a longer boundary sharing our prefix is not a delimiter', () => {
  const raw = Buffer.from(
    'Content-Type: multipart/mixed; boundary=ab\r\n\r\n--ab\r\n\r\n--abc is text\r\n--ab--\r\n',
  );
  const s = parseMessage(raw);
  assert.equal(s.root.parts!.length, 1);
  const p = s.root.parts![0]!;
  assert.equal(raw.toString('latin1', p.bodyStart, p.bodyEnd), '--abc is text');
});

test('outer boundary terminates an inner multipart that lacks its close delimiter', () => {
  const raw = Buffer.from(
    'Content-Type: multipart/mixed; boundary=o\r\n\r\n' +
      '--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\ninner\r\n' +
      '--o\r\n\r\nsecond\r\n--o--\r\n',
  );
  const s = parseMessage(raw);
  assert.equal(s.root.parts!.length, 2);
  const inner = s.root.parts![0]!.parts![0]!;
  assert.equal(raw.toString('latin1', inner.bodyStart, inner.bodyEnd), 'inner');
});

test('body starting without any header is all body', () => {
  const raw = Buffer.from('Hello there, no headers.\r\nSecond line\r\n');
  const s = parseMessage(raw);
  assert.equal(s.root.bodyStart, 0);
  assert.equal(renderBodyStructure(s.root, false), `("TEXT" "PLAIN" ${US_ASCII} NIL NIL "7BIT" ${raw.length} 2)`);
});

test('base64 message/rfc822 is described as opaque data (it cannot be parsed in place)', () => {
  const raw = Buffer.from(
    'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nRnJvbTogYUBi\r\n--b--\r\n',
  );
  assert.equal(renderBodyStructure(parseMessage(raw).root, false), '(("APPLICATION" "OCTET-STREAM" NIL NIL NIL "BASE64" 12) "MIXED")');
});

test('structure survives a JSON round trip (it is stored as JSON)', () => {
  const s = parseMessage(load('rfc822-attachment.eml'));
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
});

test('parameter names that collide with Object.prototype are ordinary names', () => {
  const raw = Buffer.from('Content-Type: application/x; constructor=a; __proto__=b; toString=c\r\n\r\nx');
  const s = parseMessage(raw);
  assert.equal(renderBodyStructure(s.root, false), '("APPLICATION" "X" ("CONSTRUCTOR" "a" "__PROTO__" "b" "TOSTRING" "c") NIL NIL "7BIT" 1)');
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
});
