// Fuzz targets (issue 14): grammar-aware generators (fast-check) for the IMAP command framer and
// parser, POP3 and SMTP command handling (over real sockets to an in-process server), and the
// MIME parser and structure code. `npm run fuzz` runs each for a fixed budget (scripts/fuzz.mjs);
// crash.test.ts replays every saved crash in `npm test`. Inputs are JSON-serialisable (strings
// in latin1), so a crash is saved as it was generated.
import fc from 'fast-check';
import net from 'node:net';
import { CommandFramer, type FramerEvent } from '../../src/protocols/imap/parser/line-reader.js';
import { ImapParseError, parseCommand } from '../../src/protocols/imap/parser/command-parser.js';
import { parseFetchItems } from '../../src/protocols/imap/parser/fetch-items.js';
import { parseSearch } from '../../src/protocols/imap/parser/search-keys.js';
import { parseSequenceSet } from '../../src/protocols/imap/parser/sequence-set.js';
import { ImapError } from '../../src/protocols/imap/errors.js';
import { MAX_MIME_PARTS, parseMessage, type MimePart } from '../../src/mime/structure.js';
import { renderBodyStructure, renderEnvelope } from '../../src/mime/imap-render.js';
import { extractSection, parseSectionSpec } from '../../src/mime/section.js';
import { bodyText } from '../../src/mime/search-text.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { soapTarget, wbxmlTarget } from './decoder-targets.js';

export interface FuzzTarget<T> {
  name: string;
  arbitrary: fc.Arbitrary<T>;
  /** Throws (or rejects) on a crash: an exception the code must never raise, or a broken invariant. */
  check(input: T): Promise<void> | void;
  /** Shared state for a run (a server), set up once and torn down at the end. */
  setUp?(): Promise<void>;
  tearDown?(): Promise<void>;
}

// ------------------------------------------------------------------ shared grammar pieces
const atomChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:*$!#&\'+,/;<=>?@^`|~'.split(''));
const atom = fc.string({ unit: atomChar, minLength: 1, maxLength: 12 });
const anyByte = fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b));
const junk = fc.string({ unit: anyByte, maxLength: 20 });
const num = fc.oneof(fc.integer({ min: 0, max: 20 }).map(String), fc.constantFrom('4294967295', '4294967296', '99999999999999999999', '-1', '0'));

// ------------------------------------------------------------------ IMAP
const seqSet = fc.array(fc.oneof(num, fc.tuple(num, num).map(([a, b]) => `${a}:${b}`), fc.constant('*'), fc.constant('$'), fc.constant('1:*')), { minLength: 1, maxLength: 4 }).map((a) => a.join(','));
const quoted = fc.string({ unit: fc.oneof(atomChar, fc.constantFrom(' ', '\\\\', '\\"', '(', ')', '{', '\u00e9', '\t')), maxLength: 16 }).map((s) => `"${s}"`);
const literal = fc.tuple(fc.string({ unit: anyByte, maxLength: 24 }), fc.constantFrom('', '+', '-'), fc.boolean()).map(([data, plus, eight]) => `${eight ? '~' : ''}{${data.length}${plus}}\r\n${data}`);
const section = fc.oneof(
  fc.constant(''), fc.constantFrom('HEADER', 'TEXT', 'MIME', '1', '1.2.MIME', '2.HEADER', '0', '1.0'),
  fc.array(atom, { maxLength: 3 }).map((f) => `HEADER.FIELDS (${f.join(' ')})`),
  fc.array(atom, { maxLength: 3 }).map((f) => `HEADER.FIELDS.NOT (${f.join(' ')})`),
);
const fetchAtt = fc.oneof(
  fc.constantFrom('ALL', 'FAST', 'FULL', 'ENVELOPE', 'FLAGS', 'INTERNALDATE', 'RFC822', 'RFC822.SIZE', 'RFC822.HEADER', 'BODY', 'BODYSTRUCTURE', 'UID', 'MODSEQ', 'EMAILID', 'X-UNKNOWN'),
  fc.tuple(fc.constantFrom('BODY', 'BODY.PEEK', 'BINARY', 'BINARY.PEEK', 'BINARY.SIZE'), section, fc.option(fc.tuple(num, num))).map(([k, s, p]) => `${k}[${s}]${p ? `<${p[0]}.${p[1]}>` : ''}`),
);
const searchKey: fc.Arbitrary<string> = fc.letrec((tie) => ({
  key: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom('ALL', 'ANSWERED', 'DELETED', 'FLAGGED', 'NEW', 'OLD', 'RECENT', 'SEEN', 'UNSEEN', 'DRAFT', 'UNDRAFT'),
    fc.tuple(fc.constantFrom('FROM', 'TO', 'CC', 'BCC', 'SUBJECT', 'BODY', 'TEXT', 'KEYWORD'), fc.oneof(atom, quoted, literal)).map(([k, v]) => `${k} ${v}`),
    fc.tuple(fc.constantFrom('BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE'), fc.constantFrom('1-Jan-2020', '31-Feb-2020', '1-Foo-2020', 'x', '"1-Jan-2020"')).map(([k, v]) => `${k} ${v}`),
    fc.tuple(fc.constantFrom('LARGER', 'SMALLER', 'MODSEQ', 'UID', 'OLDER', 'YOUNGER'), fc.oneof(num, seqSet)).map(([k, v]) => `${k} ${v}`),
    fc.tuple(atom, atom).map(([h, v]) => `HEADER ${h} ${v}`),
    seqSet,
    fc.tuple(tie('key'), tie('key')).map(([a, b]) => `OR ${a} ${b}`),
    tie('key').map((k) => `NOT ${k}`),
    fc.array(tie('key'), { minLength: 1, maxLength: 3 }).map((ks) => `(${ks.join(' ')})`),
  ),
})).key as fc.Arbitrary<string>;
const imapArg = fc.oneof(atom, quoted, literal, seqSet, fc.array(fc.oneof(atom, quoted, fetchAtt), { maxLength: 4 }).map((a) => `(${a.join(' ')})`), fc.constant('NIL'), fc.constant('()'), fc.constant('(('), fc.constant(')'));
const imapCommand = fc.oneof(
  fc.tuple(atom, fc.constantFrom('FETCH', 'UID FETCH'), seqSet, fc.oneof(fetchAtt, fc.array(fetchAtt, { maxLength: 4 }).map((a) => `(${a.join(' ')})`)), fc.option(fc.constantFrom(' (CHANGEDSINCE 5)', ' (CHANGEDSINCE 5 VANISHED)', ' (X)'))).map(([t, c, s, a, m]) => `${t} ${c} ${s} ${a}${m ?? ''}`),
  fc.tuple(atom, fc.constantFrom('SEARCH', 'UID SEARCH'), fc.option(fc.constantFrom('CHARSET UTF-8 ', 'CHARSET X-FOO ', 'RETURN (MIN MAX COUNT SAVE) ', 'RETURN () ')), fc.array(searchKey, { minLength: 1, maxLength: 3 })).map(([t, c, pre, ks]) => `${t} ${c} ${pre ?? ''}${ks.join(' ')}`),
  fc.tuple(atom, fc.constantFrom('LOGIN', 'SELECT', 'EXAMINE', 'CREATE', 'DELETE', 'RENAME', 'LIST', 'LSUB', 'STATUS', 'APPEND', 'STORE', 'COPY', 'MOVE', 'EXPUNGE', 'UID EXPUNGE', 'ENABLE', 'ID', 'IDLE', 'NOOP', 'CAPABILITY', 'AUTHENTICATE', 'COMPRESS', 'NAMESPACE', 'GETQUOTAROOT', 'X'), fc.array(imapArg, { maxLength: 4 })).map(([t, c, a]) => `${t} ${c}${a.length ? ' ' + a.join(' ') : ''}`),
  junk,
);

export const imapTarget: FuzzTarget<{ text: string; cuts: number[] }> = {
  name: 'imap-command',
  arbitrary: fc.record({
    text: fc.array(imapCommand, { minLength: 1, maxLength: 5 }).map((cs) => cs.join('\r\n') + '\r\n'),
    cuts: fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 6 }),
  }),
  check({ text, cuts }) {
    const bytes = Buffer.from(text, 'latin1');
    const limits = { maxLineLength: 200, maxLiteralSize: 64, maxCommandSize: 400 };
    const whole = new CommandFramer(limits).push(bytes);
    // the events must not depend on how the bytes were cut into chunks
    const framer = new CommandFramer(limits);
    const chunked: FramerEvent[] = [];
    let at = 0;
    for (const c of [...cuts.filter((c) => c < bytes.length)].sort((a, b) => a - b).concat(bytes.length)) {
      chunked.push(...framer.push(bytes.subarray(at, Math.max(at, c))));
      at = Math.max(at, c);
    }
    if (JSON.stringify(chunked) !== JSON.stringify(whole)) throw new Error('framer output depends on chunking');
    for (const e of whole) {
      if (e.type !== 'command') continue;
      let cmd;
      try {
        cmd = parseCommand(e.line, e.literals, e.literal8);
      } catch (err) {
        if (err instanceof ImapParseError) continue;
        throw err;
      }
      try {
        const args = cmd.name === 'UID' ? cmd.args.slice(1) : cmd.args;
        const sub = cmd.name === 'UID' && cmd.args[0]?.t === 'atom' ? cmd.args[0].v.toUpperCase() : cmd.name;
        if (sub === 'FETCH' && args.length >= 2) parseFetchItems(args.slice(1));
        if (sub === 'SEARCH') parseSearch(args);
        if (args[0]?.t === 'atom') parseSequenceSet(args[0].v);
      } catch (err) {
        if (err instanceof ImapParseError || err instanceof ImapError) continue;
        throw err;
      }
    }
  },
};

// ------------------------------------------------------------------ MIME
const headerName = fc.constantFrom('Content-Type', 'Content-Transfer-Encoding', 'Content-Disposition', 'Content-ID', 'Content-Description', 'Content-Language', 'Content-Location', 'Subject', 'From', 'To', 'Date', 'Message-ID', 'In-Reply-To', 'X-Junk');
const headerValue = fc.oneof(
  fc.constantFrom('text/plain; charset=utf-8', 'text/html', 'multipart/mixed; boundary=b1', 'multipart/alternative; boundary="b2"', 'multipart/digest; boundary=b3', 'message/rfc822', 'multipart/mixed', 'application/octet-stream; name="=?utf-8?q?a=20b?="', 'base64', 'quoted-printable', 'attachment; filename*=utf-8\'\'%E2%82%AC.txt', '"Ann" <ann@example.com>, bob@example', '=?utf-8?b?w6k=?=', '<id@x>', 'multipart/mixed; boundary=""', 'text/plain; charset*0=us; charset*1=-ascii'),
  junk,
);
interface MimeNode { headers: Array<[string, string]>; body: string; children: MimeNode[]; boundary: string }
const mimeNode: fc.Arbitrary<MimeNode> = fc.letrec((tie) => ({
  node: fc.record({
    headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }),
    body: fc.oneof(junk, fc.constantFrom('hello\r\n', 'line\nbare LF\n', '=E9t=\r\n', 'aGVsbG8=\r\n', '')),
    children: fc.oneof({ depthSize: 'small' }, fc.constant([]), fc.array(tie('node'), { maxLength: 3 })),
    boundary: fc.constantFrom('b1', 'b2', 'b3', 'x'),
  }),
})).node as fc.Arbitrary<MimeNode>;

function renderMime(n: MimeNode): string {
  const headers = [...n.headers];
  if (n.children.length) headers.push(['Content-Type', `multipart/mixed; boundary=${n.boundary}`]);
  const head = headers.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
  if (!n.children.length) return head + n.body;
  return head + n.body + n.children.map((c) => `\r\n--${n.boundary}\r\n${renderMime(c)}`).join('') + `\r\n--${n.boundary}--\r\n`;
}

function checkPart(p: MimePart, size: number, count: { n: number }): void {
  count.n++;
  if (!(p.headerStart <= p.headerEnd && p.headerEnd === p.bodyStart && p.bodyStart <= p.bodyEnd && p.bodyEnd <= size && p.headerStart >= 0)) {
    throw new Error(`part ranges out of order: ${JSON.stringify([p.headerStart, p.headerEnd, p.bodyStart, p.bodyEnd, size])}`);
  }
  for (const c of p.parts ?? []) checkPart(c, size, count);
  if (p.message) checkPart(p.message.root, size, count);
}

export const mimeTarget: FuzzTarget<{ text: string; cut: number; flips: number[] }> = {
  name: 'mime-structure',
  arbitrary: fc.record({ text: mimeNode.map(renderMime), cut: fc.integer({ min: 0, max: 2000 }), flips: fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 3 }) }),
  check({ text, cut, flips }) {
    const raw = Buffer.from(text, 'latin1');
    for (const f of flips) if (f < raw.length) raw[f] = raw[f]! ^ 0x20;
    const bytes = cut > 0 && cut < raw.length ? raw.subarray(0, cut) : raw;
    const msg = parseMessage(bytes);
    const count = { n: 0 };
    checkPart(msg.root, bytes.length, count);
    if (count.n > MAX_MIME_PARTS + 1) throw new Error(`${count.n} parts described`);
    renderEnvelope(msg.envelope);
    const bs = renderBodyStructure(msg.root, true);
    if (!bs.startsWith('(') || !bs.endsWith(')')) throw new Error('BODYSTRUCTURE is not a list');
    renderBodyStructure(msg.root, false);
    bodyText(bytes, msg);
    for (const s of ['', 'HEADER', 'TEXT', '1', '1.MIME', '1.1', '2.TEXT', '1.HEADER.FIELDS (SUBJECT)', 'HEADER.FIELDS.NOT (FROM)']) {
      const spec = parseSectionSpec(s);
      if (spec) extractSection(bytes, msg, spec);
    }
  },
};

// ------------------------------------------------------------------ POP3 and SMTP over sockets
let server: TestServer | null = null;

/** Sends the lines (pipelined), then QUIT, and reads until the server closes; returns what it said. */
function converse(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    // after the greeting: SMTP refuses a client that talks first ("You talk too soon")
    s.once('data', () => {
      s.write(Buffer.from(text, 'latin1'));
      s.end('\r\nQUIT\r\n');
    });
    s.on('error', () => undefined);
    s.once('close', () => resolve(got));
    setTimeout(() => {
      s.destroy();
      reject(new Error(`no close within 60 s; got ${got.slice(-200)}`));
    }, 60_000).unref();
  });
}

async function serverStillServes(port: number, greeting: RegExp): Promise<void> {
  const said = await converse(port, '');
  if (!greeting.test(said)) throw new Error(`server no longer greets: ${said.slice(0, 200)}`);
}

function noInternalErrors(): void {
  const bad = server!.logged.records().filter((r) => (r.level as number) >= 50);
  if (bad.length) throw new Error(`server logged an error: ${JSON.stringify(bad[0]).slice(0, 500)}`);
}

const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64');
const popLine = fc.oneof(
  fc.tuple(fc.constantFrom('USER', 'PASS', 'STAT', 'LIST', 'RETR', 'DELE', 'NOOP', 'RSET', 'TOP', 'UIDL', 'CAPA', 'APOP', 'AUTH', 'STLS', 'UTF8', 'LANG', 'user', 'Retr', 'XTND'), fc.array(fc.oneof(num, atom, junk), { maxLength: 3 })).map(([c, a]) => [c, ...a].join(' ')),
  fc.constantFrom('USER fuzz@test.example', 'PASS fuzz-pw', 'AUTH PLAIN', `AUTH PLAIN ${b64('\0fuzz@test.example\0fuzz-pw')}`, 'AUTH LOGIN', '*', `${b64('\0x\0y')}`),
  junk,
);

export const pop3Target: FuzzTarget<string[]> = {
  name: 'pop3-commands',
  arbitrary: fc.array(popLine, { minLength: 1, maxLength: 12 }),
  async setUp() {
    server = await startTestServer({ plaintext: true, guardPolicy: { windowMs: 1, lockoutAfter: 1_000_000, lockoutMs: 1, delayStepMs: 0, maxDelayMs: 0 } });
    const u = await server.addUser('fuzz@test.example', 'fuzz-pw');
    for (let i = 0; i < 3; i++) await server.ctx.store.deliver([u.id], Buffer.from(`Subject: m${i}\r\n\r\n.dot line\r\nbody ${i}\r\n`));
  },
  async tearDown() {
    await server?.close();
    server = null;
  },
  async check(lines) {
    const said = await converse(server!.port('pop3'), lines.join('\r\n'));
    if (!said.startsWith('+OK')) throw new Error(`no greeting: ${said.slice(0, 100)}`);
    for (const l of said.split('\r\n')) if (/^-ERR \[SYS\/TEMP\] Server Unavailable\. 21/.test(l)) throw new Error(`internal failure answered: ${l}`);
    noInternalErrors();
    await serverStillServes(server!.port('pop3'), /^\+OK/);
  },
};

const mailbox = fc.oneof(fc.constantFrom('<fuzz@test.example>', '<>', '<nobody@test.example>', '<a@remote.example>', '<@relay:a@b>', '<"q u"@test.example>', 'fuzz@test.example', '<a@[127.0.0.1]>', '<\u00e9@test.example>'), junk.map((j) => `<${j}>`));
const smtpLine = fc.oneof(
  fc.tuple(fc.constantFrom('EHLO', 'HELO', 'LHLO'), fc.oneof(atom, fc.constant('[127.0.0.1]'), junk)).map(([c, a]) => `${c} ${a}`),
  fc.tuple(mailbox, fc.array(fc.constantFrom('SIZE=100', 'SIZE=99999999999', 'BODY=8BITMIME', 'SMTPUTF8', 'RET=HDRS', 'ENVID=x', 'X=Y', 'SIZE='), { maxLength: 2 })).map(([m, p]) => `MAIL FROM:${m}${p.length ? ' ' + p.join(' ') : ''}`),
  fc.tuple(mailbox, fc.array(fc.constantFrom('NOTIFY=NEVER', 'ORCPT=rfc822;a@b', 'X=1'), { maxLength: 1 })).map(([m, p]) => `RCPT TO:${m}${p.length ? ' ' + p.join(' ') : ''}`),
  fc.tuple(junk, fc.boolean()).map(([body, dot]) => `DATA\r\nSubject: fuzz\r\n\r\n${body.replace(/\r?\n\.\r?\n/g, '\r\n')}\r\n..x${dot ? '\r\n.' : ''}`),
  fc.constantFrom('RSET', 'NOOP', 'VRFY fuzz', 'EXPN list', 'HELP', 'STARTTLS', 'AUTH PLAIN', 'AUTH LOGIN', `AUTH PLAIN ${b64('\0fuzz@test.example\0x')}`, 'BDAT 5 LAST', 'TURN', 'QUIT', ''),
  junk,
);

export const smtpTarget: FuzzTarget<string[]> = {
  name: 'smtp-commands',
  arbitrary: fc.array(smtpLine, { minLength: 1, maxLength: 10 }),
  async setUp() {
    server = await startTestServer({ plaintext: true, guardPolicy: { windowMs: 1, lockoutAfter: 1_000_000, lockoutMs: 1, delayStepMs: 0, maxDelayMs: 0 } });
    await server.addUser('fuzz@test.example', 'fuzz-pw');
    // the port-25 greeting pause (100 ms) would be most of each run's time: executions, not waits
    await server.setSetting('SmtpSettings.GreetingDelay', '0');
  },
  async tearDown() {
    await server?.close();
    server = null;
  },
  async check(lines) {
    const said = await converse(server!.port('smtp'), lines.join('\r\n'));
    if (!said.startsWith('220')) throw new Error(`no greeting: ${said.slice(0, 100)}`);
    for (const l of said.split('\r\n')) {
      if (l && !/^\d{3}[ -]/.test(l)) throw new Error(`not an SMTP reply line: ${JSON.stringify(l.slice(0, 100))}`);
      if (/^451 4\.3\.0 Temporary local problem/.test(l)) throw new Error(`internal failure answered: ${l}`);
    }
    noInternalErrors();
    await serverStillServes(server!.port('smtp'), /^220/);
  },
};

export const TARGETS: Array<FuzzTarget<never>> = [imapTarget, mimeTarget, pop3Target, smtpTarget, soapTarget, wbxmlTarget] as unknown as Array<FuzzTarget<never>>;
