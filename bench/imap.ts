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
import { createInterface } from 'node:readline';
import { randomBytes, scryptSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createUsers, mwTempDir, openFileLimit, openSeedStore, putBenchSettings, spawnNode, startMailwarden, type MailwardenProcess } from './lib/mailwarden.js';
import { buildBigFolder, benchFlags } from './store.js';
import { delayResults, formatDelay, RoundDelays } from './lib/event-loop-delay.js';
import { formatThreadCpu, readThreadCpu, threadCpuSince } from './lib/thread-cpu.js';
import { LOADGEN_NICE, lowerLoadGenerator, nicedLabel } from './lib/loadgen-priority.js';
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
/** Many IDLE connections (0 = skip): held by a child process, spread over IDLE_USERS users. */
const IDLE_MANY = Number(process.env.BENCH_IMAP_IDLE_MANY ?? 10_000);
const IDLE_USERS = 100;
const IDLE_ROUNDS = Number(process.env.BENCH_IMAP_IDLE_ROUNDS ?? 5);
const NOFILE = 65_535;


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

/**
 * PSS of the server's processes per idle, logged-in, SELECTed connection: the slope of a
 * least-squares line through readings at 0, IDLE, 2×IDLE and 3×IDLE open connections, each after
 * `settle` (Mailwarden: a full garbage collection of its main and store threads, twice, a second
 * apart, so that a heap shrinking after the load before does not count against the connections:
 * one difference of two readings read negative with the store thread). Both servers get one
 * uncounted open-and-close of IDLE connections first (what a first connection allocates once).
 */
async function idleMemory(port: number, users: string[], memory: () => { pssKiB: number; rssKiB: number }, settle: () => Promise<void>): Promise<{ perConnKiB: number; totalMiB: number; baseMiB: number }> {
  const open = async (conns: ImapClient[], n: number) => {
    for (let i = 0; i < n; i += 4) {
      conns.push(...(await Promise.all(users.slice(0, Math.min(4, n - i)).map(async (_, k) => {
        const c = await ImapClient.connect(port);
        await c.login(users[(i + k) % users.length], PASSWORD);
        await c.cmd('SELECT INBOX');
        return c;
      }))));
    }
  };
  const closeAll = (conns: ImapClient[]) => Promise.all(conns.map((c) => c.logout().catch(() => c.conn.close())));
  const reading = async () => {
    await sleep(500);
    await settle();
    await sleep(1000);
    await settle();
    return memory().pssKiB;
  };
  const warm: ImapClient[] = [];
  try {
    await open(warm, IDLE);
  } finally {
    await closeAll(warm);
  }
  const conns: ImapClient[] = [];
  const points: Array<[number, number]> = [];
  try {
    for (let step = 0; step <= 3; step++) {
      if (step > 0) await open(conns, IDLE);
      points.push([conns.length, await reading()]);
    }
  } finally {
    await closeAll(conns);
  }
  const mx = points.reduce((s, p) => s + p[0], 0) / points.length;
  const my = points.reduce((s, p) => s + p[1], 0) / points.length;
  const slope = points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0) / points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  return { perConnKiB: slope, totalMiB: points[points.length - 1]![1] / 1024, baseMiB: points[0]![1] / 1024 };
}

/**
 * IDLE_MANY authenticated connections (IDLE_USERS users, INBOX selected, in IDLE) against a
 * Mailwarden started with RLIMIT_NOFILE raised; reports the server's memory and how long one
 * new message (SMTP, one transaction to every user) takes to reach every IDLE connection.
 * Logons are not what is measured here: the users get a cheap scrypt hash (N=16) written
 * straight into the store, so that 10,000 logons take seconds instead of ~5 minutes.
 */
async function idleMany(): Promise<{ results: BenchResult[]; notes: string[] }> {
  const notes: string[] = [];
  const tmp = mwTempDir('mw-bench-idle-');
  let mw: MailwardenProcess | null = null;
  try {
    const users = Array.from({ length: IDLE_USERS }, (_, i) => `idle${i}@bench.test`);
    const store = await openSeedStore(tmp.dataDir);
    await putBenchSettings(store);
    const put = (name: string, value: string) => store.putSetting({ scope: 'server', targetId: 0, name, value });
    await put('ImapSettings.MaxConnections', '25000');
    await put('ImapSettings.MaxConnectionFromSingleIP', '25000');
    await put('ImapSettings.MaxConnectionsPerUser', '25000');
    await put('Maximum Allowed Sessions Per User', String(Math.max(10_000, IDLE_MANY)));
    await put('Maximum Allowed Service Sessions Per User', String(Math.max(10_000, IDLE_MANY)));
    await put('ThrottlingPolicy.IMAPMaxConcurrency', '0');
    await put('SmtpSettings.MaxRecipients', String(Math.max(200, IDLE_USERS)));
    const created = await createUsers(store, users, PASSWORD);
    for (const u of created) await store.deliver([u.id], makeMessage(`idle-seed-${u.id}`, 2048, prng(u.id)));
    const file = store.file;
    await store.close();
    const db = new Database(file);
    try {
      const upd = db.prepare('UPDATE users SET password_hash = ? WHERE id = ?');
      for (const u of created) {
        const salt = randomBytes(16);
        const key = scryptSync(PASSWORD, salt, 32, { N: 16, r: 1, p: 1 });
        upd.run(['scrypt', 16, 1, 1, salt.toString('base64'), key.toString('base64')].join('$'), u.id);
      }
    } finally {
      db.close();
    }
    mw = await startMailwarden(tmp.dataDir, { nofile: NOFILE });
    const limit = openFileLimit(mw.pid);
    notes.push(`IDLE test: server RLIMIT_NOFILE ${limit} (spawned through sh -c 'ulimit -n ${NOFILE}; exec node …'); client connections held by a separate child process with the same limit.`);
    if (limit !== null && limit < IDLE_MANY + 100) notes.push(`IDLE test: the file limit ${limit} is below ${IDLE_MANY} connections; refusals are expected.`);
    await sleep(500);
    const before = mw.memory();
    const script = fileURLToPath(new URL('./lib/idle-clients.js', import.meta.url));
    const cfg = { imapPort: mw.port('imap')!, smtpPort: mw.port('smtp')!, users, password: PASSWORD, connections: IDLE_MANY, concurrency: 100 };
    const child = spawnNode(script, [JSON.stringify(cfg)], ['pipe', 'pipe', 'inherit'], NOFILE);
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const nextMsg = async (): Promise<Record<string, any>> => {
      const r = await lines.next();
      if (r.done) throw new Error('idle client process ended early');
      const m = JSON.parse(r.value) as Record<string, any>;
      if (m.error) throw new Error(`idle clients: ${m.error}`);
      return m;
    };
    try {
      log(`imap idle: opening ${IDLE_MANY.toLocaleString('en-US')} IDLE connections over ${IDLE_USERS} users …`);
      const ready = (await nextMsg()).ready as { connections: number; ms: number };
      notes.push(`IDLE test: ${ready.connections.toLocaleString('en-US')} connections logged on, SELECTed and in IDLE in ${(ready.ms / 1000).toFixed(1)} s (cheap hashes; 100 at a time).`);
      await sleep(2000);
      const after = mw.memory();
      const rounds: Array<{ acceptedMs: number; firstMs: number; medianMs: number; allMs: number; clients: number }> = [];
      for (let r = 0; r < IDLE_ROUNDS; r++) {
        child.stdin!.write('go\n');
        const round = (await nextMsg()).round as (typeof rounds)[number];
        rounds.push(round);
        log(`imap idle round ${r + 1}/${IDLE_ROUNDS}: 250 after ${round.acceptedMs.toFixed(0)} ms; all ${round.clients} IDLE clients had the EXISTS after ${round.allMs.toFixed(0)} ms (median ${round.medianMs.toFixed(0)} ms)`);
        await sleep(500);
      }
      const rssMiB = after.rssKiB / 1024;
      log(`imap idle: server RSS ${(before.rssKiB / 1024).toFixed(0)} MiB before, ${rssMiB.toFixed(0)} MiB with ${ready.connections} IDLE connections`);
      notes.push(`IDLE test: server RSS ${(before.rssKiB / 1024).toFixed(1)} MiB before, ${rssMiB.toFixed(1)} MiB with ${ready.connections.toLocaleString('en-US')} IDLE connections (PSS ${(after.pssKiB / 1024).toFixed(1)} MiB); latency measured by the client process from the end of DATA to the last EXISTS (client-side processing of ${ready.connections.toLocaleString('en-US')} sockets included).`);
      return {
        notes,
        results: [
          { bench: 'imap', metric: `server RSS with ${IDLE_MANY.toLocaleString('en-US')} IDLE connections (${IDLE_USERS} users, INBOX selected; one run)`, unit: 'MiB', better: 'lower', mw: summarise([rssMiB]), target: '< 500 MB' },
          { bench: 'imap', metric: `new message (SMTP, one transaction to all ${IDLE_USERS} users) until every one of the ${IDLE_MANY.toLocaleString('en-US')} IDLE connections has its EXISTS`, unit: 'ms', better: 'lower', mw: summarise(rounds.map((x) => x.allMs)), target: '< 1 s' },
          { bench: 'imap', metric: 'same, until the SMTP 250 (delivery committed)', unit: 'ms', better: 'lower', mw: summarise(rounds.map((x) => x.acceptedMs)) },
        ],
      };
    } finally {
      child.stdin!.write('stop\n');
      await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
    }
  } finally {
    await mw?.stop();
    tmp.cleanup();
  }
}

export async function benchImap(): Promise<BenchOutcome> {
  if (process.env.BENCH_IMAP_IDLE_ONLY) {
    // quick check of the many-IDLE part alone (published numbers come from the whole benchmark)
    const many = await idleMany();
    return { name: 'imap', results: many.results, skipped: [], notes: many.notes };
  }
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

    // BENCH_LOADGEN_NICE: both servers are spawned; from here on the clients run below them
    const niced = lowerLoadGenerator();
    if (niced) {
      const msg = `load generator niced: this benchmark process (every thread, its clients included) at nice ${niced.loadgenNice}, both servers (Mailwarden's child, Dovecot's master and its per-login processes) and the idle probe at nice ${niced.serverNice}; a second figure beside the equal-priority run, not written into RESULTS.md`;
      log(`imap: ${msg}`);
      notes.push(msg.charAt(0).toUpperCase() + msg.slice(1) + '.');
    }

    const sides: Array<{ key: 'mw' | 'dovecot'; port: number; memory: () => { pssKiB: number; rssKiB: number }; settle: () => Promise<void> }> = [];
    if (mw) sides.push({ key: 'mw', port: mw.port('imap')!, memory: () => mw!.memory(), settle: () => mw!.collectGarbage() });
    if (dc) sides.push({ key: 'dovecot', port: dc.ports.imap, memory: () => dc!.memory(), settle: async () => undefined });

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
    const delays = new RoundDelays(mw?.eventLoopDelay);
    // the big SELECT's own window: its one client sees its own turns, every other client would wait for them
    const bigDelays = new RoundDelays(mw?.eventLoopDelay);
    try {
      for (let r = 0; r < n; r++) {
        for (const s of sides) {
          // the server's CPU by thread over the mixed round: the store thread is the busiest after main
          const threads0 = s.key === 'mw' && mw ? readThreadCpu(mw.pid) : null;
          const { result: m, delay } = await delays.round(s.key === 'mw', () => mixedRound(s.port, users, appendMsg));
          const threads = threads0 && mw ? threadCpuSince(threads0, readThreadCpu(mw.pid)) : null;
          cmdRates[s.key].push(m.commands / (m.ms / 1000));
          const { result: b } = await bigDelays.round(s.key === 'mw', () => bigMailbox(s.port, 'list@bench.test'));
          bigMs[s.key].push(b.ms);
          log(`imap ${s.key} round ${r + 1}/${n}: ${cmdRates[s.key].at(-1)!.toFixed(0)} commands/s${delay ? ` (${formatDelay(delay)})` : ''}; big SELECT+FETCH ${b.ms.toFixed(0)} ms${threads ? `; server threads over the mixed round: ${formatThreadCpu(threads)}` : ''}`);
        }
      }
    } finally {
      delays.stop();
      bigDelays.stop();
    }
    if (IDLE > 0) {
      for (const s of sides) {
        idle[s.key] = await idleMemory(s.port, users, s.memory, s.settle);
        log(`imap ${s.key} idle: ${idle[s.key].perConnKiB.toFixed(0)} KiB per connection (total ${idle[s.key].totalMiB.toFixed(1)} MiB)`);
      }
    }
    const one = (v: number | undefined): Summary | undefined => (v === undefined ? undefined : summarise([v]));
    const results: BenchResult[] = [
      { bench: 'imap', metric: `mixed load, ${CLIENTS} clients × ${SESSIONS} sessions × ${COMMANDS_PER_SESSION} commands${nicedLabel()}`, unit: 'commands/s', better: 'higher', mw: mw ? summarise(cmdRates.mw) : undefined, dovecot: dc ? summarise(cmdRates.dovecot) : undefined, note: `logons: Mailwarden scrypt, Dovecot ${dovecotScheme()}` },
      ...delayResults('imap', `the mixed load${nicedLabel()}`, delays.server, delays.idle),
      { bench: 'imap', metric: `SELECT + UID FETCH 1:* (FLAGS), ${BIG.toLocaleString('en-US')} messages (warm)${nicedLabel()}`, unit: 'ms', better: 'lower', mw: mw ? summarise(bigMs.mw) : undefined, dovecot: dc ? summarise(bigMs.dovecot) : undefined },
      ...delayResults('imap', `SELECT + UID FETCH 1:* (FLAGS) of ${BIG.toLocaleString('en-US')} messages${nicedLabel()}`, bigDelays.server, bigDelays.idle),
    ];
    if (IDLE > 0) {
      results.push({ bench: 'imap', metric: `memory per idle logged-in connection (slope of PSS over 0–${3 * IDLE} connections, one run; Mailwarden after full GCs)`, unit: 'KiB', better: 'lower', mw: one(idle.mw?.perConnKiB), dovecot: one(idle.dovecot?.perConnKiB) });
      for (const [k, v] of Object.entries(idle)) notes.push(`${k === 'mw' ? 'Mailwarden' : 'Dovecot'} memory (PSS, all processes): ${v.baseMiB.toFixed(1)} MiB before, ${v.totalMiB.toFixed(1)} MiB with ${3 * IDLE} idle connections.`);
    }
    await mw?.stop();
    mw = null;
    await dc?.stop();
    dc = null;
    // the many-IDLE part spawns its own server, which would inherit the lowered priority
    if (hasImap && IDLE_MANY > 0 && LOADGEN_NICE) skipped.push('many IDLE connections: not run with BENCH_LOADGEN_NICE (its server would start niced as well)');
    else if (hasImap && IDLE_MANY > 0) {
      const many = await idleMany();
      results.push(...many.results);
      notes.push(...many.notes);
    }
    return { name: 'imap', results, skipped, notes };
  } finally {
    await mw?.stop();
    await dc?.stop();
    tmp.cleanup();
  }
}
