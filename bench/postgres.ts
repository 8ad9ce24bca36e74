/**
 * Issue 16: Mailwarden nodes on the PostgreSQL store vs Dovecot, in one run.
 *  - IMAP login-heavy: CLIENTS users, each SESSIONS × (connect, LOGIN, SELECT INBOX, LOGOUT), all at
 *    once; logons/s. Mailwarden answers repeated logons from its verified-credentials cache (README),
 *    so this measures the logon pipeline and the store reads (user, folders, SELECT) over PostgreSQL.
 *  - SMTP delivery: MESSAGES messages (4–64 KB) over 10 connections to 100 users, one recipient per
 *    transaction: Mailwarden SMTP into PostgreSQL vs Dovecot LMTP into Maildir; messages/s.
 * Both on 1 node + PostgreSQL, on 1 node + PostgreSQL + Redis (the cluster path — Redis acquire,
 * brute-force guard and web sessions on Redis, change bus — without a second process), then on 2
 * nodes + PostgreSQL + Redis (the clients split between the nodes, as a balancer would); and the
 * server CPU time per logon and per message (node processes only; Dovecot's whole process tree).
 * Dovecot runs in the same phases, alternating round by round with Mailwarden, so each ratio compares numbers taken
 * under the same machine load. The database is made for the run (mw_bench_<random> on
 * BENCH_POSTGRES, default postgres://127.0.0.1:5432/test) and dropped after, the Redis key prefix
 * likewise; PostgreSQL and Redis run on the same machine. The nodes' logs go to files, as Dovecot's.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { ImapClient, SmtpClient } from './lib/raw.js';
import { dataPayload, makeMessages } from './lib/messages.js';
import { dovecotMissing, dovecotScheme, startDovecot, writeMaildir, type Dovecot } from './lib/dovecot.js';
import { createUsers, mwTempDir, putBenchSettings, startMailwarden, type MailwardenProcess } from './lib/mailwarden.js';
import { processTreeCpuMs } from './lib/proc.js';
import { connectionConfig, PostgresStore } from '../src/store/postgres/postgres-store.js';
import { mailboxQuotaLimit } from '../src/settings/resolve.js';
import { log, nowMs, runs, summarise, type BenchOutcome, type BenchResult } from './lib/stats.js';

const CLIENTS = Number(process.env.BENCH_PG_CLIENTS ?? 20);
const SESSIONS = Number(process.env.BENCH_PG_SESSIONS ?? 5);
const MESSAGES = Number(process.env.BENCH_PG_MESSAGES ?? 500);
const CONNECTIONS = 10;
/**
 * The deployments measured, in order: 1 node; 1 node with Redis (the cluster path — Redis acquire,
 * change bus, shared state — without a second process); 2 nodes with Redis. BENCH_PG_PHASES picks.
 */
const PHASES = (process.env.BENCH_PG_PHASES ?? '1,1r,2r').split(',').filter((p) => /^[12]r?$/.test(p));
const SMTP_USERS = 100;
const PASSWORD = 'bench-pw';
const imapUser = (i: number) => `pgimap${i}@bench.test`;
const smtpUser = (i: number) => `pgrcpt${i}@bench.test`;
const ADMIN = process.env.BENCH_POSTGRES ?? 'postgres://127.0.0.1:5432/test';
export const BENCH_REDIS = process.env.MAILWARDEN_BENCH_REDIS ?? 'redis://127.0.0.1:6379';

async function admin(sql: string): Promise<void> {
  const c = new pg.Client(connectionConfig(ADMIN));
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** A database of the run's own on the benchmark's PostgreSQL; `drop` removes it. */
export async function benchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `mw_bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN);
  url.pathname = '/' + name;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined) };
}

/** A key prefix of the run's own on the benchmark's Redis (the URL the nodes get); `drop` deletes its keys. */
export function benchRedisPrefix(): { url: string; drop(): Promise<void> } {
  const prefix = `mwbench:${randomBytes(4).toString('hex')}:`;
  const u = new URL(BENCH_REDIS);
  u.searchParams.set('prefix', prefix);
  return {
    url: u.toString(),
    async drop() {
      const r = new Redis(BENCH_REDIS, { maxRetriesPerRequest: 2 });
      try {
        await dropRedisPrefix(r, prefix);
      } finally {
        r.disconnect();
      }
    },
  };
}

/** Deletes every key under the prefix (SCAN, never FLUSHALL: others share this Redis). */
export async function dropRedisPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** Stops what a cluster benchmark started and removes what it made: nodes, Dovecot, folders, database, Redis keys. */
export async function stopRig(rig: { nodes: MailwardenProcess[]; dovecot: Dovecot | null; tmp: { cleanup(): void }; db: { drop(): Promise<void> }; redis: { drop(): Promise<void> } }): Promise<void> {
  await Promise.all(rig.nodes.map((x) => x.stop()));
  await rig.dovecot?.stop();
  rig.tmp.cleanup();
  await rig.db.drop();
  await rig.redis.drop();
}

/** `count` Mailwarden nodes on one PostgreSQL store (and, with `redis`, one Redis), each with a node folder of its own. */
export async function startNodes(count: number, store: string, redis: string | null, dir: string): Promise<MailwardenProcess[]> {
  const nodes: MailwardenProcess[] = [];
  for (let i = 0; i < count; i++) {
    const name = `node-${count}${redis ? 'r' : ''}-${i}`;
    nodes.push(await startMailwarden(join(dir, name), {
      env: { MAILWARDEN_STORE: store, ...(redis ? { MAILWARDEN_REDIS: redis } : {}) },
      logFile: join(dir, `${name}.log`),
    }));
  }
  return nodes;
}

/** Client u talks to port u mod n: a round-robin balancer in front of the nodes. */
async function logonRound(ports: number[]): Promise<{ logons: number; ms: number }> {
  const t0 = nowMs();
  let logons = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async (_, u) => {
    for (let s = 0; s < SESSIONS; s++) {
      const c = await ImapClient.connect(ports[u % ports.length]!);
      await c.login(imapUser(u), PASSWORD);
      await c.cmd('SELECT INBOX');
      await c.logout();
      logons++;
    }
  }));
  return { logons, ms: nowMs() - t0 };
}

async function smtpRound(ports: number[], lmtp: boolean, payloads: Buffer[]): Promise<{ sent: number; ms: number }> {
  const t0 = nowMs();
  let next = 0;
  let sent = 0;
  await Promise.all(Array.from({ length: CONNECTIONS }, async (_, k) => {
    const c = await SmtpClient.connect(ports[k % ports.length]!, lmtp);
    for (let i = next++; i < payloads.length; i = next++) {
      await c.send('sender@remote.test', smtpUser(i % SMTP_USERS), payloads[i]!);
      sent++;
    }
    await c.quit();
  }));
  return { sent, ms: nowMs() - t0 };
}

interface Side {
  key: 'mw' | 'dovecot';
  imap: number[];
  smtp: number[];
  lmtp: boolean;
  /** CPU ms used so far by the side's server processes (every node; Dovecot's whole process tree). */
  cpu(): number;
}

interface Measured { logons: number[]; delivered: number[]; cpuPerLogon: number[]; cpuPerMessage: number[] }

/** Alternating rounds of both loads on Mailwarden and Dovecot: logons/s and messages/s per side. */
async function measure(label: string, sides: Side[], payloads: Buffer[], n: number): Promise<Record<string, Measured>> {
  const out: Record<string, Measured> = {};
  for (const s of sides) {
    out[s.key] = { logons: [], delivered: [], cpuPerLogon: [], cpuPerMessage: [] };
    await logonRound(s.imap); // warm-up: caches, Dovecot's index files
    await smtpRound(s.smtp, s.lmtp, payloads.slice(0, 50));
  }
  for (let r = 0; r < n; r++) {
    for (const s of sides) {
      const m = out[s.key]!;
      const c0 = s.cpu();
      const l = await logonRound(s.imap);
      const c1 = s.cpu();
      m.logons.push(l.logons / (l.ms / 1000));
      m.cpuPerLogon.push((c1 - c0) / l.logons);
      const d = await smtpRound(s.smtp, s.lmtp, payloads);
      m.delivered.push(d.sent / (d.ms / 1000));
      m.cpuPerMessage.push((s.cpu() - c1) / d.sent);
      log(`postgres ${label} ${s.key} round ${r + 1}/${n}: ${m.logons.at(-1)!.toFixed(0)} IMAP logons/s (${m.cpuPerLogon.at(-1)!.toFixed(2)} CPU ms each), ${m.delivered.at(-1)!.toFixed(0)} messages/s (${m.cpuPerMessage.at(-1)!.toFixed(2)} CPU ms each)`);
    }
  }
  return out;
}

export async function benchPostgres(): Promise<BenchOutcome> {
  const skipped: string[] = [];
  const notes: string[] = [];
  const results: BenchResult[] = [];
  const imapUsers = Array.from({ length: CLIENTS }, (_, i) => imapUser(i));
  const smtpUsers = Array.from({ length: SMTP_USERS }, (_, i) => smtpUser(i));
  const inboxes = makeMessages(CLIENTS * 20, 4 * 1024, 32 * 1024, 9, 'pgimap', (i) => imapUser(i % CLIENTS));
  const payloads = makeMessages(MESSAGES, 4 * 1024, 64 * 1024, 11, 'pgsmtp', (i) => smtpUser(i % SMTP_USERS)).map(dataPayload);
  let nodes: MailwardenProcess[] = [];
  let dc: Dovecot | null = null;
  const tmp = mwTempDir('mw-bench-pg-');
  const db = await benchDatabase();
  const redis = benchRedisPrefix();
  try {
    log(`postgres: seeding Mailwarden in ${new URL(db.url).pathname.slice(1)} …`);
    const store = await PostgresStore.open(db.url, { quotaLimit: mailboxQuotaLimit });
    await putBenchSettings(store);
    const mwImap = await createUsers(store, imapUsers, PASSWORD);
    await createUsers(store, smtpUsers, PASSWORD);
    for (let i = 0; i < inboxes.length; i++) await store.deliver([mwImap[i % CLIENTS]!.id], inboxes[i]!);
    await store.close();

    const missing = dovecotMissing();
    if (missing) skipped.push(`Dovecot: ${missing}`);
    else {
      dc = await startDovecot({ users: [...imapUsers, ...smtpUsers].map((name) => ({ name, password: PASSWORD })) });
      for (let u = 0; u < CLIENTS; u++) writeMaildir(dc.maildir(imapUsers[u]!), inboxes.filter((_, i) => i % CLIENTS === u));
      dc.fixOwnership();
    }
    const n = runs(3);
    for (const phase of PHASES) {
      const count = Number(phase[0]);
      const withRedis = phase.endsWith('r');
      nodes = await startNodes(count, db.url, withRedis ? redis.url : null, tmp.dir);
      const running = nodes;
      const sides: Side[] = [{ key: 'mw', imap: nodes.map((x) => x.port('imap')!), smtp: nodes.map((x) => x.port('smtp')!), lmtp: false, cpu: () => running.reduce((t, x) => t + processTreeCpuMs(x.pid), 0) }];
      if (dc) {
        const dovecot = dc;
        sides.push({ key: 'dovecot', imap: [dc.ports.imap], smtp: [dc.ports.lmtp], lmtp: true, cpu: () => processTreeCpuMs(dovecot.pid) });
      }
      const label = `${count === 1 ? '1 node' : `${count} nodes`}${withRedis ? ' + Redis' : ''}`;
      const m = await measure(label, sides, payloads, n);
      const what = `${count === 1 ? '1 node' : `${count} nodes`} + PostgreSQL${withRedis ? ' + Redis' : ''}`;
      results.push(
        { bench: 'postgres', metric: `IMAP login-heavy: ${CLIENTS} clients × ${SESSIONS} × (LOGIN, SELECT INBOX, LOGOUT), ${what}`, unit: 'logons/s', better: 'higher', mw: summarise(m.mw!.logons), dovecot: dc ? summarise(m.dovecot!.logons) : undefined, note: `Mailwarden scrypt + credential cache, Dovecot ${dovecotScheme()}` },
        { bench: 'postgres', metric: `SMTP delivery: ${MESSAGES.toLocaleString('en-US')} messages (4–64 KB), ${CONNECTIONS} connections, ${what} vs Dovecot LMTP`, unit: 'messages/s', better: 'higher', mw: summarise(m.mw!.delivered), dovecot: dc ? summarise(m.dovecot!.delivered) : undefined },
        { bench: 'postgres', metric: `server CPU per IMAP logon (LOGIN, SELECT, LOGOUT), ${what} (Mailwarden: node processes only, not PostgreSQL/Redis)`, unit: 'ms', better: 'lower', mw: summarise(m.mw!.cpuPerLogon), dovecot: dc ? summarise(m.dovecot!.cpuPerLogon) : undefined },
        { bench: 'postgres', metric: `server CPU per delivered message, ${what} (Mailwarden: node processes only, not PostgreSQL/Redis)`, unit: 'ms', better: 'lower', mw: summarise(m.mw!.cpuPerMessage), dovecot: dc ? summarise(m.dovecot!.cpuPerMessage) : undefined },
      );
      await Promise.all(nodes.map((x) => x.stop()));
      nodes = [];
    }
    notes.push(`Mailwarden: store on PostgreSQL ${await serverVersion()} on the same machine (database made for the run); 2 nodes share Redis on the same machine, the clients split between them round-robin. Dovecot on Maildir, one server, measured in the same phases (its column differs between the 1-node and 2-node rows only by the machine's load at the time).`);
    notes.push('On 2 cores the nodes, PostgreSQL, Redis, Dovecot and the clients share the same two cores: a second node adds no CPU, so the 2-node rows show the cost of the cluster path (Redis acquire, change bus, two processes), not scaling (bench/RESULTS.md, issue 16 section).');
    return { name: 'postgres', skipped, notes, results };
  } finally {
    await stopRig({ nodes, dovecot: dc, tmp, db, redis });
  }
}

async function serverVersion(): Promise<string> {
  const c = new pg.Client(connectionConfig(ADMIN));
  await c.connect();
  try {
    return String((await c.query('SHOW server_version')).rows[0].server_version).split(' ')[0]!;
  } finally {
    await c.end();
  }
}
