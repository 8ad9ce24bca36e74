import { bad } from './errors.js';
import type { ImapValue } from './parser/command-parser.js';

export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];
const BY_LOWER = new Map(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));
// RFC 3501 atom-specials plus "]" (not allowed in a flag keyword).
const KEYWORD = /^[^\x00-\x20\x7f-\uffff(){%*"\\\]]+$/;

/**
 * One flag as stored: system flags in their canonical case (clients send "\seen" too),
 * keywords as the client wrote them. \Recent cannot be set (RFC 3501 2.3.2): null.
 */
export function normaliseFlag(f: string): string | null {
  if (f.startsWith('\\')) {
    const lower = f.toLowerCase();
    if (lower === '\\recent') return null;
    const sys = BY_LOWER.get(lower);
    if (!sys) throw bad(`Invalid system flag ${f.slice(0, 40)}`);
    return sys;
  }
  if (!KEYWORD.test(f) || f.length > 100) throw bad('Invalid flag keyword');
  return f;
}

/** A flag list "(\Seen $Label)" or, as RFC 3501 STORE also allows, bare atoms. */
export function parseFlagList(values: ImapValue[]): string[] {
  const items = values.length === 1 && values[0]!.t === 'list' ? values[0]!.v : values;
  const out: string[] = [];
  for (const v of items) {
    if (v.t !== 'atom') throw bad('Flags must be atoms');
    const f = normaliseFlag(v.v);
    if (f && !out.includes(f)) out.push(f);
  }
  if (out.length > 200) throw bad('Too many flags');
  return out;
}

export const flagList = (flags: string[]): string => `(${flags.join(' ')})`;
