// SEARCH and UID SEARCH, with ESEARCH result options (RFC 4731) and MODSEQ (RFC 7162).
import { bad } from '../errors.js';
import { loadMessage } from '../message-data.js';
import type { ParsedCommand } from '../parser/command-parser.js';
import { parseSearch, UnsupportedCharsetError } from '../parser/search-keys.js';
import { formatSequenceSet } from '../parser/sequence-set.js';
import { matches, needsContent, resolveSets, usesModseq, type Candidate } from '../search.js';
import type { ImapSession } from '../session.js';
import { str } from '../wire.js';
import { SELECTED, type CommandSpec } from './types.js';

/** The charsets BADCHARSET names: the parser could decode more, but we answer for these. */
const CHARSETS = /^(UTF-8|US-ASCII)$/i;

async function search(s: ImapSession, c: ParsedCommand, byUid: boolean): Promise<string> {
  const req = parseSearch(c.args);
  if (req.charset !== undefined && !CHARSETS.test(req.charset)) throw new UnsupportedCharsetError(req.charset);
  // SAVE needs SEARCHRES (RFC 5182), which is not advertised
  if (req.returnOpts?.includes('SAVE')) throw bad('Unsupported RETURN option SAVE');
  let ret = req.returnOpts ?? null;
  const tree = req.key;
  if (usesModseq(tree)) s.enabled.add('CONDSTORE');
  if (!ret && s.enabled.has('IMAP4rev2')) ret = ['ALL']; // IMAP4rev2 answers with ESEARCH only
  const view = s.view;
  resolveSets(tree, view.exists, view.uids[view.uids.length - 1] ?? 0);
  const content = needsContent(tree);

  // a search result is one folder view (objtFolderView) while it is computed
  const hits = await s.storeSession!.withObject('objtFolderView', async () => {
    const found: Array<{ id: number; modseq: number }> = [];
    const uids = view.uids.slice(); // the view may change while we await the store
    for (let i = 0; i < uids.length; i++) {
      const m = await view.summary(uids[i]!, uids.length);
      if (!m) continue;
      const cand: Candidate = { m, seq: i + 1 };
      if (content) {
        try {
          Object.assign(cand, await loadMessage(s.ctx.store, m));
        } catch {
          continue; // expunged meanwhile
        }
      }
      if (matches(tree, cand)) found.push({ id: byUid ? m.uid : i + 1, modseq: m.modseq });
    }
    return found;
  });
  const highest = hits.reduce((n, h) => Math.max(n, h.modseq), 0);
  const withModseq = usesModseq(tree) && hits.length > 0;
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
    if (withModseq) line += ` MODSEQ ${highest}`;
    s.send(line);
  }
  return `${byUid ? 'UID ' : ''}SEARCH completed`;
}

export const searchCommands: Record<string, CommandSpec> = {
  SEARCH: { states: SELECTED, run: (s, c) => search(s, c, false), noExpunge: true },
  'UID SEARCH': { states: SELECTED, run: (s, c) => search(s, c, true) },
};
