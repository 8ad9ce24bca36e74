/**
 * The store thread: one SqliteStore (its connection, migrations at open, and the group commit
 * of deliveries, appends and events on that connection) that answers calls by method name, so that SQLite's
 * work runs here and never on the server's event loop. Calls are served in arrival order on
 * one connection, as they were on the main thread: a read sent after a write resolved sees it.
 * Committed changes go back as messages before the answer of the call that made them; the
 * main thread publishes them on the server's ChangeBus.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from '../sqlite-store.js';
import { toWire } from '../write-ops.js';
import type { ChangeBus, StoreChange } from '../../change-bus.js';
import type { StoreOptions } from '../../store.js';
import { RESULT_CODECS } from './codecs.js';
import { at, findBuffers, restoreBuffers, type FromStoreThread, type ToStoreThread } from './wire.js';
import { rememberAnalysis } from '../known-analysis.js';

const port = parentPort!;

/**
 * What this thread says goes out in one message per callback of its loop: the answers of the
 * calls that arrived together (the main thread sends a turn's calls as one message) or that one
 * group commit settled, and the changes before the answers of the calls that made them, in
 * order. Each message costs the main thread a wake-up and a deserialisation, so answers are
 * not sent one by one; but they are sent as soon as the callback's promise chains have run, not
 * at the next turn's setImmediate: a commit's answers waited there behind the next deliveries
 * arrived meanwhile (their analysis, ~0.2 ms each, runs in the turn's poll phase, before the
 * check phase), which added that to every delivery's round trip.
 */
let outbox: FromStoreThread[] = [];
let outboxTransfer: ArrayBuffer[] = [];
let flushScheduled = false;

function flush(): void {
  flushScheduled = false;
  if (!outbox.length) return;
  const batch = outbox;
  const transfer = outboxTransfer;
  outbox = [];
  outboxTransfer = [];
  port.postMessage(batch.length === 1 ? batch[0] : ({ batch } satisfies FromStoreThread), transfer);
}

const send = (m: FromStoreThread, transfer: ArrayBuffer[] = []) => {
  outbox.push(m);
  for (const t of transfer) outboxTransfer.push(t);
  if (!flushScheduled) {
    flushScheduled = true;
    // a tick runs once the microtask queue is empty: after every answer this callback settled
    process.nextTick(flush);
  }
};

/** Sends at once, after what is waiting (before the port closes). */
const sendNow = (m: FromStoreThread) => {
  flush();
  port.postMessage(m);
};

/** Publishes to the main thread; nothing subscribes on this side. */
const toMainThread: ChangeBus = {
  publish: (change: StoreChange) => send({ change }),
  subscribeUser: () => () => undefined,
  subscribeFolder: () => () => undefined,
  close: async () => undefined,
};

const { file, organisation, serverName, optionsModule } = workerData as { file: string; organisation?: string; serverName?: string; optionsModule?: string };
/** Options that are functions (a quota rule): from a module the composition root names. */
const moduleOptions = optionsModule ? ((await import(optionsModule)) as { storeOptions: StoreOptions }).storeOptions : {};
const onBackgroundError = (what: string, err: unknown) => send({ backgroundError: { what, error: toWire(err) } });

/** The store's methods by name: what the main thread may call (new operations need no code here). */
function methodNames(store: object): string[] {
  const names = new Set<string>();
  for (let p = Object.getPrototypeOf(store) as object | null; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const n of Object.getOwnPropertyNames(p)) if (n !== 'constructor' && typeof (store as Record<string, unknown>)[n] === 'function') names.add(n);
  }
  return [...names];
}

async function answer(store: SqliteStore, methods: Set<string>, id: number, method: string, args: unknown[]): Promise<void> {
  try {
    if (!methods.has(method)) throw new TypeError(`the store has no operation ${method}`);
    const fn = (store as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
    const value = await fn.apply(store, args);
    const codec = RESULT_CODECS[method];
    if (codec) {
      const { wire, transfer } = codec.encode(value as never);
      send({ id, ok: true, value: wire, buffers: [], coded: true }, transfer);
      return;
    }
    const transfer = new Set<ArrayBuffer>();
    const buffers = findBuffers(value, transfer);
    send({ id, ok: true, value, buffers }, [...transfer]);
  } catch (err) {
    send({ id, ok: false, error: toWire(err) });
  }
}

function serve(store: SqliteStore): void {
  const methods = new Set(methodNames(store));
  send({ opened: [...methods] });
  /** Calls being answered: close waits for their answers to be sent, or the port would drop them. */
  const answering = new Set<Promise<void>>();
  const receive = (m: ToStoreThread): void => {
    if ('batch' in m) {
      for (const one of m.batch) receive(one);
      return;
    }
    if ('close' in m) {
      void Promise.allSettled([...answering])
        .then(() => store.close())
        .finally(() => {
          sendNow({ closed: true });
          port.close();
        });
      return;
    }
    if ('collectGarbage' in m) {
      (globalThis as { gc?: () => void }).gc?.();
      send({ id: m.id, ok: true, value: undefined, buffers: [] });
      return;
    }
    const args = restoreBuffers(m.args, m.buffers);
    m.analyses?.forEach((analysis, i) => analysis && rememberAnalysis(at(args, m.buffers[i]!) as Buffer, analysis));
    const a = answer(store, methods, m.id, m.method, args);
    answering.add(a);
    void a.finally(() => answering.delete(a));
  };
  port.on('message', receive);
}

try {
  // this thread commits the writes itself: a writer thread of its own would add two thread hops per write (group-commit.ts)
  serve(await SqliteStore.open(file, { ...moduleOptions, organisation, serverName, changes: toMainThread, onBackgroundError, groupCommit: 'this-thread' }));
} catch (err) {
  // the port delivers this before it closes; the thread then ends, having nothing else to do
  sendNow({ openError: toWire(err) });
  port.close();
}
