/**
 * The sort facts (mime/sort-facts.ts) of the folders SORT and THREAD were asked about, kept in
 * memory per folder and UID: a UID names the same bytes for as long as the folder's UIDVALIDITY
 * lasts, so an entry never goes stale. The store keeps the facts since they were written
 * (Store.getSortFacts), so a command reads from it only the messages this cache has not seen
 * (the first SORT of a folder after the server started, new mail): one read of small rows, not of
 * the messages' bytes.
 */
import type { SortFacts } from '../../mime/sort-facts.js';
import type { Store } from '../../store/store.js';
import type { Folder } from '../../store/types.js';
import { imapTurns } from './turns.js';

/** What a SORT or THREAD needs of one message beyond what the view knows. */
export interface SortEntry {
  /** INTERNALDATE, ms since the epoch. */
  internalDate: number;
  facts: SortFacts;
}

/** Entries kept over all folders (a few hundred bytes each): a few folders of 100,000 messages. */
const MAX_ENTRIES = 250_000;
/**
 * UIDs per store read while filling the cache: a read of 2,000 rows (SQLite reads on the event
 * loop) takes a few ms, and other sessions get their turn between reads (imapTurns).
 */
const READ_BATCH = 2000;

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
 * holds `folderMessages`, reading from the store those the cache lacks, in batches.
 */
export async function sortEntries(store: Store, userId: number, folder: Folder, folderMessages: number, messages: ReadonlyArray<{ uid: number }>): Promise<Array<SortEntry | undefined>> {
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
  const missing = uids.filter((_, i) => found[i] === undefined);
  for (let i = 0; i < missing.length; i += READ_BATCH) {
    for (const m of await store.getSortFacts(userId, folder.id, missing.slice(i, i + READ_BATCH))) {
      if (entries.has(m.uid)) continue;
      entries.set(m.uid, { internalDate: m.internalDate, facts: m.facts });
      cache.total++;
    }
    await imapTurns.pause();
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

/**
 * The last answers of SORT and THREAD per folder, for the messages they ordered (their UIDs and
 * sequence numbers, in mailbox order): a command asked again of the same messages gets the same
 * answer without ordering them again, as Dovecot answers from its sort and thread indexes. Sound
 * because every input of an ordering is fixed per UID (the sort facts, size and internal date
 * never change while UIDVALIDITY lasts) and the sequence numbers are compared too. New mail or an
 * expunge changes the messages, and the next command orders afresh. Per store, most recently used
 * folder last, RESULT_FOLDERS folders (a few MB for 100,000-message folders).
 */
interface KeptAnswers { uids: Uint32Array; seqs: Uint32Array; answers: Map<string, unknown> }
const RESULT_FOLDERS = 4;
const ANSWERS_PER_FOLDER = 8;
const keptAnswers = new WeakMap<Store, Map<string, KeptAnswers>>();

function sameMessages(k: KeptAnswers, messages: ReadonlyArray<{ uid: number; seq: number }>): boolean {
  if (k.uids.length !== messages.length) return false;
  for (let i = 0; i < messages.length; i++) if (k.uids[i] !== messages[i]!.uid || k.seqs[i] !== messages[i]!.seq) return false;
  return true;
}

/** The answer kept under `what` (the command's form: algorithm or criteria, UID or not) for exactly these messages. */
export function keptAnswer<T>(store: Store, folder: Folder, messages: ReadonlyArray<{ uid: number; seq: number }>, what: string): T | undefined {
  const k = keptAnswers.get(store)?.get(`${folder.id}/${folder.uidValidity}`);
  return k && sameMessages(k, messages) ? (k.answers.get(what) as T | undefined) : undefined;
}

export function keepAnswer(store: Store, folder: Folder, messages: ReadonlyArray<{ uid: number; seq: number }>, what: string, answer: unknown): void {
  let folders = keptAnswers.get(store);
  if (!folders) keptAnswers.set(store, (folders = new Map()));
  const key = `${folder.id}/${folder.uidValidity}`;
  let k = folders.get(key);
  folders.delete(key);
  if (!k || !sameMessages(k, messages)) {
    k = { uids: Uint32Array.from(messages, (m) => m.uid), seqs: Uint32Array.from(messages, (m) => m.seq), answers: new Map() };
  }
  k.answers.delete(what);
  k.answers.set(what, answer);
  // a few forms per folder (a client asks one or two), the oldest first to go
  for (const old of k.answers.keys()) {
    if (k.answers.size <= ANSWERS_PER_FOLDER) break;
    k.answers.delete(old);
  }
  folders.set(key, k);
  for (const old of folders.keys()) {
    if (folders.size <= RESULT_FOLDERS) break;
    folders.delete(old);
  }
}
