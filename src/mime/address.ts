// RFC 2822 address-list parsing into IMAP ENVELOPE address structures (RFC 3501 7.4.2).
// Lenient: real headers are often broken, and an ENVELOPE must still come out.
import type { Address } from './structure.js';

/**
 * RFC 3501 reserves host=NIL for group markers, so an address without a domain (`<user>`)
 * cannot have a NIL host or the client would read it as the start of a group. Like Dovecot
 * we put placeholders there; they are visibly not a real domain/mailbox.
 */
export const MISSING_DOMAIN = 'MISSING_DOMAIN';
export const MISSING_MAILBOX = 'MISSING_MAILBOX';

type Tok =
  | { t: 'word'; text: string; raw: string; sp: boolean } // atom, or quoted string (text = unquoted, raw = as written)
  | { t: 'lit'; raw: string; sp: boolean } // domain literal [..]
  | { t: 'sp'; c: string; sp: boolean } // one of < > @ , ; :
  | { t: 'comment'; text: string; sp: boolean };

const SPECIALS = '<>@,;:"([';

function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  let sp = false; // whitespace seen before the next token
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      sp = true;
      i++;
    } else if (c === '"') {
      let text = '';
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && j + 1 < s.length) j++;
        text += s[j];
      }
      toks.push({ t: 'word', text, raw: s.slice(i, Math.min(j + 1, s.length)), sp });
      i = j + 1;
      sp = false;
    } else if (c === '(') {
      let depth = 1;
      let text = '';
      let j = i + 1;
      for (; j < s.length && depth > 0; j++) {
        const d = s[j]!;
        if (d === '\\' && j + 1 < s.length) {
          text += s[++j];
          continue;
        }
        if (d === '(') depth++;
        if (d === ')') depth--;
        if (depth > 0) text += d; // the closing paren of the outer comment is not content
      }
      toks.push({ t: 'comment', text: text.trim(), sp });
      i = j;
      sp = true; // a comment separates words like whitespace does
    } else if (c === '[') {
      const j = s.indexOf(']', i);
      const end = j === -1 ? s.length : j + 1;
      toks.push({ t: 'lit', raw: s.slice(i, end), sp });
      i = end;
      sp = false;
    } else if (SPECIALS.includes(c)) {
      toks.push({ t: 'sp', c, sp });
      i++;
      sp = false;
    } else {
      let j = i;
      while (j < s.length && !SPECIALS.includes(s[j]!) && !' \t\r\n)'.includes(s[j]!)) j++;
      if (j === i) j++; // stray ')' becomes a one-char atom rather than looping forever
      toks.push({ t: 'word', text: s.slice(i, j), raw: s.slice(i, j), sp });
      i = j;
      sp = false;
    }
  }
  return toks;
}

/** Display-name phrase: words joined by single spaces where the header had whitespace. */
function phrase(toks: Tok[]): string | null {
  let out = '';
  for (const tk of toks) {
    if (tk.t === 'comment') continue;
    const text = tk.t === 'word' ? tk.text : tk.t === 'lit' ? tk.raw : tk.c;
    out += (out && tk.sp ? ' ' : '') + text;
  }
  return out === '' ? null : out;
}

/**
 * Local part / domain: raw text, whitespace and comments dropped. Quotes of a quoted local
 * part are kept ("john doe"@x -> mailbox `"john doe"`) so clients that join mailbox@host
 * still get a valid address.
 */
function joinRaw(toks: Tok[]): string {
  return toks.map((tk) => (tk.t === 'word' || tk.t === 'lit' ? tk.raw : tk.t === 'sp' ? tk.c : '')).join('');
}

function lastComment(toks: Tok[]): string | null {
  for (let i = toks.length - 1; i >= 0; i--) {
    const tk = toks[i]!;
    if (tk.t === 'comment' && tk.text) return tk.text;
  }
  return null;
}

function mailboxFrom(name: string | null, adl: string | null, spec: Tok[]): Address {
  const at = spec.findIndex((tk) => tk.t === 'sp' && tk.c === '@');
  // Without '@' this is junk like "undisclosed recipients": keep its words readable.
  const local = at === -1 ? (phrase(spec) ?? '') : joinRaw(spec.slice(0, at));
  const domain = at === -1 ? '' : joinRaw(spec.slice(at + 1));
  return { name, adl, mailbox: local || MISSING_MAILBOX, host: domain || MISSING_DOMAIN };
}

const isSp = (tk: Tok | undefined, c: string): boolean => tk !== undefined && tk.t === 'sp' && tk.c === c;

/** Parses one address header value; empty result means "no addresses" (ENVELOPE NIL). */
export function parseAddressList(value: string): Address[] {
  const toks = tokenize(value);
  const out: Address[] = [];
  let inGroup = false;
  let i = 0;
  while (i < toks.length) {
    // Collect everything up to the next top-level delimiter.
    const start = i;
    while (i < toks.length && !isSp(toks[i], '<') && !isSp(toks[i], ',') && !isSp(toks[i], ';') && !(isSp(toks[i], ':') && !inGroup)) i++;
    const item = toks.slice(start, i);
    const delim = toks[i];
    if (isSp(delim, ':')) {
      out.push({ name: null, adl: null, mailbox: phrase(item) ?? '', host: null });
      inGroup = true;
      i++;
      continue;
    }
    if (isSp(delim, '<')) {
      let j = i + 1;
      while (j < toks.length && !isSp(toks[j], '>')) j++;
      let inner = toks.slice(i + 1, j).filter((tk) => tk.t !== 'comment');
      let adl: string | null = null;
      const colon = inner.findIndex((tk) => isSp(tk, ':'));
      if (isSp(inner[0], '@') && colon > 0) {
        adl = joinRaw(inner.slice(0, colon)); // source route "@a,@b"
        inner = inner.slice(colon + 1);
      }
      const name = phrase(item) ?? lastComment(toks.slice(j + 1, nextDelim(toks, j + 1))) ?? lastComment(item);
      out.push(mailboxFrom(name, adl, inner));
      i = nextDelim(toks, j + 1); // ignore junk between '>' and the delimiter
    } else if (item.some((tk) => tk.t !== 'comment')) {
      // Bare addr-spec; a trailing "(Full Name)" comment is the only name it can have.
      out.push(mailboxFrom(lastComment(item), null, item.filter((tk) => tk.t !== 'comment')));
    }
    if (isSp(toks[i], ';') && inGroup) {
      out.push({ name: null, adl: null, mailbox: null, host: null });
      inGroup = false;
    }
    i++;
  }
  if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null }); // unterminated group
  return out;
}

function nextDelim(toks: Tok[], from: number): number {
  let k = from;
  while (k < toks.length && !isSp(toks[k], ',') && !isSp(toks[k], ';')) k++;
  return k;
}
