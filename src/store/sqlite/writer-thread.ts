import { Worker } from 'node:worker_threads';
import { StoreError, type StoreErrorKind } from '../errors.js';
import type { WireError, WriteOp, WriteOutcome } from './write-ops.js';
import type { ToWriter } from './write-worker.js';

type FromWriter = { results: WriteOutcome[] } | { closed: true };

export function fromWire(e: WireError): Error {
  if (e.kind) return new StoreError(e.kind as StoreErrorKind, e.message);
  return Object.assign(new Error(e.message), e.code ? { code: e.code } : {});
}

/**
 * The main thread's side of the writer thread (write-worker.ts): sends write requests and
 * settles each one when the writer reports its transaction committed. The thread starts at
 * once (booting takes ~50 ms, better spent while the server starts than on its first message)
 * and keeps the process alive only while writes are outstanding.
 */
export class WriterThread {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private closed = false;
  /** The newest request: the thread answers in order, so once it settled every earlier one has. */
  private last: Promise<unknown> = Promise.resolve();
  /** Whether any write was sent: a thread that never got one has nothing to commit at close. */
  private used = false;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {
    this.start();
  }

  run<T>(op: WriteOp): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError('read-only', 'the store is closed'));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    this.used = true;
    const p = new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage({ id, op } satisfies ToWriter);
    });
    this.last = p;
    return p;
  }

  /** Resolves once every write sent so far is committed (or failed). */
  settled(): Promise<void> {
    return this.last.then(() => undefined, () => undefined);
  }

  private start(): Worker {
    const worker = new Worker(new URL('./write-worker.js', import.meta.url), { workerData: { file: this.file } });
    this.worker = worker;
    worker.unref();
    worker.on('message', (m: FromWriter) => {
      if (!('results' in m)) return;
      for (const r of m.results) {
        const w = this.waiting.get(r.id);
        if (!w) continue;
        this.waiting.delete(r.id);
        if (r.ok) w.resolve(r.value);
        else w.reject(fromWire(r.error));
      }
      if (this.waiting.size === 0 && !this.closed) worker.unref(); // closing: held until it exits
    });
    const gone = (err: Error) => {
      if (this.worker === worker) this.worker = null;
      // what the thread had not answered may or may not be committed: the callers are told it failed
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', (err) => gone(err));
    this.exited = new Promise<void>((resolve) =>
      worker.once('exit', (code) => {
        gone(new StoreError('read-only', `the store's writer thread stopped (exit code ${code})`));
        resolve();
      }),
    );
    return worker;
  }

  /** Commits what was sent before, then stops the thread. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    if (!this.used) {
      await worker.terminate();
      return;
    }
    worker.ref();
    worker.postMessage({ close: true } satisfies ToWriter);
    await this.exited;
  }
}
