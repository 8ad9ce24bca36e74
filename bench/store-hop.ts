/**
 * Issue 11 item 4: what one store call costs on the event loop, run there (SqliteStore) and on
 * the store thread (openThreadedStore), on one 10,000-message folder. For the direct store the
 * call's whole time blocks the event loop; for the threaded one only the hop's own work does
 * (posting, and taking the answer's clone). Usage: node dist/bench/store-hop.js [messages]
 * [max KB] (4–32 KB messages by default; `100000 1` for a big folder of 1 KB messages)
 * (not part of `npm run bench`: a measure behind a design decision, quoted in RESULTS.md).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { openThreadedStore } from '../src/store/sqlite/threaded/threaded-store.js';
import { InProcessChangeBus } from '../src/store/change-bus.js';
import type { Store } from '../src/store/store.js';
import { makeMessages } from './lib/messages.js';
import { mwTempDir } from './lib/mailwarden.js';
import { nowMs } from './lib/stats.js';

const COUNT = Number(process.argv[2] ?? 10_000);
const MAX_KB = Number(process.argv[3] ?? 32);
const tmp = mwTempDir('mw-bench-hop-');
const file = join(tmp.dir, 'hop.sqlite');

const seed = await SqliteStore.open(file);
const user = await seed.createUser({ address: 'hop@bench.test', password: 'pw' });
const inbox = await seed.getSpecialFolder(user.id, '\\Inbox');
const msgs = makeMessages(COUNT, Math.min(4, MAX_KB) * 1024, MAX_KB * 1024, 5, 'hop');
for (let i = 0; i < msgs.length; i += 500) await Promise.all(msgs.slice(i, i + 500).map((m) => seed.append(user.id, inbox.id, m)));
const hash = (await seed.getMessageByUid(user.id, inbox.id, 1))!.blobHash;
await seed.close();

const pct = (v: number[], p: number) => v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))]!;
/** Latency of one call, and the event loop's busy time per call (eventLoopUtilization): what the call costs every other client. */
async function time(label: string, n: number, fn: (i: number) => Promise<unknown>): Promise<string> {
  for (let i = 0; i < 20; i++) await fn(i);
  const t: number[] = [];
  const elu0 = performance.eventLoopUtilization();
  for (let i = 0; i < n; i++) {
    const t0 = nowMs();
    await fn(i);
    t.push((nowMs() - t0) * 1000);
  }
  const busy = (performance.eventLoopUtilization(elu0).active * 1000) / n;
  t.sort((a, b) => a - b);
  const f = (v: number) => v.toFixed(0).padStart(6);
  return `${label.padEnd(34)} p50 ${f(pct(t, 50))} µs  p99 ${f(pct(t, 99))} µs  max ${f(t[t.length - 1]!)} µs  event loop busy ${f(busy)} µs/call`;
}

async function measure(kind: string, store: Store): Promise<void> {
  console.log(`--- ${kind}`);
  let uid = 1;
  const lines = [
    await time('getFolderById', 2000, () => store.getFolderById(user.id, inbox.id)),
    await time('folderStatus', 2000, () => store.folderStatus(user.id, inbox.id)),
    await time('getMessageByUid', 2000, () => store.getMessageByUid(user.id, inbox.id, 1 + (uid++ % COUNT))),
    await time('readBlob (4–32 KB)', 2000, () => store.readBlob(hash)),
    await time('storeFlags ±\\Flagged 1 msg (write)', 500, (i) => store.storeFlags(user.id, inbox.id, [7], i % 2 ? 'add' : 'remove', ['\\Flagged'])),
    await time('listMessagePage 100 rows', 300, () => store.listMessagePage(user.id, inbox.id, 0, 100)),
    await time(`listMessageIndex ${COUNT}`, COUNT > 20_000 ? 10 : 50, () => store.listMessageIndex(user.id, inbox.id)),
    await time(`listMessages ${COUNT}`, COUNT > 20_000 ? 10 : 50, () => store.listMessages(user.id, inbox.id)),
  ];
  for (const l of lines) console.log(l);
}

const direct = await SqliteStore.open(file);
await measure('on the event loop (SqliteStore)', direct);
await direct.close();
const threaded = await openThreadedStore(file, new InProcessChangeBus());
await measure('on the store thread (openThreadedStore)', threaded);
await threaded.close();
tmp.cleanup();
