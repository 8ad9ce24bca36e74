/**
 * Child process for the many-IDLE-connections benchmark (bench/imap.ts). It holds the client
 * side of N IMAP connections, so that the benchmark process itself needs no raised file
 * limit and its event loop measures nothing. Started through `sh -c 'ulimit -n …; exec node …'`
 * (bench/lib/mailwarden.ts spawnWithFileLimit).
 *
 * Protocol (one JSON object per line): argv[2] is the config; it prints
 * {"ready":…} once every connection is logged on, SELECTed and in IDLE; then, for each "go"
 * line on stdin, delivers one message over SMTP to every user (one transaction, one RCPT per
 * user) and prints {"round":…} with the time to the 250 reply and until every IDLE connection
 * has seen the new message's EXISTS. "stop" closes everything and exits.
 */
import { createInterface } from 'node:readline';
import { RawConn, SmtpClient } from './raw.js';

interface Config {
  imapPort: number;
  smtpPort: number;
  users: string[];
  password: string;
  connections: number;
  /** Connections being opened at the same time. */
  concurrency: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
const now = () => performance.now();
const print = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

interface IdleConn {
  conn: RawConn;
  user: string;
  exists: number;
}

async function expectTagged(conn: RawConn, tag: string): Promise<string[]> {
  const untagged: string[] = [];
  for (;;) {
    const l = await conn.line();
    if (l.startsWith(`${tag} `)) {
      if (!l.startsWith(`${tag} OK`)) throw new Error(`${tag}: ${l.slice(0, 200)}`);
      return untagged;
    }
    untagged.push(l);
  }
}

async function openIdle(user: string): Promise<IdleConn> {
  const conn = await RawConn.connect(cfg.imapPort);
  const greeting = await conn.line();
  if (!greeting.startsWith('* OK')) throw new Error(`greeting: ${greeting}`);
  conn.write(`a LOGIN "${user}" "${cfg.password}"\r\n`);
  await expectTagged(conn, 'a');
  conn.write('b SELECT INBOX\r\n');
  const sel = await expectTagged(conn, 'b');
  const ex = sel.map((l) => /^\* (\d+) EXISTS$/.exec(l)).find(Boolean);
  conn.write('c IDLE\r\n');
  for (;;) {
    const l = await conn.line();
    if (l.startsWith('+')) break;
    if (l.startsWith('c ')) throw new Error(`IDLE: ${l}`);
  }
  return { conn, user, exists: ex ? Number(ex[1]) : 0 };
}

/** Resolves with the time the connection saw an EXISTS above what it knew. */
async function nextExists(c: IdleConn): Promise<number> {
  for (;;) {
    const l = await c.conn.line();
    const m = /^\* (\d+) EXISTS$/.exec(l);
    if (m && Number(m[1]) > c.exists) {
      c.exists = Number(m[1]);
      return now();
    }
  }
}

async function main(): Promise<void> {
  const conns: IdleConn[] = [];
  const t0 = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: cfg.concurrency }, async () => {
      for (let i = next++; i < cfg.connections; i = next++) conns.push(await openIdle(cfg.users[i % cfg.users.length]!));
    }),
  );
  print({ ready: { connections: conns.length, ms: now() - t0 } });
  const smtp = await SmtpClient.connect(cfg.smtpPort, false);
  let round = 0;
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === 'stop') break;
    if (line.trim() !== 'go') continue;
    round++;
    const seen = Promise.all(conns.map((c) => nextExists(c)));
    const body = `From: sender@remote.test\r\nTo: idle@bench.test\r\nSubject: idle round ${round}\r\nMessage-ID: <idle-${round}-${Date.now()}@bench.test>\r\n\r\nA new message for ${cfg.users.length} users.\r\n.\r\n`;
    await smtp.cmd('MAIL FROM:<sender@remote.test>', 250);
    for (const u of cfg.users) await smtp.cmd(`RCPT TO:<${u}>`, 250);
    await smtp.cmd('DATA', 354);
    const tSend = now();
    smtp.conn.write(body);
    await smtp.reply(250, 'end of DATA');
    const tAccepted = now();
    const times = await seen;
    let first = Infinity;
    let last = 0;
    for (const t of times) {
      if (t < first) first = t;
      if (t > last) last = t;
    }
    const sorted = times.map((t) => t - tSend).sort((a, b) => a - b);
    print({ round: { acceptedMs: tAccepted - tSend, firstMs: first - tSend, medianMs: sorted[sorted.length >> 1], allMs: last - tSend, clients: times.length } });
  }
  await smtp.quit().catch(() => undefined);
  for (const c of conns) c.conn.close();
  process.exit(0);
}

main().catch((err: Error) => {
  print({ error: err.stack ?? err.message });
  process.exit(1);
});
