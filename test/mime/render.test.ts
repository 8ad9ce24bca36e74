// imapQuote and address-parsing corner cases (RFC 3501 section 9 string syntax, RFC 2822 3.4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imapQuote, renderEnvelope } from '../../src/mime/imap-render.js';
import { parseMessage } from '../../src/mime/structure.js';

test('imapQuote', () => {
  assert.equal(imapQuote(null), 'NIL');
  assert.equal(imapQuote(''), '""');
  assert.equal(imapQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(imapQuote('a\r\nb'), '{4}\r\na\r\nb');
  assert.equal(imapQuote('é'), '{2}\r\né'); // length in UTF-8 octets
  assert.equal(imapQuote('a\tb'), '{3}\r\na\tb');
  assert.equal(imapQuote('✓'), '{3}\r\n✓');
});

const envelopeOf = (headers: string): string => renderEnvelope(parseMessage(Buffer.from(headers + '\r\n\r\nbody')).envelope);

test('present-but-empty headers: strings become "", address lists NIL, Sender/Reply-To fall back to From', () => {
  assert.equal(
    envelopeOf('Date: \r\nSubject:\r\nFrom: a@b.c\r\nSender:\r\nReply-To: \r\nTo:\r\nMessage-ID:'),
    '("" "" ((NIL NIL "a" "b.c")) ((NIL NIL "a" "b.c")) ((NIL NIL "a" "b.c")) NIL NIL NIL NIL "")',
  );
});

test('address forms', () => {
  const from = (v: string): string => {
    const env = renderEnvelope(parseMessage(Buffer.from(`From: ${v}\r\n\r\n`)).envelope);
    return env.slice(env.indexOf('(('), env.indexOf('))') + 2);
  };
  assert.equal(from('"John Q. Public" <jqp@example.com>'), '(("John Q. Public" NIL "jqp" "example.com"))');
  assert.equal(from('John Q. Public <jqp@example.com>'), '(("John Q. Public" NIL "jqp" "example.com"))');
  assert.equal(from('<jqp@example.com> (JQP)'), '(("JQP" NIL "jqp" "example.com"))');
  assert.equal(from('"john doe"@example.com'), '((NIL NIL "\\"john doe\\"" "example.com"))'); // quoted local part kept as written
  assert.equal(from('user@[192.0.2.1]'), '((NIL NIL "user" "[192.0.2.1]"))');
  assert.equal(from('Name <@example.com>'), '(("Name" NIL "MISSING_MAILBOX" "example.com"))');
  assert.equal(from('a@b.c,, d@e.f'), '((NIL NIL "a" "b.c")(NIL NIL "d" "e.f"))');
  assert.equal(from('G: x@y.z'), '((NIL NIL "G" NIL)(NIL NIL "x" "y.z")(NIL NIL NIL NIL))'); // unterminated group closed
  assert.equal(from('Folded\r\n Name <f@n.x>'), '(("Folded Name" NIL "f" "n.x"))');
});
