/**
 * Issue 6: IMAP, Mailwarden vs Dovecot.
 *  - mixed load: 50 concurrent clients (one user each, 20 messages of 4–32 KB in the Inbox); each client
 *    runs SESSIONS sessions of: LOGIN, SELECT INBOX, then CYCLES × (FETCH 1:5 (FLAGS BODY.PEEK[HEADER]),
 *    FETCH 1:2 (BODY[]), STORE 1:3 +FLAGS (\Flagged), APPEND INBOX (\Seen) {10 KB}, STORE 21 +FLAGS (\Deleted),
 *    EXPUNGE), LOGOUT; commands/s over all clients (so the mailbox returns to 20 messages after each cycle);
 *  - big mailbox: SELECT INBOX + UID FETCH 1:* (FLAGS) on a 100,000-message Inbox (ms, login excluded);
 *    the first, cold run is reported apart (Dovecot builds its index then);
 *  - idle connections: memory (PSS summed over the server's processes) of N logged-in, SELECTed, idle
 *    connections, per connection.
 * The Mailwarden side runs only when startServer has an `imap` listener; otherwise it is skipped with a reason.
 */
import { ImapClient } from './lib/raw.js';
import { makeMessage, makeMessages, prng } from './lib/messages.js';
import { dovecotMissing, dovecotScheme, startDovecot, writeMaildir, type Dovecot } from './lib/dovecot.js';
import { createUsers, mwTempDir, openSeedStore, putBenchSettings, startMailwarden, type MailwardenProcess } from './lib/mailwarden.js';
import { buildBigFolder, benchFlags } from './store.js';
import { log, nowMs, runs, sleep, summarise, type BenchOutcome, type BenchResult, type Summary } from './lib/stats.js';

const CLIENTS = 50;
const PER_USER = 20;
const SESSIONS = Number(process.env.BENCH_IMAP_SESSIONS ?? 4);
const CYCLES = 3;
const BIG = Number(process.env.BENCH_IMAP_BIG ?? 100_000);
const IDLE = Number(process.env.BENCH_IMAP_IDLE ?? 100);
const PASSWORD = 'bench-pw';
const user = (i: number) => `imap${i}@bench.test`;
const COMMANDS_PER_SESSION = 3 + CYCLES * 6;

async function mixedRound(port: number, users: string[], appendMsg: Buffer): Promise<{ commands: number; ms: number }> {
  const t0 = nowMs();
  await Promise.all(
    users.map(async (u) => {
      for (let s = 0; s < SESSIONS; s++) {
        const c = await ImapClient.connect(port);
        await c.login(u, PASSWORD);
        await c.cmd('SELECT INBOX');
        for (let k = 0; k < CYCLES; k++) {
          await c.cmd('FETCH 1:5 (FLAGS BODY.PEEK[HEADER])');
          await c.cmd('FETCH 1:2 (BODY[])');
          await c.cmd('STORE 1:3 +FLAGS (\\Flagged)');
          await c.cmd('APPEND INBOX (\\Seen)', appendMsg);
          await c.cmd(`STORE ${PER_USER + 1} +FLAGS (\\Deleted)`);
          await c.cmd('EXPUNGE');
        }
        await c.logout();
      }
    }),
  );
  return { commands: users.length * SESSIONS * COMMANDS_PER_SESSION, ms: nowMs() - t0 };
}

async function bigMailbox(port: number, u: string): Promise<{ ms: number; fetched: number }> {
  const c = await ImapClient.connect(port);
  await c.login(u, PASSWORD);
  const t0 = nowMs();
  await c.cmd('SELECT INBOX');
  const r = await c.cmd('UID FETCH 1:* (FLAGS)');
  const ms = nowMs() - t0;
  await c.logout();
  return { ms, fetched: r.untagged };
}

async function idleMemory(port: number, users: string[], memory: () => { pssKiB: number; rssKiB: number }): Promise<{ perConnKiB: number; totalMiB: number; baseMiB: number }> {
  await sleep(500);
  const base = memory();
  const conns: ImapClient[] = [];
  try {
    for (let i = 0; i < IDLE; i += 4) {
      conns.push(...(await Promise.all(users.slice(0, Math.min(4, IDLE - i)).map(async (_, k) => {
        const c = await ImapClient.connect(port);
        await c.login(users[(i + k) % users.length], PASSWORD);
        await c.cmd('SELECT INBOX');
        return c;
      }))));
    }
    await sleep(1000);
    const after = memory();
    return { perConnKiB: (after.pssKiB - base.pssKiB) / IDLE, totalMiB: after.pssKiB / 1024, baseMiB: base.pssKiB / 1024 };
  } finally {
    await Promise.all(conns.map((c) => c.logout().catch(() => c.conn.close())));
  }
}

export async function benchImap(): Promise<BenchOutcome> {
  const skipped: string[] = [];
  const notes: string[] = [];
  const users = Array.from({ length: CLIENTS }, (_, i) => user(i));
  const msgs = makeMessages(CLIENTS * PER_USER, 4 * 1024, 32 * 1024, 9, 'imap', (i) => user(i % CLIENTS));
  const appendMsg = makeMessage('imap-append', 10 * 1024, prng(3));
  const bigMsgs = () => makeMessages(BIG, 1024, 1024, 42, 'big');

  let mw: MailwardenProcess | null = null;
  let dc: Dovecot | null = null;
  const tmp = mwTempDir('mw-bench-imap-');
  try {
    // --- is there a Mailwarden IMAP listener at all? (cheap probe on an empty data folder)
    const probeDir = mwTempDir('mw-bench-probe-');
    let hasImap = false;
    try {
      const probe = await startMailwarden(probeDir.dataDir);
      hasImap = probe.port('imap') !== undefined;
      await probe.stop();
    } finally {
      probeDir.cleanup();
    }
    if (!hasImap) skipped.push('Mailwarden: startServer has no `imap` listener yet (src/protocols/imap/server.ts not wired into serve); Mailwarden side not measured');
    else {
      log(`imap: seeding Mailwarden (${BIG.toLocaleString('en-US')}-message folder first) …`);
      const built = await buildBigFolder(tmp.dataDir, BIG, PASSWORD);
      notes.push(`Mailwarden ${BIG.toLocaleString('en-US')}-message folder built with Store.append in ${built.seconds.toFixed(0)} s.`);
      const store = await openSeedStore(tmp.dataDir);
      await putBenchSettings(store);
      const mwUsers = await createUsers(store, users, PASSWORD);
      for (let i = 0; i < msgs.length; i++) await store.deliver([mwUsers[i % CLIENTS].id], msgs[i]);
      await store.close();
      mw = await startMailwarden(tmp.dataDir);
    }

    const missing = dovecotMissing();
    if (missing) skipped.push(`Dovecot: ${missing}`);
    else {
      log('imap: seeding Dovecot …');
      dc = await startDovecot({ users: [...users, 'list@bench.test'].map((name) => ({ name, password: PASSWORD })) });
      for (let u = 0; u < CLIENTS; u++) writeMaildir(dc.maildir(users[u]), msgs.filter((_, i) => i % CLIENTS === u));
      const t0 = nowMs();
      writeMaildir(dc.maildir('list@bench.test'), bigMsgs(), (i) => {
        const f = benchFlags(i);
        return (f.includes('\\Flagged') ? 'F' : '') + (f.includes('\\Seen') ? 'S' : '');
      });
      dc.fixOwnership();
      notes.push(`Dovecot ${BIG.toLocaleString('en-US')}-message Maildir written as files in ${((nowMs() - t0) / 1000).toFixed(1)} s.`);
    }

    const sides: Array<{ key: 'mw' | 'dovecot'; port: number; memory: () => { pssKiB: number; rssKiB: number } }> = [];
    if (mw) sides.push({ key: 'mw', port: mw.port('imap')!, memory: () => mw!.memory() });
    if (dc) sides.push({ key: 'dovecot', port: dc.ports.imap, memory: () => dc!.memory() });

    const cmdRates: Record<string, number[]> = { mw: [], dovecot: [] };
    const bigMs: Record<string, number[]> = { mw: [], dovecot: [] };
    const idle: Record<string, { perConnKiB: number; totalMiB: number; baseMiB: number }> = {};
    for (const s of sides) {
      const b = await bigMailbox(s.port, 'list@bench.test');
      if (b.fetched < BIG) throw new Error(`${s.key}: UID FETCH returned ${b.fetched} lines, expected ${BIG}`);
      notes.push(`${s.key === 'mw' ? 'Mailwarden' : 'Dovecot'}: first (cold) SELECT + UID FETCH 1:* (FLAGS) of ${BIG.toLocaleString('en-US')} took ${b.ms.toFixed(0)} ms (not in the median).`);
      const w = await mixedRound(s.port, users, appendMsg); // warm-up
      log(`imap ${s.key} warm-up: ${(w.commands / (w.ms / 1000)).toFixed(0)} commands/s`);
    }
    const n = runs(5);
    for (let r = 0; r < n; r++) {
      for (const s of sides) {
        const m = await mixedRound(s.port, users, appendMsg);
        cmdRates[s.key].push(m.commands / (m.ms / 1000));
        const b = await bigMailbox(s.port, 'list@bench.test');
        bigMs[s.key].push(b.ms);
        log(`imap ${s.key} round ${r + 1}/${n}: ${cmdRates[s.key].at(-1)!.toFixed(0)} commands/s; big SELECT+FETCH ${b.ms.toFixed(0)} ms`);
      }
    }
    if (IDLE > 0) {
      for (const s of sides) {
        idle[s.key] = await idleMemory(s.port, users, s.memory);
        log(`imap ${s.key} idle: ${idle[s.key].perConnKiB.toFixed(0)} KiB per connection (total ${idle[s.key].totalMiB.toFixed(1)} MiB)`);
      }
    }
    const one = (v: number | undefined): Summary | undefined => (v === undefined ? undefined : summarise([v]));
    const results: BenchResult[] = [
      { bench: 'imap', metric: `mixed load, ${CLIENTS} clients × ${SESSIONS} sessions × ${COMMANDS_PER_SESSION} commands`, unit: 'commands/s', better: 'higher', mw: mw ? summarise(cmdRates.mw) : undefined, dovecot: dc ? summarise(cmdRates.dovecot) : undefined, note: `logons: Mailwarden scrypt, Dovecot ${dovecotScheme()}` },
      { bench: 'imap', metric: `SELECT + UID FETCH 1:* (FLAGS), ${BIG.toLocaleString('en-US')} messages (warm)`, unit: 'ms', better: 'lower', mw: mw ? summarise(bigMs.mw) : undefined, dovecot: dc ? summarise(bigMs.dovecot) : undefined },
    ];
    if (IDLE > 0) {
      results.push({ bench: 'imap', metric: `memory per idle logged-in connection (${IDLE} connections, PSS delta, one run)`, unit: 'KiB', better: 'lower', mw: one(idle.mw?.perConnKiB), dovecot: one(idle.dovecot?.perConnKiB) });
      for (const [k, v] of Object.entries(idle)) notes.push(`${k === 'mw' ? 'Mailwarden' : 'Dovecot'} memory (PSS, all processes): ${v.baseMiB.toFixed(1)} MiB before, ${v.totalMiB.toFixed(1)} MiB with ${IDLE} idle connections.`);
    }
    return { name: 'imap', results, skipped, notes };
  } finally {
    await mw?.stop();
    await dc?.stop();
    tmp.cleanup();
  }
}
