/**
 * SEARCH evaluation (RFC 3501 6.4.4, MODSEQ from RFC 7162, save dates from RFC 8514) over the criteria tree the
 * parser library builds (parser/search-keys.ts). Message bytes are read only when a
 * criterion needs them.
 */
import type { MessageSummary } from '../../store/types.js';
import type { MessageStructure } from '../../mime/structure.js';
import { parseAddressList } from '../../mime/address.js';
import { bodyText, decodeHeaderValue, headerValues } from '../../mime/search-text.js';
import type { SearchKey } from './parser/search-keys.js';
import { resolveSequenceSet, seqSetContains } from './parser/sequence-set.js';
import { dayOf, parseDay } from './wire.js';

export function needsContent(k: SearchKey): boolean {
  switch (k.op) {
    case 'header': case 'body': case 'text': return true;
    case 'date': return k.field === 'sent';
    case 'not': return needsContent(k.key);
    case 'or': return needsContent(k.a) || needsContent(k.b);
    case 'and': return k.keys.some(needsContent);
    default: return false;
  }
}

/** Whether a criterion needs each message's EMAILID or THREADID (Candidate.objectIds). */
export function usesObjectIds(k: SearchKey): boolean {
  switch (k.op) {
    case 'objectid': return true;
    case 'not': return usesObjectIds(k.key);
    case 'or': return usesObjectIds(k.a) || usesObjectIds(k.b);
    case 'and': return k.keys.some(usesObjectIds);
    default: return false;
  }
}

export function usesModseq(k: SearchKey): boolean {
  switch (k.op) {
    case 'modseq': return true;
    case 'not': return usesModseq(k.key);
    case 'or': return usesModseq(k.a) || usesModseq(k.b);
    case 'and': return k.keys.some(usesModseq);
    default: return false;
  }
}

/**
 * What a criterion reads of a message without its bytes. The view knows all of it but
 * INTERNALDATE and the save date, which only criteria with needsStoredDates read (SEARCH then
 * asks the store).
 */
export type CandidateFields = Pick<MessageSummary, 'uid' | 'modseq' | 'size'> & { flags: ReadonlyArray<string>; internalDate?: Date; saveDate?: Date | null };

/** Whether a criterion reads INTERNALDATE (BEFORE/ON/SINCE, YOUNGER/OLDER) or the save date (SAVEDBEFORE/SAVEDON/SAVEDSINCE). */
export function needsStoredDates(k: SearchKey): boolean {
  switch (k.op) {
    case 'age': return true;
    case 'date': return k.field !== 'sent';
    case 'not': return needsStoredDates(k.key);
    case 'or': return needsStoredDates(k.a) || needsStoredDates(k.b);
    case 'and': return k.keys.some(needsStoredDates);
    default: return false;
  }
}

export interface Candidate {
  m: CandidateFields;
  seq: number;
  /** RFC 8474 EMAILID and THREADID, when a criterion needs them (usesObjectIds). */
  objectIds?: { emailId: string; threadId: string };
  raw?: Buffer;
  structure?: MessageStructure;
  /** Decoded texts, computed once per message when needed. */
  cache?: { body?: string; headers?: Map<string, string> };
}

const fold = (s: string) => s.toLowerCase();

/** Header fields holding addresses (RFC 5322 3.6.2, 3.6.3, 3.6.6). */
const ADDRESS_FIELDS = new Set(['from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'resent-from', 'resent-sender', 'resent-to', 'resent-cc', 'resent-bcc']);

/**
 * An address field's text as written, and each address again as "name <mailbox@host>": comments
 * and white space inside an addr-spec (RFC 5322 CFWS) would otherwise hide the address from a
 * search for it ("<user (comment)@ (comment) example.org>").
 */
function addressText(value: string): string {
  const forms = parseAddressList(value).map((a) =>
    a.host === null ? (a.mailbox ?? '') : `${a.name ? decodeHeaderValue(a.name) + ' ' : ''}<${a.mailbox}@${a.host}>`);
  return [decodeHeaderValue(value), ...forms].join('\n');
}

function header(c: Candidate, lname: string): string {
  c.cache ??= {};
  c.cache.headers ??= new Map();
  let v = c.cache.headers.get(lname);
  if (v === undefined) {
    const values = headerValues(c.raw!, lname);
    v = fold((ADDRESS_FIELDS.has(lname) ? values.map(addressText) : values.map(decodeHeaderValue)).join('\n'));
    c.cache.headers.set(lname, v);
  }
  return v;
}

/** BODY searches the decoded text parts; TEXT the header too. */
function contains(c: Candidate, needle: string, withHeader: boolean): boolean {
  c.cache ??= {};
  c.cache.body ??= fold(safeBody(c));
  const n = fold(needle);
  if (c.cache.body.includes(n)) return true;
  return withHeader && fold(decodeHeaderValue(c.raw!.subarray(0, c.structure!.root.headerEnd).toString('utf8'))).includes(n);
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

export function matches(k: SearchKey, c: Candidate): boolean {
  switch (k.op) {
    case 'all': return true;
    // \Recent is never stored (flags.ts): the view adds it to the flags of this session's recent messages
    case 'flag': return c.m.flags.includes(k.flag) === k.set;
    case 'seq': return seqSetContains(k.set, c.seq);
    case 'uid': return seqSetContains(k.set, c.m.uid);
    case 'saved': return k.uids?.has(c.m.uid) ?? false;
    case 'not': return !matches(k.key, c);
    case 'or': return matches(k.a, c) || matches(k.b, c);
    case 'and': return k.keys.every((x) => matches(x, c));
    case 'size': return k.cmp === 'larger' ? c.m.size > k.n : c.m.size < k.n;
    case 'objectid': return (k.field === 'emailid' ? c.objectIds?.emailId : c.objectIds?.threadId) === k.id;
    case 'age': return k.cmp === 'younger' ? c.m.internalDate!.getTime() >= k.cutoff! : c.m.internalDate!.getTime() < k.cutoff!;
    case 'modseq': return c.m.modseq >= k.n;
    case 'header':
      if (k.value === '') return headerValues(c.raw!, k.field).length > 0;
      return header(c, k.field).includes(fold(k.value));
    case 'body': return contains(c, k.value, false);
    case 'text': return contains(c, k.value, true);
    case 'date': {
      // a message without the date asked about (no Date: header, no save date: stored before
      // save dates were kept) matches no date key, as SENTBEFORE already did
      const day = k.field === 'sent' ? sentDay(c) : k.field === 'saved' ? (c.m.saveDate ? dayOf(c.m.saveDate) : null) : dayOf(c.m.internalDate!);
      if (day === null) return false;
      const want = dayOf(new Date(k.date)); // "YYYY-MM-DD" alone is read as UTC midnight
      return k.cmp === 'before' ? day < want : k.cmp === 'on' ? day === want : day >= want;
    }
  }
}

/**
 * Turns "*" into the last message number or UID (RFC 3501 6.4.8), "$" into the saved
 * result's UIDs (RFC 5182) and YOUNGER/OLDER into a time (RFC 5032, `now` in ms), once, before evaluation.
 */
export function resolveSets(k: SearchKey, lastSeq: number, lastUid: number, saved: Set<number>, now: number): void {
  switch (k.op) {
    case 'seq': k.set = resolveSequenceSet(k.set, lastSeq); break;
    case 'uid': k.set = resolveSequenceSet(k.set, lastUid); break;
    case 'saved': k.uids = saved; break;
    case 'age': k.cutoff = now - k.seconds * 1000; break;
    case 'not': resolveSets(k.key, lastSeq, lastUid, saved, now); break;
    case 'or':
      resolveSets(k.a, lastSeq, lastUid, saved, now);
      resolveSets(k.b, lastSeq, lastUid, saved, now);
      break;
    case 'and': for (const x of k.keys) resolveSets(x, lastSeq, lastUid, saved, now); break;
  }
}

function safeBody(c: Candidate): string {
  try {
    return bodyText(c.raw!, c.structure!);
  } catch {
    return c.raw!.toString('utf8');
  }
}
