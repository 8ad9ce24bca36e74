/**
 * What SORT and THREAD (RFC 5256, RFC 5957) compare, per message, read from its header once and
 * kept in memory per folder and UID: a UID names the same bytes for as long as the folder's
 * UIDVALIDITY lasts, so an entry never goes stale. A command reads from the store only the
 * messages it has not seen before (the first SORT of a folder, new mail) and works from this
 * cache after that, as Dovecot does from its index cache file.
 */
import { MISSING_DOMAIN, MISSING_MAILBOX, parseAddressList } from '../../mime/address.js';
import { baseSubject, casemapKey } from '../../mime/base-subject.js';
import { fieldValue, scanHeader, type HeaderField } from '../../mime/headers.js';
import { decodeHeaderValue } from '../../mime/search-text.js';
import type { Store } from '../../store/store.js';
import type { Folder } from '../../store/types.js';

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

/** What a SORT or THREAD needs of one message beyond what the view knows. */
export interface SortEntry {
  /** INTERNALDATE, ms since the epoch. */
  internalDate: number;
  facts: SortFacts;
}

/** Entries kept over all folders (a few hundred bytes each): a few folders of 100,000 messages. */
const MAX_ENTRIES = 250_000;
/** At most this many messages, and this many bytes of them, per store read while filling the cache. */
const READ_BATCH = 2000;
const READ_BATCH_BYTES = 8 * 1024 * 1024;

/**
 * Per store (a process may hold several: the tests start many servers in one process, and folder
 * ids and UIDVALIDITY values of different stores can be equal), per "folder id/UIDVALIDITY", most
 * recently used last.
 */
interface SortCache { folders: Map<string, Map<number, SortEntry>>; total: number }
const caches = new WeakMap<Store, SortCache>();
function cacheOf(store: Store): SortCache {
  let c = caches.get(store);
  if (!c) caches.set(store, (c = { folders: new Map(), total: 0 }));
  return c;
}

/**
 * The entry of each message (same order; undefined for one expunged meanwhile) of a folder that
 * holds `folderMessages`, reading from the
 * store those the cache lacks, in batches, so other sessions are served between them.
 */
export async function sortEntries(store: Store, userId: number, folder: Folder, folderMessages: number, messages: ReadonlyArray<{ uid: number; size: number }>): Promise<Array<SortEntry | undefined>> {
  const uids = messages.map((m) => m.uid);
  const cache = cacheOf(store);
  const folders = cache.folders;
  const key = `${folder.id}/${folder.uidValidity}`;
  let entries = folders.get(key);
  folders.delete(key); // to the end: most recently used
  if (!entries || entries.size > 2 * folderMessages + 1000) {
    // first use, or mostly expunged messages: keep only what is asked for now
    cache.total -= entries?.size ?? 0;
    entries = new Map(entries ? uids.flatMap((u) => (entries!.has(u) ? [[u, entries!.get(u)!] as const] : [])) : []);
    cache.total += entries.size;
  }
  folders.set(key, entries);
  const found = uids.map((u) => entries.get(u));
  const missing = messages.filter((_, i) => found[i] === undefined);
  for (let i = 0; i < missing.length; ) {
    const batch: number[] = [];
    for (let bytes = 0; i < missing.length && batch.length < READ_BATCH && (batch.length === 0 || bytes + missing[i]!.size <= READ_BATCH_BYTES); i++) {
      batch.push(missing[i]!.uid);
      bytes += missing[i]!.size;
    }
    for (const m of await store.getMessages(userId, folder.id, batch, { raw: true })) {
      if (entries.has(m.uid)) continue;
      entries.set(m.uid, { internalDate: m.internalDate.getTime(), facts: factsOf(m.raw!) });
      cache.total++;
    }
  }
  // the least recently used folders go first, never the one asked about
  for (const [k, e] of folders) {
    if (cache.total <= MAX_ENTRIES || k === key) break;
    folders.delete(k);
    cache.total -= e.size;
  }
  if (missing.length) uids.forEach((u, i) => (found[i] ??= entries.get(u)));
  return found;
}

/** Reads the facts from a message's header (only the header is looked at). */
const WANTED = new Set(['subject', 'from', 'to', 'cc', 'date', 'message-id', 'references', 'in-reply-to']);

export function factsOf(raw: Buffer): SortFacts {
  // one pass over the fields for the first of each we read
  const first = new Map<string, HeaderField>();
  for (const f of scanHeader(raw, 0, raw.length).fields) if (WANTED.has(f.lname) && !first.has(f.lname)) first.set(f.lname, f);
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
    sent: sentDate(value('date')),
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
  const simple = SIMPLE_ADDRESS.exec(value);
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

/** A quoted-string's content ("a\"b" -> a"b); other text as is. */
function unquote(s: string): string {
  return s.startsWith('"') && s.endsWith('"') && s.length >= 2 ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s;
}

/** Each "<...>" of a msg-id list, without brackets or white space inside (RFC 5322 3.6.4). */
function msgIds(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/<([^<>]*)>/g)) {
    const id = m[1]!.replace(/\s+/g, '');
    if (id.length > 0) out.push(id);
  }
  return out;
}

function sentDate(text: string | null): number {
  if (!text) return NaN;
  return new Date(text.replace(/\s*\([^)]*\)\s*$/, '')).getTime();
}
