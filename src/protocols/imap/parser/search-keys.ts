/**
 * SEARCH criteria (RFC 3501 6.4.4) into a tree the store can evaluate, with the
 * extensions the server advertises: ESEARCH "RETURN (...)" (RFC 4731, SAVE from RFC 5182),
 * "MODSEQ" (RFC 7162) and the save date keys (RFC 8514). Input is the command arguments after "SEARCH".
 */
import { ImapParseError, type ImapValue } from './command-parser.js';
import { parseSequenceSet, SAVED_RESULT, type SeqRange } from './sequence-set.js';

export type SearchKey =
  | { op: 'all' }
  | { op: 'and'; keys: SearchKey[] }
  | { op: 'or'; a: SearchKey; b: SearchKey }
  | { op: 'not'; key: SearchKey }
  | { op: 'flag'; flag: string; set: boolean }
  | { op: 'seq'; set: SeqRange[] }
  | { op: 'uid'; set: SeqRange[] }
  /** "$" or "UID $" (RFC 5182): the saved result; `uids` is filled in before evaluation. */
  | { op: 'saved'; uids?: Set<number> }
  /** field is lower-cased: header names compare case-insensitively anyway. */
  | { op: 'header'; field: string; value: string }
  | { op: 'body'; value: string }
  | { op: 'text'; value: string }
  /** 'saved': the save date (RFC 8514 SAVEDBEFORE/SAVEDON/SAVEDSINCE). */
  | { op: 'date'; field: 'internal' | 'sent' | 'saved'; cmp: 'before' | 'on' | 'since'; date: string }
  | { op: 'size'; cmp: 'larger' | 'smaller'; n: number }
  /**
   * WITHIN (RFC 5032): internal date at most (YOUNGER) or more than (OLDER) `seconds` before
   * now; `cutoff` (ms since the epoch) is filled in before evaluation, from the server's clock.
   */
  | { op: 'age'; cmp: 'younger' | 'older'; seconds: number; cutoff?: number }
  /** OBJECTID (RFC 8474 6): messages with this EMAILID or THREADID. */
  | { op: 'objectid'; field: 'emailid' | 'threadid'; id: string }
  | { op: 'modseq'; n: number };

export interface SearchRequest {
  charset?: string;
  returnOpts?: string[];
  key: SearchKey;
}

/**
 * Raised for a CHARSET this runtime cannot decode; the server answers
 * "NO [BADCHARSET (UTF-8 US-ASCII)]" rather than BAD (RFC 3501 6.4.4).
 */
export class UnsupportedCharsetError extends ImapParseError {
  constructor(readonly charset: string) {
    super(`Unsupported charset ${charset}`, null, 'BADCHARSET (UTF-8 US-ASCII)');
    this.name = 'UnsupportedCharsetError';
  }
}

/** NOT/OR/parentheses recurse; a bound keeps hostile input from exhausting the stack. */
const MAX_DEPTH = 64;
const RETURN_OPTS = new Set(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE']);

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  UNANSWERED: ['\\Answered', false],
  DELETED: ['\\Deleted', true],
  UNDELETED: ['\\Deleted', false],
  DRAFT: ['\\Draft', true],
  UNDRAFT: ['\\Draft', false],
  FLAGGED: ['\\Flagged', true],
  UNFLAGGED: ['\\Flagged', false],
  SEEN: ['\\Seen', true],
  UNSEEN: ['\\Seen', false],
  RECENT: ['\\Recent', true],
  OLD: ['\\Recent', false],
};
const HEADER_KEYS = new Set(['BCC', 'CC', 'FROM', 'SUBJECT', 'TO']);
const DATE_KEYS: Record<string, ['internal' | 'sent' | 'saved', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
  SAVEDBEFORE: ['saved', 'before'],
  SAVEDON: ['saved', 'on'],
  SAVEDSINCE: ['saved', 'since'],
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

function fail(message: string): never {
  throw new ImapParseError(message, null);
}

/** IMAP date ("1-Feb-1994", optionally in quotes) to "1994-02-01"; null when invalid. */
export function parseImapDate(s: string): string | null {
  const m = /^"?(\d{1,2})-([A-Za-z]{3})-(\d{4})"?$/.exec(s);
  if (!m || (s.startsWith('"') !== s.endsWith('"'))) return null;
  const day = Number(m[1]);
  const month = MONTHS.indexOf(m[2]!.toLowerCase()) + 1;
  const year = Number(m[3]);
  if (month === 0 || day < 1) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  return `${m[3]}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

class KeyReader {
  constructor(private readonly decoder: TextDecoder) {}

  /** Reads one key starting at values[i]; returns it and the index after it. */
  key(values: ImapValue[], i: number, depth: number): [SearchKey, number] {
    if (depth > MAX_DEPTH) fail('Search criteria nested too deeply');
    const v = values[i];
    if (v === undefined) fail('Missing search key');
    if (v.t === 'list') return [this.group(v.v, depth + 1), i + 1];
    if (v.t !== 'atom') fail('Search key expected, found a string');
    const name = v.v.toUpperCase();
    const flag = FLAG_KEYS[name];
    if (flag) return [{ op: 'flag', flag: flag[0], set: flag[1] }, i + 1];
    const date = DATE_KEYS[name];
    if (date) {
      const d = parseImapDate(this.text(values[i + 1], name));
      if (d === null) fail(`Invalid date for ${name}`);
      return [{ op: 'date', field: date[0], cmp: date[1], date: d }, i + 2];
    }
    if (HEADER_KEYS.has(name)) {
      return [{ op: 'header', field: name.toLowerCase(), value: this.text(values[i + 1], name) }, i + 2];
    }
    switch (name) {
      case 'ALL':
      // RFC 8514 4.3: every message of a mailbox that keeps save dates; every mailbox here does
      case 'SAVEDATESUPPORTED':
        return [{ op: 'all' }, i + 1];
      case 'NEW':
        return [
          {
            op: 'and',
            keys: [
              { op: 'flag', flag: '\\Recent', set: true },
              { op: 'flag', flag: '\\Seen', set: false },
            ],
          },
          i + 1,
        ];
      case 'KEYWORD':
      case 'UNKEYWORD': {
        const kw = values[i + 1];
        // flag-keyword is an atom; "\Seen" and friends are system flags, not keywords.
        if (kw?.t !== 'atom' || kw.v.startsWith('\\')) fail(`${name} needs a keyword`);
        return [{ op: 'flag', flag: kw.v, set: name === 'KEYWORD' }, i + 2];
      }
      case 'BODY':
      case 'TEXT':
        return [{ op: name === 'BODY' ? 'body' : 'text', value: this.text(values[i + 1], name) }, i + 2];
      case 'HEADER': {
        const field = this.text(values[i + 1], name);
        if (!/^[\x21-\x39\x3b-\x7e]+$/.test(field)) fail('Invalid header field name');
        return [{ op: 'header', field: field.toLowerCase(), value: this.text(values[i + 2], name) }, i + 3];
      }
      case 'EMAILID':
      case 'THREADID': {
        const id = values[i + 1];
        // objectid = 1*255(ALPHA / DIGIT / "_" / "-")
        if (id?.t !== 'atom' || !/^[A-Za-z0-9_-]{1,255}$/.test(id.v)) fail(`${name} needs an object id`);
        return [{ op: 'objectid', field: name === 'EMAILID' ? 'emailid' : 'threadid', id: id.v }, i + 2];
      }
      case 'YOUNGER':
      case 'OLDER': {
        const seconds = this.number(values[i + 1], name, 0xffffffff);
        if (seconds === 0) fail(`${name} needs a non-zero interval`); // nz-number
        return [{ op: 'age', cmp: name === 'YOUNGER' ? 'younger' : 'older', seconds }, i + 2];
      }
      case 'LARGER':
      case 'SMALLER': {
        const n = this.number(values[i + 1], name, 0xffffffff);
        return [{ op: 'size', cmp: name === 'LARGER' ? 'larger' : 'smaller', n }, i + 2];
      }
      case 'UID': {
        const arg = values[i + 1];
        if (arg?.t === 'atom' && arg.v === SAVED_RESULT) return [{ op: 'saved' }, i + 2];
        const set = arg?.t === 'atom' ? parseSequenceSet(arg.v) : null;
        if (!set) fail('UID needs a sequence set');
        return [{ op: 'uid', set }, i + 2];
      }
      case 'NOT': {
        const [key, next] = this.key(values, i + 1, depth + 1);
        return [{ op: 'not', key }, next];
      }
      case 'OR': {
        const [a, afterA] = this.key(values, i + 1, depth + 1);
        const [b, afterB] = this.key(values, afterA, depth + 1);
        return [{ op: 'or', a, b }, afterB];
      }
      case 'MODSEQ': {
        let j = i + 1;
        // Optional per-flag entry ("/flags/\\Seen" priv); we keep one modseq per message.
        if (values[j]?.t === 'string') {
          const type = values[j + 1];
          if (type?.t !== 'atom' || !/^(priv|shared|all)$/i.test(type.v)) fail('Invalid MODSEQ entry type');
          j += 2;
        }
        return [{ op: 'modseq', n: this.number(values[j], name, Number.MAX_SAFE_INTEGER) }, j + 1];
      }
    }
    if (v.v === SAVED_RESULT) return [{ op: 'saved' }, i + 1];
    const set = parseSequenceSet(v.v);
    if (set) return [{ op: 'seq', set }, i + 1];
    return fail(`Unknown search key "${v.v}"`);
  }

  /** Keys up to the end of `values`, ANDed; a single key stands for itself. */
  group(values: ImapValue[], depth: number): SearchKey {
    const keys: SearchKey[] = [];
    let i = 0;
    while (i < values.length) {
      const [key, next] = this.key(values, i, depth);
      keys.push(key);
      i = next;
    }
    if (keys.length === 0) fail('Empty search criteria');
    return keys.length === 1 ? keys[0]! : { op: 'and', keys };
  }

  text(v: ImapValue | undefined, key: string): string {
    if (v === undefined || v.t === 'list') fail(`${key} needs a string argument`);
    if (v.t === 'atom') return v.v;
    try {
      return this.decoder.decode(v.v);
    } catch {
      return fail(`${key} argument is not valid in the given charset`);
    }
  }

  number(v: ImapValue | undefined, key: string, max: number): number {
    if (v?.t !== 'atom' || !/^[0-9]{1,20}$/.test(v.v)) fail(`${key} needs a number`);
    const n = Number(v.v);
    if (n > max) fail(`${key} number out of range`);
    return n;
  }
}

function makeDecoder(charset: string | undefined): TextDecoder {
  // US-ASCII is a subset of UTF-8; TextDecoder would treat it as windows-1252.
  const label = charset === undefined || /^(us-)?ascii$/i.test(charset) ? 'utf-8' : charset;
  try {
    return new TextDecoder(label, { fatal: true });
  } catch {
    throw new UnsupportedCharsetError(charset ?? label);
  }
}

export function parseSearch(args: ImapValue[]): SearchRequest {
  let i = 0;
  const out: { charset?: string; returnOpts?: string[] } = {};
  const word = (k: number): string | null => {
    const v = args[k];
    return v?.t === 'atom' ? v.v.toUpperCase() : null;
  };
  if (word(i) === 'RETURN') {
    const list = args[i + 1];
    if (list?.t !== 'list') fail('RETURN needs a list of options');
    const opts: string[] = [];
    for (const o of list.v) {
      const name = o.t === 'atom' ? o.v.toUpperCase() : '';
      if (!RETURN_OPTS.has(name)) fail('Unknown RETURN option');
      if (!opts.includes(name)) opts.push(name);
    }
    // RFC 4731: "RETURN ()" means the same as "RETURN (ALL)".
    out.returnOpts = opts.length === 0 ? ['ALL'] : opts;
    i += 2;
  }
  if (word(i) === 'CHARSET') {
    const cs = args[i + 1];
    if (cs === undefined || cs.t === 'list') fail('CHARSET needs a name');
    out.charset = cs.t === 'atom' ? cs.v : cs.v.toString('latin1');
    i += 2;
  }
  const reader = new KeyReader(makeDecoder(out.charset));
  const rest = args.slice(i);
  if (rest.length === 0) fail('Missing search criteria');
  return { ...out, key: reader.group(rest, 0) };
}
