/**
 * The header fetch a desktop client makes to build its message list (Thunderbird, mutt's header
 * cache, Apple Mail): SELECT INBOX + UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE
 * BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)]) of a folder of SIZES messages (default
 * 10,000; BENCH_IMAP_HEADERS_SIZES="10000,100000" for more), Mailwarden vs Dovecot in the same
 * run, the servers alternating round by round after one uncounted warm-up each (Dovecot builds
 * its index there). Mailwarden's event-loop delay is measured during its rounds.
 */
import { ImapClient } from './lib/raw.js';
import { dovecotMissing, startDovecot, writeMaildir, type Dovecot } from './lib/dovecot.js';
import { makeMessages } from './lib/messages.js';
import { createUsers, mwTempDir, openSeedStore, putBenchSettings, startMailwarden, type MailwardenProcess } from './lib/mailwarden.js';
import { delayResults, formatDelay, RoundDelays } from './lib/event-loop-delay.js';
import { log, nowMs, runs, summarise, type BenchOutcome, type BenchResult } from './lib/stats.js';
import { loadavg } from 'node:os';

const SIZES = (process.env.BENCH_IMAP_HEADERS_SIZES ?? '10000').split(',').map(Number).filter((n) => n > 0);
const PASSWORD = 'bench-pw';
const FETCH = 'UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)])';

async function headerSync(port: number, user: string): Promise<{ ms: number; items: number }> {
  const c = await ImapClient.connect(port);
  await c.login(user, PASSWORD);
  const t0 = nowMs();
  await c.cmd('SELECT INBOX');
  const r = await c.cmd(FETCH);
  const ms = nowMs() - t0;
  await c.logout();
  return { ms, items: r.untagged };
}

export async function benchImapHeaders(): Promise<BenchOutcome> {
  const results: BenchResult[] = [];
  const notes: string[] = [];
  const skipped: string[] = [];
  const n = runs(5);
  const users = SIZES.map((size) => `headers${size}@bench.test`);
  const tmp = mwTempDir('mw-bench-imap-headers-');
  let mw: MailwardenProcess | null = null;
  let dc: Dovecot | null = null;
  try {
    const seed = await openSeedStore(tmp.dataDir);
    await putBenchSettings(seed);
    const created = await createUsers(seed, users, PASSWORD);
    const missing = dovecotMissing();
    if (missing) skipped.push(`Dovecot: ${missing}`);
    else dc = await startDovecot({ users: users.map((name) => ({ name, password: PASSWORD })) });
    for (let k = 0; k < SIZES.length; k++) {
      const size = SIZES[k]!;
      log(`imap-headers: seeding ${size.toLocaleString('en-US')} messages …`);
      const msgs = makeMessages(size, 2_000, 8_000, 17 + k, `hdr${k}`, () => users[k]!);
      const inbox = await seed.getFolder(created[k]!.id, 'INBOX');
      for (let i = 0; i < msgs.length; i += 1000) await seed.appendMany(created[k]!.id, inbox!.id, msgs.slice(i, i + 1000).map((raw) => ({ raw })));
      if (dc) writeMaildir(dc.maildir(users[k]!), msgs);
    }
    await seed.close();
    dc?.fixOwnership();
    mw = await startMailwarden(tmp.dataDir);
    const sides: Array<{ key: 'mw' | 'dovecot'; port: number }> = [{ key: 'mw', port: mw.port('imap')! }];
    if (dc) sides.push({ key: 'dovecot', port: dc.ports.imap });
    notes.push(`Messages of 2–8 KB (the generator's header: From, To, Subject, Message-ID, Date, MIME-Version, Content-Type), one user per folder size; IMAP over plain TCP (LOGIN); time from SELECT to the tagged OK of the FETCH.`);
    for (let k = 0; k < SIZES.length; k++) {
      const size = SIZES[k]!;
      for (const s of sides) {
        const w = await headerSync(s.port, users[k]!); // warm-up (Dovecot: index and cache built here)
        if (w.items < size) throw new Error(`${s.key}: ${w.items} FETCH lines, expected ${size}`);
      }
      const ms: Record<string, number[]> = { mw: [], dovecot: [] };
      const loads: number[] = [];
      const delays = new RoundDelays(mw.eventLoopDelay);
      try {
        for (let r = 0; r < n; r++) {
          loads.push(loadavg()[0]!);
          for (const s of sides) {
            const { result, delay } = await delays.round(s.key === 'mw', () => headerSync(s.port, users[k]!));
            ms[s.key]!.push(result.ms);
            log(`imap-headers ${size} ${s.key} round ${r + 1}/${n}: ${result.ms.toFixed(0)} ms${delay ? ` (${formatDelay(delay)})` : ''}`);
          }
        }
      } finally {
        delays.stop();
      }
      const metric = `SELECT + ${FETCH}, ${size.toLocaleString('en-US')} messages (warm)`;
      results.push({ bench: 'imap-headers', metric, unit: 'ms', better: 'lower', mw: summarise(ms.mw!), dovecot: dc ? summarise(ms.dovecot!) : undefined });
      results.push(...delayResults('imap-headers', `the header fetch of ${size.toLocaleString('en-US')} messages`, delays.server, delays.idle));
      notes.push(`${size.toLocaleString('en-US')} messages: 1-minute load average during the rounds ${loads.map((l) => l.toFixed(1)).join(', ')} (2 cores).`);
    }
  } finally {
    await mw?.stop();
    await dc?.stop();
    tmp.cleanup();
  }
  return { name: 'imap-headers', results, skipped, notes };
}
