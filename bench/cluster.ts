/**
 * Issue 16 (Redis half): what the cluster adds to a logon and to a change notification.
 *  - the Redis acquire (one Lua script: drop expired leases, count, check, add) and the release,
 *    per call, p50/p99 in µs, against the Redis on 127.0.0.1:6379 with a user holding 8 sessions
 *    on 3 nodes (what the script counts), and the in-process accounting's cost beside it;
 *  - cross-node notification latency: publish on one RedisChangeBus (node A's connection) to the
 *    listener on another (node B's), p50/p99 in ms. The full IDLE path (SMTP delivery on node B
 *    → IMAP IDLE on node A, two processes) is printed by test/cluster/several-nodes.test.ts.
 * Dovecot has no cluster-wide session accounting to compare with (its limits are per server), so
 * these lines have no Dovecot column. Runs: BENCH_RUNS (default 5).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisAccounting } from '../src/cluster/redis-accounting.js';
import { RedisChangeBus } from '../src/cluster/redis-change-bus.js';
import { InProcessAccounting } from '../src/governor/in-process-accounting.js';
import type { SessionLimits, SessionRecord } from '../src/governor/accounting.js';
import { log, median, runs, summarise, type BenchOutcome } from './lib/stats.js';

const REDIS = process.env.MAILWARDEN_BENCH_REDIS ?? 'redis://127.0.0.1:6379';
const CALLS = 2_000;
const MESSAGES = 1_000;

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

function record(node: string): SessionRecord {
  const now = new Date();
  return { id: randomUUID(), userId: 42, user: 'bench@cluster.test', dn: '/o=b/cn=bench', databaseId: 1, kind: 'imap', clientAddress: '127.0.0.1', clientInfo: null, node, openedAt: now, lastActivity: now, objects: {} };
}

async function dropKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export async function benchCluster(): Promise<BenchOutcome> {
  const redis = new Redis(REDIS, { maxRetriesPerRequest: 2 });
  const other = new Redis(REDIS, { maxRetriesPerRequest: 2 });
  const prefix = `mwbench:${randomUUID().slice(0, 8)}:`;
  try {
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    other.disconnect();
    return { name: 'cluster', results: [], skipped: [`no Redis at ${REDIS}: ${(err as Error).message}`], notes: [] };
  }
  const n = runs(5);
  const limits: SessionLimits = { all: 32, service: 16, perKind: 0, disabled: false };
  const acc = await RedisAccounting.open(redis, { prefix, renewMs: 0 });
  const p50s: number[] = [];
  const p99s: number[] = [];
  const relP50s: number[] = [];
  const notifyP50: number[] = [];
  const notifyP99: number[] = [];
  try {
    for (const node of ['node-a', 'node-b', 'node-c']) await acc.attachNode(node, () => undefined);
    // the user already holds 8 sessions over the three nodes: the script counts them each time
    for (let i = 0; i < 8; i++) await acc.tryAcquire(record(['node-a', 'node-b', 'node-c'][i % 3]!), limits);
    for (let i = 0; i < 500; i++) {
      const s = record('node-a');
      await acc.tryAcquire(s, limits);
      await acc.release(s.id);
    }
    for (let r = 0; r < n; r++) {
      const acquire: number[] = [];
      const release: number[] = [];
      for (let i = 0; i < CALLS; i++) {
        const s = record('node-a');
        const t0 = process.hrtime.bigint();
        const res = await acc.tryAcquire(s, limits);
        const t1 = process.hrtime.bigint();
        if (!res.ok) throw new Error('refused');
        await acc.release(s.id);
        const t2 = process.hrtime.bigint();
        acquire.push(Number(t1 - t0) / 1000);
        release.push(Number(t2 - t1) / 1000);
      }
      acquire.sort((a, b) => a - b);
      release.sort((a, b) => a - b);
      p50s.push(pct(acquire, 0.5));
      p99s.push(pct(acquire, 0.99));
      relP50s.push(pct(release, 0.5));
      log(`cluster: Redis acquire run ${r + 1}/${n}: p50 ${pct(acquire, 0.5).toFixed(0)} µs, p99 ${pct(acquire, 0.99).toFixed(0)} µs; release p50 ${pct(release, 0.5).toFixed(0)} µs`);
    }

    const a = await RedisChangeBus.open(redis, { prefix });
    const b = await RedisChangeBus.open(other, { prefix });
    try {
      for (let r = 0; r < n; r++) {
        const lat: number[] = [];
        let waiting: ((t: bigint) => void) | undefined;
        const stop = b.subscribeFolder(1, 1, () => waiting?.(process.hrtime.bigint()));
        for (let m = 1; m <= MESSAGES; m++) {
          const heard = new Promise<bigint>((res) => (waiting = res));
          const t0 = process.hrtime.bigint();
          a.publish({ userId: 1, folderId: 1, kind: 'append', modseq: m });
          lat.push(Number((await heard) - t0) / 1e6);
        }
        stop();
        lat.sort((x, y) => x - y);
        notifyP50.push(pct(lat, 0.5));
        notifyP99.push(pct(lat, 0.99));
        log(`cluster: notification run ${r + 1}/${n}: p50 ${pct(lat, 0.5).toFixed(3)} ms, p99 ${pct(lat, 0.99).toFixed(3)} ms`);
      }
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await acc.close();
    await dropKeys(redis, prefix);
    redis.disconnect();
    other.disconnect();
  }

  const local = new InProcessAccounting();
  const localRuns: number[] = [];
  for (let r = 0; r < n; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 100_000; i++) {
      const s = record('node-a');
      local.tryAcquireSync(s, limits);
      local.releaseSync(s.id);
    }
    localRuns.push(Number(process.hrtime.bigint() - t0) / 1000 / 100_000);
  }
  log(`cluster: in-process acquire+release ${median(localRuns).toFixed(2)} µs`);

  return {
    name: 'cluster',
    skipped: [],
    notes: [
      `Redis ${REDIS} on the same machine (loopback): ${CALLS} sequential acquire/release pairs per run, a user holding 8 sessions on 3 nodes; ${MESSAGES} notifications per run, one at a time, between two connections of one process.`,
      'The Redis acquire is one round trip plus the Lua script; on a network it adds that network\'s round trip (typically 100–300 µs in one data centre).',
    ],
    results: [
      { bench: 'cluster', metric: 'Redis acquire per logon, p50 (one Lua script)', unit: 'µs', better: 'lower', mw: summarise(p50s) },
      { bench: 'cluster', metric: 'Redis acquire per logon, p99', unit: 'µs', better: 'lower', mw: summarise(p99s) },
      { bench: 'cluster', metric: 'Redis release per logoff, p50', unit: 'µs', better: 'lower', mw: summarise(relP50s) },
      { bench: 'cluster', metric: 'in-process acquire + release (one node), for comparison', unit: 'µs', better: 'lower', mw: summarise(localRuns) },
      { bench: 'cluster', metric: 'cross-node change notification (Redis pub/sub), p50', unit: 'ms', better: 'lower', mw: summarise(notifyP50) },
      { bench: 'cluster', metric: 'cross-node change notification (Redis pub/sub), p99', unit: 'ms', better: 'lower', mw: summarise(notifyP99) },
    ],
  };
}
