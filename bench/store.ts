/**
 * Issue 2: the SQLite store.
 *  - append of 10,000 distinct 10 KB messages into one folder through Store.append (messages/s),
 *    a fresh store each run (WAL, synchronous=FULL as the server runs it: one durable commit per message);
 *  - listing UIDs + flags of a 100,000-message folder through Store.listMessages (ms, target < 100 ms).
 *    The folder is built with Store.append in a loop; that build is timed too and reported.
 */
import Database from 'better-sqlite3';
import type { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { makeMessages } from './lib/messages.js';
import { mwTempDir, openSeedStore } from './lib/mailwarden.js';
import { log, nowMs, runs, summarise, type BenchOutcome, type BenchResult } from './lib/stats.js';

const APPEND_COUNT = Number(process.env.BENCH_STORE_APPEND ?? 10_000);
const APPEND_SIZE = 10 * 1024;
const LIST_COUNT = Number(process.env.BENCH_STORE_LIST ?? 100_000);
const LIST_MSG_SIZE = 1024;

export const benchFlags = (i: number): string[] => [...(i % 3 === 0 ? ['\\Seen'] : []), ...(i % 7 === 0 ? ['\\Flagged'] : [])];

/** Appends `count` generated messages to the user's Inbox, returning messages/s. */
async function fill(store: SqliteStore, userId: number, folderId: number, msgs: Buffer[], withFlags: boolean): Promise<number> {
  const t0 = nowMs();
  for (let i = 0; i < msgs.length; i++) await store.append(userId, folderId, msgs[i], withFlags ? { flags: benchFlags(i) } : {});
  return msgs.length / ((nowMs() - t0) / 1000);
}

/** A data folder whose user `list@bench.test` has `count` messages in the Inbox (used by the IMAP benchmark too). */
export async function buildBigFolder(dataDir: string, count: number, password = 'bench-pw'): Promise<{ rate: number; seconds: number }> {
  const store = await openSeedStore(dataDir);
  try {
    const user = await store.createUser({ address: 'list@bench.test', password });
    const inbox = await store.getSpecialFolder(user.id, '\\Inbox');
    const msgs = makeMessages(count, LIST_MSG_SIZE, LIST_MSG_SIZE, 42, 'big');
    const t0 = nowMs();
    const rate = await fill(store, user.id, inbox.id, msgs, true);
    return { rate, seconds: (nowMs() - t0) / 1000 };
  } finally {
    await store.close();
  }
}

export async function benchStore(): Promise<BenchOutcome> {
  const results: BenchResult[] = [];
  const notes: string[] = [];

  // --- append
  const appendMsgs = makeMessages(APPEND_COUNT, APPEND_SIZE, APPEND_SIZE, 7, 'append');
  const appendRates: number[] = [];
  const nAppend = runs(3);
  for (let r = 0; r < nAppend; r++) {
    const tmp = mwTempDir('mw-bench-store-');
    const store = await openSeedStore(tmp.dataDir);
    try {
      const user = await store.createUser({ address: 'append@bench.test', password: 'pw' });
      const inbox = await store.getSpecialFolder(user.id, '\\Inbox');
      const rate = await fill(store, user.id, inbox.id, appendMsgs, false);
      appendRates.push(rate);
      log(`store append run ${r + 1}/${nAppend}: ${rate.toFixed(0)} messages/s`);
    } finally {
      await store.close();
      tmp.cleanup();
    }
  }
  results.push({ bench: 'store', metric: `append ${APPEND_COUNT.toLocaleString('en-US')} × 10 KB messages (Store.append)`, unit: 'messages/s', better: 'higher', mw: summarise(appendRates) });

  // --- list of a big folder
  const tmp = mwTempDir('mw-bench-list-');
  try {
    log(`building a ${LIST_COUNT.toLocaleString('en-US')}-message folder with Store.append …`);
    const built = await buildBigFolder(tmp.dataDir, LIST_COUNT);
    log(`built in ${built.seconds.toFixed(1)} s (${built.rate.toFixed(0)} messages/s)`);
    results.push({ bench: 'store', metric: `build a ${LIST_COUNT.toLocaleString('en-US')}-message folder (Store.append, 1 KB each, one run)`, unit: 'messages/s', better: 'higher', mw: summarise([built.rate]) });
    const store = await openSeedStore(tmp.dataDir);
    try {
      const user = (await store.findUser('list@bench.test'))!;
      const inbox = await store.getSpecialFolder(user.id, '\\Inbox');
      const first = nowMs();
      const warm = await store.listMessages(user.id, inbox.id);
      const coldMs = nowMs() - first;
      if (warm.length !== LIST_COUNT) throw new Error(`expected ${LIST_COUNT} messages, listed ${warm.length}`);
      const times: number[] = [];
      const nList = runs(10);
      for (let r = 0; r < nList; r++) {
        const t0 = nowMs();
        const list = await store.listMessages(user.id, inbox.id);
        times.push(nowMs() - t0);
        if (list.length !== LIST_COUNT) throw new Error('short list');
      }
      log(`listMessages of ${LIST_COUNT}: first ${coldMs.toFixed(1)} ms, median ${summarise(times).median.toFixed(1)} ms`);
      results.push({ bench: 'store', metric: `list UIDs + flags of a ${LIST_COUNT.toLocaleString('en-US')}-message folder (Store.listMessages, one object per message)`, unit: 'ms', better: 'lower', mw: summarise(times), target: '< 100 ms' });
      notes.push(`listMessages: first call after opening the store took ${coldMs.toFixed(1)} ms (not in the median).`);
      // the compact listing (typed arrays + flag texts) meant for big folders
      const idx = await store.listMessageIndex(user.id, inbox.id);
      if (idx.uids.length !== LIST_COUNT) throw new Error(`expected ${LIST_COUNT} messages, indexed ${idx.uids.length}`);
      const tIdx: number[] = [];
      for (let r = 0; r < nList; r++) {
        const t0 = nowMs();
        const x = await store.listMessageIndex(user.id, inbox.id);
        tIdx.push(nowMs() - t0);
        if (x.uids.length !== LIST_COUNT) throw new Error('short index');
      }
      log(`listMessageIndex of ${LIST_COUNT}: median ${summarise(tIdx).median.toFixed(1)} ms`);
      results.push({ bench: 'store', metric: `list UIDs + flags (+ MODSEQ, size) of a ${LIST_COUNT.toLocaleString('en-US')}-message folder (Store.listMessageIndex, compact arrays)`, unit: 'ms', better: 'lower', mw: summarise(tIdx), target: '< 100 ms' });
      // diagnostic: the same query straight through better-sqlite3, to tell SQLite's share from the mapping's
      const db = new Database(store.file, { readonly: true });
      try {
        const full = db.prepare('SELECT id, uid, modseq, flags, internal_date, size, blob_hash FROM messages WHERE folder_id = ? ORDER BY uid');
        const slim = db.prepare('SELECT uid, flags FROM messages WHERE folder_id = ? ORDER BY uid').raw();
        const tFull: number[] = [];
        const tSlim: number[] = [];
        for (let r = 0; r < nList; r++) {
          let t0 = nowMs();
          full.all(inbox.id);
          tFull.push(nowMs() - t0);
          t0 = nowMs();
          slim.all(inbox.id);
          tSlim.push(nowMs() - t0);
        }
        results.push({ bench: 'store', metric: 'diagnostic: the listMessages query alone (better-sqlite3 .all(), objects, no mapping)', unit: 'ms', better: 'lower', mw: summarise(tFull) });
        results.push({ bench: 'store', metric: 'diagnostic: SELECT uid, flags only (better-sqlite3 .raw() arrays)', unit: 'ms', better: 'lower', mw: summarise(tSlim) });
      } finally {
        db.close();
      }
    } finally {
      await store.close();
    }
  } finally {
    tmp.cleanup();
  }
  return { name: 'store', results, skipped: [], notes };
}
