/**
 * FETCH data items (RFC 3501 6.4.5, BINARY from RFC 3516, MODSEQ/CHANGEDSINCE/VANISHED
 * from RFC 7162, PREVIEW from RFC 8970, EMAILID/THREADID from RFC 8474, SAVEDATE from RFC 8514). Input is the command arguments after the sequence set; the command
 * parser has kept "BODY[...]<...>" as one atom, which is taken apart here.
 */
import { ImapParseError, type ImapValue } from './command-parser.js';

type PartialRange = { start: number; length: number };
export type FetchItem =
  | {
      kind:
        | 'FLAGS'
        | 'INTERNALDATE'
        | 'RFC822.SIZE'
        | 'ENVELOPE'
        | 'BODYSTRUCTURE'
        | 'BODY'
        | 'UID'
        | 'MODSEQ'
        | 'RFC822'
        | 'RFC822.HEADER'
        | 'RFC822.TEXT'
        | 'PREVIEW'
        | 'EMAILID'
        | 'THREADID'
        | 'SAVEDATE';
    }
  | { kind: 'BODY[]'; peek: boolean; section: string; partial?: PartialRange }
  | { kind: 'BINARY[]'; peek: boolean; section: string; partial?: PartialRange }
  | { kind: 'BINARY.SIZE'; section: string };

export interface FetchRequest {
  items: FetchItem[];
  changedSince?: number;
  vanished?: boolean;
}

const SIMPLE = new Set([
  'FLAGS',
  'INTERNALDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY',
  'UID',
  'MODSEQ',
  'RFC822',
  'RFC822.HEADER',
  'RFC822.TEXT',
  'PREVIEW',
  'EMAILID',
  'THREADID',
  'SAVEDATE',
] as const);
type SimpleKind = typeof SIMPLE extends Set<infer K> ? K : never;

const FAST: SimpleKind[] = ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'];
const MACROS: Record<string, SimpleKind[]> = {
  FAST,
  ALL: [...FAST, 'ENVELOPE'],
  FULL: [...FAST, 'ENVELOPE', 'BODY'],
};

const MAX_U32 = 0xffffffff;

function fail(message: string): never {
  throw new ImapParseError(message, null);
}

function parseNumber(s: string, nonZero: boolean): number {
  if (!/^[0-9]{1,10}$/.test(s)) fail(`Invalid number "${s}"`);
  const n = Number(s);
  if (n > MAX_U32 || (nonZero && n === 0)) fail(`Number out of range "${s}"`);
  return n;
}

/** "1.2.3" part numbers; each must be a non-zero number. */
function isPartPath(s: string): boolean {
  return /^[1-9][0-9]{0,9}(\.[1-9][0-9]{0,9})*$/.test(s);
}

/** header-list contents: astrings separated by single spaces; quotes are removed. */
function parseHeaderList(s: string): string[] {
  const names: string[] = [];
  const re = /"((?:[^"\\]|\\["\\])*)"|([^\s()"]+)/y;
  let pos = 0;
  while (pos < s.length) {
    if (names.length > 0) {
      if (s[pos] !== ' ') fail('Invalid header list');
      pos++;
    }
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) fail('Invalid header list');
    const name = m[1] !== undefined ? m[1].replace(/\\(["\\])/g, '$1') : m[2]!;
    // RFC 5322 field names: printable ASCII except ":" (and not empty).
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) fail(`Invalid header field name "${name}"`);
    names.push(name);
    pos = re.lastIndex;
  }
  if (names.length === 0) fail('Empty header list');
  return names;
}

/**
 * Normalises a BODY section: keywords upper-cased, field names as the client wrote them
 * (the response must echo them back), single spaces.
 */
function parseBodySection(raw: string): string {
  if (raw === '') return '';
  const sp = raw.indexOf(' ');
  const head = (sp === -1 ? raw : raw.slice(0, sp)).toUpperCase();
  // "[part.]keyword" or a bare part path such as "1.2".
  const m = /^(?:([0-9.]+)\.)?(HEADER|HEADER\.FIELDS|HEADER\.FIELDS\.NOT|TEXT|MIME)$/.exec(head);
  const part = m ? (m[1] ?? '') : head;
  const text = m ? m[2]! : '';
  if (part !== '' && !isPartPath(part)) fail(`Invalid section "${raw}"`);
  if (text === 'HEADER.FIELDS' || text === 'HEADER.FIELDS.NOT') {
    if (sp === -1) fail('HEADER.FIELDS needs a header list');
    const rest = raw.slice(sp + 1);
    if (!rest.startsWith('(') || !rest.endsWith(')')) fail('Invalid header list');
    const names = parseHeaderList(rest.slice(1, -1));
    return `${part === '' ? '' : `${part}.`}${text} (${names.join(' ')})`;
  }
  if (sp !== -1) fail(`Invalid section "${raw}"`);
  // MIME only makes sense for a body part, never for the whole message.
  if (text === 'MIME' && part === '') fail('MIME needs a part number');
  return part === '' ? text : text === '' ? part : `${part}.${text}`;
}

function parsePartial(s: string): PartialRange | undefined {
  if (s === '') return undefined;
  const m = /^<([0-9]+)\.([0-9]+)>$/.exec(s);
  if (!m) fail(`Invalid partial "${s}"`);
  return { start: parseNumber(m[1]!, false), length: parseNumber(m[2]!, true) };
}

function parseItem(atom: string): FetchItem {
  const upper = atom.toUpperCase();
  const bracket = atom.indexOf('[');
  if (bracket === -1) {
    if (SIMPLE.has(upper as SimpleKind)) return { kind: upper as SimpleKind };
    fail(`Unknown FETCH item "${atom}"`);
  }
  const close = atom.lastIndexOf(']');
  if (close < bracket) fail(`Unterminated section in "${atom}"`);
  const name = upper.slice(0, bracket);
  const inner = atom.slice(bracket + 1, close);
  const partial = parsePartial(atom.slice(close + 1));
  const withPartial = <T extends object>(item: T): T => (partial ? { ...item, partial } : item);
  switch (name) {
    case 'BODY':
    case 'BODY.PEEK':
      return withPartial({ kind: 'BODY[]' as const, peek: name === 'BODY.PEEK', section: parseBodySection(inner) });
    case 'BINARY':
    case 'BINARY.PEEK':
    case 'BINARY.SIZE':
      // section-binary is only a part path: the content is decoded, so no HEADER/TEXT.
      if (inner !== '' && !isPartPath(inner)) fail(`Invalid BINARY section "${inner}"`);
      if (name === 'BINARY.SIZE') {
        if (partial) fail('BINARY.SIZE takes no partial');
        return { kind: 'BINARY.SIZE', section: inner };
      }
      return withPartial({ kind: 'BINARY[]' as const, peek: name === 'BINARY.PEEK', section: inner });
    default:
      return fail(`Unknown FETCH item "${atom}"`);
  }
}

function parseModifiers(list: ImapValue[], out: FetchRequest): void {
  for (let i = 0; i < list.length; i++) {
    const v = list[i]!;
    if (v.t !== 'atom') fail('Invalid FETCH modifier');
    const name = v.v.toUpperCase();
    if (name === 'CHANGEDSINCE' && out.changedSince === undefined) {
      const n = list[++i];
      if (n?.t !== 'atom' || !/^[0-9]{1,15}$/.test(n.v)) fail('CHANGEDSINCE needs a number');
      out.changedSince = Number(n.v);
    } else if (name === 'VANISHED' && out.vanished === undefined) {
      out.vanished = true;
    } else {
      fail(`Unknown or repeated FETCH modifier "${v.v}"`);
    }
  }
  // RFC 7162 3.2.6: VANISHED without CHANGEDSINCE is an error.
  if (out.vanished && out.changedSince === undefined) fail('VANISHED requires CHANGEDSINCE');
}

/** PREVIEW's modifiers (RFC 8970 3.1): only LAZY, which we may ignore (every preview is at hand). */
function isPreviewModifiers(v: ImapValue): boolean {
  return v.t === 'list' && v.v.length > 0 && v.v.every((m) => m.t === 'atom' && m.v.toUpperCase() === 'LAZY');
}

function previewModifiers(v: ImapValue): void {
  if (!isPreviewModifiers(v)) fail('Unknown PREVIEW modifier');
}

export function parseFetchItems(args: ImapValue[]): FetchRequest {
  if (args.length === 0 || args.length > 2) fail('FETCH needs data items');
  const first = args[0]!;
  const items: FetchItem[] = [];
  if (first.t === 'atom') {
    const macro = MACROS[first.v.toUpperCase()];
    if (macro) items.push(...macro.map((kind) => ({ kind })));
    else items.push(parseItem(first.v));
  } else if (first.t === 'list') {
    if (first.v.length === 0) fail('Empty FETCH item list');
    for (let i = 0; i < first.v.length; i++) {
      const v = first.v[i]!;
      if (v.t !== 'atom') fail('Invalid FETCH item');
      items.push(parseItem(v.v));
      if (v.v.toUpperCase() === 'PREVIEW' && first.v[i + 1]?.t === 'list') previewModifiers(first.v[++i]!);
    }
  } else {
    fail('Invalid FETCH item');
  }
  const out: FetchRequest = { items };
  // "FETCH 1 PREVIEW (LAZY)": the list belongs to PREVIEW, not to the FETCH modifiers
  if (args.length === 2 && first.t === 'atom' && first.v.toUpperCase() === 'PREVIEW' && isPreviewModifiers(args[1]!)) return out;
  if (args.length === 2) {
    const mods = args[1]!;
    if (mods.t !== 'list' || mods.v.length === 0) fail('Invalid FETCH modifiers');
    parseModifiers(mods.v, out);
    // RFC 7162 3.1.4.1: CHANGEDSINCE implies the MODSEQ item in every response.
    if (out.changedSince !== undefined && !items.some((it) => it.kind === 'MODSEQ')) items.push({ kind: 'MODSEQ' });
  }
  return out;
}
