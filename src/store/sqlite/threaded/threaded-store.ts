import { Worker } from 'node:worker_threads';
import { StoreError } from '../../errors.js';
import { fromWire } from '../writer-thread.js';
import type { ChangeBus } from '../../change-bus.js';
import type { Store, StoreOptions } from '../../store.js';
import { SqliteStore } from '../sqlite-store.js';
import { RESULT_CODECS } from './codecs.js';
import { at, findBuffers, movableBuffers, restoreBuffers, type BufferPath, type FromStoreThread, type ToStoreThread } from './wire.js';
import { analyseMessage } from '../../analyse.js';
import { toStoredAnalysis, type StoredAnalysis } from '../message-writes.js';

/** A Store whose SQLite work runs on a thread of its own (see store-worker.ts). */
export type ThreadedStore = Store & {
  readonly changes: ChangeBus;
  readonly file: string;
  /**
   * A full garbage collection on the store thread, when the process runs with --expose-gc
   * (nothing otherwise). For memory measurements: the main thread's global.gc() does not reach
   * this thread's heap, whose shrinking after a load made "memory per connection" read negative.
   */
  collectGarbage(): Promise<void>;
};

/**
 * Opens the store at `file` on a store thread and answers the Store interface by forwarding
 * each call, by method name, to it: the server's event loop never waits for SQLite (a flag
 * change blocked it 10–34 ms while deliveries ran). Opening checks and migrates the file there
 * and fails as SqliteStore.open would (the same StoreError kinds). Changes the thread commits
 * are published on `changes` here, before the call that made them resolves.
 */
export interface ThreadedStoreOptions {
  organisation?: string;
  serverName?: string;
  /** URL of a module exporting `storeOptions` (StoreOptions with functions, which cannot be posted), imported by the thread. */
  optionsModule?: string;
  /** Where failures of the store's own timers go (default: console.error). */
  onBackgroundError?: (what: string, err: Error) => void;
}

/**
 * Point reads answered on the event loop, on a read-only connection of its own, instead of on
 * the store thread: each is one or two index probes (tens of µs), less than a round trip to the
 * thread costs the loop (a postMessage each way), and far less than it costs the caller on a busy
 * machine, where each hop waits for a core — SMTP asked the thread four times per message
 * (RCPT: the recipient and its quota; DATA: the recipient again, the delivery) and the benchmark
 * showed the ratio to Dovecot LMTP falling with the load (bench/RESULTS.md, issue 11). None scans
 * a folder's messages. Consistency: a write resolves only after its commit, and a read on any
 * connection that starts after a commit sees it, so a read made after a write resolved sees it,
 * as on the thread; reads made while another caller's write is in flight may see it or not, as
 * before (that write had not resolved).
 */
const EVENT_LOOP_READS = new Set([
  'findUser', 'getUser', 'credentialStamp', 'isLocalDomain', 'quota', 'settingsVersion', 'getFolder', 'getFolderById', 'folderStatus',
]);

export async function openThreadedStore(file: string, changes: ChangeBus, opts: ThreadedStoreOptions = {}): Promise<ThreadedStore> {
  const thread = new StoreThread(file, changes, opts);
  const methods = await thread.opened;
  // the thread opened (and migrated) the file: now a reader may join it
  const moduleOptions = opts.optionsModule ? ((await import(opts.optionsModule)) as { storeOptions: StoreOptions }).storeOptions : {};
  let reader: SqliteStore;
  try {
    reader = await SqliteStore.openReader(file, moduleOptions);
  } catch (err) {
    await thread.close();
    throw err;
  }
  const close = async () => {
    await thread.close();
    await reader.close();
  };
  const store: Record<string, unknown> = { backend: 'sqlite', changes, file, close, collectGarbage: () => thread.collectGarbage() };
  for (const name of methods) {
    if (name in store) continue;
    const read = EVENT_LOOP_READS.has(name) ? (reader as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name] : undefined;
    store[name] = read ? (...args: unknown[]) => read.apply(reader, args) : (...args: unknown[]) => thread.call(name, args);
  }
  return store as unknown as ThreadedStore;
}

/**
 * The calls whose Buffers are all message bytes the store will analyse (analyse.ts). Those of
 * up to CALLER_ANALYSIS_MAX_BYTES are analysed here, on the caller's thread, and the analysis
 * goes with them (known-analysis.ts): the store thread, which every write waits for, then
 * only writes — in the inbound mix a third of its time was the analysis (~0.2 ms a message,
 * serial before each group commit), while the event loop was two-thirds idle. Bigger messages
 * are analysed on the store thread, so that no turn of the event loop grows with a message's
 * size (128 KiB: about 0.5 ms here).
 */
const ANALYSED_BY_CALLER = new Set(['deliver', 'deliverAndEnqueue', 'append', 'appendMany', 'appendAndClaimRecent']);
const CALLER_ANALYSIS_MAX_BYTES = 128 * 1024;

function callerAnalyses(method: string, args: unknown[], buffers: BufferPath[]): Array<StoredAnalysis | null> | undefined {
  if (!ANALYSED_BY_CALLER.has(method)) return undefined;
  return buffers.map((path) => {
    const raw = at(args, path) as Buffer;
    if (raw.length > CALLER_ANALYSIS_MAX_BYTES) return null;
    try {
      return toStoredAnalysis(analyseMessage(raw));
    } catch {
      return null; // the store thread analyses it again and answers the failure as before
    }
  });
}

class StoreThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { method: string; resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private closing: Promise<void> | null = null;
  private stopped: Error | null = null;
  readonly opened: Promise<string[]>;

  constructor(file: string, private readonly changes: ChangeBus, opts: ThreadedStoreOptions) {
    const { onBackgroundError = (what, err) => console.error(`store: ${what}:`, err), ...data } = opts;
    this.worker = new Worker(new URL('./store-worker.js', import.meta.url), { workerData: { file, ...data } });
    let opened!: (m: string[]) => void;
    let failed!: (e: Error) => void;
    this.opened = new Promise<string[]>((resolve, reject) => ((opened = resolve), (failed = reject)));
    const receive = (m: FromStoreThread): void => {
      if ('batch' in m) for (const one of m.batch) receive(one);
      else if ('change' in m) this.changes.publish(m.change);
      else if ('id' in m) this.settle(m);
      else if ('backgroundError' in m) onBackgroundError(m.backgroundError.what, fromWire(m.backgroundError.error));
      else if ('opened' in m) {
        this.worker.unref(); // held only while calls are outstanding, as the writer thread
        opened(m.opened);
      } else if ('openError' in m) failed(fromWire(m.openError));
    };
    this.worker.on('message', receive);
    const gone = (err: Error) => {
      this.stopped ??= err;
      failed(err);
      for (const w of this.waiting.values()) w.reject(err); // not answered: may or may not be committed
      this.waiting.clear();
    };
    this.worker.on('error', gone);
    this.worker.once('exit', (code) => gone(new StoreError('read-only', `the store thread stopped (exit code ${code})`)));
  }

  call(method: string, args: unknown[]): Promise<unknown> {
    // the caller keeps its Buffers (it may use them after): they are copied, not moved — except
    // those it handed over (store/hand-over.ts), whose memory goes to the thread
    return this.send(method, (id) => {
      const buffers = args.flatMap((a, i) => findBuffers(a, null, [i]));
      for (const b of movableBuffers(args, buffers)) this.outboxTransfer.push(b);
      return { id, method, args, buffers, analyses: callerAnalyses(method, args, buffers) };
    });
  }

  collectGarbage(): Promise<void> {
    return this.send('collectGarbage', (id) => ({ id, collectGarbage: true })) as Promise<void>;
  }

  private send(method: string, message: (id: number) => ToStoreThread): Promise<unknown> {
    if (this.closing || this.stopped) return Promise.reject(this.stopped ?? new StoreError('read-only', 'the store is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { method, resolve, reject });
      if (this.waiting.size === 1) this.worker.ref();
      this.outbox.push(message(id));
      if (this.outbox.length === 1) setImmediate(this.flush);
    });
  }

  /**
   * The calls made in one turn of the event loop (by many connections' callbacks) go to the
   * store thread as one message, sent when the turn's I/O callbacks have run. A postMessage was
   * the main thread's largest single cost in the SMTP benchmark's profile (17% of its samples:
   * the copy of the arguments and the wake-up of the other thread), at five calls per message.
   */
  private outbox: ToStoreThread[] = [];
  /** The memory of the handed-over Buffers of the calls in the outbox, moved with them. */
  private outboxTransfer: ArrayBuffer[] = [];
  private readonly flush = (): void => {
    const batch = this.outbox;
    const transfer = this.outboxTransfer;
    this.outbox = [];
    this.outboxTransfer = [];
    if (batch.length) this.worker.postMessage(batch.length === 1 ? batch[0] : ({ batch } satisfies ToStoreThread), [...new Set(transfer)]);
  };

  private settle(m: Extract<FromStoreThread, { id: number }>): void {
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if (this.waiting.size === 0 && !this.closing) this.worker.unref();
    if (m.ok) w.resolve(m.coded ? RESULT_CODECS[w.method]!.decode(m.value as never) : restoreBuffers(m.value, m.buffers));
    else w.reject(fromWire(m.error));
  }

  /** Lets the calls already sent finish, commits the writer thread's writes, then stops the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.stopped) return;
      this.worker.ref();
      const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      this.flush(); // the calls made before close are answered before it
      this.worker.postMessage({ close: true } satisfies ToStoreThread);
      await exited;
    })();
    return this.closing;
  }
}
