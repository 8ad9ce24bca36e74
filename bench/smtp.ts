/**
 * Issue 3: inbound delivery rate. 10,000 messages of 4–64 KB over 10 concurrent connections to
 * 100 local users (message i to user i mod 100, one recipient per transaction, no pipelining):
 * into Mailwarden's SMTP listener (stored in SQLite) vs Dovecot's LMTP (dovecot-lmtpd, into Maildir).
 * messages/s = messages accepted (250 after DATA) / wall time. The same raw-socket client speaks
 * EHLO or LHLO; everything else is byte-for-byte the same.
 * The Mailwarden side runs only when startServer has an `smtp` listener.
 */
import { SmtpClient } from './lib/raw.js';
import { dataPayload, makeMessages } from './lib/messages.js';
import { dovecotMissing, startDovecot, type Dovecot } from './lib/dovecot.js';
import { createUsers, mwTempDir, openSeedStore, putBenchSettings, startMailwarden, type MailwardenProcess } from './lib/mailwarden.js';
import { delayResults, formatDelay, RoundDelays } from './lib/event-loop-delay.js';
import { log, nowMs, runs, summarise, type BenchOutcome } from './lib/stats.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const MESSAGES = Number(process.env.BENCH_SMTP_MESSAGES ?? 10_000);
const CONNECTIONS = 10;
export const USERS = 100;
const PASSWORD = 'bench-pw';
export const user = (i: number) => `rcpt${i}@bench.test`;

/** One pass of `payloads` over CONNECTIONS connections (message i to user i mod USERS). */
export async function round(port: number, lmtp: boolean, payloads: Buffer[]): Promise<{ ms: number; sent: number }> {
  const t0 = nowMs();
  let next = 0;
  let sent = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const c = await SmtpClient.connect(port, lmtp);
      for (let i = next++; i < payloads.length; i = next++) {
        await c.send('sender@remote.test', user(i % USERS), payloads[i]);
        sent++;
      }
      await c.quit();
    }),
  );
  return { ms: nowMs() - t0, sent };
}

export async function benchSmtp(): Promise<BenchOutcome> {
  const skipped: string[] = [];
  const notes: string[] = [];
  const users = Array.from({ length: USERS }, (_, i) => user(i));
  const msgs = makeMessages(MESSAGES, 4 * 1024, 64 * 1024, 11, 'smtp', (i) => user(i % USERS));
  const payloads = msgs.map(dataPayload);
  notes.push(`${MESSAGES.toLocaleString('en-US')} messages, ${(msgs.reduce((s, m) => s + m.length, 0) / 1e6).toFixed(0)} MB per round, ${CONNECTIONS} connections, ${USERS} users; mailboxes keep what earlier rounds delivered.`);

  let mw: MailwardenProcess | null = null;
  let dc: Dovecot | null = null;
  const tmp = mwTempDir('mw-bench-smtp-');
  try {
    const probeDir = mwTempDir('mw-bench-probe-');
    let hasSmtp = false;
    try {
      const probe = await startMailwarden(probeDir.dataDir);
      hasSmtp = probe.port('smtp') !== undefined;
      await probe.stop();
    } finally {
      probeDir.cleanup();
    }
    if (!hasSmtp) skipped.push('Mailwarden: startServer has no `smtp` listener yet (src/protocols/smtp/server.ts not wired into serve); Mailwarden side not measured');
    else {
      log('smtp: creating 100 Mailwarden users …');
      const store = await openSeedStore(tmp.dataDir);
      await putBenchSettings(store);
      await createUsers(store, users, PASSWORD);
      await store.close();
      mw = await startMailwarden(tmp.dataDir);
    }
    const missing = dovecotMissing();
    if (missing) skipped.push(`Dovecot: ${missing}`);
    else dc = await startDovecot({ users: users.map((name) => ({ name, password: PASSWORD })) });

    const sides: Array<{ key: 'mw' | 'dovecot'; port: number; lmtp: boolean }> = [];
    if (mw) sides.push({ key: 'mw', port: mw.port('smtp')!, lmtp: false });
    if (dc) sides.push({ key: 'dovecot', port: dc.ports.lmtp, lmtp: true });
    const rates: Record<string, number[]> = { mw: [], dovecot: [] };
    // warm-up: 200 messages each (creates the Maildirs / warms the caches)
    for (const s of sides) await round(s.port, s.lmtp, payloads.slice(0, 200));
    const n = runs(3);
    const delays = new RoundDelays(mw?.eventLoopDelay);
    try {
      for (let r = 0; r < n; r++) {
        for (const s of sides) {
          const { result: x, delay } = await delays.round(s.key === 'mw', () => round(s.port, s.lmtp, payloads));
          rates[s.key].push(x.sent / (x.ms / 1000));
          log(`smtp ${s.key} round ${r + 1}/${n}: ${rates[s.key].at(-1)!.toFixed(0)} messages/s (${(x.ms / 1000).toFixed(1)} s)${delay ? `; ${formatDelay(delay)}` : ''}`);
        }
      }
    } finally {
      delays.stop();
    }
    if (dc) {
      const dir = join(dc.maildir(user(0)), 'new');
      const count = readdirSync(dir).length;
      notes.push(`Dovecot check: ${user(0)} has ${count} files in new/ (expected ${(MESSAGES / USERS) * n + 200 / USERS}).`);
    }
    return {
      name: 'smtp',
      skipped,
      notes,
      results: [
        { bench: 'smtp', metric: `deliver ${MESSAGES.toLocaleString('en-US')} messages (4–64 KB), ${CONNECTIONS} connections, ${USERS} users — Mailwarden SMTP vs Dovecot LMTP`, unit: 'messages/s', better: 'higher', mw: mw ? summarise(rates.mw) : undefined, dovecot: dc ? summarise(rates.dovecot) : undefined },
        ...delayResults('smtp', 'the deliveries', delays.server, delays.idle),
      ],
    };
  } finally {
    await mw?.stop();
    await dc?.stop();
    tmp.cleanup();
  }
}
