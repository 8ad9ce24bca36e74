/**
 * WBXML 1.3 (W3C NOTE-wbxml-19990624) as ActiveSync uses it (MS-ASWBXML): header `03 01 6A 00`
 * (version 1.3, unknown public id, UTF-8, empty string table), tags from the code pages in
 * code-pages.ts, inline strings, opaque data; no attributes, no entities of our own making.
 *
 * Encoding writes exactly what Debian's `xml2wbxml -a -n -v 1.3` writes for the same document
 * (the tests compare bytes). Decoding reads what any client may send and refuses anything else
 * with a WbxmlError: unknown pages or tags, attributes, literals, processing instructions,
 * truncated input, too deep, too many elements, too long, string-table references that add up to
 * more text than the document's size. Every limit is checked before the work.
 */
import { PAGE_BY_NAME, PAGE_BY_NUMBER, TOKEN_BY_TAG } from './code-pages.js';

/** An element: its code page's name ("AirSync"), tag name, and children in order. */
export interface WbxmlElement {
  page: string;
  tag: string;
  children: WbxmlNode[];
}
/** Text, opaque bytes (a Buffer) or an element. */
export type WbxmlNode = WbxmlElement | string | Buffer;

export class WbxmlError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`WBXML: ${message} at byte ${offset}`);
    this.name = 'WbxmlError';
  }
}

export interface DecodeLimits {
  /** Bytes of the whole document. */
  maxBytes: number;
  /** Nesting depth of elements. */
  maxDepth: number;
  /** Elements in the document. */
  maxElements: number;
}

export const DEFAULT_LIMITS: DecodeLimits = { maxBytes: 32 * 1024 * 1024, maxDepth: 32, maxElements: 200_000 };

const SWITCH_PAGE = 0x00;
const END = 0x01;
const ENTITY = 0x02;
const STR_I = 0x03;
const LITERAL = 0x04;
const STR_T = 0x83;
const OPAQUE = 0xc3;
/** Tokens that are no tag on any page (extensions, PI, literals with flags). */
const GLOBAL_OTHER = new Set([0x40, 0x41, 0x42, 0x43, 0x44, 0x80, 0x81, 0x82, 0x84, 0xc0, 0xc1, 0xc2, 0xc4]);

/** A small element builder: `el('AirSync', 'SyncKey', '1')`, `el('AirSync', 'Sync', [child, …])`. */
export function el(page: string, tag: string, content?: WbxmlNode | readonly (WbxmlNode | null | undefined | false)[] | number): WbxmlElement {
  let children: WbxmlNode[];
  if (content === undefined) children = [];
  else if (typeof content === 'number') children = [String(content)];
  else if (Array.isArray(content)) children = content.filter((c): c is WbxmlNode => c !== null && c !== undefined && c !== false);
  else children = [content as WbxmlNode];
  return { page, tag, children };
}

// ---------------------------------------------------------------- encoding

export function encode(root: WbxmlElement): Buffer {
  const w = new Writer();
  w.bytes([0x03, 0x01, 0x6a, 0x00]);
  let current = 0;
  const write = (e: WbxmlElement) => {
    const p = PAGE_BY_NAME.get(e.page);
    const token = TOKEN_BY_TAG.get(e.page)?.get(e.tag);
    if (!p || token === undefined) throw new Error(`WBXML: no token for ${e.page}:${e.tag}`);
    if (p.number !== current) {
      w.bytes([SWITCH_PAGE, p.number]);
      current = p.number;
    }
    const hasContent = e.children.some((c) => typeof c !== 'string' || c.length > 0);
    w.byte(hasContent ? token | 0x40 : token);
    if (!hasContent) return;
    for (const c of e.children) {
      if (typeof c === 'string') {
        if (c.length === 0) continue;
        if (c.includes('\0')) throw new Error('WBXML: NUL in a string');
        w.byte(STR_I);
        w.utf8(c);
        w.byte(0);
      } else if (Buffer.isBuffer(c)) {
        w.byte(OPAQUE);
        w.bytes(mbUint32(c.length));
        w.buffer(c);
      } else write(c);
    }
    w.byte(END);
  };
  write(root);
  return w.result();
}

/** One growing buffer (a Sync answer of 512 items is thousands of strings: no chunk per string). */
class Writer {
  private buf = Buffer.allocUnsafe(4096);
  private len = 0;
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }
  bytes(bs: number[]): void {
    this.room(bs.length);
    for (const b of bs) this.buf[this.len++] = b;
  }
  utf8(s: string): void {
    this.room(s.length * 3);
    this.len += this.buf.write(s, this.len, 'utf8');
  }
  buffer(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
  }
  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

function mbUint32(n: number): number[] {
  const bytes = [n & 0x7f];
  n = Math.floor(n / 128);
  while (n > 0) {
    bytes.unshift((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  return bytes;
}

// ---------------------------------------------------------------- decoding

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  byte(): number {
    if (this.pos >= this.buf.length) throw new WbxmlError('unexpected end of input', this.pos);
    return this.buf[this.pos++]!;
  }
  mbUint32(): number {
    let n = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      n = n * 128 + (b & 0x7f);
      if (!(b & 0x80)) {
        if (n > 0xffffffff) break;
        return n;
      }
    }
    throw new WbxmlError('multi-byte integer too long', this.pos);
  }
  bytes(n: number): Buffer {
    if (n > this.buf.length - this.pos) throw new WbxmlError(`${n} bytes announced, ${this.buf.length - this.pos} left`, this.pos);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  cString(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new WbxmlError('unterminated string', this.pos);
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
}

/** The document's root element; WbxmlError for anything malformed or over a limit. */
export function decode(buf: Buffer, limits: DecodeLimits = DEFAULT_LIMITS): WbxmlElement {
  if (buf.length > limits.maxBytes) throw new WbxmlError(`document of ${buf.length} bytes is over the limit of ${limits.maxBytes}`, 0);
  const r = new Reader(buf);
  const version = r.byte();
  if (version > 0x03) throw new WbxmlError(`unsupported version 0x${version.toString(16)}`, 0);
  const publicId = r.mbUint32();
  if (publicId === 0) r.mbUint32(); // index into the string table: whatever it names, the tags are ActiveSync's
  const charset = r.mbUint32();
  if (charset !== 106 && charset !== 0) throw new WbxmlError(`charset ${charset} is not UTF-8`, r.pos);
  const table = r.bytes(r.mbUint32());
  // A string-table reference (STR_T) costs two bytes but can name a long string. libwbxml puts
  // repeated strings in the table and names them more than once, so references may add up to more
  // than the table; but all of them together to no more than the document's own size, so a
  // document never expands past twice its size (no "billion laughs" through the table; found by
  // the fuzzer, issue 14).
  let tableBudget = buf.length;

  let page = 0;
  let elements = 0;
  const stack: WbxmlElement[] = [];
  let root: WbxmlElement | null = null;
  while (r.pos < buf.length) {
    const at = r.pos;
    const t = r.byte();
    if (t === SWITCH_PAGE) {
      page = r.byte();
      if (!PAGE_BY_NUMBER.has(page)) throw new WbxmlError(`unknown code page ${page}`, at);
      continue;
    }
    if (t === END) {
      if (!stack.length) throw new WbxmlError('END without an open element', at);
      stack.pop();
      if (!stack.length) break;
      continue;
    }
    const parent = stack[stack.length - 1];
    if (t === STR_I || t === STR_T || t === OPAQUE || t === ENTITY) {
      if (!parent) throw new WbxmlError('content outside the root element', at);
      if (t === STR_I) parent.children.push(r.cString());
      else if (t === OPAQUE) parent.children.push(Buffer.from(r.bytes(r.mbUint32())));
      else if (t === ENTITY) {
        const cp = r.mbUint32();
        if (cp > 0x10ffff) throw new WbxmlError('entity out of range', at);
        parent.children.push(String.fromCodePoint(cp));
      } else {
        const offset = r.mbUint32();
        const end = table.indexOf(0, offset);
        if (offset >= table.length || end < 0) throw new WbxmlError('string table reference out of range', at);
        tableBudget -= end - offset;
        if (tableBudget < 0) throw new WbxmlError('string table references add up to more text than the document size', at);
        parent.children.push(table.toString('utf8', offset, end));
      }
      continue;
    }
    if (t === LITERAL || GLOBAL_OTHER.has(t)) throw new WbxmlError(`token 0x${t.toString(16)} is not allowed`, at);
    if (t & 0x80) throw new WbxmlError('attributes are not allowed', at);
    const cp = PAGE_BY_NUMBER.get(page)!;
    const tag = cp.tags[t & 0x3f];
    if (!tag) throw new WbxmlError(`unknown tag 0x${(t & 0x3f).toString(16)} on code page ${cp.name}`, at);
    if (root && !stack.length) throw new WbxmlError('a second root element', at);
    if (++elements > limits.maxElements) throw new WbxmlError(`more than ${limits.maxElements} elements`, at);
    const e: WbxmlElement = { page: cp.name, tag, children: [] };
    if (parent) parent.children.push(e);
    else root = e;
    if (t & 0x40) {
      if (stack.length >= limits.maxDepth) throw new WbxmlError(`nesting deeper than ${limits.maxDepth}`, at);
      stack.push(e);
    } else if (!parent) break;
  }
  if (!root) throw new WbxmlError('no root element', r.pos);
  if (stack.length) throw new WbxmlError(`unexpected end of input inside <${stack[stack.length - 1]!.tag}>`, r.pos);
  if (r.pos !== buf.length) throw new WbxmlError('bytes after the root element', r.pos);
  return root;
}

// ---------------------------------------------------------------- reading a decoded tree

/** The first child element with this tag (and page, when given). */
export function child(e: WbxmlElement | undefined, tag: string, page?: string): WbxmlElement | undefined {
  if (!e) return undefined;
  for (const c of e.children) if (typeof c === 'object' && !Buffer.isBuffer(c) && c.tag === tag && (!page || c.page === page)) return c;
  return undefined;
}

/** Every child element with this tag. */
export function children(e: WbxmlElement | undefined, tag?: string): WbxmlElement[] {
  if (!e) return [];
  return e.children.filter((c): c is WbxmlElement => typeof c === 'object' && !Buffer.isBuffer(c) && (!tag || c.tag === tag));
}

/** The text of an element (opaque bytes as UTF-8); undefined when there is no such element. */
export function text(e: WbxmlElement | undefined): string | undefined {
  if (!e) return undefined;
  return e.children.map((c) => (typeof c === 'string' ? c : Buffer.isBuffer(c) ? c.toString('utf8') : '')).join('');
}

/** The bytes of an element's content (opaque, or text as UTF-8). */
export function bytes(e: WbxmlElement | undefined): Buffer | undefined {
  if (!e) return undefined;
  return Buffer.concat(e.children.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.isBuffer(c) ? c : Buffer.alloc(0))));
}

/** The text of a child element. */
export const childText = (e: WbxmlElement | undefined, tag: string, page?: string): string | undefined => text(child(e, tag, page));
