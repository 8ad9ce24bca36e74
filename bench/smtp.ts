/**
 * Issue 3: inbound delivery rate. 10,000 messages of 4–64 KB over 10 concurrent connections to
 * 100 local users (message i to user i mod 100, one recipient per transaction, no pipelining):
 * into Mailwarden's SMTP listener (stored in SQLite) vs Dovecot's LMTP (dovecot-lmtpd, into Maildir).
 * messages/s = messages accepted (250 after DATA) / wall time. The same raw-socket client speaks
 * EHLO or LHLO; everything else is byte-for-byte the same (bench/lib/inbound.ts).
 */
import { dataPayload, makeMessages } from './lib/messages.js';
import { alternatingRounds, CONNECTIONS, startInboundRig, user, USERS, type InboundRig, type InboundSide } from './lib/inbound.js';
import { delayResults, formatDelay, RoundDelays } from './lib/event-loop-delay.js';
import { runs, summarise, type BenchOutcome } from './lib/stats.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const MESSAGES = Number(process.env.BENCH_SMTP_MESSAGES ?? 10_000);

export async function benchSmtp(): Promise<BenchOutcome> {
  const notes: string[] = [];
  const msgs = makeMessages(MESSAGES, 4 * 1024, 64 * 1024, 11, 'smtp', (i) => user(i % USERS));
  const payloads = msgs.map(dataPayload);
  notes.push(`${MESSAGES.toLocaleString('en-US')} messages, ${(msgs.reduce((s, m) => s + m.length, 0) / 1e6).toFixed(0)} MB per round, ${CONNECTIONS} connections, ${USERS} users; mailboxes keep what earlier rounds delivered.`);

  let rig: InboundRig | null = null;
  try {
    rig = await startInboundRig('mw-bench-smtp-');
    const { mw, dc } = rig;
    const sides: Array<InboundSide<'mw' | 'dovecot'>> = [{ key: 'mw', port: mw.port('smtp')!, lmtp: false }];
    if (dc) sides.push({ key: 'dovecot', port: dc.ports.lmtp, lmtp: true });
    const n = runs(3);
    const delays = new RoundDelays(mw.eventLoopDelay);
    let rates: Record<'mw' | 'dovecot', number[]>;
    try {
      rates = await alternatingRounds('smtp', sides, payloads, n, async (s, load) => {
        const { result, delay } = await delays.round(s.key === 'mw', load);
        return { result, note: delay ? formatDelay(delay) : undefined };
      });
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
      skipped: rig.skipped,
      notes,
      results: [
        { bench: 'smtp', metric: `deliver ${MESSAGES.toLocaleString('en-US')} messages (4–64 KB), ${CONNECTIONS} connections, ${USERS} users — Mailwarden SMTP vs Dovecot LMTP`, unit: 'messages/s', better: 'higher', mw: summarise(rates.mw), dovecot: dc ? summarise(rates.dovecot) : undefined },
        ...delayResults('smtp', 'the deliveries', delays.server, delays.idle),
      ],
    };
  } finally {
    await rig?.stop();
  }
}
