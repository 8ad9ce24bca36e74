/**
 * What SORT and THREAD (RFC 5256, RFC 5957) compare, per message, read from its header once and
 * kept in memory by content hash: a blob never changes, so an entry never goes stale, and the
 * same bytes delivered to many folders or users are read once. A command therefore reads only
 * the messages it has not seen before (the first SORT of a folder, new mail) and works from
 * this cache after that.
 */
import { MISSING_DOMAIN, MISSING_MAILBOX, parseAddressList } from '../../mime/address.js';
import { baseSubject, casemapKey } from '../../mime/base-subject.js';
import { firstValue, scanHeader } from '../../mime/headers.js';
import { decodeHeaderValue } from '../../mime/search-text.js';
import type { Store } from '../../store/store.js';
import type { MessageSummary } from '../../store/types.js';

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

/** Entries kept (about 400 bytes each): a few folders of 100,000 messages. */
const MAX_ENTRIES = 300_000;
/** Messages read from the store per request while filling the cache. */
const READ_BATCH = 256;

const cache = new Map<string, SortFacts>();

function remember(hash: string, f: SortFacts): void {
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!); // oldest first
  cache.set(hash, f);
}

/**
 * The facts of each message (same order as `messages`), reading from the store those the cache
 * lacks. Store reads go in batches, so other sessions are served between them.
 */
export async function sortFacts(store: Store, userId: number, folderId: number, messages: readonly MessageSummary[]): Promise<SortFacts[]> {
  const missing = [...new Set(messages.filter((m) => !cache.has(m.blobHash)).map((m) => m.uid))];
  for (let i = 0; i < missing.length; i += READ_BATCH) {
    const got = await store.getMessages(userId, folderId, missing.slice(i, i + READ_BATCH), { raw: true });
    for (const m of got) if (!cache.has(m.blobHash)) remember(m.blobHash, factsOf(m.raw!));
  }
  // a message expunged while we read (no bytes) sorts as one without any header
  return messages.map((m) => cache.get(m.blobHash) ?? EMPTY);
}

const EMPTY: SortFacts = factsOf(Buffer.from('\r\n'));

/** Reads the facts from a message's header (only the header is looked at). */
export function factsOf(raw: Buffer): SortFacts {
  const block = scanHeader(raw, 0, raw.length);
  const value = (name: string): string | null => firstValue(raw, block, name);
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
  const a = parseAddressList(value)[0];
  if (!a) return null;
  const local = unquote(a.mailbox === MISSING_MAILBOX ? '' : (a.mailbox ?? ''));
  const name = a.name ? decodeHeaderValue(unquote(a.name)).trim() : '';
  const spec = a.host && a.host !== MISSING_DOMAIN ? `${local}@${a.host}` : local;
  return { local, display: name || spec };
}

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
