/**
 * Issue 15, outbound: messages/s from the outbound queue to a loopback receiver, without and with
 * DKIM signing (an RSA-2048 and an Ed25519 key: two signatures per message), and the signing
 * cost per message of each algorithm alone. The queue runs in this process on a context of its
 * own (createServerContext, the store on its thread) and sends to an smtp-server receiver, also
 * here: no Dovecot counterpart (Dovecot does not send mail). Messages: the inbound mix (4–90 KB).
 */
import { SMTPServer } from 'smtp-server';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createServerContext } from '../src/server/create-context.js';
import { ServerConfigSchema } from '../src/server/config.js';
import { startOutboundQueue } from '../src/transport/queue.js';
import { createDkimKey } from '../src/transport/dkim-keys.js';
import { signOutbound } from '../src/transport/dkim-sign.js';
import { makeMixedMessages } from './lib/mixed-messages.js';
import { mwTempDir } from './lib/mailwarden.js';
import { log, nowMs, runs, summarise, type BenchOutcome } from './lib/stats.js';

const MESSAGES = Number(process.env.BENCH_OUTBOUND_MESSAGES ?? 300);

export async function benchOutbound(): Promise<BenchOutcome> {
  const msgs = makeMixedMessages(MESSAGES, 4 * 1024, 90 * 1024, 21, 'out', (i) => `rcpt${i}@far.test`).map((m) => Buffer.from(m.toString('latin1').replace(/^From: .*$/m, 'From: "Bench" <sender@bench.test>'), 'latin1'));
  let received = 0;
  let wake: (() => void) | null = null;
  const receiver = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false, disableReverseLookup: true,
    onData(stream, _s, cb) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        received++;
        cb();
        wake?.();
      });
    },
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const port = (receiver.server.address() as { port: number }).port;
  const tmp = mwTempDir('mw-bench-outbound-');
  const ctx = await createServerContext(tmp.dataDir, { computer: 'mx.bench.test', config: ServerConfigSchema.parse({ smtp: { smartHost: { host: '127.0.0.1', port, tls: 'none' } } }) });
  const rates: Record<'plain' | 'dkim', number[]> = { plain: [], dkim: [] };
  const sign: Record<'rsa' | 'ed25519', number[]> = { rsa: [], ed25519: [] };
  try {
    const round = async (): Promise<number> => {
      received = 0;
      for (const m of msgs) await ctx.store.enqueue('sender@bench.test', ['rcpt@far.test'], m, null);
      const t0 = nowMs();
      const queue = startOutboundQueue(ctx, { pollMs: 600_000 });
      while (received < msgs.length) await new Promise<void>((r) => (wake = r));
      const ms = nowMs() - t0;
      await queue.stop();
      return msgs.length / (ms / 1000);
    };
    const n = runs(3);
    const keysFile = join(tmp.dataDir, 'dkim');
    for (let r = 0; r < n; r++) {
      rmSync(keysFile, { recursive: true, force: true });
      rates.plain.push(await round());
      createDkimKey(tmp.dataDir, { domain: 'bench.test', selector: 'r1' });
      createDkimKey(tmp.dataDir, { domain: 'bench.test', selector: 'e1', algorithm: 'ed25519-sha256' });
      rates.dkim.push(await round());
      log(`outbound round ${r + 1}/${n}: ${rates.plain.at(-1)!.toFixed(0)} messages/s unsigned, ${rates.dkim.at(-1)!.toFixed(0)} with two DKIM signatures`);
      // signing alone, per algorithm
      for (const [alg, algorithm] of [['rsa', 'rsa-sha256'], ['ed25519', 'ed25519-sha256']] as const) {
        const dir = mwTempDir('mw-bench-dkim-');
        createDkimKey(dir.dataDir, { domain: 'bench.test', selector: 's', algorithm });
        const signer = { dataDir: dir.dataDir, store: {} as never, log: ctx.log };
        await signOutbound(signer, msgs[0]);
        const t0 = nowMs();
        for (const m of msgs) await signOutbound(signer, m);
        sign[alg].push((nowMs() - t0) / msgs.length);
        dir.cleanup();
      }
    }
  } finally {
    await ctx.store.close();
    await new Promise<void>((r) => receiver.close(() => r()));
    tmp.cleanup();
  }
  const avg = (msgs.reduce((s, m) => s + m.length, 0) / msgs.length / 1024).toFixed(0);
  return {
    name: 'outbound',
    skipped: [],
    notes: [`${MESSAGES} messages of the inbound mix (average ${avg} KB) queued, then sent one per connection to an smtp-server receiver on loopback through the smart-host path; no Dovecot counterpart.`],
    results: [
      { bench: 'outbound', metric: `send ${MESSAGES} queued messages to a loopback receiver, unsigned`, unit: 'messages/s', better: 'higher', mw: summarise(rates.plain) },
      { bench: 'outbound', metric: `the same with DKIM on (rsa-sha256 2048 + ed25519-sha256: two signatures)`, unit: 'messages/s', better: 'higher', mw: summarise(rates.dkim) },
      { bench: 'outbound', metric: 'DKIM signing cost per message, rsa-sha256 (2048 bits)', unit: 'ms', better: 'lower', mw: summarise(sign.rsa) },
      { bench: 'outbound', metric: 'DKIM signing cost per message, ed25519-sha256', unit: 'ms', better: 'lower', mw: summarise(sign.ed25519) },
    ],
  };
}
