import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapParseError, parseCommand, type ImapValue } from '../../src/protocols/imap/parser/command-parser.js';
import { CommandFramer } from '../../src/protocols/imap/parser/line-reader.js';

const atom = (v: string): ImapValue => ({ t: 'atom', v });
const str = (v: string): ImapValue => ({ t: 'string', v: Buffer.from(v) });
const lit = (v: string): ImapValue => ({ t: 'string', v: Buffer.from(v), literal: true });
const list = (...v: ImapValue[]): ImapValue => ({ t: 'list', v });
const parse = (line: string, literals: string[] = []) =>
  parseCommand(
    Buffer.from(line),
    literals.map((l) => Buffer.from(l)),
  );

function throwsWithTag(fn: () => unknown, tag: string | null, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ImapParseError, String(e));
    assert.equal(e.tag, tag);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('tag, uppercased name and simple arguments', () => {
  assert.deepEqual(parse('a001 select INBOX'), { tag: 'a001', name: 'SELECT', args: [atom('INBOX')] });
  assert.deepEqual(parse('a2 NOOP'), { tag: 'a2', name: 'NOOP', args: [] });
  assert.deepEqual(parse('a3 uid fetch 1:* (FLAGS)'), {
    tag: 'a3',
    name: 'UID FETCH',
    args: [atom('1:*'), list(atom('FLAGS'))],
  });
});

test('quoted strings: escapes and 8-bit UTF-8', () => {
  const r = parse('a1 LOGIN "jo\\"e" "p\\\\w d" "Grüße 日本"');
  assert.deepEqual(r.args, [str('jo"e'), str('p\\w d'), str('Grüße 日本')]);
  assert.deepEqual(parse('a1 X ""').args, [str('')]);
  throwsWithTag(() => parse('a1 X "a\\nb"'), 'a1', /escape/);
  throwsWithTag(() => parse('a1 X "abc'), 'a1', /Unterminated/);
});

test('literal placeholders take literals in order', () => {
  const r = parse('a1 LOGIN \0 \0', ['alice', 'se cret']);
  assert.deepEqual(r.args, [lit('alice'), lit('se cret')]);
  // a literal is marked, a quoted string is not (APPEND tells a date from a message by it)
  assert.deepEqual(parse('a1 APPEND b \0 \0', ['m1', 'm2']).args, [atom('b'), lit('m1'), lit('m2')]);
  throwsWithTag(() => parse('a1 LOGIN \0 \0', ['alice']), 'a1', /without literal/);
  throwsWithTag(() => parse('a1 LOGIN x', ['alice']), 'a1');
});

test('lists, NIL, flags and wildcards', () => {
  const r = parse('a1 STORE 1:3,5 +FLAGS.SILENT (\\Seen $Junk) NIL % *');
  assert.deepEqual(r.args, [
    atom('1:3,5'),
    atom('+FLAGS.SILENT'),
    list(atom('\\Seen'), atom('$Junk')),
    atom('NIL'),
    atom('%'),
    atom('*'),
  ]);
  assert.deepEqual(parse('a1 X ((a) () "b")').args, [list(list(atom('a')), list(), str('b'))]);
});

test('BODY sections stay one atom including spaces and lists', () => {
  const r = parse('a1 FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100> BODY[])');
  assert.deepEqual(r.args, [
    atom('1'),
    list(atom('UID'), atom('BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>'), atom('BODY[]')),
  ]);
  assert.deepEqual(parse('a1 FETCH 1 BODY[HEADER.FIELDS ("X]Y")]').args[1], atom('BODY[HEADER.FIELDS ("X]Y")]'));
  // "[" without "]" is an ordinary astring character (RFC 3501 9): the FETCH parser refuses "BODY[HEADER"
  assert.deepEqual(parse('a1 FETCH 1 BODY[HEADER').args[1], atom('BODY[HEADER'));
  assert.deepEqual(parse("a1 SELECT !#$$&'+,-.0123456789:;<=>?@^_`|[}").args, [atom("!#$$&'+,-.0123456789:;<=>?@^_`|[}")]);
  assert.deepEqual(parse('a1 LIST "" a[b c').args, [str(''), atom('a[b'), atom('c')]);
});

test('nesting limit: 32 levels fine, 33 rejected, 100000 rejected without stack overflow', () => {
  const nest = (n: number) => `a1 X ${'('.repeat(n)}${')'.repeat(n)}`;
  assert.doesNotThrow(() => parse(nest(32)));
  throwsWithTag(() => parse(nest(33)), 'a1', /deep/);
  throwsWithTag(() => parse(nest(100000)), 'a1', /deep/);
});

test('syntax errors carry the tag when known', () => {
  throwsWithTag(() => parse(''), null);
  throwsWithTag(() => parse(' NOOP'), null);
  throwsWithTag(() => parse('a+b NOOP'), null);
  throwsWithTag(() => parse('a1'), 'a1', /command/);
  throwsWithTag(() => parse('a1 UID'), 'a1');
  throwsWithTag(() => parse('a1 X (a'), 'a1', /Unterminated/);
  throwsWithTag(() => parse('a1 X a)'), 'a1');
  throwsWithTag(() => parse('a1 X (a)(b)'), 'a1', /space/);
  throwsWithTag(() => parse('a1 X a"b"'), 'a1', /space/);
  throwsWithTag(() => parse('a1 X {5}'), 'a1');
  throwsWithTag(() => parse('a1 X caf\u00e9'), 'a1');
});

/** The one command the framer makes of `text`. */
function framed(text: string) {
  const ev = new CommandFramer({ maxLineLength: 1000, maxLiteralSize: 1000, maxCommandSize: 10000 }).push(Buffer.from(text));
  assert.equal(ev.length, 1);
  const c = ev[0]!;
  assert.ok(c.type === 'command');
  return c;
}

test('framer output feeds the parser', () => {
  const c = framed('A1 LOGIN {5+}\r\nalice "x y"\r\n');
  assert.deepEqual(parseCommand(c.line, c.literals), { tag: 'A1', name: 'LOGIN', args: [lit('alice'), str('x y')] });
});

test('literal8 ("~{n}", "~{n+}") is marked through framer and parser; "{n}" is not', () => {
  const c = framed('A1 APPEND INBOX UTF8 (~{3+}\r\na\0b) {2+}\r\nxy ~{1+}\r\nz\r\n');
  assert.deepEqual(c.literal8, [0, 2]);
  assert.deepEqual(parseCommand(c.line, c.literals, c.literal8).args, [
    { t: 'atom', v: 'INBOX' }, { t: 'atom', v: 'UTF8' },
    { t: 'list', v: [{ t: 'string', v: Buffer.from('a\0b'), literal: true, literal8: true }] },
    lit('xy'), { t: 'string', v: Buffer.from('z'), literal: true, literal8: true },
  ]);
});
