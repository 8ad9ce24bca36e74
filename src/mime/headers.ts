// Byte-level header block scanning shared by the structure parser, section extraction
// and search. Everything works on offsets into the raw message so callers can hand out
// the original bytes (IMAP BODY[...] must return them untouched).

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;

export interface HeaderField {
  name: string; // as written (without trailing whitespace)
  lname: string; // lowercased, for case-insensitive matching
  start: number; // first byte of the field name
  valueStart: number; // first byte after the colon
  end: number; // after the last line break of the field (continuation lines included)
}

export interface HeaderBlock {
  start: number;
  end: number; // = body start: after the blank line, or the limit when there is none
  hasBlankLine: boolean;
  fields: HeaderField[];
}

/** Offset just past the next LF at or after pos (or limit if the line is unterminated). */
export function lineEnd(raw: Buffer, pos: number, limit: number): number {
  const i = raw.indexOf(LF, pos);
  return i === -1 || i >= limit ? limit : i + 1;
}

function isBlankLine(raw: Buffer, pos: number, eol: number): boolean {
  const len = eol - pos;
  if (len === 0) return true; // only at limit; treated as end of header by the caller
  if (raw[pos] === LF) return true;
  return raw[pos] === CR && (len === 1 || raw[pos + 1] === LF);
}

/** Field name per RFC 2822 ftext (printable ASCII except ':'); trailing WSP before ':' is obsolete syntax we accept. */
function fieldNameEnd(raw: Buffer, pos: number, eol: number): { colon: number; nameEnd: number } | null {
  let i = pos;
  while (i < eol && raw[i] !== 0x3a) {
    const c = raw[i]!;
    if (c === SP || c === HT) {
      // Only whitespace may follow until the colon.
      let j = i;
      while (j < eol && (raw[j] === SP || raw[j] === HT)) j++;
      if (raw[j] !== 0x3a) return null;
      return i === pos ? null : { colon: j, nameEnd: i };
    }
    if (c < 33 || c > 126) return null;
    i++;
  }
  if (i >= eol || i === pos) return null;
  return { colon: i, nameEnd: i };
}

/**
 * Scans the header block that starts at `start`. The block ends after the first empty line
 * (CRLF, LF or a lone CR before LF). Lines that are not fields (no colon) stay inside the
 * block, as Dovecot does, except when the very first line is not a field: then we assume the
 * writer omitted the header entirely and the whole range is body, which keeps the text visible.
 */
export function scanHeader(raw: Buffer, start: number, limit: number): HeaderBlock {
  const fields: HeaderField[] = [];
  let current: HeaderField | null = null;
  let pos = start;
  while (pos < limit) {
    const eol = lineEnd(raw, pos, limit);
    if (isBlankLine(raw, pos, eol)) return { start, end: eol, hasBlankLine: true, fields };
    const first = raw[pos];
    if (first === SP || first === HT) {
      if (current) current.end = eol; // folded continuation
    } else {
      const n = fieldNameEnd(raw, pos, eol);
      if (n) {
        const name = raw.toString('latin1', pos, n.nameEnd);
        current = { name, lname: name.toLowerCase(), start: pos, valueStart: n.colon + 1, end: eol };
        fields.push(current);
      } else {
        current = null;
        const mboxFrom = raw.toString('latin1', pos, Math.min(pos + 5, eol)) === 'From ';
        if (pos === start && !mboxFrom) return { start, end: start, hasBlankLine: false, fields };
      }
    }
    pos = eol;
  }
  return { start, end: limit, hasBlankLine: false, fields };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Header bytes to text: ASCII and valid UTF-8 (RFC 6532) as is, anything else byte-for-byte as Latin-1. */
export function bytesToString(raw: Buffer, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (raw[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return raw.toString('latin1', start, end);
  try {
    return utf8.decode(raw.subarray(start, end));
  } catch {
    return raw.toString('latin1', start, end);
  }
}

/** Unfolded (line breaks before WSP removed, RFC 2822 2.2.3), trimmed, not decoded. */
export function fieldValue(raw: Buffer, f: HeaderField): string {
  const text = bytesToString(raw, f.valueStart, f.end);
  // most fields are one line: the unfolding replaces would find nothing (they cost a store write more than the rest of its header facts)
  if (!text.includes('\n') && !text.includes('\r')) return text.trim();
  return text
    .replace(/\r?\n(?=[ \t])/g, '')
    .replace(/[\r\n]+/g, ' ')
    .trim();
}

/** First value of a field (case-insensitive name), or null when absent. */
export function firstValue(raw: Buffer, block: HeaderBlock, lname: string): string | null {
  const f = block.fields.find((x) => x.lname === lname);
  return f ? fieldValue(raw, f) : null;
}
