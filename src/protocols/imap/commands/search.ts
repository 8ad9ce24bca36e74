// SEARCH and UID SEARCH, with ESEARCH result options (RFC 4731) and MODSEQ (RFC 7162).
import { atomArg, listArg, stringArg } from '../args.js';
import { bad, no } from '../errors.js';
import { loadMessage } from '../message-data.js';
import type { ParsedCommand } from '../parser/command-parser.js';
import { formatSequenceSet } from '../parser/sequence-set.js';
import { matches, needsContent, parseSearchKeys, resolveSets, usesModseq, type Candidate } from '../search.js';
import type { ImapSession } from '../session.js';
import { str } from '../wire.js';
import { SELECTED, type CommandSpec } from './types.js';

const RETURN_OPTS = new Set(['MIN', 'MAX', 'ALL', 'COUNT']);

async function search(s: ImapSession, c: ParsedCommand, byUid: boolean): Promise<string> {
  const args = [...c.args];
  let ret: string[] | null = null;
  if (args[0]?.t === 'atom' && args[0].v.toUpperCase() === 'RETURN') {
    args.shift();
    ret = listArg(args.shift(), 'RETURN option').map((v) => atomArg(v, 'RETURN option').toUpperCase());
    for (const r of ret) if (!RETURN_OPTS.has(r)) throw bad(`Unsupported RETURN option ${r.slice(0, 20)}`);
    if (ret.length === 0) ret = ['ALL'];
  }
  if (args[0]?.t === 'atom' && args[0].v.toUpperCase() === 'CHARSET') {
    args.shift();
    const cs = stringArg(args.shift(), 'charset').toUpperCase();
    if (cs !== 'UTF-8' && cs !== 'US-ASCII') throw no('Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
  }
  const tree = parseSearchKeys(args);
  if (usesModseq(tree)) s.enabled.add('CONDSTORE');
  if (!ret && s.enabled.has('IMAP4rev2')) ret = ['ALL']; // IMAP4rev2 answers with ESEARCH only
  const view = s.view;
  resolveSets(tree, view.exists, view.uids[view.uids.length - 1] ?? 0);
  const content = needsContent(tree);

  // a search result is one folder view (objtFolderView) while it is computed
  const hits = await s.storeSession!.withObject('objtFolderView', async () => {
    const found: Array<{ id: number; modseq: number }> = [];
    for (let i = 0; i < view.uids.length; i++) {
      const m = view.message(view.uids[i]!);
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
