/**
 * What SORT and THREAD (RFC 5256, RFC 5957) compare, per message, read from its header. The
 * store computes them once, when it stores a message's bytes, and keeps them beside the other
 * header facts (Store.getSortFacts): a SORT or THREAD of a big folder then never reads the bytes,
 * not even the first one after the server started. Lives with the header helpers because both the
 * store (writing) and IMAP (ordering) need it.
 */
import { MISSING_DOMAIN, MISSING_MAILBOX, parseAddressList } from './address.js';
import { baseSubject, casemapKey } from './base-subject.js';
import { fieldValue, scanHeader, type HeaderBlock, type HeaderField } from './headers.js';
import { decodeHeaderValue } from './search-text.js';

export interface SortFacts {
  /** Date: in ms since the epoch, NaN when missing or unreadable (then the internal date counts). */
  sent: number;
  /** Base subject in compare form (casemapKey), and whether "Re:"/"Fwd:" markers were removed. */
  subject: string;
  replyOrForward: boolean;
  /** First mailbox's local part (RFC 5256 3: FROM, TO, CC), compare form; '' when none. */
  from: string;
  to: string;
  cc: string;
  /** RFC 5957 display name of the first From/To mailbox (addr-spec when it has none), compare form. */
  displayFrom: string;
  displayTo: string;
  /** Message-ID without its angle brackets; null when none is valid. */
  messageId: string | null;
  /** References' msg-ids, or In-Reply-To's first when References has none (RFC 5256 REFERENCES 1.B). */
  references: string[];
}

/** Reads the facts from a message's header (only the header is looked at). */
const WANTED = new Set(['subject', 'from', 'to', 'cc', 'date', 'message-id', 'references', 'in-reply-to']);

/**
 * factsOf for the store: a header it cannot read gives empty facts (the message then sorts by its
 * internal date and size), never a failed delivery.
 */
export function storedSortFacts(raw: Buffer, head?: HeaderBlock, sent?: number): SortFacts {
  try {
    return factsOf(raw, head, sent);
  } catch {
    return { sent: NaN, subject: '', replyOrForward: false, from: '', to: '', cc: '', displayFrom: '', displayTo: '', messageId: null, references: [] };
  }
}

/**
 * `head`: the header already scanned, `sent`: its Date: as sentDate reads it (the store's analysis
 * has both already; parsing a date is a third of the work here).
 */
export function factsOf(raw: Buffer, head: HeaderBlock = scanHeader(raw, 0, raw.length), sent?: number): SortFacts {
  // one pass over the fields for the first of each we read
  const first = new Map<string, HeaderField>();
  for (const f of head.fields) if (WANTED.has(f.lname) && !first.has(f.lname)) first.set(f.lname, f);
  const value = (name: string): string | null => {
    const f = first.get(name);
    return f ? fieldValue(raw, f) : null;
  };
  const subject = baseSubject(value('subject') ?? '');
  const from = firstMailbox(value('from'));
  const to = firstMailbox(value('to'));
  const cc = firstMailbox(value('cc'));
  const messageId = msgIds(value('message-id') ?? '')[0] ?? null;
  let references = msgIds(value('references') ?? '');
  if (references.length === 0) references = msgIds(value('in-reply-to') ?? '').slice(0, 1);
  return {
    sent: sent ?? sentDate(value('date')),
    subject: casemapKey(subject.base),
    replyOrForward: subject.isReplyOrForward,
    from: casemapKey(from?.local ?? ''),
    to: casemapKey(to?.local ?? ''),
    cc: casemapKey(cc?.local ?? ''),
    displayFrom: casemapKey(from?.display ?? ''),
    displayTo: casemapKey(to?.display ?? ''),
    messageId,
    references,
  };
}

/**
 * The first address of an address list: its local part (RFC 5256 3: the first address's
 * addr-mailbox, which for a group is the group's name, as in ENVELOPE) and its RFC 5957 display
 * form (the display name, else the addr-spec). Dovecot reads groups the same way.
 */
function firstMailbox(value: string | null): { local: string; display: string } | null {
  if (value === null) return null;
  // a list of plain addresses ("a@b.c, d@e.f"): its first is the part before the first comma (no
  // quotes, comments, groups, escapes or encoded words could put a comma inside an address)
  const comma = value.indexOf(',');
  const simple = SIMPLE_ADDRESS.exec(comma >= 0 && !LIST_SPECIALS.test(value) ? value.slice(0, comma) : value);
  if (simple) {
    // the common forms, without the full parser: "Name <local@host>", "<local@host>", "local@host"
    const name = (simple[1] ?? simple[2] ?? '').trim();
    const local = simple[3] ?? simple[5]!;
    const host = simple[4] ?? simple[6]!;
    return { local, display: (name.includes('=?') ? decodeHeaderValue(name).trim() : name) || `${local}@${host}` };
  }
  const a = parseAddressList(value)[0];
  if (!a) return null;
  const local = unquote(a.mailbox === MISSING_MAILBOX ? '' : (a.mailbox ?? ''));
  const name = a.name ? decodeHeaderValue(unquote(a.name)).trim() : '';
  const spec = a.host && a.host !== MISSING_DOMAIN ? `${local}@${a.host}` : local;
  return { local, display: name || spec };
}

/**
 * One address with no comments, quoting inside the address, groups or second address: an
 * optional plain or quoted display name (no escapes) and an angle-addr, or a bare addr-spec.
 */
const SIMPLE_ADDRESS = /^(?:(?:"([^"\\]*)"\s*|([^"<>()\[\]\\,;:@]*))<([^<>()\[\]\\,;:@"\s]+)@([^<>()\[\]\\,;:@"\s]+)>|([^<>()\[\]\\,;:@"\s]+)@([^<>()\[\]\\,;:@"\s]+))\s*$/;

/** What can put a comma inside one address of a list, or make a list more than addresses. */
const LIST_SPECIALS = /["()\\:;]|=\?/;

/** A quoted-string's content ("a\"b" -> a"b); other text as is. */
function unquote(s: string): string {
  return s.startsWith('"') && s.endsWith('"') && s.length >= 2 ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s;
}

const WHITE = /\s/;

/** Each "<...>" of a msg-id list, without brackets or white space inside (RFC 5322 3.6.4). */
function msgIds(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/<([^<>]*)>/g)) {
    const id = WHITE.test(m[1]!) ? m[1]!.replace(/\s+/g, '') : m[1]!;
    if (id.length > 0) out.push(id);
  }
  return out;
}

/** Date: in ms, NaN when missing or unreadable (a trailing comment dropped first). */
export function sentDate(text: string | null): number {
  if (!text) return NaN;
  return new Date(text.replace(/\s*\([^)]*\)\s*$/, '')).getTime();
}

/**
 * The stored form (one text column): a JSON array in SortFacts' field order, references last,
 * a missing Date as null. An array rather than an object: a third of the bytes, and 100,000 of
 * them are parsed for the first SORT of a big folder.
 */
export function encodeSortFacts(f: SortFacts): string {
  return JSON.stringify([
    Number.isNaN(f.sent) ? null : f.sent, f.subject, f.replyOrForward ? 1 : 0, f.from, f.to, f.cc, f.displayFrom, f.displayTo, f.messageId, ...f.references,
  ]);
}

export function decodeSortFacts(text: string): SortFacts {
  const a = JSON.parse(text) as [number | null, string, number, string, string, string, string, string, string | null, ...string[]];
  return {
    sent: a[0] ?? NaN, subject: a[1], replyOrForward: a[2] === 1, from: a[3], to: a[4], cc: a[5], displayFrom: a[6], displayTo: a[7], messageId: a[8],
    references: a.length > 9 ? (a.slice(9) as string[]) : [],
  };
}
