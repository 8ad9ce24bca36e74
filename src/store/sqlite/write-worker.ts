/**
 * The writer thread: owns the store's write connection for deliveries, appends and events.
 * Requests that arrive while a commit (and its fsync, synchronous = FULL) is running queue up
 * and go into the next transaction together, so the main thread never waits for the disk and
 * a busy server commits in bigger groups. Answers go back only after the commit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openWriterConnection } from './open.js';
import { MessageWrites } from './message-writes.js';
import { commitBatch, toWire, type WriteOp, type WriteOutcome } from './write-ops.js';

export type ToWriter = { id: number; op: WriteOp } | { close: true };

const port = parentPort!;
const db = openWriterConnection((workerData as { file: string }).file);
const writes = new MessageWrites(db);
let pending: Array<{ id: number; op: WriteOp }> = [];
let scheduled = false;

function flush(): void {
  scheduled = false;
  const batch = pending;
  pending = [];
  if (!batch.length) return;
  const results: WriteOutcome[] = commitBatch(db, writes, batch).map((r) => (r.ok ? r : { id: r.id, ok: false, error: toWire(r.error) }));
  port.postMessage({ results });
}

port.on('message', (m: ToWriter) => {
  if ('close' in m) {
    flush();
    db.close();
    port.postMessage({ closed: true });
    port.close();
    return;
  }
  pending.push(m);
  if (!scheduled) {
    scheduled = true;
    // after the other messages already queued on the port: they join this batch
    setImmediate(flush);
  }
});
