/**
 * Issue 2: the SQLite store.
 *  - append of 10,000 distinct 10 KB messages into one folder through Store.append (messages/s),
 *    a fresh store each run (WAL, synchronous=FULL as the server runs it: one durable commit per message);
 *  - listing UIDs + flags of a 100,000-message folder through Store.listMessages (ms, target < 100 ms).
 *    The folder is built with Store.append in a loop; that build is timed too and reported.
 *  - issue 11: the cost of each Store operation on a 10,000- and a 100,000-message folder
 *    (storeOperations below); BENCH_STORE_OPS_ONLY=1 runs only that part,
 *    BENCH_STORE_OP_SIZES=10000,100000 sets the folder sizes.
 */
import Database from 'better-sqlite3';
import type { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { makeMessage, makeMessages, prng } from './lib/messages.js';
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

/**
 * The same messages and flags as fill, in appendMany transactions of SEED_BATCH: for a benchmark
 * that only needs the folder (one append per fsync took over an hour for 100,000 messages on a
 * loaded machine).
 */
const SEED_BATCH = 1000;
async function fillInBatches(store: SqliteStore, userId: number, folderId: number, msgs: Buffer[]): Promise<number> {
  const t0 = nowMs();
  for (let i = 0; i < msgs.length; i += SEED_BATCH) {
    await store.appendMany(userId, folderId, msgs.slice(i, i + SEED_BATCH).map((raw, k) => ({ raw, flags: benchFlags(i + k) })));
  }
  return msgs.length / ((nowMs() - t0) / 1000);
}

/** A data folder whose user `list@bench.test` has `count` messages in the Inbox (used by the IMAP benchmark too). */
export async function buildBigFolder(dataDir: string, count: number, password = 'bench-pw', opts: { appendMany?: boolean } = {}): Promise<{ rate: number; seconds: number }> {
  const store = await openSeedStore(dataDir);
  try {
    const user = await store.createUser({ address: 'list@bench.test', password });
    const inbox = await store.getSpecialFolder(user.id, '\\Inbox');
    const msgs = makeMessages(count, LIST_MSG_SIZE, LIST_MSG_SIZE, 42, 'big');
    const t0 = nowMs();
    const rate = opts.appendMany ? await fillInBatches(store, user.id, inbox.id, msgs) : await fill(store, user.id, inbox.id, msgs, true);
    return { rate, seconds: (nowMs() - t0) / 1000 };
  } finally {
    await store.close();
  }
}

export async function benchStore(): Promise<BenchOutcome> {
  const results: BenchResult[] = [];
  const notes: string[] = [];
  for (const size of OP_SIZES) results.push(...(await storeOperations(size, notes)));
  if (process.env.BENCH_STORE_OPS_ONLY) return { name: 'store', results, skipped: [], notes };

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

const OP_SIZES = (process.env.BENCH_STORE_OP_SIZES ?? '10000,100000').split(',').map(Number).filter((n) => n > 0);
/** Messages appended at once while filling a folder: the writer thread commits them in groups (setup only, not measured). */
const FILL_CONCURRENCY = 200;

/** Appends the messages with FILL_CONCURRENCY in flight; the UIDs they got, ascending. */
async function fillConcurrently(store: SqliteStore, userId: number, folderId: number, msgs: Buffer[], flags: (i: number) => string[]): Promise<number[]> {
  const uids: number[] = [];
  for (let i = 0; i < msgs.length; i += FILL_CONCURRENCY) {
    const batch = msgs.slice(i, i + FILL_CONCURRENCY);
    const done = await Promise.all(batch.map((m, k) => store.append(userId, folderId, m, { flags: flags(i + k) })));
    uids.push(...done.map((r) => r.uid));
  }
  return uids.sort((a, b) => a - b);
}

/**
 * Issue 11: what each Store operation costs on a folder of `size` 1 KB messages (the Inbox of
 * one user, flags as buildBigFolder sets them), median of BENCH_RUNS (default 7) calls each,
 * in ms per call. Writes go where the server sends them (append and deliver through the writer
 * thread, the rest on the store's connection), each awaited alone: the latency of one call,
 * not a throughput. Messages an operation removes are not the same from run to run (each run
 * takes UIDs not used yet), so no run meets the effect of an earlier one.
 */
async function storeOperations(size: number, notes: string[]): Promise<BenchResult[]> {
  const tmp = mwTempDir('mw-bench-store-ops-');
  const store = await openSeedStore(tmp.dataDir);
  const n = runs(7);
  const label = size.toLocaleString('en-US');
  try {
    const user = await store.createUser({ address: 'ops@bench.test', password: 'pw' });
    const inbox = await store.getSpecialFolder(user.id, '\\Inbox');
    const other = await store.createFolder(user.id, 'Archive');
    const t0 = nowMs();
    let uids = await fillConcurrently(store, user.id, inbox.id, makeMessages(size, LIST_MSG_SIZE, LIST_MSG_SIZE, 42, `ops${size}`), benchFlags);
    log(`store ops: ${label}-message folder filled in ${((nowMs() - t0) / 1000).toFixed(1)} s`);
    notes.push(`Per-operation costs: the ${label}-message folder was filled with ${FILL_CONCURRENCY} Store.append calls in flight (${((nowMs() - t0) / 1000).toFixed(0)} s).`);
    const rnd = prng(size);
    const pick = () => uids[Math.floor(rnd() * uids.length)]!;
    /**
     * UIDs for one run of a removing operation, taken from the oldest end and never used again;
     * as many new messages are appended first (not timed), so the folder keeps its size.
     */
    let topUps = 0;
    const take = async (k: number) => {
      const fresh = makeMessages(k, LIST_MSG_SIZE, LIST_MSG_SIZE, 1000 + topUps++, `ops${size}-top${topUps}`);
      uids.push(...(await fillConcurrently(store, user.id, inbox.id, fresh, benchFlags)));
      const out = uids.slice(0, k);
      uids = uids.slice(k);
      return out;
    };
    const one = makeMessage(`ops${size}-new`, LIST_MSG_SIZE, prng(1));
    const times = new Map<string, number[]>();
    const time = async (op: string, fn: () => Promise<unknown>, before?: () => Promise<unknown>) => {
      for (let r = 0; r < n; r++) {
        await before?.();
        const t = nowMs();
        await fn();
        const ms = nowMs() - t;
        times.set(op, [...(times.get(op) ?? []), ms]);
      }
    };
    const PAGE = 50;
    await time('append 1 message (Store.append)', () => store.append(user.id, inbox.id, one));
    await time('deliver 1 message to 1 user (Store.deliver)', () => store.deliver([user.id], one));
    await time(`first page of ${PAGE}, newest first (Store.listMessagePage)`, () => store.listMessagePage(user.id, inbox.id, 0, PAGE));
    await time(`last page of ${PAGE} (Store.listMessagePage, offset: messages − ${PAGE})`, () => store.listMessagePage(user.id, inbox.id, size - PAGE, PAGE));
    await time('every message (Store.listMessages)', () => store.listMessages(user.id, inbox.id));
    await time('every message, compact (Store.listMessageIndex)', () => store.listMessageIndex(user.id, inbox.id));
    await time('counters (Store.folderStatus)', () => store.folderStatus(user.id, inbox.id));
    let flip = false;
    const flags = () => ((flip = !flip) ? 'add' : 'remove') as 'add' | 'remove';
    await time('flag change on 1 message (Store.storeFlags +/−\\Flagged)', () => store.storeFlags(user.id, inbox.id, [pick()], flags(), ['\\Flagged']));
    let thousand: number[] = [];
    const block = () => {
      const start = Math.floor(rnd() * (uids.length - 1000));
      thousand = uids.slice(start, start + 1000);
    };
    await time('flag change on 1,000 messages (Store.storeFlags)', () => store.storeFlags(user.id, inbox.id, thousand, flags(), ['\\Flagged']), async () => block());
    let state = '';
    await time('changesSince, 1,000 messages changed (Store.changesSince)', () => store.changesSince(user.id, state, 5000), async () => {
      state = await store.changeState(user.id);
      block();
      await store.storeFlags(user.id, inbox.id, thousand, flags(), ['\\Flagged']);
    });
    const objectIds = (await store.listMessagePage(user.id, inbox.id, 0, 1000)).items.map((m) => m.objectId);
    await time('one message by id (Store.getMessage)', () => store.getMessage(user.id, objectIds[Math.floor(rnd() * objectIds.length)]!));
    await time('copy 100 messages (Store.copyMessages)', () => store.copyMessages(user.id, inbox.id, uids.slice(uids.length - 100), other.id));
    let batch: number[] = [];
    await time('move 100 messages (Store.moveMessages)', () => store.moveMessages(user.id, inbox.id, batch, other.id), async () => void (batch = await take(100)));
    await time('expunge 1,000 messages flagged \\Deleted (Store.expunge)', () => store.expunge(user.id, inbox.id, batch), async () => {
      batch = await take(1000);
      await store.storeFlags(user.id, inbox.id, batch, 'add', ['\\Deleted']);
    });
    const status = await store.folderStatus(user.id, inbox.id);
    log(`store ops on ${label}: done (folder now ${status.messages} messages)`);
    return [...times].map(([op, t]) => {
      log(`store ops ${label}: ${op}: median ${summarise(t).median.toFixed(2)} ms`);
      return { bench: 'store', metric: `${label}-message folder: ${op}`, unit: 'ms', better: 'lower' as const, mw: summarise(t) };
    });
  } finally {
    await store.close();
    tmp.cleanup();
  }
}
