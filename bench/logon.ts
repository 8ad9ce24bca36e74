/**
 * Issue 12, item 3: logon-heavy loads over TLS with and without the credential cache, against
 * Dovecot with {SHA512-CRYPT} passwords (its default config: no auth cache), in one run.
 *  (a) IMAP over TLS (imaps): 50 clients, one user each (20 messages of 4–32 KB), each repeating
 *      sessions of LOGIN, LIST "" "*", STATUS INBOX (MESSAGES UNSEEN), SELECT INBOX,
 *      FETCH 1:5 (FLAGS BODY.PEEK[HEADER]), STORE 1:3 +FLAGS (\Flagged), APPEND 10 KB,
 *      STORE 21 +FLAGS (\Deleted), EXPUNGE, LOGOUT (10 commands; the mailbox stays at 20); commands/s;
 *  (b) POP3 over TLS (pop3s): 20 clients, one user each (50 messages of 10–100 KB): USER/PASS, STAT,
 *      UIDL, RETR all 50, QUIT; MB/s of RETR bodies over the whole sessions;
 *  (c) logons over TLS, 20 concurrent clients × LOGINS each: IMAP (connect, LOGIN, LOGOUT), POP3
 *      (connect, USER, PASS, QUIT), SMTP AUTH (connect to submissions, EHLO, AUTH PLAIN, QUIT;
 *      Dovecot's submission service, relaying to a stub SMTP listener in this process).
 * Mailwarden runs once; `Credential Cache TTL Seconds` is switched between 0 (off, "before") and
 * 900 (on, "after") through the store, as an administrator would, between rounds. One uncounted
 * warm-up round per side, then the three sides alternate round by round.
 */
import net from 'node:net';
import { join } from 'node:path';
import { ImapClient, Pop3Client, SmtpClient } from './lib/raw.js';
import { makeMessage, makeMessages, prng } from './lib/messages.js';
import { dovecotMissing, startDovecot, writeMaildir, type Dovecot } from './lib/dovecot.js';
import { createUsers, mwTempDir, openSeedStore, putBenchSettings, startMailwarden, type MailwardenProcess } from './lib/mailwarden.js';
import { log, nowMs, runs, sleep, summarise, type BenchOutcome, type BenchResult } from './lib/stats.js';
import { CREDENTIAL_CACHE_TTL } from '../src/access/credentials.js';
import type { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

const IMAP_CLIENTS = 50;
const IMAP_PER_USER = 20;
const IMAP_SESSIONS = Number(process.env.BENCH_LOGON_SESSIONS ?? 4);
const IMAP_COMMANDS_PER_SESSION = 10;
const POP_CLIENTS = 20;
const POP_PER_USER = 50;
const LOGIN_CLIENTS = 20;
const LOGINS = Number(process.env.BENCH_LOGON_LOGINS ?? 10);
const PASSWORD = 'bench-pw';
const DOVECOT_SCHEME = 'SHA512-CRYPT';
const imapUser = (i: number) => `limap${i}@bench.test`;
const popUser = (i: number) => `lpop${i}@bench.test`;
/**
 * Each client connects from its own loopback address, as clients on a network do: the brute-force
 * guard counts password checks in flight per address, so 50 clients on one address would be refused.
 */
const clientAddress = (i: number) => `127.0.1.${i + 1}`;

interface Ports { imaps: number; pop3s: number; submissions: number }

async function imapRound(ports: Ports, users: string[], appendMsg: Buffer): Promise<number> {
  const t0 = nowMs();
  await Promise.all(
    users.map(async (u, i) => {
      for (let s = 0; s < IMAP_SESSIONS; s++) {
        const c = await ImapClient.connect(ports.imaps, true, clientAddress(i));
        await c.login(u, PASSWORD);
        await c.cmd('LIST "" "*"');
        await c.cmd('STATUS INBOX (MESSAGES UNSEEN)');
        await c.cmd('SELECT INBOX');
        await c.cmd('FETCH 1:5 (FLAGS BODY.PEEK[HEADER])');
        await c.cmd('STORE 1:3 +FLAGS (\\Flagged)');
        await c.cmd('APPEND INBOX (\\Seen)', appendMsg);
        await c.cmd(`STORE ${IMAP_PER_USER + 1} +FLAGS (\\Deleted)`);
        await c.cmd('EXPUNGE');
        await c.logout();
      }
    }),
  );
  return (users.length * IMAP_SESSIONS * IMAP_COMMANDS_PER_SESSION) / ((nowMs() - t0) / 1000);
}

async function popRound(ports: Ports, users: string[]): Promise<{ mbps: number; bytes: number }> {
  const t0 = nowMs();
  const per = await Promise.all(
    users.map(async (u, i) => {
      const c = await Pop3Client.connect(ports.pop3s, true, clientAddress(i));
      await c.login(u, PASSWORD);
      const stat = await c.cmd('STAT');
      const n = Number(stat.split(' ')[1]);
      await c.cmd('UIDL');
      while ((await c.conn.line()) !== '.');
      let bytes = 0;
      for (let i = 1; i <= n; i++) bytes += await c.retr(i);
      await c.quit();
      return bytes;
    }),
  );
  const bytes = per.reduce((s, b) => s + b, 0);
  return { mbps: bytes / 1e6 / ((nowMs() - t0) / 1000), bytes };
}

type LoginKind = 'imap' | 'pop3' | 'smtp';

async function loginOnce(kind: LoginKind, ports: Ports, u: string, from: string): Promise<void> {
  if (kind === 'imap') {
    const c = await ImapClient.connect(ports.imaps, true, from);
    await c.login(u, PASSWORD);
    await c.logout();
  } else if (kind === 'pop3') {
    const c = await Pop3Client.connect(ports.pop3s, true, from);
    await c.login(u, PASSWORD);
    await c.quit();
  } else {
    const c = await SmtpClient.connect(ports.submissions, false, 'client.bench.test', true, from);
    await c.cmd(`AUTH PLAIN ${Buffer.from(`\0${u}\0${PASSWORD}`).toString('base64')}`, 235);
    await c.quit();
  }
}

async function loginRound(kind: LoginKind, ports: Ports, users: string[]): Promise<number> {
  const t0 = nowMs();
  await Promise.all(users.map(async (u, k) => {
    for (let i = 0; i < LOGINS; i++) await loginOnce(kind, ports, u, clientAddress(k));
  }));
  return (users.length * LOGINS) / ((nowMs() - t0) / 1000);
}

/** Dovecot's submission service relays to this: greets, says 250 to everything, 221 to QUIT. */
function stubRelay(): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((sock) => {
    sock.on('error', () => undefined);
    sock.write('220 relay.bench.test ESMTP\r\n');
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const verb = buf.slice(0, i).split(' ')[0].toUpperCase();
        buf = buf.slice(i + 2);
        if (verb === 'QUIT') sock.end('221 bye\r\n');
        else if (verb === 'EHLO') sock.write('250-relay.bench.test\r\n250 8BITMIME\r\n');
        else sock.write('250 ok\r\n');
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address() as net.AddressInfo;
    resolve({ port: a.port, close: () => server.close() });
  }));
}

type SideKey = 'off' | 'on' | 'dovecot';
const METRICS = ['imap', 'pop3', 'imapLogins', 'pop3Logins', 'smtpLogins'] as const;
type Metric = (typeof METRICS)[number];

export async function benchLogon(): Promise<BenchOutcome> {
  const skipped: string[] = [];
  const notes: string[] = [];
  const imapUsers = Array.from({ length: IMAP_CLIENTS }, (_, i) => imapUser(i));
  const popUsers = Array.from({ length: POP_CLIENTS }, (_, i) => popUser(i));
  const imapMsgs = makeMessages(IMAP_CLIENTS * IMAP_PER_USER, 4 * 1024, 32 * 1024, 12, 'logon-imap', (i) => imapUser(i % IMAP_CLIENTS));
  const popMsgs = makeMessages(POP_CLIENTS * POP_PER_USER, 10 * 1024, 100 * 1024, 13, 'logon-pop', (i) => popUser(i % POP_CLIENTS));
  const appendMsg = makeMessage('logon-append', 10 * 1024, prng(12_001));
  const tmp = mwTempDir('mw-bench-logon-');
  let mw: MailwardenProcess | null = null;
  let dc: Dovecot | null = null;
  let control: SqliteStore | null = null;
  let relay: { port: number; close: () => void } | null = null;
  try {
    log('logon: seeding Mailwarden …');
    const store = await openSeedStore(tmp.dataDir);
    await putBenchSettings(store);
    const created = await createUsers(store, [...imapUsers, ...popUsers], PASSWORD);
    for (let i = 0; i < imapMsgs.length; i++) await store.deliver([created[i % IMAP_CLIENTS].id], imapMsgs[i]);
    for (let i = 0; i < popMsgs.length; i++) await store.deliver([created[IMAP_CLIENTS + (i % POP_CLIENTS)].id], popMsgs[i]);
    await store.close();
    mw = await startMailwarden(tmp.dataDir);
    const mwPorts: Ports = { imaps: mw.port('imaps')!, pop3s: mw.port('pop3s')!, submissions: mw.port('smtps')! };
    // the administrator's handle on the same store (as `mailwarden settings set` would be)
    control = await openSeedStore(tmp.dataDir);

    const missing = dovecotMissing();
    let dcPorts: Ports | null = null;
    if (missing) skipped.push(`Dovecot: ${missing}`);
    else {
      log('logon: seeding Dovecot …');
      relay = await stubRelay();
      dc = await startDovecot({
        users: [...imapUsers, ...popUsers].map((name) => ({ name, password: PASSWORD })),
        scheme: DOVECOT_SCHEME,
        tls: { certFile: join(tmp.dataDir, 'tls', 'cert.pem'), keyFile: join(tmp.dataDir, 'tls', 'key.pem'), submissionRelayPort: relay.port },
      });
      for (let u = 0; u < IMAP_CLIENTS; u++) writeMaildir(dc.maildir(imapUsers[u]), imapMsgs.filter((_, i) => i % IMAP_CLIENTS === u));
      for (let u = 0; u < POP_CLIENTS; u++) writeMaildir(dc.maildir(popUsers[u]), popMsgs.filter((_, i) => i % POP_CLIENTS === u));
      dc.fixOwnership();
      dcPorts = { imaps: dc.ports.imaps!, pop3s: dc.ports.pop3s!, submissions: dc.ports.submissions! };
    }

    const setTtl = async (seconds: number) => {
      await control!.putSetting({ scope: 'server', targetId: 0, name: CREDENTIAL_CACHE_TTL, value: String(seconds) });
      await sleep(1500); // the server re-reads settings every second (and before each IMAP logon)
    };
    const sides: Array<{ key: SideKey; ports: Ports; before?: () => Promise<void> }> = [
      { key: 'off', ports: mwPorts, before: () => setTtl(0) },
      {
        key: 'on', ports: mwPorts,
        // the steady state of clients that log on again within the TTL: every identity once, uncounted
        before: async () => {
          await setTtl(900);
          await Promise.all(imapUsers.map((u, i) => loginOnce('imap', mwPorts, u, clientAddress(i))));
          await Promise.all(popUsers.map((u, i) => loginOnce('pop3', mwPorts, u, clientAddress(i))));
        },
      },
    ];
    if (dcPorts) sides.push({ key: 'dovecot', ports: dcPorts });

    const values: Record<SideKey, Record<Metric, number[]>> = {
      off: { imap: [], pop3: [], imapLogins: [], pop3Logins: [], smtpLogins: [] },
      on: { imap: [], pop3: [], imapLogins: [], pop3Logins: [], smtpLogins: [] },
      dovecot: { imap: [], pop3: [], imapLogins: [], pop3Logins: [], smtpLogins: [] },
    };
    const popBytes: Partial<Record<SideKey, number>> = {};
    const n = runs(3);
    for (let r = -1; r < n; r++) {
      for (const s of sides) {
        await s.before?.();
        const got: Record<Metric, number> = {
          imap: await imapRound(s.ports, imapUsers, appendMsg),
          pop3: 0, imapLogins: 0, pop3Logins: 0, smtpLogins: 0,
        };
        const p = await popRound(s.ports, popUsers);
        got.pop3 = p.mbps;
        popBytes[s.key] = p.bytes;
        got.imapLogins = await loginRound('imap', s.ports, popUsers);
        got.pop3Logins = await loginRound('pop3', s.ports, popUsers);
        got.smtpLogins = await loginRound('smtp', s.ports, popUsers);
        const label = r < 0 ? 'warm-up' : `round ${r + 1}/${n}`;
        log(`logon ${s.key} ${label}: IMAP ${got.imap.toFixed(0)} commands/s, POP3 ${got.pop3.toFixed(1)} MB/s, logins/s IMAP ${got.imapLogins.toFixed(1)} POP3 ${got.pop3Logins.toFixed(1)} SMTP ${got.smtpLogins.toFixed(1)}`);
        if (r >= 0) for (const m of METRICS) values[s.key][m].push(got[m]);
      }
    }
    if (popBytes.on !== undefined && popBytes.dovecot !== undefined && popBytes.on !== popBytes.dovecot) {
      notes.push(`POP3 RETR body bytes per round differ: Mailwarden ${popBytes.on}, Dovecot ${popBytes.dovecot}.`);
    }
    if (dc) {
      // the machine is shared: rounds next to each other see about the same load, so the ratio of
      // each round's pair is steadier than the ratio of the medians
      const paired = (side: 'off' | 'on', m: Metric) => values[side][m].map((v, i) => v / values.dovecot[m][i]);
      for (const m of METRICS) {
        const on = paired('on', m);
        notes.push(`${m}: per-round ratio cache on / Dovecot ${on.map((q) => q.toFixed(2)).join(', ')} (median ${summarise(on).median.toFixed(2)}); cache off / Dovecot median ${summarise(paired('off', m)).median.toFixed(2)}; on / off median ${summarise(values.on[m].map((v, i) => v / values.off[m][i])).median.toFixed(1)}×.`);
      }
    }
    const what: Record<Metric, { metric: string; unit: string }> = {
      imap: { metric: `(a) IMAP over TLS, ${IMAP_CLIENTS} clients × ${IMAP_SESSIONS} sessions of LOGIN, LIST, STATUS, SELECT, FETCH, STORE, APPEND, STORE, EXPUNGE, LOGOUT`, unit: 'commands/s' },
      pop3: { metric: `(b) POP3 over TLS download, ${POP_CLIENTS} clients: USER/PASS, STAT, UIDL, RETR ${POP_PER_USER} (10–100 KB), QUIT`, unit: 'MB/s' },
      imapLogins: { metric: `(c) IMAP logons over TLS (connect, LOGIN, LOGOUT), ${LOGIN_CLIENTS} clients × ${LOGINS}`, unit: 'logins/s' },
      pop3Logins: { metric: `(c) POP3 logons over TLS (connect, USER, PASS, QUIT), ${LOGIN_CLIENTS} clients × ${LOGINS}`, unit: 'logins/s' },
      smtpLogins: { metric: `(c) SMTP AUTH over TLS (connect to submissions, EHLO, AUTH PLAIN, QUIT), ${LOGIN_CLIENTS} clients × ${LOGINS}`, unit: 'logins/s' },
    };
    const results: BenchResult[] = [];
    for (const m of METRICS) {
      for (const side of ['off', 'on'] as const) {
        results.push({
          bench: 'logon', metric: `${what[m].metric} — credential cache ${side === 'off' ? 'off (TTL 0, before)' : 'on (TTL 900, after)'}`,
          unit: what[m].unit, better: 'higher', mw: summarise(values[side][m]), dovecot: dc ? summarise(values.dovecot[m]) : undefined,
          target: side === 'on' ? '≥ 1.0×' : undefined,
        });
      }
    }
    notes.push(
      `Mailwarden: scrypt N=16384 r=8 p=1 (unchanged); one server, the cache switched off (TTL 0) and on (TTL 900) through the store between rounds; the TTL 0 round empties the cache, so before each "on" round every identity logs on once, uncounted (IMAP users over IMAP, POP3 users over POP3; SMTP AUTH then hits what POP3 cached: one cache for every front end) — the steady state of clients that come back within the TTL.`,
      `Dovecot ${dc?.version ?? ''}: ${DOVECOT_SCHEME} (5,000 rounds) passwd-file, its default auth settings (no auth cache), ssl = yes with the same EC P-256 certificate as Mailwarden; submission relays to a stub SMTP listener in the benchmark process.`,
      'Each client connects from its own loopback address (127.0.1.N): the brute-force guard counts password checks in flight per address (more than 10 at once from one address are refused).',
      'TLS: each connection a full handshake (no session resumption) on both sides; the raw benchmark client (bench/lib/raw.ts) does not verify the self-signed certificate.',
    );
    return { name: 'logon', results, skipped, notes };
  } finally {
    await control?.close();
    await mw?.stop();
    await dc?.stop();
    relay?.close();
    tmp.cleanup();
  }
}
