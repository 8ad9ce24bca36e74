/**
 * Child process that runs a whole Mailwarden server (startServer) for a benchmark, so that
 * the benchmark's clients never share an event loop with the server they measure — as with
 * Dovecot. Usage: node dist/bench/lib/mw-server.js DATA_DIR. Prints one JSON line with the
 * listeners, then runs until SIGTERM or until the parent goes away. Over IPC it answers
 * the benchmark's event-loop delay requests (event-loop-delay.ts) and wake timelines (wake-timeline.ts).
 */
import { startServer } from '../../src/server/serve.js';
import { serveEventLoopDelay } from './event-loop-delay.js';
import { serveWakeTimeline } from './wake-timeline.js';

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('usage: mw-server DATA_DIR\n');
  process.exit(2);
}
serveEventLoopDelay();
const server = await startServer({
  dataDir,
  // one node of several (bench/postgres.ts, bench/cluster.ts): the store comes from MAILWARDEN_STORE
  ...(process.env.MAILWARDEN_REDIS ? { redis: process.env.MAILWARDEN_REDIS } : {}),
  host: '127.0.0.1',
  ports: { imap: 0, imaps: 0, pop3: 0, pop3s: 0, smtp: 0, submission: 0, submissions: 0, http: 0, lmtp: 0 },
});
// only where a benchmark reads it (BENCH_WAKE_TIMELINE=1, bench/activesync.ts): it listens to
// every HTTP answer from the start
if (process.env.BENCH_WAKE_TIMELINE === '1') serveWakeTimeline(server.ctx.changes);
// Memory readings (bench/imap.ts, memory per idle connection): a full collection of the main
// thread's heap and of the store thread's (run with --expose-gc; without it nothing is collected)
// before each reading, so a heap shrinking after the previous load does not count against the
// connections opened meanwhile.
process.on('message', (m: { collectGarbage?: number }) => {
  if (typeof m?.collectGarbage !== 'number') return;
  (globalThis as { gc?: () => void }).gc?.();
  const store = server.ctx.store as { collectGarbage?: () => Promise<void> };
  void Promise.resolve(store.collectGarbage?.())
    .catch(() => undefined)
    .then(() => process.send?.({ collectedGarbage: m.collectGarbage }));
});
process.stdout.write(JSON.stringify({ pid: process.pid, listeners: server.listeners.map((l) => ({ name: l.name, port: l.port, implicitTls: l.implicitTls })) }) + '\n');
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.stop().catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.on('disconnect', () => void stop());
