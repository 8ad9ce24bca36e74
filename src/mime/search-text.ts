// Text views of a message for SEARCH (RFC 3501 6.4.4) and previews: decoded header values
// and the decoded text of the text/* parts.
import libmime from 'libmime';
import { decode as decodeCharset } from 'libmime/lib/charset.js';
import { fieldValue, scanHeader } from './headers.js';
import type { MessageStructure, MimePart } from './structure.js';
import { decodeTransfer } from './transfer-encoding.js';

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

/**
 * The start of bodyText: at least enough of it that its first `chars` characters, whitespace runs
 * collapsed and leading whitespace trimmed, are those of the whole (what a preview shows). Stops
 * after the part that gives enough, and converts only as much of an HTML part as it needs, so a
 * message with a long HTML body or several text parts costs a preview no more than a short one.
 */
export function bodyTextPrefix(raw: Buffer, msg: MessageStructure, chars: number): string {
  const out: string[] = [];
  collect(raw, msg.root, out, chars);
  return out.join('\n');
}

/** A text part's content as a string: transfer encoding and charset removed (an unknown encoding: the bytes as they are). */
export function partText(raw: Buffer, part: MimePart): string {
  const body = raw.subarray(part.bodyStart, part.bodyEnd);
  const bytes = decodeTransfer(body, part.encoding) ?? body;
  try {
    return decodeCharset(bytes, charsetOf(part));
  } catch {
    return bytes.toString('utf8');
  }
}

/** Whether `text` already fixes the first `chars` characters of a preview (see analyse.ts preview). */
function enough(text: string, chars: number): boolean {
  const t = text.trimStart();
  return t.slice(0, chars * 8).replace(/\s+/g, ' ').length > chars;
}

/** Appends the text of the leaves under `part`; with `limit`, returns true once the text so far is enough. */
function collect(raw: Buffer, part: MimePart, out: string[], limit?: number): boolean {
  if (part.parts) {
    for (const p of part.parts) if (collect(raw, p, out, limit)) return true;
    return false;
  }
  if (part.message) return collect(raw, part.message.root, out, limit);
  if (part.contentType.type !== 'text') return false;
  const text = partText(raw, part);
  if (part.contentType.subtype !== 'html') {
    out.push(text);
  } else if (limit === undefined) {
    out.push(htmlToText(text));
  } else {
    out.push(htmlPrefixToText(text, out, limit));
  }
  return limit !== undefined && enough(out.join('\n'), limit);
}

/**
 * htmlToText of a prefix of `html` that, after what `before` holds, is enough for `limit`
 * characters; the whole when no prefix is. A prefix ends just after a '>' (no tag or entity is
 * cut) and holds no unclosed script, style or comment, so its text is a prefix of the whole's.
 */
function htmlPrefixToText(html: string, before: string[], limit: number): string {
  const head = before.length ? before.join('\n') + '\n' : '';
  for (let take = 4096; take < html.length; take *= 4) {
    const cut = html.lastIndexOf('>', take) + 1;
    if (cut <= 0) continue;
    const prefix = html.slice(0, cut);
    if (/<(script|style)\b(?![\s\S]*<\/\1\s*>)|<!--(?![\s\S]*-->)/i.test(prefix)) continue;
    const text = htmlToText(prefix);
    if (enough(head + text, limit)) return text;
  }
  return htmlToText(html);
}

function charsetOf(part: MimePart): string {
  const p = part.contentType.params;
  const ext = p['charset*'];
  const cs = ext !== undefined ? ext.split("'")[0]! : p['charset'];
  // us-ascii is often a lie for 8-bit bodies; UTF-8 decodes ASCII identically and more besides.
  return !cs || /^(us-)?ascii$/i.test(cs) ? 'utf-8' : cs;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** HTML reduced to its text (entities decoded, whitespace collapsed): for search, previews and plain-text bodies. */
export function htmlToText(html: string): string {
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
