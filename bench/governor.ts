/**
 * Issue 2: the cost of the session governor, in process.
 *  - SessionGovernor.open → StoreSession.close, the pair every logon pays (target < 20 µs);
 *  - the raw accounting step, InProcessAccounting.tryAcquireSync → releaseSync.
 * Timed in batches (hrtime per batch, not per call) so the clock's own cost does not count;
 * each run reports the median of its batches, and the result is the median of the runs.
 */
import { createServerContext } from '../src/server/create-context.js';
import { InProcessAccounting } from '../src/governor/in-process-accounting.js';
import type { SessionRecord, SessionLimits } from '../src/governor/accounting.js';
import { mwTempDir } from './lib/mailwarden.js';
import { log, median, runs, summarise, type BenchOutcome } from './lib/stats.js';

const BATCH = 1000;
const BATCHES = 50;

export async function benchGovernor(): Promise<BenchOutcome> {
  const tmp = mwTempDir('mw-bench-gov-');
  const ctx = await createServerContext(tmp.dataDir, { computer: 'bench' });
  try {
    const user = await ctx.store.createUser({ address: 'gov@bench.test', password: 'pw' });
    const n = runs(5);

    // warm up the JIT and the settings cache
    for (let i = 0; i < 5000; i++) await (await ctx.governor.open({ user, kind: 'pop3', clientAddress: '127.0.0.1' })).close();

    const pairRuns: number[] = [];
    for (let r = 0; r < n; r++) {
      const perBatch: number[] = [];
      for (let b = 0; b < BATCHES; b++) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < BATCH; i++) {
          const s = await ctx.governor.open({ user, kind: 'pop3', clientAddress: '127.0.0.1' });
          await s.close();
        }
        perBatch.push(Number(process.hrtime.bigint() - t0) / 1000 / BATCH);
      }
      pairRuns.push(median(perBatch));
      log(`governor open+close run ${r + 1}/${n}: ${median(perBatch).toFixed(2)} µs`);
    }

    const acc = new InProcessAccounting();
    const limits: SessionLimits = { all: 32, service: 16, perKind: 0, disabled: false };
    const now = new Date();
    const record: SessionRecord = {
      id: 'bench-1', userId: 1, user: 'gov@bench.test', dn: '/o=x/cn=gov', databaseId: 1, kind: 'pop3',
      clientAddress: '127.0.0.1', clientInfo: null, node: 'bench', openedAt: now, lastActivity: now, objects: {},
    };
    const RAW_BATCH = 100_000;
    for (let i = 0; i < RAW_BATCH; i++) {
      acc.tryAcquireSync(record, limits);
      acc.releaseSync(record.id);
    }
    const rawRuns: number[] = [];
    for (let r = 0; r < n; r++) {
      const perBatch: number[] = [];
      for (let b = 0; b < 20; b++) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < RAW_BATCH; i++) {
          const res = acc.tryAcquireSync(record, limits);
          if (!res.ok) throw new Error('refused');
          acc.releaseSync(record.id);
        }
        perBatch.push(Number(process.hrtime.bigint() - t0) / 1000 / RAW_BATCH);
      }
      rawRuns.push(median(perBatch));
    }
    log(`accounting tryAcquireSync+releaseSync: ${median(rawRuns).toFixed(3)} µs`);

    return {
      name: 'governor',
      skipped: [],
      notes: [
        `open+close: ${BATCHES} batches of ${BATCH} pairs per run (one user, kind pop3, settings refresh included); raw accounting: 20 batches of ${RAW_BATCH} pairs per run.`,
      ],
      results: [
        { bench: 'governor', metric: 'SessionGovernor.open + StoreSession.close, per pair', unit: 'µs', better: 'lower', mw: summarise(pairRuns), target: '< 20 µs' },
        { bench: 'governor', metric: 'InProcessAccounting.tryAcquireSync + releaseSync, per pair', unit: 'µs', better: 'lower', mw: summarise(rawRuns) },
      ],
    };
  } finally {
    await ctx.store.close();
    tmp.cleanup();
  }
}
