/**
 * Issue 15: inbound delivery of a realistic mix. 3,000 messages of 4–90 KB (plain, HTML,
 * attachments, nested; bench/lib/mixed-messages.ts) over 10 connections to 100 users, into
 * Mailwarden's SMTP listener, Mailwarden's LMTP listener and Dovecot's LMTP, in one run, rounds
 * alternating. Same client, same bytes as bench/smtp.ts; only the messages differ — that
 * benchmark's are single-part plain text of 4–64 KB.
 */
import { dataPayload } from './lib/messages.js';
import { makeMixedMessages } from './lib/mixed-messages.js';
import { dovecotMissing, startDovecot, type Dovecot } from './lib/dovecot.js';
import { createUsers, mwTempDir, openSeedStore, putBenchSettings, startMailwarden, type MailwardenProcess } from './lib/mailwarden.js';
import { log, runs, summarise, type BenchOutcome } from './lib/stats.js';
import { round, user, USERS } from './smtp.js';

const MESSAGES = Number(process.env.BENCH_SMTP_MIX_MESSAGES ?? 3_000);
const PASSWORD = 'bench-pw';

export async function benchSmtpMix(): Promise<BenchOutcome> {
  const skipped: string[] = [];
  const notes: string[] = [];
  const users = Array.from({ length: USERS }, (_, i) => user(i));
  const msgs = makeMixedMessages(MESSAGES, 4 * 1024, 90 * 1024, 15, 'mix', (i) => user(i % USERS));
  const payloads = msgs.map(dataPayload);
  notes.push(`${MESSAGES.toLocaleString('en-US')} messages (plain, HTML, attachments, nested), ${(msgs.reduce((s, m) => s + m.length, 0) / 1e6).toFixed(0)} MB per round, 10 connections, ${USERS} users.`);

  let mw: MailwardenProcess | null = null;
  let dc: Dovecot | null = null;
  const tmp = mwTempDir('mw-bench-smtp-mix-');
  try {
    const store = await openSeedStore(tmp.dataDir);
    await putBenchSettings(store);
    await createUsers(store, users, PASSWORD);
    await store.close();
    mw = await startMailwarden(tmp.dataDir);
    const missing = dovecotMissing();
    if (missing) skipped.push(`Dovecot: ${missing}`);
    else dc = await startDovecot({ users: users.map((name) => ({ name, password: PASSWORD })) });

    const sides: Array<{ key: 'smtp' | 'lmtp' | 'dovecot'; port: number; lmtp: boolean }> = [
      { key: 'smtp', port: mw.port('smtp')!, lmtp: false },
      { key: 'lmtp', port: mw.port('lmtp')!, lmtp: true },
    ];
    if (dc) sides.push({ key: 'dovecot', port: dc.ports.lmtp, lmtp: true });
    const rates: Record<string, number[]> = { smtp: [], lmtp: [], dovecot: [] };
    for (const s of sides) await round(s.port, s.lmtp, payloads.slice(0, 200));
    const n = runs(3);
    for (let r = 0; r < n; r++) {
      for (const s of sides) {
        const x = await round(s.port, s.lmtp, payloads);
        rates[s.key].push(x.sent / (x.ms / 1000));
        log(`smtp-mix ${s.key} round ${r + 1}/${n}: ${rates[s.key].at(-1)!.toFixed(0)} messages/s (${(x.ms / 1000).toFixed(1)} s)`);
      }
    }
    const dovecot = dc ? summarise(rates.dovecot) : undefined;
    const metric = (via: string) => `deliver ${MESSAGES.toLocaleString('en-US')} mixed messages (4–90 KB), 10 connections, ${USERS} users — Mailwarden ${via} vs Dovecot LMTP`;
    return {
      name: 'smtp-mix',
      skipped,
      notes,
      results: [
        { bench: 'smtp-mix', metric: metric('SMTP'), unit: 'messages/s', better: 'higher', mw: summarise(rates.smtp), dovecot, target: '≥ 1.0×' },
        { bench: 'smtp-mix', metric: metric('LMTP'), unit: 'messages/s', better: 'higher', mw: summarise(rates.lmtp), dovecot, target: '≥ 1.0×' },
      ],
    };
  } finally {
    await mw?.stop();
    await dc?.stop();
    tmp.cleanup();
  }
}
