/**
 * What the inbound-delivery benchmarks (bench/smtp.ts, bench/smtp-mix.ts) share: the client
 * loop (CONNECTIONS connections, message i to user i mod USERS, one recipient per transaction,
 * EHLO or LHLO and otherwise the same bytes), the rig (a Mailwarden with USERS users and a
 * Dovecot with the same ones) and the rounds, alternating between the sides after a warm-up.
 */
import { SmtpClient } from './raw.js';
import { dovecotMissing, startDovecot, type Dovecot } from './dovecot.js';
import { createUsers, mwTempDir, openSeedStore, putBenchSettings, startMailwarden, type MailwardenProcess } from './mailwarden.js';
import { log, nowMs } from './stats.js';

export const CONNECTIONS = 10;
export const USERS = 100;
export const PASSWORD = 'bench-pw';
export const user = (i: number) => `rcpt${i}@bench.test`;

/** One pass of `payloads` (dot-stuffed, terminated) over CONNECTIONS connections. */
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

export interface InboundRig {
  mw: MailwardenProcess;
  dc: Dovecot | null;
  /** Why a side is missing (Dovecot not installed). */
  skipped: string[];
  stop(): Promise<void>;
}

/** A Mailwarden (its own process, a fresh data folder) and a Dovecot, both with the USERS users. */
export async function startInboundRig(tempPrefix: string): Promise<InboundRig> {
  const users = Array.from({ length: USERS }, (_, i) => user(i));
  const tmp = mwTempDir(tempPrefix);
  let mw: MailwardenProcess | null = null;
  let dc: Dovecot | null = null;
  const skipped: string[] = [];
  try {
    log(`${tempPrefix}: creating ${USERS} Mailwarden users …`);
    const store = await openSeedStore(tmp.dataDir);
    await putBenchSettings(store);
    await createUsers(store, users, PASSWORD);
    await store.close();
    mw = await startMailwarden(tmp.dataDir);
    const missing = dovecotMissing();
    if (missing) skipped.push(`Dovecot: ${missing}`);
    else dc = await startDovecot({ users: users.map((name) => ({ name, password: PASSWORD })) });
  } catch (err) {
    await mw?.stop();
    tmp.cleanup();
    throw err;
  }
  const started = mw;
  return {
    mw: started, dc, skipped,
    async stop() {
      await started.stop();
      await dc?.stop();
      tmp.cleanup();
    },
  };
}

export interface InboundSide<K extends string> {
  key: K;
  port: number;
  lmtp: boolean;
}

/**
 * A warm-up of 200 messages per side (creates the Maildirs, warms the caches), then `n` rounds of
 * all `payloads` per side, the sides alternating within a round; messages/s per side and round.
 * `wrap` runs around each measured round (the event-loop delay measurement of bench/smtp.ts).
 */
export async function alternatingRounds<K extends string>(
  name: string, sides: Array<InboundSide<K>>, payloads: Buffer[], n: number,
  wrap: (side: InboundSide<K>, load: () => Promise<{ ms: number; sent: number }>) => Promise<{ result: { ms: number; sent: number }; note?: string }> = async (_s, load) => ({ result: await load() }),
): Promise<Record<K, number[]>> {
  const rates = Object.fromEntries(sides.map((s) => [s.key, [] as number[]])) as Record<K, number[]>;
  for (const s of sides) await round(s.port, s.lmtp, payloads.slice(0, 200));
  for (let r = 0; r < n; r++) {
    for (const s of sides) {
      const { result: x, note } = await wrap(s, () => round(s.port, s.lmtp, payloads));
      rates[s.key].push(x.sent / (x.ms / 1000));
      log(`${name} ${s.key} round ${r + 1}/${n}: ${rates[s.key].at(-1)!.toFixed(0)} messages/s (${(x.ms / 1000).toFixed(1)} s)${note ? `; ${note}` : ''}`);
    }
  }
  return rates;
}
