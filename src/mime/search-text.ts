// Text views of a message for SEARCH (RFC 3501 6.4.4) and previews: decoded header values
// and the decoded text of the text/* parts.
import libmime from 'libmime';
import { decode as decodeCharset } from 'libmime/lib/charset.js';
import { fieldValue, scanHeader } from './headers.js';
import type { MessageStructure, MimePart } from './structure.js';

/** RFC 2047 encoded words -> unicode; the input is returned unchanged if decoding fails. */
export function decodeHeaderValue(v: string): string {
  try {
    return libmime.decodeWords(v);
  } catch {
    return v;
  }
}

/** Values (unfolded, trimmed, not decoded) of every top-level header field with this name. */
export function headerValues(raw: Buffer, name: string): string[] {
  const lname = name.toLowerCase();
  return scanHeader(raw, 0, raw.length)
    .fields.filter((f) => f.lname === lname)
    .map((f) => fieldValue(raw, f));
}

/**
 * Decoded text of all text/* leaf parts, encapsulated messages included, joined by newlines.
 * HTML is reduced to its text crudely (good enough for substring search, not for display).
 */
export function bodyText(raw: Buffer, msg: MessageStructure): string {
  const out: string[] = [];
  collect(raw, msg.root, out);
  return out.join('\n');
}

function collect(raw: Buffer, part: MimePart, out: string[]): void {
  if (part.parts) for (const p of part.parts) collect(raw, p, out);
  else if (part.message) collect(raw, part.message.root, out);
  else if (part.contentType.type === 'text') {
    const bytes = decodeTransfer(raw.subarray(part.bodyStart, part.bodyEnd), part.encoding);
    let text: string;
    try {
      text = decodeCharset(bytes, charsetOf(part));
    } catch {
      text = bytes.toString('utf8');
    }
    out.push(part.contentType.subtype === 'html' ? htmlToText(text) : text);
  }
}

function charsetOf(part: MimePart): string {
  const p = part.contentType.params;
  const ext = p['charset*'];
  const cs = ext !== undefined ? ext.split("'")[0]! : p['charset'];
  // us-ascii is often a lie for 8-bit bodies; UTF-8 decodes ASCII identically and more besides.
  return !cs || /^(us-)?ascii$/i.test(cs) ? 'utf-8' : cs;
}

function decodeTransfer(body: Buffer, encoding: string): Buffer {
  if (encoding === 'base64') return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  if (encoding === 'quoted-printable') return decodeQP(body);
  return body;
}

/** RFC 2045 6.7; malformed escapes are kept literally rather than rejected. */
function decodeQP(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length);
  let n = 0;
  const hex = (c: number | undefined): number =>
    c === undefined ? -1 : c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== 0x3d) {
      out[n++] = c;
      continue;
    }
    // Soft line break: "=" then optional trailing whitespace, then (CR)LF.
    let j = i + 1;
    while (body[j] === 0x20 || body[j] === 0x09) j++;
    if (body[j] === 0x0d && body[j + 1] === 0x0a) {
      i = j + 1;
      continue;
    }
    if (body[j] === 0x0a || j >= body.length) {
      i = j;
      continue;
    }
    const h = hex(body[i + 1]);
    const l = hex(body[i + 2]);
    if (h >= 0 && l >= 0) {
      out[n++] = h * 16 + l;
      i += 2;
    } else out[n++] = c;
  }
  return out.subarray(0, n);
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e: string) => {
      if (e[0] === '#') {
        const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    })
    .replace(/[ \t\r\n]+/g, ' ')
    .trim();
}
