/**
 * SEARCH criteria (RFC 3501 6.4.4, MODSEQ from RFC 7162): parsed into a tree, then
 * evaluated per message. Message bytes are read only when a criterion needs them.
 */
import type { MessageSummary } from '../../store/types.js';
import type { MessageStructure } from '../../mime/structure.js';
import { bodyText, decodeHeaderValue, headerValues } from '../../mime/search-text.js';
import { atomArg, stringArg } from './args.js';
import { bad } from './errors.js';
import { normaliseFlag } from './flags.js';
import type { ImapValue } from './parser/command-parser.js';
import { parseSequenceSet, resolveSequenceSet, seqSetContains, type SeqRange } from './parser/sequence-set.js';
import { dayOf, parseDay } from './wire.js';

export type SearchNode =
  | { k: 'all' }
  | { k: 'none' }
  | { k: 'flag'; flag: string; has: boolean }
  | { k: 'set'; ranges: SeqRange[]; uid: boolean }
  | { k: 'not'; n: SearchNode }
  | { k: 'or'; a: SearchNode; b: SearchNode }
  | { k: 'and'; list: SearchNode[] }
  | { k: 'header'; name: string; value: string }
  | { k: 'body'; text: string; headers: boolean }
  | { k: 'date'; sent: boolean; op: 'before' | 'on' | 'since'; day: number }
  | { k: 'size'; larger: boolean; n: number }
  | { k: 'modseq'; n: number };

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true], DELETED: ['\\Deleted', true], DRAFT: ['\\Draft', true], FLAGGED: ['\\Flagged', true], SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false], UNDELETED: ['\\Deleted', false], UNDRAFT: ['\\Draft', false], UNFLAGGED: ['\\Flagged', false], UNSEEN: ['\\Seen', false],
};
const HEADER_KEYS = new Set(['BCC', 'CC', 'FROM', 'SUBJECT', 'TO']);
const DATE_KEYS: Record<string, [boolean, 'before' | 'on' | 'since']> = {
  BEFORE: [false, 'before'], ON: [false, 'on'], SINCE: [false, 'since'],
  SENTBEFORE: [true, 'before'], SENTON: [true, 'on'], SENTSINCE: [true, 'since'],
};
const MAX_DEPTH = 50;

class Reader {
  i = 0;
  constructor(readonly args: ImapValue[]) {}
  next(what: string): ImapValue {
    const v = this.args[this.i++];
    if (!v) throw bad(`Missing ${what} in SEARCH`);
    return v;
  }
  text(what: string): string {
    return stringArg(this.next(what), what);
  }
  number(what: string): number {
    const s = atomArg(this.next(what), what);
    if (!/^[0-9]{1,15}$/.test(s)) throw bad(`Invalid ${what}`);
    return Number(s);
  }
}

function key(r: Reader, depth: number): SearchNode {
  if (depth > MAX_DEPTH) throw bad('SEARCH nested too deeply');
  const v = r.next('search key');
  if (v.t === 'list') {
    if (v.v.length === 0) throw bad('Empty search list');
    return keys(new Reader(v.v), depth + 1);
  }
  if (v.t === 'string') throw bad('Unexpected string in SEARCH');
  const name = v.v.toUpperCase();
  const flag = FLAG_KEYS[name];
  if (flag) return { k: 'flag', flag: flag[0], has: flag[1] };
  if (HEADER_KEYS.has(name)) return { k: 'header', name, value: r.text(name) };
  const date = DATE_KEYS[name];
  if (date) {
    const day = parseDay(r.text('date'));
    if (day === null) throw bad('Invalid date in SEARCH');
    return { k: 'date', sent: date[0], op: date[1], day };
  }
  switch (name) {
    case 'ALL': case 'OLD': return { k: 'all' };
    case 'NEW': case 'RECENT': return { k: 'none' }; // \Recent is never set here
    case 'BODY': return { k: 'body', text: r.text('BODY'), headers: false };
    case 'TEXT': return { k: 'body', text: r.text('TEXT'), headers: true };
    case 'HEADER': return { k: 'header', name: r.text('header name'), value: r.text('header value') };
    case 'KEYWORD': case 'UNKEYWORD': {
      const f = normaliseFlag(atomArg(r.next('keyword'), 'keyword'));
      return f ? { k: 'flag', flag: f, has: name === 'KEYWORD' } : { k: 'none' };
    }
    case 'LARGER': case 'SMALLER': return { k: 'size', larger: name === 'LARGER', n: r.number('size') };
    case 'NOT': return { k: 'not', n: key(r, depth + 1) };
    case 'OR': return { k: 'or', a: key(r, depth + 1), b: key(r, depth + 1) };
    case 'UID': {
      const ranges = parseSequenceSet(atomArg(r.next('UID set'), 'UID set'));
      if (!ranges) throw bad('Invalid UID set in SEARCH');
      return { k: 'set', ranges, uid: true };
    }
    case 'MODSEQ': {
      // optional entry name and type (RFC 7162) are accepted and ignored: one MODSEQ per message
      if (r.args[r.i]?.t === 'string') r.i += 2;
      return { k: 'modseq', n: r.number('mod-sequence') };
    }
  }
  const ranges = parseSequenceSet(v.v);
  if (!ranges) throw bad(`Unknown search key ${v.v.slice(0, 30)}`);
  return { k: 'set', ranges, uid: false };
}

function keys(r: Reader, depth: number): SearchNode {
  const list: SearchNode[] = [];
  while (r.i < r.args.length) list.push(key(r, depth));
  return list.length === 1 ? list[0]! : { k: 'and', list };
}

export function parseSearchKeys(args: ImapValue[]): SearchNode {
  if (args.length === 0) throw bad('SEARCH needs criteria');
  return keys(new Reader(args), 0);
}

export function needsContent(n: SearchNode): boolean {
  switch (n.k) {
    case 'header': case 'body': return true;
    case 'date': return n.sent;
    case 'not': return needsContent(n.n);
    case 'or': return needsContent(n.a) || needsContent(n.b);
    case 'and': return n.list.some(needsContent);
    default: return false;
  }
}

export function usesModseq(n: SearchNode): boolean {
  if (n.k === 'modseq') return true;
  if (n.k === 'not') return usesModseq(n.n);
  if (n.k === 'or') return usesModseq(n.a) || usesModseq(n.b);
  if (n.k === 'and') return n.list.some(usesModseq);
  return false;
}

export interface Candidate {
  m: MessageSummary;
  seq: number;
  raw?: Buffer;
  structure?: MessageStructure;
  /** Decoded texts, computed once per message when needed. */
  cache?: { body?: string; headers?: Map<string, string> };
}

const fold = (s: string) => s.toLowerCase();

function header(c: Candidate, name: string): string {
  c.cache ??= {};
  c.cache.headers ??= new Map();
  const lname = name.toLowerCase();
  let v = c.cache.headers.get(lname);
  if (v === undefined) {
    v = fold(headerValues(c.raw!, lname).map(decodeHeaderValue).join('\n'));
    c.cache.headers.set(lname, v);
  }
  return v;
}

/** The Date: header's own calendar day: RFC 3501 compares "disregarding time and timezone". */
function sentDay(c: Candidate): number | null {
  const text = headerValues(c.raw!, 'date')[0];
  if (!text) return null;
  const m = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{4})/.exec(text);
  if (m) {
    const day = parseDay(`${m[1]}-${m[2]}-${m[3]}`);
    if (day !== null) return day;
  }
  const d = new Date(text.replace(/\s*\([^)]*\)\s*$/, ''));
  return Number.isNaN(d.getTime()) ? null : dayOf(d);
}

export function matches(n: SearchNode, c: Candidate): boolean {
  switch (n.k) {
    case 'all': return true;
    case 'none': return false;
    case 'flag': return c.m.flags.includes(n.flag) === n.has;
    case 'set': return seqSetContains(n.ranges, n.uid ? c.m.uid : c.seq);
    case 'not': return !matches(n.n, c);
    case 'or': return matches(n.a, c) || matches(n.b, c);
    case 'and': return n.list.every((x) => matches(x, c));
    case 'size': return n.larger ? c.m.size > n.n : c.m.size < n.n;
    case 'modseq': return c.m.modseq >= n.n;
    case 'header': {
      const lname = n.name.toLowerCase();
      if (n.value === '') return headerValues(c.raw!, lname).length > 0;
      return header(c, lname).includes(fold(n.value));
    }
    case 'body': {
      c.cache ??= {};
      c.cache.body ??= fold(safeBody(c));
      const needle = fold(n.text);
      if (c.cache.body.includes(needle)) return true;
      return n.headers && fold(decodeHeaderValue(c.raw!.subarray(0, c.structure!.root.headerEnd).toString('utf8'))).includes(needle);
    }
    case 'date': {
      const day = n.sent ? sentDay(c) : dayOf(c.m.internalDate);
      if (day === null) return false;
      return n.op === 'before' ? day < n.day : n.op === 'on' ? day === n.day : day >= n.day;
    }
  }
}

/** Turns "*" into the last message number or UID, once, before evaluation (RFC 3501 6.4.8). */
export function resolveSets(n: SearchNode, lastSeq: number, lastUid: number): void {
  if (n.k === 'set') n.ranges = resolveSequenceSet(n.ranges, n.uid ? lastUid : lastSeq);
  else if (n.k === 'not') resolveSets(n.n, lastSeq, lastUid);
  else if (n.k === 'or') {
    resolveSets(n.a, lastSeq, lastUid);
    resolveSets(n.b, lastSeq, lastUid);
  } else if (n.k === 'and') for (const x of n.list) resolveSets(x, lastSeq, lastUid);
}

function safeBody(c: Candidate): string {
  try {
    return bodyText(c.raw!, c.structure!);
  } catch {
    return c.raw!.toString('utf8');
  }
}
