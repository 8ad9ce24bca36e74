// FETCH and UID FETCH (RFC 3501 6.4.5, BINARY RFC 3516, CONDSTORE/QRESYNC RFC 7162).
import type { StoredMessage } from '../../../store/types.js';
import { imapQuote, renderBodyStructure, renderEnvelope } from '../../../mime/imap-render.js';
import { bodyText } from '../../../mime/search-text.js';
import { preview } from '../../../store/analyse.js';
import { extractSection, headerSection, isTopHeaderSection, parseSectionSpec, type SectionSpec } from '../../../mime/section.js';
import type { MessageStructure } from '../../../mime/structure.js';
import { decodeTransfer } from '../../../mime/transfer-encoding.js';
import { expectArgs } from '../args.js';
import { bad, no } from '../errors.js';
import { flagList } from '../flags.js';
import type { MailboxView } from '../mailbox-view.js';
import { findPart, structureOf, type LoadedMessage } from '../message-data.js';
import type { ParsedCommand } from '../parser/command-parser.js';
import { parseFetchItems, type FetchItem } from '../parser/fetch-items.js';
import { formatSequenceSet, seqSetContains } from '../parser/sequence-set.js';
import { messageSetArg } from '../saved-result.js';
import type { ImapSession } from '../session.js';
import { internalDate } from '../wire.js';
import { SELECTED, type CommandSpec } from './types.js';

const BYTES = new Set(['RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'BODY[]', 'BINARY[]', 'BINARY.SIZE', 'PREVIEW']);
const STRUCTURE = new Set(['ENVELOPE', 'BODY', 'BODYSTRUCTURE']);

/** Items answered from the view alone (no INTERNALDATE, structure or bytes): no store read per message. */
const FROM_VIEW = new Set(['UID', 'FLAGS', 'MODSEQ', 'RFC822.SIZE']);

/** Items that set \Seen when the mailbox is read-write (RFC 3501 6.4.5). */
function setsSeen(it: FetchItem): boolean {
  return it.kind === 'RFC822' || it.kind === 'RFC822.TEXT' || ((it.kind === 'BODY[]' || it.kind === 'BINARY[]') && !it.peek);
}

/** Octet that stands for NUL in an ordinary literal (as Dovecot does); the size stays the same. */
const NUL_STAND_IN = 0x80;

function literal(name: string, data: Buffer, binary = false): Array<string | Buffer> {
  if (!data.includes(0)) return [`${name} {${data.length}}\r\n`, data];
  // NUL may travel only in a literal8 (~{n}), and only to a client that asked for BINARY
  // (RFC 3516 4.2); anywhere else (BODY[] of a part stored as binary) it is converted
  if (binary) return [`${name} ~{${data.length}}\r\n`, data];
  const safe = Buffer.from(data);
  for (let i = safe.indexOf(0); i !== -1; i = safe.indexOf(0, i + 1)) safe[i] = NUL_STAND_IN;
  return [`${name} {${safe.length}}\r\n`, safe];
}

/** Characters of a PREVIEW (RFC 8970 3.1: at most 256). */
const PREVIEW_CHARS = 256;

/** The message's text (its first text parts, HTML as text) with white space collapsed, as web mail lists it. */
function previewOf(msg: LoadedMessage): string {
  let text: string;
  try {
    text = bodyText(msg.raw, msg.structure);
  } catch {
    return ''; // broken MIME: nothing to preview
  }
  return preview(text, PREVIEW_CHARS);
}

function partial(data: Buffer, p: { start: number; length: number } | undefined): Buffer {
  return p ? data.subarray(p.start, p.start + p.length) : data;
}

/** What an answer is made from: the message's bytes and structure, or (headerOnly) its header block alone. */
type MessageBytes = LoadedMessage | { header: Buffer };

/** Section specs parsed once, not once per message of a FETCH (a few kinds in use at a time). */
const parsedSections = new Map<string, SectionSpec | null>();

function sectionSpec(section: string): SectionSpec | null {
  let spec = parsedSections.get(section);
  if (spec === undefined) {
    if (parsedSections.size >= 64) parsedSections.clear();
    spec = parseSectionSpec(section);
    parsedSections.set(section, spec);
  }
  return spec;
}

function sectionBytes(msg: MessageBytes, section: string): Buffer {
  const spec = sectionSpec(section);
  if (!spec) throw bad(`Invalid section ${section.slice(0, 40)}`);
  return 'header' in msg ? headerSection(msg.header, spec) : extractSection(msg.raw, msg.structure, spec);
}

/**
 * Whether every item that needs bytes is in the top-level header block (RFC822.HEADER,
 * BODY[HEADER], BODY[HEADER.FIELDS (...)], .NOT) and none needs the structure: the message
 * list every desktop client fetches, answered from header blocks the store cuts (no bodies
 * read, shipped from the store thread or parsed).
 */
function headerOnly(items: FetchItem[]): boolean {
  return items.every((it) => {
    if (it.kind === 'RFC822.HEADER') return true;
    if (it.kind === 'BODY[]') {
      const spec = sectionSpec(it.section);
      return spec !== null && isTopHeaderSection(spec);
    }
    return !BYTES.has(it.kind) && !STRUCTURE.has(it.kind);
  });
}

function binaryBytes(msg: LoadedMessage, section: string): Buffer {
  if (section === '') return msg.raw;
  const part = findPart(msg.structure, section.split('.').map(Number));
  if (!part) return Buffer.alloc(0);
  if (part.parts || part.message) return msg.raw.subarray(part.bodyStart, part.bodyEnd);
  const data = decodeTransfer(msg.raw.subarray(part.bodyStart, part.bodyEnd), part.encoding);
  if (!data) throw no(`Unknown content transfer encoding ${part.encoding.slice(0, 30)}`, 'UNKNOWN-CTE');
  return data;
}

/**
 * Messages read from the store in one call: at most this many with their bytes, and about this
 * many bytes (FETCH BODY[] of big ones: memory), or this many without (INTERNALDATE, ENVELOPE).
 */
const BATCH_WITH_BYTES = 50;
const BATCH_BYTES = 8 * 1024 * 1024;
const BATCH_WITHOUT_BYTES = 1000;
/**
 * Header blocks only: bounded by BATCH_BYTES of whole messages too (a message's size bounds its
 * header's: one without a blank line is all header). 100, not 1000: the store thread's answer is
 * taken apart in one turn of the main thread, and 1000 messages' took 5–7 ms there (event-loop
 * delay p99 11 ms in bench/imap-headers.ts); against 250, 100 kept the server's own p99 at 1.9–2.5
 * ms instead of 3.2–4.1 ms and was no slower (10,000 messages, 2 alternating pairs at load 4).
 * The next batch is read while this one is written.
 */
const BATCH_HEADERS = 100;

/** UIDs in store reads (Store.getMessages) of bounded count and, with bytes, bounded size (unless one alone is bigger). */
function batches(view: MailboxView, uids: number[], withBytes: boolean, most: number): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  let bytes = 0;
  for (const uid of uids) {
    const size = withBytes ? view.sizeOf(uid) : 0;
    if (cur.length && (cur.length >= most || bytes + size > BATCH_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(uid);
    bytes += size;
  }
  if (cur.length) out.push(cur);
  return out;
}

/** One FETCH response's items: text as strings, literal data as Buffers. `msg`: bytes and structure when an item needs them. */
function renderItems(m: StoredMessage, items: FetchItem[], msg: MessageBytes | null, structure: MessageStructure | null): Array<string | Buffer> {
  const out: Array<string | Buffer> = [];
  const text = (t: string) => out.push(t);
  items.forEach((it, i) => {
    if (i > 0) text(' ');
    switch (it.kind) {
      case 'UID': return text(`UID ${m.uid}`);
      case 'FLAGS': return text(`FLAGS ${flagList(m.flags)}`);
      case 'INTERNALDATE': return text(`INTERNALDATE ${internalDate(m.internalDate)}`);
      // RFC 8514 3: NIL when the save date is not known (stored before save dates were kept)
      case 'SAVEDATE': return text(`SAVEDATE ${m.saveDate ? internalDate(m.saveDate) : 'NIL'}`);
      case 'RFC822.SIZE': return text(`RFC822.SIZE ${m.size}`);
      case 'MODSEQ': return text(`MODSEQ (${m.modseq})`);
      case 'EMAILID': return text(`EMAILID (${m.emailId})`);
      case 'THREADID': return text(`THREADID (${m.threadId})`);
      case 'ENVELOPE': return text(`ENVELOPE ${renderEnvelope(structure!.envelope)}`);
      case 'BODY': return text(`BODY ${renderBodyStructure(structure!.root, false)}`);
      case 'BODYSTRUCTURE': return text(`BODYSTRUCTURE ${renderBodyStructure(structure!.root, true)}`);
      case 'RFC822': return out.push(...literal('RFC822', (msg as LoadedMessage).raw));
      case 'RFC822.HEADER': return out.push(...literal('RFC822.HEADER', sectionBytes(msg!, 'HEADER')));
      case 'RFC822.TEXT': return out.push(...literal('RFC822.TEXT', sectionBytes(msg!, 'TEXT')));
      case 'BODY[]': {
        const name = `BODY[${it.section}]${it.partial ? `<${it.partial.start}>` : ''}`;
        return out.push(...literal(name, partial(sectionBytes(msg!, it.section), it.partial)));
      }
      case 'BINARY[]': {
        const name = `BINARY[${it.section}]${it.partial ? `<${it.partial.start}>` : ''}`;
        return out.push(...literal(name, partial(binaryBytes(msg as LoadedMessage, it.section), it.partial), true));
      }
      case 'BINARY.SIZE': return text(`BINARY.SIZE[${it.section}] ${binaryBytes(msg as LoadedMessage, it.section).length}`);
      case 'PREVIEW': return text(`PREVIEW ${imapQuote(previewOf(msg as LoadedMessage))}`);
    }
  });
  return out;
}

/** One FROM_VIEW item, from the view's arrays (flags as stored text, no per-message array). */
function viewItem(view: MailboxView, uid: number, kind: string): string {
  switch (kind) {
    case 'UID': return `UID ${uid}`;
    case 'FLAGS': return `FLAGS (${view.displayFlags(uid)})`;
    case 'MODSEQ': return `MODSEQ (${view.modseqOf(uid)})`;
    default: return `RFC822.SIZE ${view.sizeOf(uid)}`;
  }
}

async function fetch(s: ImapSession, c: ParsedCommand, byUid: boolean): Promise<string> {
  expectArgs(c.args, 2, 3);
  const req = parseFetchItems(c.args.slice(1));
  const items = req.items.filter((it, i) => req.items.findIndex((x) => JSON.stringify(x) === JSON.stringify(it)) === i);
  if (byUid && !items.some((i) => i.kind === 'UID')) items.unshift({ kind: 'UID' });
  if (req.changedSince !== undefined || items.some((i) => i.kind === 'MODSEQ')) s.enableCondstore();
  if (req.vanished && (!byUid || !s.enabled.has('QRESYNC'))) throw bad('VANISHED needs UID FETCH and ENABLE QRESYNC');
  const view = s.view;
  const { uids, ranges } = messageSetArg(view, c.args[0], byUid);

  // "$" (ranges null) has already lost its expunged messages: nothing of it can have vanished
  if (req.vanished && ranges) {
    const gone = (await s.ctx.store.expungedSince(s.user!.id, view.folder.id, req.changedSince!)).map((e) => e.uid).filter((u) => seqSetContains(ranges, u));
    if (gone.length) s.send(`VANISHED (EARLIER) ${formatSequenceSet(gone)}`);
  }
  // Mark \Seen first, in one store call, so that the answers carry the new flags.
  if (!view.readOnly && items.some(setsSeen)) {
    const unseen = uids.filter((u) => view.has(u) && !view.flagsOf(u).includes('\\Seen'));
    if (unseen.length) {
      const r = await s.ctx.store.storeFlags(s.user!.id, view.folder.id, unseen, 'add', ['\\Seen']);
      for (const ch of r.changed) view.noteFlags(ch.uid, ch.flags, ch.modseq);
      if (!items.some((i) => i.kind === 'FLAGS')) items.push({ kind: 'FLAGS' });
    }
  }
  const changedSince = req.changedSince;
  const wanted = (uid: number) => view.has(uid) && (changedSince === undefined || view.modseqOf(uid) > changedSince);
  if (items.every((i) => FROM_VIEW.has(i.kind))) {
    // one line at a time, in order, each message looked at only here: 100,000 lines are ~130 ms
    // of work, and s.pace() spreads them over turns (a filter of the whole set first was one
    // more pass in a single turn)
    const kinds = items.map((it) => it.kind);
    for (const uid of uids) {
      if (!wanted(uid)) continue; // not changed, or expunged by another session meanwhile (its EXPUNGE comes later)
      let line = `* ${view.seqOf(uid)} FETCH (`;
      for (let k = 0; k < kinds.length; k++) line += (k ? ' ' : '') + viewItem(view, uid, kinds[k]!);
      const wait = s.pace(s.write(`${line})\r\n`), true);
      if (wait) await wait;
      if (s.conn.closed) break;
    }
    return `${byUid ? 'UID ' : ''}FETCH completed`;
  }
  // Everything else in one store read per batch of messages (bytes and structure included),
  // not a read (or three) per message.
  const needBytes = items.some((i) => BYTES.has(i.kind));
  const headers = needBytes && headerOnly(items);
  const needStructure = !headers && (needBytes || items.some((i) => STRUCTURE.has(i.kind)));
  const most = headers ? BATCH_HEADERS : needBytes ? BATCH_WITH_BYTES : BATCH_WITHOUT_BYTES;
  const parts = headers ? { header: true } : { raw: needBytes, structure: needStructure };
  const read = (batch: number[]) => s.ctx.store.getMessages(s.user!.id, view.folder.id, batch, parts);
  const all = batches(view, uids.filter(wanted), needBytes, most);
  // Without bodies, the next batch is read (in the store thread) while this one is written
  // (in this one): the list fetch of a big folder costs about the longer of the two, not their
  // sum. With bodies, one batch at a time, for memory.
  const ahead = !needBytes || headers;
  let pending: Promise<StoredMessage[]> | null = all.length ? read(all[0]!) : null;
  for (let b = 0; b < all.length; b++) {
    const current = await pending!;
    pending = null;
    const following = all[b + 1];
    if (ahead && following) {
      pending = read(following);
      pending.catch(() => undefined); // not waited for if the connection closes meanwhile: no unhandled rejection
    }
    for (const stored of current) {
      if (!(await writeMessage(s, view, stored, items, needBytes, needStructure))) return `${byUid ? 'UID ' : ''}FETCH completed`;
    }
    if (!pending && following) pending = read(following);
  }
  return `${byUid ? 'UID ' : ''}FETCH completed`;
}

/**
 * Literals up to this size (header sections of a message list) go out in one Buffer with the
 * text around them: one allocation per message, not one per piece when the connection joins them.
 */
const SMALL_LITERAL = 16 * 1024;

function oneBuffer(parts: Array<string | Buffer>): Buffer {
  let size = 0;
  for (const p of parts) size += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of parts) at += typeof p === 'string' ? out.write(p, at) : p.copy(out, at);
  return out;
}

/** Sends one message's FETCH response; false once the connection is closed. */
async function writeMessage(s: ImapSession, view: MailboxView, stored: StoredMessage, items: FetchItem[], needBytes: boolean, needStructure: boolean): Promise<boolean> {
  const uid = stored.uid;
  if (!view.has(uid)) return true; // expunged by another session meanwhile; its EXPUNGE comes later
  const structure = needStructure ? await structureOf(s.ctx.store, stored) : null;
  if (!view.has(uid)) return true;
  // flags and MODSEQ as this session knows them, \Recent included (never stored)
  const m: StoredMessage = { ...stored, flags: view.flagsWithRecent(uid), modseq: view.modseqOf(uid) };
  let parts: Array<string | Buffer>;
  if (needBytes) {
    // a message opened for reading is one objtMessage object while we hold its bytes
    const release = await s.storeSession!.openObject('objtMessage');
    try {
      parts = renderItems(m, items, stored.header ? { header: stored.header } : { raw: stored.raw!, structure: structure! }, structure);
    } finally {
      release();
    }
  } else parts = renderItems(m, items, null, structure);
  // text-only answers (FLAGS, UID, ...) stay strings: the connection joins them into chunks
  const head = `* ${view.seqOf(uid)} FETCH (`;
  let ok: boolean;
  if (parts.every((p) => typeof p === 'string')) ok = s.write(head + parts.join('') + ')\r\n');
  else if (parts.every((p) => p.length <= SMALL_LITERAL)) ok = s.write(oneBuffer([head, ...parts, ')\r\n']));
  else {
    s.write(head);
    for (const p of parts) s.write(p);
    ok = s.write(')\r\n');
  }
  const wait = s.pace(ok);
  if (wait) await wait;
  return !s.conn.closed;
}

export const fetchCommands: Record<string, CommandSpec> = {
  FETCH: { states: SELECTED, run: (s, c) => fetch(s, c, false), noExpunge: true },
  'UID FETCH': { states: SELECTED, run: (s, c) => fetch(s, c, true) },
};
