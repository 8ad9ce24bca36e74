/**
 * Issue 16 (Redis half): what the cluster adds to a logon and to a change notification.
 *  - the Redis acquire (one Lua script: drop expired leases, count, check, add) and the release,
 *    per call, p50/p99 in µs, against the Redis on 127.0.0.1:6379 with a user holding 8 sessions
 *    on 3 nodes (what the script counts), and the in-process accounting's cost beside it;
 *  - the bare pub/sub hop: publish on one RedisChangeBus (node A's connection) to the listener on
 *    another (node B's), p50/p99 in ms;
 *  - the whole cross-node path, two node processes on PostgreSQL + Redis: a message delivered by
 *    SMTP through node B, heard by an IMAP IDLE client on node A (the untagged EXISTS), and by a
 *    web mail push stream signed in on node A (the `change` event), DELIVERIES (1,000) each, p50/p99
 *    from the end of DATA. Dovecot's column: IDLE on Dovecot hearing an LMTP delivery to Dovecot (one
 *    server; Dovecot has no cross-node path), in blocks alternating with Mailwarden's.
 * Dovecot has no cluster-wide session accounting to compare with (its limits are per server), so
 * the acquire lines have no Dovecot column. Runs: BENCH_RUNS (default 5) for the in-process lines.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisAccounting } from '../src/cluster/redis-accounting.js';
import { RedisChangeBus } from '../src/cluster/redis-change-bus.js';
import { InProcessAccounting } from '../src/governor/in-process-accounting.js';
import type { SessionLimits, SessionRecord } from '../src/governor/accounting.js';
import { log, median, nowMs, runs, summarise, type BenchOutcome, type BenchResult } from './lib/stats.js';
import { ImapClient, SmtpClient } from './lib/raw.js';
import { dovecotMissing, startDovecot, writeMaildir, type Dovecot } from './lib/dovecot.js';
import { createUsers, mwTempDir, putBenchSettings, type MailwardenProcess } from './lib/mailwarden.js';
import { signIn } from './lib/web-client.js';
import { openStream } from '../test/web/helpers.js';
import { benchDatabase, benchRedisPrefix, dropRedisPrefix, startNodes, stopRig } from './postgres.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { mailboxQuotaLimit } from '../src/settings/resolve.js';

const REDIS = process.env.MAILWARDEN_BENCH_REDIS ?? 'redis://127.0.0.1:6379';
const CALLS = 2_000;
const MESSAGES = 1_000;
const DELIVERIES = Number(process.env.BENCH_CLUSTER_DELIVERIES ?? 1_000);
/** Deliveries per block: the sides alternate blocks, so both see the same machine load. */
const BLOCK = 100;
/**
 * Dovecot's share of each block: Dovecot holds every mailbox change back for 0.5 s before IDLE
 * reports it (NOTIFY_DELAY_MSECS in lib-storage/mailbox-watch.c, not a setting), so 1,000 of its
 * deliveries would cost over 8 minutes; a fifth of them gives its percentiles well enough.
 */
const DOVECOT_BLOCK = 20;
const NOTIFY_USER = 'notify@bench.test';
const NOTIFY_PASSWORD = 'bench-pw';

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

function record(node: string): SessionRecord {
  const now = new Date();
  return { id: randomUUID(), userId: 42, user: 'bench@cluster.test', dn: '/o=b/cn=bench', databaseId: 1, kind: 'imap', clientAddress: '127.0.0.1', clientInfo: null, node, openedAt: now, lastActivity: now, objects: {} };
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
    await dropRedisPrefix(redis, prefix);
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

  const path = await crossNodePath();
  return {
    name: 'cluster',
    skipped: path.skipped,
    notes: [
      ...path.notes,
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
      ...path.results,
    ],
  };
}

/**
 * One delivery to the notified user: ms from writing the end of DATA to what `heard` resolves
 * with (the time the client heard it); `heard` starts right after the write, before any answer.
 */
async function timedDelivery(smtp: SmtpClient, payload: Buffer, heard: () => Promise<number>): Promise<number> {
  await smtp.cmd('MAIL FROM:<sender@remote.test>', 250);
  await smtp.cmd(`RCPT TO:<${NOTIFY_USER}>`, 250);
  await smtp.cmd('DATA', 354);
  const t0 = nowMs();
  smtp.conn.write(payload);
  const at = heard();
  await smtp.reply(250, 'end of DATA');
  return (await at) - t0;
}

/** Waits for the next untagged EXISTS above `known` on an IDLE connection; returns the new count. */
async function nextExists(idle: ImapClient, known: number): Promise<number> {
  for (;;) {
    const m = /^\* (\d+) EXISTS/.exec(await idle.conn.line());
    if (m && Number(m[1]) > known) return Number(m[1]);
  }
}

/** An IDLE client on `imapPort` hearing deliveries through `smtpPort`: per delivery, ms from the end of DATA to the EXISTS. */
async function idleWatcher(imapPort: number, smtpPort: number, lmtp: boolean): Promise<{ deliver(n: number): Promise<number[]>; close(): Promise<void> }> {
  const idle = await ImapClient.connect(imapPort);
  await idle.login(NOTIFY_USER, NOTIFY_PASSWORD);
  let exists = 0;
  idle.conn.write('S1 SELECT INBOX\r\n');
  for (let l = await idle.conn.line(); !l.startsWith('S1 '); l = await idle.conn.line()) {
    const m = /^\* (\d+) EXISTS/.exec(l);
    if (m) exists = Number(m[1]);
  }
  idle.conn.write('I1 IDLE\r\n');
  while (!(await idle.conn.line()).startsWith('+')) { /* untagged lines before the continuation */ }
  const smtp = await SmtpClient.connect(smtpPort, lmtp);
  const payload = Buffer.from(`From: sender@remote.test\r\nTo: ${NOTIFY_USER}\r\nSubject: cross-node\r\n\r\n${'x'.repeat(1000)}\r\n.\r\n`);
  return {
    async deliver(n) {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        out.push(await timedDelivery(smtp, payload, () => nextExists(idle, exists).then((count) => {
          exists = count;
          return nowMs();
        })));
      }
      return out;
    },
    async close() {
      await smtp.quit();
      idle.conn.write('DONE\r\n');
      await idle.cmd('NOOP').catch(() => undefined);
      await idle.logout().catch(() => undefined);
    },
  };
}

/** A web mail push stream signed in on `httpsPort` hearing deliveries through `smtpPort`: ms from the end of DATA to the `change` event. */
async function pushWatcher(httpsPort: number, smtpPort: number): Promise<{ deliver(n: number): Promise<number[]>; close(): Promise<void> }> {
  const cookie = await signIn(httpsPort, NOTIFY_USER, NOTIFY_PASSWORD);
  let waiting: (() => void) | undefined;
  let ready!: () => void;
  const isReady = new Promise<void>((res) => (ready = res));
  const stream = await openStream(httpsPort, cookie, (event) => {
    if (event === 'ready') ready();
    if (event === 'change') waiting?.();
  });
  if (stream.status !== 200) throw new Error(`push stream answered ${stream.status}`);
  await isReady;
  const smtp = await SmtpClient.connect(smtpPort, false);
  const payload = Buffer.from(`From: sender@remote.test\r\nTo: ${NOTIFY_USER}\r\nSubject: pushed\r\n\r\n${'x'.repeat(1000)}\r\n.\r\n`);
  return {
    async deliver(n) {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        // one delivery may be several change events (the append, the counters): the first one counts
        out.push(await timedDelivery(smtp, payload, () => new Promise<number>((res) => (waiting = () => { waiting = undefined; res(nowMs()); }))));
      }
      return out;
    },
    async close() {
      await smtp.quit();
      stream.close();
    },
  };
}

const pctOf = (values: number[], p: number) => pct([...values].sort((a, b) => a - b), p);

/**
 * The whole cross-node path on two node processes (PostgreSQL + Redis): delivery through node B,
 * IDLE and web push on node A; Dovecot's same-server IDLE beside it.
 */
async function crossNodePath(): Promise<{ results: BenchResult[]; notes: string[]; skipped: string[] }> {
  const skipped: string[] = [];
  const tmp = mwTempDir('mw-bench-cluster-');
  let db: Awaited<ReturnType<typeof benchDatabase>>;
  try {
    db = await benchDatabase();
  } catch (err) {
    return { results: [], notes: [], skipped: [`cross-node path: no PostgreSQL: ${(err as Error).message}`] };
  }
  const redis = benchRedisPrefix();
  let nodes: MailwardenProcess[] = [];
  let dc: Dovecot | null = null;
  try {
    const store = await PostgresStore.open(db.url, { quotaLimit: mailboxQuotaLimit });
    await putBenchSettings(store);
    await createUsers(store, [NOTIFY_USER], NOTIFY_PASSWORD);
    await store.close();
    nodes = await startNodes(2, db.url, redis.url, tmp.dir);
    const [a, b] = nodes as [MailwardenProcess, MailwardenProcess];
    const missing = dovecotMissing();
    if (missing) skipped.push(`Dovecot: ${missing}`);
    else {
      dc = await startDovecot({ users: [{ name: NOTIFY_USER, password: NOTIFY_PASSWORD }] });
      writeMaildir(dc.maildir(NOTIFY_USER), []);
      dc.fixOwnership();
    }
    const idle = { mw: [] as number[], dovecot: [] as number[] };
    const mwIdle = await idleWatcher(a.port('imap')!, b.port('smtp')!, false);
    const dcIdle = dc ? await idleWatcher(dc.ports.imap, dc.ports.lmtp, true) : null;
    await mwIdle.deliver(20); // warm-up
    await dcIdle?.deliver(20);
    for (let done = 0; done < DELIVERIES; done += BLOCK) {
      idle.mw.push(...(await mwIdle.deliver(Math.min(BLOCK, DELIVERIES - done))));
      if (dcIdle) idle.dovecot.push(...(await dcIdle.deliver(DOVECOT_BLOCK)));
      log(`cluster: cross-node IDLE ${idle.mw.length}/${DELIVERIES}: p50 ${pctOf(idle.mw, 0.5).toFixed(1)} ms${dcIdle ? `, Dovecot ${pctOf(idle.dovecot, 0.5).toFixed(1)} ms` : ''}`);
    }
    await mwIdle.close();
    await dcIdle?.close();
    const push = await pushWatcher(a.port('https')!, b.port('smtp')!);
    await push.deliver(20);
    const pushed = await push.deliver(DELIVERIES);
    await push.close();
    log(`cluster: cross-node web push: p50 ${pctOf(pushed, 0.5).toFixed(1)} ms, p99 ${pctOf(pushed, 0.99).toFixed(1)} ms`);
    const one = (v: number) => summarise([v]);
    const side = (values: number[], p: number) => (values.length ? one(pctOf(values, p)) : undefined);
    const results: BenchResult[] = [
      { bench: 'cluster', metric: `IDLE on node A hears an SMTP delivery through node B (PostgreSQL + Redis), p50 of ${DELIVERIES.toLocaleString('en-US')}; Dovecot: IDLE hears LMTP, one server`, unit: 'ms', better: 'lower', mw: one(pctOf(idle.mw, 0.5)), dovecot: side(idle.dovecot, 0.5) },
      { bench: 'cluster', metric: `IDLE on node A hears an SMTP delivery through node B, p99 of ${DELIVERIES.toLocaleString('en-US')}`, unit: 'ms', better: 'lower', mw: one(pctOf(idle.mw, 0.99)), dovecot: side(idle.dovecot, 0.99), target: '< 1000 ms' },
      { bench: 'cluster', metric: `web mail push on node A hears an SMTP delivery through node B, p50 of ${DELIVERIES.toLocaleString('en-US')}`, unit: 'ms', better: 'lower', mw: one(pctOf(pushed, 0.5)) },
      { bench: 'cluster', metric: `web mail push on node A hears an SMTP delivery through node B, p99 of ${DELIVERIES.toLocaleString('en-US')}`, unit: 'ms', better: 'lower', mw: one(pctOf(pushed, 0.99)), target: '< 1000 ms' },
    ];
    const notes = [
      `Cross-node path: two node processes on one PostgreSQL database and one Redis prefix (made for the run), ${DELIVERIES} deliveries of ~1 KB one at a time for each line, latency from writing the end of DATA to the client hearing the change (the delivery's commit included); Mailwarden and Dovecot alternate in blocks (${BLOCK} of Mailwarden's, ${DOVECOT_BLOCK} of Dovecot's: ${idle.dovecot.length} Dovecot deliveries, each held back 0.5 s by Dovecot's built-in notify delay, so its column is that delay, not a slower path). The max of IDLE: ${Math.max(...idle.mw).toFixed(0)} ms (Mailwarden), web push ${Math.max(...pushed).toFixed(0)} ms.`,
    ];
    return { results, notes, skipped };
  } finally {
    await stopRig({ nodes, dovecot: dc, tmp, db, redis });
  }
}
