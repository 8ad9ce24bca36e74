// BODY[section] parsing and extraction (RFC 3501 6.4.5, grammar in section 9).
import { scanHeader } from './headers.js';
import type { MessageStructure, MimePart } from './structure.js';

export type SectionSpec = { part: number[]; kind: '' | 'HEADER' | 'TEXT' | 'MIME' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT'; fields?: string[] };

// astring as field name: an atom (ATOM-CHAR plus ']' which astring allows) or a quoted string.
const FIELD_RE = /^(?:"((?:[^"\\\r\n]|\\["\\])*)"|([^\s(){%*"\\\x00-\x1f\x7f]+))/;

/** Parses the inside of BODY[...]; null when it does not follow the RFC 3501 grammar. */
export function parseSectionSpec(s: string): SectionSpec | null {
  const part: number[] = [];
  let rest = s;
  for (;;) {
    const m = /^([1-9][0-9]*)(\.|$)/.exec(rest);
    if (!m) break;
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n)) return null;
    part.push(n);
    rest = rest.slice(m[0].length);
    if (m[2] === '') return { part, kind: '' };
    if (rest === '') return null; // trailing dot
  }
  const kw = /^(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)/i.exec(rest);
  if (!kw) return rest === '' && part.length === 0 ? { part, kind: '' } : null;
  const kind = kw[1]!.toUpperCase() as SectionSpec['kind'];
  rest = rest.slice(kw[0].length);
  if (kind === 'MIME' && part.length === 0) return null; // MIME needs a part number
  if (kind !== 'HEADER.FIELDS' && kind !== 'HEADER.FIELDS.NOT') return rest === '' ? { part, kind } : null;

  const list = /^ +\((.*)\)$/s.exec(rest); // RFC says one SP; tolerate more
  if (!list) return null;
  const fields: string[] = [];
  let body = list[1]!;
  while (body.length) {
    const f = FIELD_RE.exec(body);
    if (!f) return null;
    const name = f[1] !== undefined ? f[1].replace(/\\(.)/g, '$1') : f[2]!;
    fields.push(name);
    body = body.slice(f[0].length);
    const sep = /^ +/.exec(body);
    if (sep) body = body.slice(sep[0].length);
    else if (body.length) return null;
  }
  if (fields.length === 0) return null; // header-list = "(" 1*header-fld-name ")"
  return { part, kind, fields };
}

/**
 * Children by part number: a multipart's parts; for message/rfc822 the numbering of the
 * encapsulated message. A message whose body is not multipart has exactly one part, 1,
 * its body (RFC 3501: "non-multipart messages ... only have a part 1").
 */
function messageParts(m: MessageStructure): MimePart[] {
  return m.root.parts ?? [m.root];
}
function children(p: MimePart): MimePart[] {
  if (p.parts) return p.parts;
  if (p.message) return messageParts(p.message);
  return [];
}

const EMPTY = Buffer.alloc(0);

/** Bytes of BODY[section]; an empty buffer when the section does not exist. Shares memory with `raw`. */
export function extractSection(raw: Buffer, msg: MessageStructure, spec: SectionSpec): Buffer {
  let target: MimePart | null = null;
  let list = messageParts(msg);
  for (const n of spec.part) {
    target = list[n - 1] ?? null;
    if (!target) return EMPTY;
    list = children(target);
  }
  if (spec.kind === '') return target ? raw.subarray(target.bodyStart, target.bodyEnd) : raw;
  if (spec.kind === 'MIME') return target ? raw.subarray(target.headerStart, target.headerEnd) : EMPTY;

  // HEADER*/TEXT apply to a message: the top one, or an encapsulated message/rfc822.
  const m = target ? target.message : msg;
  if (!m) return EMPTY;
  const root = m.root;
  if (spec.kind === 'TEXT') return raw.subarray(root.bodyStart, root.bodyEnd);
  return headerSection(raw.subarray(root.headerStart, root.headerEnd), spec);
}

/** Whether BODY[section] is in the top-level header block alone (headerSection can answer it). */
export function isTopHeaderSection(spec: SectionSpec): boolean {
  return spec.part.length === 0 && (spec.kind === 'HEADER' || spec.kind === 'HEADER.FIELDS' || spec.kind === 'HEADER.FIELDS.NOT');
}

/**
 * BODY[HEADER], BODY[HEADER.FIELDS (...)] or BODY[HEADER.FIELDS.NOT (...)] from the header block
 * alone (its bytes up to and including the blank line): a message list needs no body and no
 * MIME structure. Shares memory with `header` for HEADER.
 */
export function headerSection(header: Buffer, spec: SectionSpec): Buffer {
  if (spec.kind === 'HEADER') return header;
  return filterHeader(header, spec.fields ?? [], spec.kind === 'HEADER.FIELDS');
}

const CRLF = Buffer.from('\r\n');

/** HEADER.FIELDS(.NOT): original field bytes (folding kept) in message order, then a blank line. */
function filterHeader(raw: Buffer, names: string[], keep: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const block = scanHeader(raw, 0, raw.length);
  const chunks: Buffer[] = [];
  for (const f of block.fields) {
    if (wanted.has(f.lname) !== keep) continue;
    chunks.push(raw.subarray(f.start, f.end));
    if (raw[f.end - 1] !== 0x0a) chunks.push(CRLF); // last line of a header without blank line
  }
  chunks.push(CRLF);
  return Buffer.concat(chunks);
}
