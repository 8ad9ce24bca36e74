import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapParseError, parseCommand } from '../../src/protocols/imap/parser/command-parser.js';
import {
  UnsupportedCharsetError,
  parseImapDate,
  parseSearch,
  type SearchKey,
} from '../../src/protocols/imap/parser/search-keys.js';

const search = (rest: string, literals: string[] = []) =>
  parseSearch(
    parseCommand(
      Buffer.from(`a1 SEARCH ${rest}`),
      literals.map((l) => Buffer.from(l)),
    ).args,
  );
const key = (rest: string) => search(rest).key;
const flag = (f: string, set: boolean): SearchKey => ({ op: 'flag', flag: f, set });

test('parseImapDate', () => {
  assert.equal(parseImapDate('1-Feb-1994'), '1994-02-01');
  assert.equal(parseImapDate('29-feb-2024'), '2024-02-29');
  assert.equal(parseImapDate('"31-DEC-1999"'), '1999-12-31');
  for (const s of ['29-Feb-2023', '0-Jan-2000', '32-Jan-2000', '1-Foo-2000', '1-Feb-94', '001-Feb-1994', '1 Feb 1994', '"1-Feb-1994']) {
    assert.equal(parseImapDate(s), null, s);
  }
});

test('flag keys', () => {
  assert.deepEqual(key('SEEN'), flag('\\Seen', true));
  assert.deepEqual(key('unanswered'), flag('\\Answered', false));
  assert.deepEqual(key('OLD'), flag('\\Recent', false));
  assert.deepEqual(key('NEW'), { op: 'and', keys: [flag('\\Recent', true), flag('\\Seen', false)] });
  assert.deepEqual(key('KEYWORD $Junk'), flag('$Junk', true));
  assert.deepEqual(key('UNKEYWORD Work'), flag('Work', false));
  assert.deepEqual(key('ALL'), { op: 'all' });
});

test('header and body keys', () => {
  assert.deepEqual(key('FROM "Alice Smith"'), { op: 'header', field: 'from', value: 'Alice Smith' });
  assert.deepEqual(key('HEADER X-Spam-Flag YES'), { op: 'header', field: 'x-spam-flag', value: 'YES' });
  assert.deepEqual(search('BODY \0', ['']).key, { op: 'body', value: '' });
});

test('all criteria kinds', () => {
  const k = search('SUBJECT \0 TEXT hello SINCE 1-Feb-1994 SENTBEFORE "5-Mar-2001" LARGER 100 SMALLER 0 MODSEQ 620162338 UID 1:5,9 2:*', [
    'Grüße',
  ]).key;
  assert.deepEqual(k, {
    op: 'and',
    keys: [
      { op: 'header', field: 'subject', value: 'Grüße' },
      { op: 'text', value: 'hello' },
      { op: 'date', field: 'internal', cmp: 'since', date: '1994-02-01' },
      { op: 'date', field: 'sent', cmp: 'before', date: '2001-03-05' },
      { op: 'size', cmp: 'larger', n: 100 },
      { op: 'size', cmp: 'smaller', n: 0 },
      { op: 'modseq', n: 620162338 },
      {
        op: 'uid',
        set: [
          { from: 1, to: 5 },
          { from: 9, to: 9 },
        ],
      },
      { op: 'seq', set: [{ from: 2, to: Infinity }] },
    ],
  });
  assert.deepEqual(key('MODSEQ "/flags/\\\\draft" all 620162338'), { op: 'modseq', n: 620162338 });
});

test('OR, NOT and parenthesised groups nest', () => {
  assert.deepEqual(key('OR SEEN FLAGGED'), { op: 'or', a: flag('\\Seen', true), b: flag('\\Flagged', true) });
  assert.deepEqual(key('NOT NOT DELETED'), { op: 'not', key: { op: 'not', key: flag('\\Deleted', true) } });
  assert.deepEqual(key('OR (FROM bob SEEN) NOT (TO carol) UNDRAFT'), {
    op: 'and',
    keys: [
      {
        op: 'or',
        a: {
          op: 'and',
          keys: [{ op: 'header', field: 'from', value: 'bob' }, flag('\\Seen', true)],
        },
        b: { op: 'not', key: { op: 'header', field: 'to', value: 'carol' } },
      },
      flag('\\Draft', false),
    ],
  });
  assert.deepEqual(key('OR OR 1 2 3'), {
    op: 'or',
    a: { op: 'or', a: { op: 'seq', set: [{ from: 1, to: 1 }] }, b: { op: 'seq', set: [{ from: 2, to: 2 }] } },
    b: { op: 'seq', set: [{ from: 3, to: 3 }] },
  });
});

test('deep NOT chains are bounded', () => {
  assert.doesNotThrow(() => key(`${'NOT '.repeat(60)}SEEN`));
  assert.throws(() => key(`${'NOT '.repeat(5000)}SEEN`), /deep/);
});

test('RETURN and CHARSET prefixes', () => {
  const r = search('RETURN (min COUNT) CHARSET UTF-8 SEEN');
  assert.deepEqual(r, { returnOpts: ['MIN', 'COUNT'], charset: 'UTF-8', key: flag('\\Seen', true) });
  assert.deepEqual(search('RETURN () ALL').returnOpts, ['ALL']);
  assert.deepEqual(search('RETURN (SAVE) ALL').returnOpts, ['SAVE']);
  // "$" is the saved result (RFC 5182), as a key of its own and after UID
  assert.deepEqual(key('$'), { op: 'saved' });
  assert.deepEqual(key('UID $'), { op: 'saved' });
  const latin = parseSearch([
    { t: 'atom', v: 'CHARSET' },
    { t: 'atom', v: 'ISO-8859-1' },
    { t: 'atom', v: 'BODY' },
    { t: 'string', v: Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65]) },
  ]);
  assert.deepEqual(latin.key, { op: 'body', value: 'Grüße' });
  assert.throws(() => search('CHARSET X-NO-SUCH SEEN'), UnsupportedCharsetError);
});

test('bad criteria are rejected', () => {
  for (const s of [
    '',
    'FOO',
    'FROM',
    'OR SEEN',
    'NOT',
    'SINCE 31-Feb-2020',
    'LARGER -1',
    'LARGER abc',
    'LARGER 99999999999',
    'UID',
    'UID 0',
    'KEYWORD \\Seen',
    'KEYWORD "a b"',
    '0',
    '$,1',
    'UID 1:$',
    '()',
    'RETURN (FOO) ALL',
    'RETURN ALL',
    'CHARSET',
    'HEADER "Bad Name" x',
    '"SEEN"',
    'MODSEQ',
    'MODSEQ "/flags/x" bogus 5',
    'BODY \0',
  ]) {
    assert.throws(() => search(s), ImapParseError, s);
  }
  // Invalid UTF-8 in a string argument.
  assert.throws(
    () => parseSearch([{ t: 'atom', v: 'BODY' }, { t: 'string', v: Buffer.from([0x61, 0xff]) }]),
    ImapParseError,
  );
});
