/**
 * Issue 16: one Mailwarden node on the PostgreSQL store vs Dovecot, in one run.
 *  - IMAP login-heavy: CLIENTS users, each SESSIONS × (connect, LOGIN, SELECT INBOX, LOGOUT), all at
 *    once; logons/s. Mailwarden answers repeated logons from its verified-credentials cache (README),
 *    so this measures the logon pipeline and the store reads (user, folders, SELECT) over PostgreSQL.
 *  - SMTP delivery: MESSAGES messages (4–64 KB) over 10 connections to 100 users, one recipient per
 *    transaction: Mailwarden SMTP into PostgreSQL vs Dovecot LMTP into Maildir; messages/s.
 * The database is made for the run (mw_bench_<random> on BENCH_POSTGRES, default
 * postgres://127.0.0.1:5432/test) and dropped after; PostgreSQL runs on the same machine.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ImapClient, SmtpClient } from './lib/raw.js';
import { dataPayload, makeMessages } from './lib/messages.js';
import { dovecotMissing, dovecotScheme, startDovecot, writeMaildir, type Dovecot } from './lib/dovecot.js';
import { createUsers, mwTempDir, putBenchSettings, startMailwarden, type MailwardenProcess } from './lib/mailwarden.js';
import { connectionConfig, PostgresStore } from '../src/store/postgres/postgres-store.js';
import { mailboxQuotaLimit } from '../src/settings/resolve.js';
import { log, nowMs, runs, summarise, type BenchOutcome } from './lib/stats.js';

const CLIENTS = Number(process.env.BENCH_PG_CLIENTS ?? 50);
const SESSIONS = Number(process.env.BENCH_PG_SESSIONS ?? 10);
const MESSAGES = Number(process.env.BENCH_PG_MESSAGES ?? 2000);
const CONNECTIONS = 10;
const SMTP_USERS = 100;
const PASSWORD = 'bench-pw';
const imapUser = (i: number) => `pgimap${i}@bench.test`;
const smtpUser = (i: number) => `pgrcpt${i}@bench.test`;
const ADMIN = process.env.BENCH_POSTGRES ?? 'postgres://127.0.0.1:5432/test';

async function admin(sql: string): Promise<void> {
  const c = new pg.Client(connectionConfig(ADMIN));
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function logonRound(port: number): Promise<{ logons: number; ms: number }> {
  const t0 = nowMs();
  let logons = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async (_, u) => {
    for (let s = 0; s < SESSIONS; s++) {
      const c = await ImapClient.connect(port);
      await c.login(imapUser(u), PASSWORD);
      await c.cmd('SELECT INBOX');
      await c.logout();
      logons++;
    }
  }));
  return { logons, ms: nowMs() - t0 };
}

async function smtpRound(port: number, lmtp: boolean, payloads: Buffer[]): Promise<{ sent: number; ms: number }> {
  const t0 = nowMs();
  let next = 0;
  let sent = 0;
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    const c = await SmtpClient.connect(port, lmtp);
    for (let i = next++; i < payloads.length; i = next++) {
      await c.send('sender@remote.test', smtpUser(i % SMTP_USERS), payloads[i]!);
      sent++;
    }
    await c.quit();
  }));
  return { sent, ms: nowMs() - t0 };
}

export async function benchPostgres(): Promise<BenchOutcome> {
  const skipped: string[] = [];
  const notes: string[] = [];
  const imapUsers = Array.from({ length: CLIENTS }, (_, i) => imapUser(i));
  const smtpUsers = Array.from({ length: SMTP_USERS }, (_, i) => smtpUser(i));
  const inboxes = makeMessages(CLIENTS * 20, 4 * 1024, 32 * 1024, 9, 'pgimap', (i) => imapUser(i % CLIENTS));
  const payloads = makeMessages(MESSAGES, 4 * 1024, 64 * 1024, 11, 'pgsmtp', (i) => smtpUser(i % SMTP_USERS)).map(dataPayload);
  const dbName = `mw_bench_${randomBytes(5).toString('hex')}`;
  const url = new URL(ADMIN);
  url.pathname = '/' + dbName;
  let mw: MailwardenProcess | null = null;
  let dc: Dovecot | null = null;
  const tmp = mwTempDir('mw-bench-pg-');
  const previous = process.env.MAILWARDEN_STORE;
  try {
    await admin(`CREATE DATABASE ${dbName}`);
    log(`postgres: seeding Mailwarden in ${dbName} …`);
    const store = await PostgresStore.open(url.toString(), { quotaLimit: mailboxQuotaLimit });
    await putBenchSettings(store);
    const mwImap = await createUsers(store, imapUsers, PASSWORD);
    await createUsers(store, smtpUsers, PASSWORD);
    for (let i = 0; i < inboxes.length; i++) await store.deliver([mwImap[i % CLIENTS]!.id], inboxes[i]!);
    await store.close();
    process.env.MAILWARDEN_STORE = url.toString(); // the server process (bench/lib/mw-server.ts) opens this store
    mw = await startMailwarden(tmp.dataDir);

    const missing = dovecotMissing();
    if (missing) skipped.push(`Dovecot: ${missing}`);
    else {
      dc = await startDovecot({ users: [...imapUsers, ...smtpUsers].map((name) => ({ name, password: PASSWORD })) });
      for (let u = 0; u < CLIENTS; u++) writeMaildir(dc.maildir(imapUsers[u]!), inboxes.filter((_, i) => i % CLIENTS === u));
      dc.fixOwnership();
    }
    const sides: Array<{ key: 'mw' | 'dovecot'; imap: number; smtp: number; lmtp: boolean }> = [];
    sides.push({ key: 'mw', imap: mw.port('imap')!, smtp: mw.port('smtp')!, lmtp: false });
    if (dc) sides.push({ key: 'dovecot', imap: dc.ports.imap, smtp: dc.ports.lmtp, lmtp: true });
    const logons: Record<string, number[]> = { mw: [], dovecot: [] };
    const delivered: Record<string, number[]> = { mw: [], dovecot: [] };
    for (const s of sides) {
      await logonRound(s.imap); // warm-up: caches, Dovecot's index files
      await smtpRound(s.smtp, s.lmtp, payloads.slice(0, 100));
    }
    const n = runs(3);
    for (let r = 0; r < n; r++) {
      for (const s of sides) {
        const l = await logonRound(s.imap);
        logons[s.key]!.push(l.logons / (l.ms / 1000));
        const d = await smtpRound(s.smtp, s.lmtp, payloads);
        delivered[s.key]!.push(d.sent / (d.ms / 1000));
        log(`postgres ${s.key} round ${r + 1}/${n}: ${logons[s.key]!.at(-1)!.toFixed(0)} IMAP logons/s, ${delivered[s.key]!.at(-1)!.toFixed(0)} messages/s`);
      }
    }
    notes.push(`Mailwarden: one node, store on PostgreSQL ${await serverVersion()} on the same machine (database made for the run); Dovecot on Maildir.`);
    return {
      name: 'postgres',
      skipped,
      notes,
      results: [
        { bench: 'postgres', metric: `IMAP login-heavy: ${CLIENTS} clients × ${SESSIONS} × (LOGIN, SELECT INBOX, LOGOUT), 1 node + PostgreSQL`, unit: 'logons/s', better: 'higher', mw: summarise(logons.mw!), dovecot: dc ? summarise(logons.dovecot!) : undefined, note: `Mailwarden scrypt + credential cache, Dovecot ${dovecotScheme()}` },
        { bench: 'postgres', metric: `SMTP delivery: ${MESSAGES.toLocaleString('en-US')} messages (4–64 KB), ${CONNECTIONS} connections, 1 node + PostgreSQL vs Dovecot LMTP`, unit: 'messages/s', better: 'higher', mw: summarise(delivered.mw!), dovecot: dc ? summarise(delivered.dovecot!) : undefined },
      ],
    };
  } finally {
    if (previous === undefined) delete process.env.MAILWARDEN_STORE;
    else process.env.MAILWARDEN_STORE = previous;
    await mw?.stop();
    await dc?.stop();
    tmp.cleanup();
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
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
