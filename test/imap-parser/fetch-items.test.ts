import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapParseError, parseCommand } from '../../src/protocols/imap/parser/command-parser.js';
import { parseFetchItems } from '../../src/protocols/imap/parser/fetch-items.js';

/** Parses the items of a real FETCH command line, so the command parser's atoms are used. */
const items = (rest: string) => parseFetchItems(parseCommand(Buffer.from(`a1 FETCH 1:* ${rest}`), []).args.slice(1));
const bad = (rest: string) => assert.throws(() => items(rest), ImapParseError, rest);

test('macros expand', () => {
  assert.deepEqual(items('FAST').items, [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }]);
  assert.deepEqual(items('all').items.map((i) => i.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE']);
  assert.deepEqual(items('FULL').items.map((i) => i.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY']);
});

test('simple items, single or in a list', () => {
  assert.deepEqual(items('uid').items, [{ kind: 'UID' }]);
  assert.deepEqual(items('(FLAGS RFC822.SIZE BODYSTRUCTURE body RFC822.HEADER MODSEQ)').items, [
    { kind: 'FLAGS' },
    { kind: 'RFC822.SIZE' },
    { kind: 'BODYSTRUCTURE' },
    { kind: 'BODY' },
    { kind: 'RFC822.HEADER' },
    { kind: 'MODSEQ' },
  ]);
});

test('BODY.PEEK[HEADER.FIELDS (From Subject)]<0.512> keeps field names, uppercases keywords', () => {
  assert.deepEqual(items('(UID body.peek[header.fields (From Subject)]<0.512>)').items, [
    { kind: 'UID' },
    { kind: 'BODY[]', peek: true, section: 'HEADER.FIELDS (From Subject)', partial: { start: 0, length: 512 } },
  ]);
});

test('BODY sections', () => {
  const one = (s: string) => items(s).items[0];
  assert.deepEqual(one('BODY[]'), { kind: 'BODY[]', peek: false, section: '' });
  assert.deepEqual(one('BODY[1.2.mime]'), { kind: 'BODY[]', peek: false, section: '1.2.MIME' });
  assert.deepEqual(one('BODY[2]<10.20>'), { kind: 'BODY[]', peek: false, section: '2', partial: { start: 10, length: 20 } });
  assert.deepEqual(one('BODY[TEXT]'), { kind: 'BODY[]', peek: false, section: 'TEXT' });
  assert.deepEqual(one('BODY[3.HEADER.FIELDS.NOT ("X-Spam" Received)]'), {
    kind: 'BODY[]',
    peek: false,
    section: '3.HEADER.FIELDS.NOT (X-Spam Received)',
  });
});

test('BINARY items', () => {
  assert.deepEqual(items('(BINARY.PEEK[1]<0.100> BINARY[] BINARY.SIZE[2.1])').items, [
    { kind: 'BINARY[]', peek: true, section: '1', partial: { start: 0, length: 100 } },
    { kind: 'BINARY[]', peek: false, section: '' },
    { kind: 'BINARY.SIZE', section: '2.1' },
  ]);
});

test('CHANGEDSINCE and VANISHED modifiers; CHANGEDSINCE implies MODSEQ', () => {
  const r = items('(FLAGS) (CHANGEDSINCE 12345 VANISHED)');
  assert.equal(r.changedSince, 12345);
  assert.equal(r.vanished, true);
  assert.deepEqual(r.items, [{ kind: 'FLAGS' }, { kind: 'MODSEQ' }]);
  assert.equal(items('FLAGS').changedSince, undefined);
});

test('bad syntax is rejected', () => {
  for (const s of [
    '',
    'FOO',
    '()',
    '(ALL)', // macros only stand alone
    '"FLAGS"',
    'BODY[0]',
    'BODY[1..2]',
    'BODY[MIME]',
    'BODY[1HEADER]',
    'BODY[HEADER.FIELDS]',
    'BODY[HEADER.FIELDS ()]',
    'BODY[HEADER.FIELDS (A:B)]',
    'BODY[TEXT (X)]',
    'BODY[]<5>',
    'BODY[]<0.0>',
    'BODY[]<a.b>',
    'BINARY[HEADER]',
    'BINARY.SIZE[1]<0.10>',
    'FLAGS (VANISHED)',
    'FLAGS (CHANGEDSINCE)',
    'FLAGS (CHANGEDSINCE x)',
    'FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)',
    'FLAGS (FOO)',
    'FLAGS (CHANGEDSINCE 1) extra',
  ]) {
    bad(s);
  }
});
