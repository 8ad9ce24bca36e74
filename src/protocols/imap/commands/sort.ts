// SORT and UID SORT (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO, ESORT "RETURN (...)" of RFC 5267),
// THREAD and UID THREAD (RFC 5256). Both search first with the SEARCH code, then order what it found.
import { bad } from '../errors.js';
import type { ImapValue, ParsedCommand } from '../parser/command-parser.js';
import { parseSearch, UnsupportedCharsetError } from '../parser/search-keys.js';
import { saveResult } from '../saved-result.js';
import { usesModseq } from '../search.js';
import type { ImapSession } from '../session.js';
import { keepAnswer, keptAnswer, sortEntries } from '../sort-cache.js';
import { parseSortCriteria, sortOrder, type SortItem } from '../sort.js';
import { formatThreads, THREAD_ALGORITHMS, threadItems, type ThreadAlgorithm } from '../thread.js';
import { str } from '../wire.js';
import { imapTurns } from '../turns.js';
import { CHARSETS, searchView, type SearchHit } from './search.js';
import { SELECTED, type CommandSpec } from './types.js';

/**
 * Lets other sessions' I/O run between the steps of a big SORT/THREAD (search, keys, order,
 * answer) and inside the long ones, once this turn has spent its budget (imap/turns.ts).
 */
const pause = (): Promise<void> | null => imapTurns.pause();

const atom = (v: ImapValue | undefined): string | null => (v?.t === 'atom' ? v.v.toUpperCase() : null);

/** The charset argument SORT and THREAD require (no CHARSET keyword before it). */
function charsetArg(v: ImapValue | undefined): ImapValue {
  if (v === undefined || v.t === 'list') throw bad('Charset expected');
  const name = v.t === 'atom' ? v.v : v.v.toString('latin1');
  if (!CHARSETS.test(name)) throw new UnsupportedCharsetError(name);
  return v;
}

const CHARSET_WORD: ImapValue = { t: 'atom', v: 'CHARSET' };

/** Searches with the criteria after the charset: the matches in mailbox order. */
async function searchHits(s: ImapSession, charset: ImapValue, keys: ImapValue[], ret?: ImapValue[]): Promise<{ hits: SearchHit[]; returnOpts?: string[]; modseq: boolean; highest: number }> {
  const req = parseSearch([...(ret ?? []), CHARSET_WORD, charset, ...keys]);
  const modseq = usesModseq(req.key);
  if (modseq) s.enableCondstore();
  const hits = await searchView(s, req.key);
  let highest = 0;
  for (const h of hits) highest = Math.max(highest, h.modseq);
  await pause();
  return { hits, returnOpts: req.returnOpts, modseq, highest };
}

/** Each match with what ordering it needs (the sort facts); one expunged meanwhile is left out. */
async function itemsOf(s: ImapSession, hits: SearchHit[]): Promise<SortItem[]> {
  // reading the keys is part of the same folder view (objtFolderView), as the search was
  const entries = await s.storeSession!.withObject('objtFolderView', () => sortEntries(s.ctx.store, s.user!.id, s.view.folder, s.view.exists, hits));
  const items: SortItem[] = [];
  hits.forEach((h, i) => {
    const e = entries[i];
    if (e) items.push({ seq: h.seq, uid: h.uid, size: h.size, internalDate: e.internalDate, facts: e.facts });
  });
  await pause();
  return items;
}

async function sort(s: ImapSession, c: ParsedCommand, byUid: boolean): Promise<string> {
  let i = 0;
  const ret = atom(c.args[0]) === 'RETURN' ? c.args.slice(0, 2) : undefined;
  if (ret) i = 2;
  const criteria = parseSortCriteria(c.args[i]);
  const charset = charsetArg(c.args[i + 1]);
  const found = await searchHits(s, charset, c.args.slice(i + 2), ret);
  const folder = s.view.folder;
  // the order as positions in the matches: kept for the same messages (sort-cache.ts keptAnswer)
  const what = `SORT ${JSON.stringify(criteria)}`;
  let order = keptAnswer<Uint32Array>(s.ctx.store, folder, found.hits, what);
  if (!order) {
    const items = await itemsOf(s, found.hits);
    order = sortOrder(items, criteria);
    // positions in `items` are positions in the matches only when none was expunged meanwhile
    if (items.length === found.hits.length) keepAnswer(s.ctx.store, folder, found.hits, what, order);
    else {
      const at = new Map(found.hits.map((h, k) => [h.uid, k]));
      order = Uint32Array.from(order, (k) => at.get(items[k]!.uid)!);
    }
    await pause();
  }
  const sorted = Array.from(order, (k) => found.hits[k]!);
  const ids = sorted.map((m) => (byUid ? m.uid : m.seq));
  const done = `${byUid ? 'UID ' : ''}SORT completed`;
  let opts = found.returnOpts;
  if (!opts) {
    s.send(`SORT${await numberList(ids)}${found.modseq && ids.length ? ` (MODSEQ ${found.highest})` : ''}`);
    return done;
  }
  if (opts.includes('SAVE')) {
    const onlyEnds = !opts.includes('ALL') && !opts.includes('COUNT') && (opts.includes('MIN') || opts.includes('MAX'));
    const kept = onlyEnds ? [...(opts.includes('MIN') ? sorted.slice(0, 1) : []), ...(opts.includes('MAX') ? sorted.slice(-1) : [])] : sorted;
    saveResult(s.view, [...new Set(kept.map((m) => m.uid))].sort((a, b) => a - b));
    opts = opts.filter((o) => o !== 'SAVE');
    if (opts.length === 0) return `${done}, result saved`;
  }
  // RFC 5267 3.2: MIN and MAX are the first and last in sort order, ALL lists them in sort order
  let line = `ESEARCH (TAG ${str(s.tag)})${byUid ? ' UID' : ''}`;
  if (ids.length) {
    if (opts.includes('MIN')) line += ` MIN ${ids[0]}`;
    if (opts.includes('MAX')) line += ` MAX ${ids[ids.length - 1]}`;
    if (opts.includes('ALL')) line += ` ALL ${orderedSet(ids)}`;
  }
  if (opts.includes('COUNT')) line += ` COUNT ${ids.length}`;
  if (found.modseq && ids.length) line += ` MODSEQ ${found.highest}`;
  s.send(line);
  return done;
}

/** " 4 1 5": each number after a space, built in pieces with pauses between (100,000 numbers). */
async function numberList(ids: readonly number[]): Promise<string> {
  const PIECE = 8192;
  const pieces: string[] = [];
  for (let i = 0; i < ids.length; i += PIECE) {
    if (i > 0) await pause();
    let piece = '';
    for (let k = i; k < Math.min(ids.length, i + PIECE); k++) piece += ' ' + ids[k];
    pieces.push(piece);
  }
  return pieces.join('');
}

/** Numbers in the order given, runs of consecutive ascending numbers as "a:b". */
function orderedSet(ids: readonly number[]): string {
  const out: string[] = [];
  for (let k = 0; k < ids.length; ) {
    let end = k;
    while (end + 1 < ids.length && ids[end + 1] === ids[end]! + 1) end++;
    out.push(end > k ? `${ids[k]}:${ids[end]}` : String(ids[k]));
    k = end + 1;
  }
  return out.join(',');
}

async function thread(s: ImapSession, c: ParsedCommand, byUid: boolean): Promise<string> {
  const name = atom(c.args[0]);
  if (name === null) throw bad('THREAD needs an algorithm');
  if (!THREAD_ALGORITHMS.includes(name as ThreadAlgorithm)) throw bad(`Unknown threading algorithm ${name}`);
  const charset = charsetArg(c.args[1]);
  const { hits } = await searchHits(s, charset, c.args.slice(2));
  const folder = s.view.folder;
  const what = `${byUid ? 'UID ' : ''}THREAD ${name}`;
  let answer = keptAnswer<string>(s.ctx.store, folder, hits, what);
  if (answer === undefined) {
    const items = await itemsOf(s, hits);
    const threads = await threadItems(items, name as ThreadAlgorithm, pause);
    await pause();
    answer = await formatThreads(threads, (m) => (byUid ? m.uid : m.seq), pause);
    if (items.length === hits.length) keepAnswer(s.ctx.store, folder, hits, what, answer);
  }
  s.send(`THREAD${answer ? ' ' : ''}${answer}`);
  return `${byUid ? 'UID ' : ''}THREAD completed`;
}

export const sortCommands: Record<string, CommandSpec> = {
  SORT: { states: SELECTED, run: (s, c) => sort(s, c, false), noExpunge: true },
  'UID SORT': { states: SELECTED, run: (s, c) => sort(s, c, true) },
  THREAD: { states: SELECTED, run: (s, c) => thread(s, c, false), noExpunge: true },
  'UID THREAD': { states: SELECTED, run: (s, c) => thread(s, c, true) },
};
