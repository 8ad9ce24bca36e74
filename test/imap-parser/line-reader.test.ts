import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommandFramer, type FramerEvent } from '../../src/protocols/imap/parser/line-reader.js';

const OPTS = { maxLineLength: 200, maxLiteralSize: 1000, maxCommandSize: 4000 };

/** Events as plain values so runs can be compared with deepEqual. */
type Plain =
  | { type: 'command'; line: string; literals: string[]; literal8?: number[] }
  | { type: 'continue' }
  | { type: 'error'; tag: string | null; message: string; fatal: boolean };

function plain(events: FramerEvent[]): Plain[] {
  return events.map((e) =>
    e.type === 'command'
      ? {
          type: 'command', line: e.line.toString('latin1'), literals: e.literals.map((l) => l.toString('latin1')),
          ...(e.literal8.length ? { literal8: e.literal8 } : {}),
        }
      : e.type === 'continue' ? { type: 'continue' } : e,
  );
}

function feed(input: Buffer, sizes: (i: number) => number, opts = OPTS): Plain[] {
  const f = new CommandFramer(opts);
  const out: FramerEvent[] = [];
  let pos = 0;
  for (let i = 0; pos < input.length; i++) {
    const n = Math.max(1, sizes(i));
    out.push(...f.push(input.subarray(pos, pos + n)));
    pos += n;
  }
  return plain(out);
}

const whole = (s: string | Buffer, opts = OPTS) => feed(Buffer.from(s as string, 'latin1'), () => Infinity, opts);

test('plain commands, CRLF and bare LF, blank lines skipped', () => {
  assert.deepEqual(whole('a1 NOOP\r\n\r\na2 CAPABILITY\n'), [
    { type: 'command', line: 'a1 NOOP', literals: [] },
    { type: 'command', line: 'a2 CAPABILITY', literals: [] },
  ]);
});

test('synchronising literal asks to continue, LITERAL+ does not', () => {
  assert.deepEqual(whole('A1 LOGIN {5}\r\nalice {6}\r\nsecret\r\n'), [
    { type: 'continue' },
    { type: 'continue' },
    { type: 'command', line: 'A1 LOGIN \0 \0', literals: ['alice', 'secret'] },
  ]);
  assert.deepEqual(whole('A1 LOGIN {5+}\r\nalice {6-}\r\nsecret\r\n'), [
    { type: 'command', line: 'A1 LOGIN \0 \0', literals: ['alice', 'secret'] },
  ]);
});

test('continue is emitted as soon as the announcing line is complete', () => {
  const f = new CommandFramer(OPTS);
  assert.deepEqual(plain(f.push(Buffer.from('A1 APPEND INBOX {3'))), []);
  assert.deepEqual(plain(f.push(Buffer.from('}\r\n'))), [{ type: 'continue' }]);
  assert.deepEqual(plain(f.push(Buffer.from('a\r\n'))), []);
  assert.deepEqual(plain(f.push(Buffer.from('\r\n'))), [{ type: 'command', line: 'A1 APPEND INBOX \0', literals: ['a\r\n'] }]);
});

test('binary literal and literal data containing CRLF, NUL and braces', () => {
  const data = 'x\r\n\0{9}\r\n';
  assert.deepEqual(whole(`A1 APPEND INBOX ~{${data.length}}\r\n${data}\r\n`), [
    { type: 'continue' },
    { type: 'command', line: 'A1 APPEND INBOX \0', literals: [data], literal8: [0] },
  ]);
  assert.deepEqual(whole('A1 X {0}\r\n\r\n'), [{ type: 'continue' }, { type: 'command', line: 'A1 X \0', literals: [''] }]);
});

/** A stream exercising every path, including the error and discard ones. */
const MIXED = Buffer.concat([
  Buffer.from('a1 LOGIN {5}\r\nalice "pw"\r\n'),
  Buffer.from(`a2 SEARCH ${'X'.repeat(300)}\r\n`), // line too long
  Buffer.from('a3 APPEND INBOX {5000}\r\n'), // sync too big: no data follows
  Buffer.from(`a4 APPEND INBOX {1500+}\r\n${'z'.repeat(1500)} more {3+}\r\nabc\r\n`), // swallowed
  Buffer.from(`a5 X ${'Y'.repeat(300)} {4+}\r\nwxyz\r\n`), // too long, then its literal swallowed
  Buffer.from('a6 X \0\r\n'), // NUL in line
  Buffer.from('\r\n'),
  Buffer.from('a7 APPEND INBOX (\\Seen) ~{4+}\r\n\0\0\r\n\r\n'),
  Buffer.from('a8 LOGOUT\r\n'),
]);

test('mixed stream: expected events', () => {
  const ev = feed(MIXED, () => Infinity);
  assert.deepEqual(ev, [
    { type: 'continue' },
    { type: 'command', line: 'a1 LOGIN \0 "pw"', literals: ['alice'] },
    { type: 'error', tag: 'a2', message: 'Command line too long', fatal: false },
    { type: 'error', tag: 'a3', code: 'TOOBIG', message: 'Literal too big', fatal: false },
    { type: 'error', tag: 'a4', code: 'TOOBIG', message: 'Literal too big', fatal: false },
    { type: 'error', tag: 'a5', message: 'Command line too long', fatal: false },
    { type: 'error', tag: 'a6', message: 'NUL byte in command line', fatal: false },
    { type: 'command', line: 'a7 APPEND INBOX (\\Seen) \0', literals: ['\0\0\r\n'], literal8: [0] },
    { type: 'command', line: 'a8 LOGOUT', literals: [] },
  ]);
});

test('one byte at a time gives the same events', () => {
  assert.deepEqual(
    feed(MIXED, () => 1),
    feed(MIXED, () => Infinity),
  );
});

test('random chunkings give the same events', () => {
  const expected = feed(MIXED, () => Infinity);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 50 }), (sizes) => {
      assert.deepEqual(
        feed(MIXED, (i) => sizes[i % sizes.length]!),
        expected,
      );
    }),
    { numRuns: 300 },
  );
});

test('1 GB synchronising literal: clean non-fatal error, nothing allocated, stream continues', () => {
  const before = process.memoryUsage().arrayBuffers;
  const ev = whole('t1 APPEND INBOX {1073741824}\r\nt2 NOOP\r\n');
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024);
  assert.deepEqual(ev, [
    { type: 'error', tag: 't1', code: 'TOOBIG', message: 'Literal too big', fatal: false },
    { type: 'command', line: 't2 NOOP', literals: [] },
  ]);
});

test('1 GB non-synchronising literal is fatal; later input is ignored', () => {
  const f = new CommandFramer(OPTS);
  assert.deepEqual(plain(f.push(Buffer.from('t1 APPEND INBOX {1073741824+}\r\n'))), [
    { type: 'error', tag: 't1', code: 'TOOBIG', message: 'Literal too big', fatal: true },
  ]);
  assert.deepEqual(f.push(Buffer.from('t2 NOOP\r\n')), []);
});

test('absurd literal lengths do not break the framer', () => {
  assert.deepEqual(whole(`t1 X {${'9'.repeat(40)}}\r\nt2 NOOP\r\n`), [
    { type: 'error', tag: 't1', code: 'TOOBIG', message: 'Literal too big', fatal: false },
    { type: 'command', line: 't2 NOOP', literals: [] },
  ]);
});

test('command size counts line text and literals', () => {
  const opts = { maxLineLength: 100, maxLiteralSize: 1000, maxCommandSize: 1500 };
  const input = `c1 X {900+}\r\n${'a'.repeat(900)} {900+}\r\n${'b'.repeat(900)}\r\nc2 NOOP\r\n`;
  assert.deepEqual(whole(input, opts), [
    { type: 'error', tag: 'c1', code: 'TOOBIG', message: 'Literal too big', fatal: false },
    { type: 'command', line: 'c2 NOOP', literals: [] },
  ]);
});

test('over-long line streamed in small chunks stays bounded and recovers', () => {
  const f = new CommandFramer(OPTS);
  const events: FramerEvent[] = [...f.push(Buffer.from('big1 SEARCH '))];
  const junk = Buffer.alloc(64 * 1024, 0x41);
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 160; i++) events.push(...f.push(junk)); // 10 MB without LF
  assert.ok(process.memoryUsage().arrayBuffers - before < 8 * 1024 * 1024);
  events.push(...f.push(Buffer.from('\r\nok NOOP\r\n')));
  assert.deepEqual(plain(events), [
    { type: 'error', tag: 'big1', message: 'Command line too long', fatal: false },
    { type: 'command', line: 'ok NOOP', literals: [] },
  ]);
});

test('unterminated literal: nothing emitted until data arrives; end() reports it', () => {
  const f = new CommandFramer(OPTS);
  assert.deepEqual(plain(f.push(Buffer.from('u1 APPEND INBOX {10+}\r\nabc'))), []);
  assert.equal(f.idle, false);
  assert.deepEqual(plain(f.end()), [
    { type: 'error', tag: 'u1', message: 'Connection closed in the middle of a command', fatal: true },
  ]);

  const g = new CommandFramer(OPTS);
  g.push(Buffer.from('u1 APPEND INBOX {10+}\r\nabc'));
  assert.deepEqual(plain(g.push(Buffer.from('defghij\r\n'))), [
    { type: 'command', line: 'u1 APPEND INBOX \0', literals: ['abcdefghij'] },
  ]);
  assert.equal(g.idle, true);
  assert.deepEqual(g.end(), []);
});

test('error tag is null when the line has no valid tag', () => {
  assert.deepEqual(whole(`${'x'.repeat(300)}\r\n`), [
    { type: 'error', tag: null, message: 'Command line too long', fatal: false },
  ]);
  assert.deepEqual(whole(`"bad" APPEND {5000}\r\n`), [
    { type: 'error', tag: null, code: 'TOOBIG', message: 'Literal too big', fatal: false },
  ]);
});

test('literal announcement not at line end is just text', () => {
  assert.deepEqual(whole('a1 SEARCH TEXT "{5}"\r\n'), [
    { type: 'command', line: 'a1 SEARCH TEXT "{5}"', literals: [] },
  ]);
});

test('property: any input built from tricky fragments frames the same in any chunking', () => {
  const fragments = [
    'a1 ',
    'NOOP',
    ' {3}',
    ' {3+}',
    ' ~{2-}',
    ' {0}',
    ' {1500+}',
    ' {99999999999}',
    ' {99999999999+}',
    '\r\n',
    '\n',
    '\r',
    'xyz',
    '\0',
    'X'.repeat(120),
    '"q {1}"',
    '}',
    '{',
  ];
  const small = { maxLineLength: 150, maxLiteralSize: 1000, maxCommandSize: 1200 };
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...fragments), { maxLength: 60 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
      (parts, sizes) => {
        const input = Buffer.from(parts.join(''), 'latin1');
        assert.deepEqual(
          feed(input, (i) => sizes[i % sizes.length]!, small),
          feed(input, () => Infinity, small),
        );
      },
    ),
    { numRuns: 1000 },
  );
});

test('a continuation request carries the command head; refusing it ends the command before its literal', () => {
  const f = new CommandFramer(OPTS);
  const [c] = f.push(Buffer.from('a1 APPEND INBOX (\\Seen) {3}\r\n'));
  assert.ok(c?.type === 'continue');
  assert.equal(c.head.toString('latin1'), 'a1 APPEND INBOX (\\Seen) ');
  // a later literal's head holds the earlier ones as placeholders
  const later = new CommandFramer(OPTS).push(Buffer.from('a0 APPEND B {1+}\r\nx {2}\r\n'));
  assert.ok(later[0]?.type === 'continue');
  assert.equal(later[0].head.toString('latin1'), 'a0 APPEND B \0 ');
  assert.equal(f.refuseLiteral(c.id + 1), false, 'another request');
  assert.equal(f.refuseLiteral(c.id), true);
  assert.equal(f.refuseLiteral(c.id), false, 'only once');
  // the client sent no data: the next bytes are a new command
  assert.deepEqual(plain(f.push(Buffer.from('a2 NOOP\r\n'))), [{ type: 'command', line: 'a2 NOOP', literals: [] }]);
  // once data of the literal arrived (a client that did not wait), it can no longer be refused
  const [d] = f.push(Buffer.from('a3 X {3}\r\nab'));
  assert.ok(d?.type === 'continue');
  assert.equal(f.refuseLiteral(d.id), false);
  assert.deepEqual(plain(f.push(Buffer.from('c\r\n'))), [{ type: 'command', line: 'a3 X \0', literals: ['abc'] }]);
});
