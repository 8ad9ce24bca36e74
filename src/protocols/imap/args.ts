/** Reading command arguments: each handler states what it expects, these helpers check it. */
import { bad, no } from './errors.js';
import type { ImapValue } from './parser/command-parser.js';
import { decodeMutf7 } from './parser/mutf7.js';
import { parseSequenceSet, type SeqRange } from './parser/sequence-set.js';

export function expectArgs(args: ImapValue[], min: number, max = min): void {
  if (args.length < min || args.length > max) throw bad(args.length < min ? 'Missing arguments' : 'Too many arguments');
}

export function atomArg(v: ImapValue | undefined, what: string): string {
  if (v?.t !== 'atom') throw bad(`Expected ${what}`);
  return v.v;
}

/** astring: atom, quoted or literal; UTF-8 text. */
export function stringArg(v: ImapValue | undefined, what: string): string {
  if (!v || v.t === 'list') throw bad(`Expected ${what}`);
  return v.t === 'atom' ? v.v : v.v.toString('utf8');
}

export function listArg(v: ImapValue | undefined, what: string): ImapValue[] {
  if (v?.t !== 'list') throw bad(`Expected ${what} list`);
  return v.v;
}

export function numberArg(v: ImapValue | undefined, what: string, max = 0xffffffff): number {
  const s = atomArg(v, what);
  if (!/^[0-9]{1,20}$/.test(s) || Number(s) > max) throw bad(`Invalid ${what}`);
  return Number(s);
}

export function seqSetArg(v: ImapValue | undefined): SeqRange[] {
  const s = atomArg(v, 'sequence set');
  const r = parseSequenceSet(s);
  if (!r) throw bad('Invalid sequence set');
  return r;
}

/**
 * Wire mailbox name -> store name (UTF-8). Without UTF8=ACCEPT it must be valid modified
 * UTF-7; "INBOX" is case-insensitive, also as the first level of a hierarchy. A name that is
 * not is answered NO [NONEXISTENT] where it names a mailbox to use (no mailbox can have that
 * name), NO [CANNOT] where it names one to make (`forCreate`: CREATE, RENAME's new name).
 */
export function mailboxArg(v: ImapValue | undefined, utf8: boolean, forCreate = false): string {
  if (!v || v.t === 'list') throw bad('Expected mailbox name');
  const raw = v.t === 'atom' ? v.v : v.v.toString(utf8 ? 'utf8' : 'latin1');
  const name = utf8 ? raw : decodeMutf7(raw);
  if (name === null) throw no('Mailbox name is not valid modified UTF-7', forCreate ? 'CANNOT' : 'NONEXISTENT');
  return normaliseInbox(name);
}

export function normaliseInbox(name: string): string {
  return /^inbox(\/|$)/i.test(name) ? 'INBOX' + name.slice(5) : name;
}

/** Store names: no empty levels, no wildcards or controls (the store checks again). */
export function checkMailboxName(name: string): string {
  const clean = name.endsWith('/') ? name.slice(0, -1) : name;
  if (!clean || clean.length > 255 || /[\x00-\x1f\x7f*%]/.test(clean) || clean.startsWith('/') || clean.includes('//')) {
    throw no('Invalid mailbox name', 'CANNOT');
  }
  return clean;
}
