/**
 * Issue 5: POP3 download throughput and logon rate, Mailwarden vs Dovecot, in one run.
 *  - 1,000 messages of 10–100 KB (the same bytes for both servers) spread over 20 users (50 each):
 *    Mailwarden gets them through Store.deliver, Dovecot as Maildir files;
 *  - download: 20 concurrent clients, one per user: USER/PASS, LIST, RETR every message, QUIT (no DELE,
 *    so every round sees the same maildrop); MB/s = bytes received in RETR bodies / wall time;
 *  - logons: 20 concurrent clients × LOGINS_PER_CLIENT × (connect, USER, PASS, QUIT); logins/s.
 * One uncounted warm-up round per server, then rounds alternate between the servers.
 */
import { Pop3Client } from './lib/raw.js';
import { makeMessages } from './lib/messages.js';
import { dovecotMissing, dovecotScheme, startDovecot, writeMaildir, type Dovecot } from './lib/dovecot.js';
import { createUsers, mwTempDir, openSeedStore, putBenchSettings, startMailwarden, type MailwardenProcess } from './lib/mailwarden.js';
import { log, nowMs, runs, summarise, type BenchOutcome, type BenchResult } from './lib/stats.js';

const CLIENTS = 20;
const PER_USER = 50;
const LOGINS_PER_CLIENT = Number(process.env.BENCH_POP3_LOGINS ?? 10);
const PASSWORD = 'bench-pw';
const user = (i: number) => `pop${i}@bench.test`;
const fastUser = (i: number) => `popfast${i}@bench.test`;

/**
 * One download round. All clients log on first and wait for each other, so that besides the
 * whole-session rate (logons included) the pure transfer rate (LIST + RETR + QUIT) is known.
 */
async function downloadRound(port: number, users: string[]): Promise<{ bytes: number; messages: number; ms: number; transferMs: number }> {
  const t0 = nowMs();
  let tLoggedIn = 0;
  let waiting = users.length;
  let release!: () => void;
  const allIn = new Promise<void>((r) => (release = r));
  const per = await Promise.all(
    users.map(async (u) => {
      const c = await Pop3Client.connect(port);
      await c.login(u, PASSWORD);
      if (--waiting === 0) {
        tLoggedIn = nowMs();
        release();
      }
      await allIn;
      const list = await c.list();
      let bytes = 0;
      for (const [n] of list) bytes += await c.retr(n);
      await c.quit();
      return { bytes, messages: list.length };
    }),
  );
  const t1 = nowMs();
  return { bytes: per.reduce((s, p) => s + p.bytes, 0), messages: per.reduce((s, p) => s + p.messages, 0), ms: t1 - t0, transferMs: t1 - tLoggedIn };
}

async function loginRound(port: number, users: string[]): Promise<{ logins: number; ms: number }> {
  const t0 = nowMs();
  await Promise.all(
    users.map(async (u) => {
      for (let i = 0; i < LOGINS_PER_CLIENT; i++) {
        const c = await Pop3Client.connect(port);
        await c.login(u, PASSWORD);
        await c.quit();
      }
    }),
  );
  return { logins: users.length * LOGINS_PER_CLIENT, ms: nowMs() - t0 };
}

export async function benchPop3(): Promise<BenchOutcome> {
  const skipped: string[] = [];
  const notes: string[] = [];
  const users = Array.from({ length: CLIENTS }, (_, i) => user(i));
  const fastUsers = Array.from({ length: CLIENTS }, (_, i) => fastUser(i));
  const msgs = makeMessages(CLIENTS * PER_USER, 10 * 1024, 100 * 1024, 5, 'pop3', (i) => user(i % CLIENTS));
  const totalBytes = msgs.reduce((s, m) => s + m.length, 0);
  notes.push(`${msgs.length} messages, ${(totalBytes / 1e6).toFixed(1)} MB in total, ${PER_USER} per user; ${CLIENTS} clients; ${CLIENTS * LOGINS_PER_CLIENT} logons per logon round.`);

  // --- Mailwarden
  const tmp = mwTempDir('mw-bench-pop3-');
  let mw: MailwardenProcess | null = null;
  let dc: Dovecot | null = null;
  try {
    log('pop3: seeding Mailwarden …');
    const store = await openSeedStore(tmp.dataDir);
    await putBenchSettings(store);
    const mwUsers = await createUsers(store, users, PASSWORD);
    for (let i = 0; i < msgs.length; i++) await store.deliver([mwUsers[i % CLIENTS].id], msgs[i]);
    await store.close();
    mw = await startMailwarden(tmp.dataDir);
    if (mw.port('pop3') === undefined) {
      skipped.push('Mailwarden: no pop3 listener in startServer');
      await mw.stop();
      mw = null;
    }

    // --- Dovecot
    const missing = dovecotMissing();
    if (missing) skipped.push(`Dovecot: ${missing}`);
    else {
      log('pop3: seeding Dovecot …');
      dc = await startDovecot({
        users: users.map((name) => ({ name, password: PASSWORD })),
        extraUsers: fastUsers.map((name) => ({ name, password: PASSWORD, scheme: 'SHA512-CRYPT' })),
      });
      for (let u = 0; u < CLIENTS; u++) writeMaildir(dc.maildir(users[u]), msgs.filter((_, i) => i % CLIENTS === u));
      dc.fixOwnership();
    }

    const sides: Array<{ key: 'mw' | 'dovecot'; port: number }> = [];
    if (mw) sides.push({ key: 'mw', port: mw.port('pop3')! });
    if (dc) sides.push({ key: 'dovecot', port: dc.ports.pop3 });

    const mbps: Record<string, number[]> = { mw: [], dovecot: [] };
    const transfer: Record<string, number[]> = { mw: [], dovecot: [] };
    const logins: Record<string, number[]> = { mw: [], dovecot: [] };
    const fastLogins: number[] = [];
    const seenBytes: Record<string, number> = {};
    for (const s of sides) {
      const w = await downloadRound(s.port, users); // warm-up: Dovecot builds its indexes here
      seenBytes[s.key] = w.bytes;
      if (w.messages !== msgs.length) throw new Error(`${s.key}: listed ${w.messages} messages, expected ${msgs.length}`);
      log(`pop3 ${s.key} warm-up: ${(w.bytes / 1e6 / (w.ms / 1000)).toFixed(1)} MB/s`);
    }
    const n = runs(5);
    for (let r = 0; r < n; r++) {
      for (const s of sides) {
        const d = await downloadRound(s.port, users);
        mbps[s.key].push(d.bytes / 1e6 / (d.ms / 1000));
        transfer[s.key].push(d.bytes / 1e6 / (d.transferMs / 1000));
        const l = await loginRound(s.port, users);
        logins[s.key].push(l.logins / (l.ms / 1000));
        log(`pop3 ${s.key} round ${r + 1}/${n}: ${mbps[s.key].at(-1)!.toFixed(1)} MB/s (${(d.ms / 1000).toFixed(2)} s; transfer only ${transfer[s.key].at(-1)!.toFixed(1)} MB/s), ${logins[s.key].at(-1)!.toFixed(1)} logins/s`);
      }
      if (dc) {
        const l = await loginRound(dc.ports.pop3, fastUsers);
        fastLogins.push(l.logins / (l.ms / 1000));
      }
    }
    if (seenBytes.mw !== undefined && seenBytes.dovecot !== undefined) {
      notes.push(`RETR body bytes per round: Mailwarden ${seenBytes.mw.toLocaleString('en-US')}, Dovecot ${seenBytes.dovecot.toLocaleString('en-US')} (stored ${totalBytes.toLocaleString('en-US')}).`);
    }
    const results: BenchResult[] = [
      { bench: 'pop3', metric: `download 1,000 messages (10–100 KB), ${CLIENTS} concurrent clients, whole sessions (USER/PASS, LIST, RETR all, QUIT)`, unit: 'MB/s', better: 'higher', mw: mw ? summarise(mbps.mw) : undefined, dovecot: dc ? summarise(mbps.dovecot) : undefined },
      { bench: 'pop3', metric: `same, transfer only (from all ${CLIENTS} logged on to the last QUIT: LIST, RETR all, QUIT)`, unit: 'MB/s', better: 'higher', mw: mw ? summarise(transfer.mw) : undefined, dovecot: dc ? summarise(transfer.dovecot) : undefined },
      { bench: 'pop3', metric: `logons (connect, USER, PASS, QUIT), ${CLIENTS} concurrent clients`, unit: 'logins/s', better: 'higher', mw: mw ? summarise(logins.mw) : undefined, dovecot: dc ? summarise(logins.dovecot) : undefined, note: `Mailwarden: scrypt N=16384 r=8; Dovecot: ${dovecotScheme()}` },
    ];
    if (dc) results.push({ bench: 'pop3', metric: 'logons, Dovecot with SHA512-CRYPT passwords (reference: cheaper hash)', unit: 'logins/s', better: 'higher', dovecot: summarise(fastLogins) });
    return { name: 'pop3', results, skipped, notes };
  } finally {
    await mw?.stop();
    await dc?.stop();
    tmp.cleanup();
  }
}
