/**
 * Turns one framed IMAP command (see line-reader.ts) into a tag, a command name and a
 * tree of values. It knows the lexical rules of RFC 3501 section 9 but no command's
 * grammar: each command handler interprets its own arguments.
 */

/**
 * Byte that stands in the framed line where a literal was. NUL can never occur in a
 * valid command line (CHAR8 excludes it), so it cannot be confused with client text.
 */
export const LITERAL_PLACEHOLDER = 0x00;

/** Deepest parenthesised nesting accepted; real clients stay well below this. */
export const MAX_NESTING = 32;

export type ImapValue =
  | { t: 'atom'; v: string }
  /**
   * A quoted string, or a literal (`literal`), which some grammar rules tell apart: APPEND's
   * date-time is always quoted and its message always a literal (RFC 3501 9, MULTIAPPEND RFC 3502).
   * literal8: sent as "~{n}" (RFC 3516), which some grammar rules require (RFC 6855 UTF8 APPEND).
   */
  | { t: 'string'; v: Buffer; literal?: true; literal8?: true }
  | { t: 'list'; v: ImapValue[] };

export interface ParsedCommand {
  tag: string;
  name: string;
  args: ImapValue[];
}

export class ImapParseError extends Error {
  constructor(
    message: string,
    public readonly tag: string | null,
    /** An RFC 5530 response code for the answer, kept apart from the text. */
    public readonly code?: string,
  ) {
    super(message);
    this.name = 'ImapParseError';
  }
}

const SP = 0x20;
const LPAREN = 0x28;
const RPAREN = 0x29;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;

/** tag = 1*<any ASTRING-CHAR except "+">; ASTRING-CHAR excludes ( ) { SP CTL % * " \ */
export function isTagByte(b: number): boolean {
  if (b <= 0x20 || b >= 0x7f) return false;
  return !(b === LPAREN || b === RPAREN || b === LBRACE || b === 0x25 || b === 0x2a || b === DQUOTE || b === BACKSLASH || b === 0x2b);
}

/**
 * The tag of a (possibly partial) command line, or null when the bytes do not start
 * with a valid tag followed by a space. Used so errors can be answered with the tag.
 */
export function extractTag(line: Buffer): string | null {
  const sp = line.indexOf(SP);
  if (sp <= 0) return null;
  for (let i = 0; i < sp; i++) if (!isTagByte(line[i]!)) return null;
  return line.toString('latin1', 0, sp);
}

/**
 * Bytes allowed in an "atom" token as this parser reads it. Wider than RFC ATOM-CHAR on
 * purpose: sequence sets use "*", flags use "\", LIST patterns use "%" and "*", and
 * response codes may use "]". Command handlers validate what they expect.
 */
function isAtomByte(b: number): boolean {
  if (b <= 0x20 || b >= 0x7f) return false;
  return b !== LPAREN && b !== RPAREN && b !== DQUOTE && b !== LBRACE;
}

class Cursor {
  pos = 0;
  literalIndex = 0;
  constructor(
    readonly buf: Buffer,
    readonly literals: Buffer[],
    readonly literal8: readonly number[],
    public tag: string | null,
  ) {}

  fail(message: string): never {
    throw new ImapParseError(message, this.tag);
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  peek(): number {
    return this.buf[this.pos]!;
  }

  /** Clients commonly send doubled or trailing spaces; tolerating them costs nothing. */
  skipSpaces(): boolean {
    const start = this.pos;
    while (this.pos < this.buf.length && this.buf[this.pos] === SP) this.pos++;
    return this.pos > start;
  }

  readAtom(): string {
    const start = this.pos;
    const buf = this.buf;
    while (this.pos < buf.length) {
      const b = buf[this.pos]!;
      if (b === LBRACKET) {
        // "[" without its "]" is an ordinary astring character (a mailbox named "a[}")
        if (!this.skipBracket()) this.pos++;
        continue;
      }
      if (!isAtomByte(b)) break;
      this.pos++;
    }
    if (this.pos === start) this.fail(`Unexpected character at offset ${start}`);
    return buf.toString('latin1', start, this.pos);
  }

  /**
   * A "[...]" section inside an atom (BODY[HEADER.FIELDS (FROM TO)]) may hold spaces,
   * parentheses and quoted field names; keep it all as atom text for the FETCH parser.
   * False (position unchanged) when no "]" closes it: then "[" is just a character of the atom.
   */
  private skipBracket(): boolean {
    const buf = this.buf;
    const start = this.pos;
    this.pos++; // "["
    while (this.pos < buf.length) {
      const b = buf[this.pos]!;
      if (b === RBRACKET) {
        this.pos++;
        return true;
      }
      if (b === DQUOTE) {
        if (!this.skipQuoted()) break;
        continue;
      }
      if (b < 0x20 || b >= 0x7f || b === LITERAL_PLACEHOLDER) break;
      this.pos++;
    }
    this.pos = start;
    return false;
  }

  /** A quoted string inside brackets; false when it does not end (the caller backs out). */
  private skipQuoted(): boolean {
    const buf = this.buf;
    for (let i = this.pos + 1; i < buf.length; i++) {
      const b = buf[i]!;
      if (b === BACKSLASH) i++;
      else if (b === DQUOTE) {
        this.pos = i + 1;
        return true;
      }
    }
    return false;
  }

  readQuoted(): Buffer {
    const buf = this.buf;
    this.pos++; // opening quote
    const out: number[] = [];
    while (this.pos < buf.length) {
      const b = buf[this.pos++]!;
      if (b === DQUOTE) return Buffer.from(out);
      if (b === BACKSLASH) {
        const next = buf[this.pos++];
        if (next !== DQUOTE && next !== BACKSLASH) this.fail('Invalid escape in quoted string');
        out.push(next);
        continue;
      }
      // 8-bit bytes pass through (UTF-8 names, UTF8=ACCEPT); NUL/CR/LF never can.
      if (b === 0x00 || b === 0x0d || b === 0x0a) this.fail('Invalid character in quoted string');
      out.push(b);
    }
    return this.fail('Unterminated quoted string');
  }

  readLiteral(): ImapValue {
    this.pos++;
    const index = this.literalIndex++;
    const lit = this.literals[index];
    if (lit === undefined) this.fail('Literal placeholder without literal data');
    if (this.literal8.includes(index)) return { t: 'string', v: lit, literal: true, literal8: true };
    // literal = "{" number "}" CRLF *CHAR8, and CHAR8 excludes NUL (RFC 9051 9; 4.3.1: binary
    // strings travel unencoded only in a literal8, RFC 3516 4.3): a syntax error, as NUL in the line is
    if (lit.includes(0)) this.fail('NUL in a literal: binary data needs a literal8 (~{n})');
    return { t: 'string', v: lit, literal: true };
  }
}

/**
 * Values up to the end of the line (depth 0) or to the ")" closing the current list.
 * Recursion is bounded by MAX_NESTING, so hostile input cannot overflow the stack.
 */
function readValues(c: Cursor, depth: number): ImapValue[] {
  const values: ImapValue[] = [];
  let needSeparator = false;
  for (;;) {
    const spaced = c.skipSpaces();
    if (c.done) {
      if (depth > 0) c.fail('Unterminated list');
      return values;
    }
    const b = c.peek();
    if (b === RPAREN) {
      if (depth === 0) c.fail('Unexpected ")"');
      c.pos++;
      return values;
    }
    // "a(b)" or "\"x\"y" would be ambiguous; RFC 3501 always separates values by SP.
    if (needSeparator && !spaced) c.fail(`Missing space at offset ${c.pos}`);
    if (b === LPAREN) {
      if (depth + 1 > MAX_NESTING) c.fail('Lists nested too deeply');
      c.pos++;
      values.push({ t: 'list', v: readValues(c, depth + 1) });
    } else if (b === DQUOTE) {
      values.push({ t: 'string', v: c.readQuoted() });
    } else if (b === LITERAL_PLACEHOLDER) {
      values.push(c.readLiteral());
    } else {
      values.push({ t: 'atom', v: c.readAtom() });
    }
    needSeparator = true;
  }
}

function readName(c: Cursor): string {
  const start = c.pos;
  while (!c.done) {
    const b = c.peek();
    // command names are plain letters (and digits in extensions like X-... or ID).
    if (!((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e)) break;
    c.pos++;
  }
  if (c.pos === start) c.fail('Missing command name');
  if (!c.done && c.peek() !== SP) c.fail('Invalid command name');
  return c.buf.toString('latin1', start, c.pos).toUpperCase();
}

/** `literal8`: which of the literals were announced as "~{n}" (see line-reader.ts). */
export function parseCommand(line: Buffer, literals: Buffer[], literal8: readonly number[] = []): ParsedCommand {
  const tag = extractTag(line) ?? (isWholeTag(line) ? line.toString('latin1') : null);
  if (tag === null) throw new ImapParseError('Missing or invalid tag', null);
  const c: Cursor = new Cursor(line, literals, literal8, tag);
  c.pos = tag.length;
  if (!c.skipSpaces() || c.done) c.fail('Missing command name');
  let name = readName(c);
  if (name === 'UID') {
    if (!c.skipSpaces() || c.done) c.fail('Missing command after UID');
    name = `UID ${readName(c)}`;
  }
  const args = readValues(c, 0);
  if (c.literalIndex !== literals.length) c.fail('Literal data without placeholder');
  return { tag, name, args };
}

/**
 * Tag and command name ("UID FETCH" for UID forms) at the start of a command, read before the
 * rest has arrived (a continuation request); null when they are not there or not valid.
 */
export function commandHead(line: Buffer): { tag: string; name: string } | null {
  const tag = extractTag(line);
  if (tag === null) return null;
  const c = new Cursor(line, [], [], tag);
  c.pos = tag.length;
  try {
    if (!c.skipSpaces() || c.done) return null;
    let name = readName(c);
    if (name === 'UID') {
      if (!c.skipSpaces() || c.done) return null;
      name = `UID ${readName(c)}`;
    }
    return { tag, name };
  } catch {
    return null;
  }
}

/** A line that is only a tag ("a1"): the tag is known, so the BAD can carry it. */
function isWholeTag(line: Buffer): boolean {
  if (line.length === 0) return false;
  for (const b of line) if (!isTagByte(b)) return false;
  return true;
}

/** Text of an atom or string argument (astring), or null for a list. */
export function valueText(v: ImapValue | undefined, encoding: BufferEncoding = 'utf8'): string | null {
  if (v === undefined || v.t === 'list') return null;
  return v.t === 'atom' ? v.v : v.v.toString(encoding);
}
