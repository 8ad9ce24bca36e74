/**
 * Issue 15: inbound delivery of a realistic mix. 3,000 messages of 4–90 KB (plain, HTML,
 * attachments, nested; bench/lib/mixed-messages.ts) over 10 connections to 100 users, into
 * Mailwarden's SMTP listener, Mailwarden's LMTP listener and Dovecot's LMTP, in one run, rounds
 * alternating. Same client, same rig as bench/smtp.ts (bench/lib/inbound.ts); only the messages
 * differ — that benchmark's are single-part plain text of 4–64 KB.
 */
import { dataPayload } from './lib/messages.js';
import { makeMixedMessages } from './lib/mixed-messages.js';
import { alternatingRounds, CONNECTIONS, startInboundRig, user, USERS, type InboundRig, type InboundSide } from './lib/inbound.js';
import { processTreeCpuMs } from './lib/proc.js';
import { formatThreadCpu, readThreadCpu, threadCpuSince } from './lib/thread-cpu.js';
import { runs, summarise, type BenchOutcome } from './lib/stats.js';

const MESSAGES = Number(process.env.BENCH_SMTP_MIX_MESSAGES ?? 3_000);

export async function benchSmtpMix(): Promise<BenchOutcome> {
  const notes: string[] = [];
  const msgs = makeMixedMessages(MESSAGES, 4 * 1024, 90 * 1024, 15, 'mix', (i) => user(i % USERS));
  const payloads = msgs.map(dataPayload);
  notes.push(`${MESSAGES.toLocaleString('en-US')} messages (plain, HTML, attachments, nested), ${(msgs.reduce((s, m) => s + m.length, 0) / 1e6).toFixed(0)} MB per round, ${CONNECTIONS} connections, ${USERS} users.`);

  let rig: InboundRig | null = null;
  try {
    rig = await startInboundRig('mw-bench-smtp-mix-');
    const { mw, dc } = rig;
    const sides: Array<InboundSide<'smtp' | 'lmtp' | 'dovecot'>> = [
      { key: 'smtp', port: mw.port('smtp')!, lmtp: false },
      { key: 'lmtp', port: mw.port('lmtp')!, lmtp: true },
    ];
    if (dc) sides.push({ key: 'dovecot', port: dc.ports.lmtp, lmtp: true });
    // the server's CPU time per message of each of its rounds: the cost of the hot path itself,
    // which a busy machine disturbs far less than the rate (that waits for a core)
    // (Dovecot's: its master and every service process, lmtp and auth included)
    const cpu: Record<string, number[]> = { smtp: [], lmtp: [], dovecot: [] };
    const cpuOf = (key: string) => (key === 'dovecot' ? (dc ? processTreeCpuMs(dc.pid) : null) : processTreeCpuMs(mw.pid));
    const rates = await alternatingRounds('smtp-mix', sides, payloads, runs(3), async (s, load) => {
      const before = cpuOf(s.key);
      // which of Mailwarden's threads took the CPU (the event loop, the store thread, V8's
      // helpers), and the load generator's own: the rate is bounded by whichever is saturated
      const threadsBefore = s.key === 'dovecot' ? null : readThreadCpu(mw.pid);
      const clientBefore = process.cpuUsage();
      const result = await load();
      const after = before === null ? null : cpuOf(s.key);
      const client = process.cpuUsage(clientBefore);
      const clientNote = `client CPU ${((client.user + client.system) / 1e3 / result.sent).toFixed(2)} ms/message`;
      if (before === null || after === null) return { result, note: clientNote };
      cpu[s.key]!.push((after - before) / result.sent);
      const threads = threadsBefore ? `; ${formatThreadCpu(threadCpuSince(threadsBefore, readThreadCpu(mw.pid)))}` : '';
      return { result, note: `server CPU ${cpu[s.key]!.at(-1)!.toFixed(2)} ms/message${threads}; ${clientNote}` };
    });
    const dovecot = dc ? summarise(rates.dovecot) : undefined;
    const metric = (via: string) => `deliver ${MESSAGES.toLocaleString('en-US')} mixed messages (4–90 KB), ${CONNECTIONS} connections, ${USERS} users — Mailwarden ${via} vs Dovecot LMTP`;
    return {
      name: 'smtp-mix',
      skipped: rig.skipped,
      notes,
      results: [
        { bench: 'smtp-mix', metric: metric('SMTP'), unit: 'messages/s', better: 'higher', mw: summarise(rates.smtp), dovecot, target: '≥ 1.0×' },
        { bench: 'smtp-mix', metric: metric('LMTP'), unit: 'messages/s', better: 'higher', mw: summarise(rates.lmtp), dovecot, target: '≥ 1.0×' },
        ...(['smtp', 'lmtp'] as const).filter((k) => cpu[k]!.length).map((k) => ({
          bench: 'smtp-mix', metric: `server CPU per mixed message (all threads; Dovecot: all its processes) — Mailwarden ${k.toUpperCase()} vs Dovecot LMTP`, unit: 'ms', better: 'lower' as const,
          mw: summarise(cpu[k]!), dovecot: cpu.dovecot!.length ? summarise(cpu.dovecot!) : undefined,
        })),
      ],
    };
  } finally {
    await rig?.stop();
  }
}
