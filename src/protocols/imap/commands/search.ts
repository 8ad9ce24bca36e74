// SEARCH and UID SEARCH, with ESEARCH result options (RFC 4731), SAVE and "$" (SEARCHRES,
// RFC 5182) and MODSEQ (RFC 7162).
import { toImapFailure } from '../errors.js';
import { loadMessage } from '../message-data.js';
import type { ImapValue, ParsedCommand } from '../parser/command-parser.js';
import { parseSearch, UnsupportedCharsetError, type SearchKey } from '../parser/search-keys.js';
import { formatSequenceSet } from '../parser/sequence-set.js';
import { saveResult, savedUids } from '../saved-result.js';
import { matches, needsContent, needsStoredDates, resolveSets, usesModseq, usesObjectIds, type Candidate, type CandidateFields } from '../search.js';
import type { ImapSession } from '../session.js';
import { str } from '../wire.js';
import { SELECTED, type CommandSpec } from './types.js';

/** The charsets BADCHARSET names: the parser could decode more, but we answer for these. */
export const CHARSETS = /^(UTF-8|US-ASCII)$/i;

/** A message a search found: its sequence number, and what the view knows of it. */
export interface SearchHit {
  seq: number;
  uid: number;
  modseq: number;
  size: number;
}

/**
 * The messages of the selected folder matching a parsed criteria tree, in mailbox order (SEARCH,
 * and SORT/THREAD, which search first). Resolves "*", "$" and WITHIN in the tree first. Criteria
 * on flags, sizes, UIDs and MODSEQ are answered from the view alone, with no store read.
 */
export async function searchView(s: ImapSession, tree: SearchKey): Promise<SearchHit[]> {
  const view = s.view;
  resolveSets(tree, view.exists, view.lastUid, new Set(savedUids(view)), s.ctx.clock.now());
  const content = needsContent(tree);
  const stored = content || needsStoredDates(tree);

  // a search result is one folder view (objtFolderView) while it is computed
  return s.storeSession!.withObject('objtFolderView', async () => {
    const found: SearchHit[] = [];
    const uids = view.uidList(); // the view may change while we await the store
    // EMAILID/THREADID: every message's, in one store read
    const objectIds = usesObjectIds(tree)
      ? new Map((await s.ctx.store.getMessages(s.user!.id, view.folder.id, Array.from(uids))).map((m) => [m.uid, { emailId: m.emailId, threadId: m.threadId }]))
      : null;
    if (!stored) {
      // no store read from here on; the pauses between turns leave the view as it is (only this
      // session's own commands change it)
      const everything = tree.op === 'all';
      for (let seq = 1; seq <= view.exists; seq++) {
        const turn = s.step(seq);
        if (turn) await turn;
        const m: CandidateFields | null = view.searchFieldsAt(seq);
        if (m && (everything || matches(tree, { m, seq, objectIds: objectIds?.get(m.uid) }))) found.push({ seq, uid: m.uid, modseq: m.modseq, size: m.size });
      }
      return found;
    }
    for (let i = 0; i < uids.length; i++) {
      // summaries from the bulk listing resolve without a turn: pause as the loop above does
      const turn = s.step(i + 1);
      if (turn) await turn;
      const m = await view.summary(uids[i]!, uids.length);
      if (!m) continue;
      const cand: Candidate = { m, seq: i + 1, objectIds: objectIds?.get(m.uid) };
      if (content) {
        try {
          Object.assign(cand, await loadMessage(s.ctx.store, m));
        } catch {
          continue; // expunged meanwhile
        }
      }
      if (matches(tree, cand)) found.push({ seq: i + 1, uid: m.uid, modseq: m.modseq, size: m.size });
    }
    return found;
  });
}

async function search(s: ImapSession, c: ParsedCommand, byUid: boolean): Promise<string> {
  const req = parseSearch(c.args);
  if (req.charset !== undefined && !CHARSETS.test(req.charset)) throw new UnsupportedCharsetError(req.charset);
  let ret = req.returnOpts ?? null;
  const tree = req.key;
  if (usesModseq(tree)) s.enableCondstore();
  if (!ret && s.enabled.has('IMAP4rev2')) ret = ['ALL']; // IMAP4rev2 answers with ESEARCH only
  const hits = (await searchView(s, tree)).map((h) => ({ id: byUid ? h.uid : h.seq, uid: h.uid, modseq: h.modseq }));
  const view = s.view;
  const highest = hits.reduce((n, h) => Math.max(n, h.modseq), 0);
  const withModseq = usesModseq(tree) && hits.length > 0;
  if (ret?.includes('SAVE')) {
    saveResult(view, savedPart(hits.map((h) => h.uid), ret));
    ret = ret.filter((o) => o !== 'SAVE');
    // RFC 5182 section 1: SAVE on its own suppresses the SEARCH (and ESEARCH) response
    if (ret.length === 0) return `${byUid ? 'UID ' : ''}SEARCH completed, result saved`;
  }
  if (!ret) {
    s.send(`SEARCH${hits.map((h) => ' ' + h.id).join('')}${withModseq ? ` (MODSEQ ${highest})` : ''}`);
  } else {
    const ids = hits.map((h) => h.id);
    let line = `ESEARCH (TAG ${str(s.tag)})${byUid ? ' UID' : ''}`;
    if (ids.length) {
      if (ret.includes('MIN')) line += ` MIN ${Math.min(...ids)}`;
      if (ret.includes('MAX')) line += ` MAX ${Math.max(...ids)}`;
      if (ret.includes('ALL')) line += ` ALL ${formatSequenceSet(ids)}`;
    }
    if (ret.includes('COUNT')) line += ` COUNT ${ids.length}`;
    if (withModseq) line += ` MODSEQ ${returnedModseq(hits, ret)}`;
    s.send(line);
  }
  return `${byUid ? 'UID ' : ''}SEARCH completed`;
}

/**
 * ESEARCH's MODSEQ (RFC 7162 3.1.5): the highest of the messages the answer returns: with MIN
 * and/or MAX but neither ALL nor COUNT, of those messages only. `hits` ascend (view order).
 */
function returnedModseq(hits: Array<{ modseq: number }>, ret: string[]): number {
  const returned = ret.includes('ALL') || ret.includes('COUNT') || (!ret.includes('MIN') && !ret.includes('MAX'))
    ? hits
    : [...(ret.includes('MIN') ? [hits[0]!] : []), ...(ret.includes('MAX') ? [hits[hits.length - 1]!] : [])];
  return returned.reduce((n, h) => Math.max(n, h.modseq), 0);
}

/**
 * What SAVE keeps (RFC 5182 section 2.4): with MIN and/or MAX but neither ALL nor COUNT, only
 * those messages; otherwise all found. `uids` ascend, as the search visits the view in order.
 */
function savedPart(uids: number[], ret: string[]): number[] {
  if (uids.length === 0 || ret.includes('ALL') || ret.includes('COUNT')) return uids;
  const min = ret.includes('MIN');
  const max = ret.includes('MAX');
  if (!min && !max) return uids;
  return [...new Set([...(min ? [uids[0]!] : []), ...(max ? [uids[uids.length - 1]!] : [])])];
}

/** Whether the arguments ask for "RETURN (... SAVE ...)", read before (or without) parsing them. */
function asksToSave(args: ImapValue[]): boolean {
  const [ret, opts] = args;
  return ret?.t === 'atom' && ret.v.toUpperCase() === 'RETURN' && opts?.t === 'list' && opts.v.some((o) => o.t === 'atom' && o.v.toUpperCase() === 'SAVE');
}

/** RFC 5182 2.1: a SAVE search answered NO empties "$"; one answered BAD leaves it alone. */
async function searchSavingOnFailure(s: ImapSession, c: ParsedCommand, byUid: boolean): Promise<string> {
  try {
    return await search(s, c, byUid);
  } catch (err) {
    if (s.selected && toImapFailure(err).status === 'NO' && asksToSave(c.args)) saveResult(s.selected.view, []);
    throw err;
  }
}

export const searchCommands: Record<string, CommandSpec> = {
  SEARCH: { states: SELECTED, run: (s, c) => searchSavingOnFailure(s, c, false), noExpunge: true },
  'UID SEARCH': { states: SELECTED, run: (s, c) => searchSavingOnFailure(s, c, true) },
};
