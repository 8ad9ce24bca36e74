/**
 * Moving 10,000 messages in from Dovecot, three ways, in one run (issue 19; README "Moving in"):
 * `mailwarden import maildir` from Dovecot's Maildir on disk, `mailwarden import imap` from its
 * running IMAP server, and mbsync (isync) syncing the same folders from Dovecot's IMAP into
 * Mailwarden's IMAP, the tool a user would otherwise reach for. Run: `node dist/bench/import.js`
 * (BENCH_IMPORT_MESSAGES for another size). Prints seconds and messages/s.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { startServer } from '../src/server/serve.js';
import { createLog } from '../src/observability/log.js';
import { dovecotMissing, startDovecot, writeMaildir } from './lib/dovecot.js';

const N = Number(process.env.BENCH_IMPORT_MESSAGES ?? 10_000);
const BIN = resolve('bin/mailwarden');

function timed(cmd: string, args: string[], input = ''): Promise<{ seconds: number; status: number | null; out: string }> {
  const started = performance.now();
  return new Promise((res) => {
    const p = spawn(cmd, args);
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (status) => res({ seconds: (performance.now() - started) / 1000, status, out }));
    p.stdin.end(input);
  });
}

function message(i: number): Buffer {
  return Buffer.from(`From: s${i % 50}@old.example\r\nTo: mover@example.com\r\nSubject: old mail ${i}\r\nMessage-ID: <b${i}@old.example>\r\nDate: Mon, 6 Jan 2020 10:00:00 +0000\r\n\r\n${'a line of an old message body\r\n'.repeat(20 + (i % 100))}`);
}

async function main(): Promise<void> {
  const missing = dovecotMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'mw-bench-import-'));
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  writeFileSync(join(dir, 'dc.pem'), pems.cert);
  writeFileSync(join(dir, 'dc.key'), pems.private);
  const dovecot = await startDovecot({ users: [{ name: 'mover', password: 'old-server-pw' }], tls: { certFile: join(dir, 'dc.pem'), keyFile: join(dir, 'dc.key') } });
  const server = await startServer({ dataDir: join(dir, 'data'), host: '127.0.0.1', ports: { imap: 0, imaps: 0, pop3: 0, pop3s: 0, smtp: 0, submission: 0, submissions: 0, http: 0 }, log: createLog('warn') });
  try {
    const maildir = dovecot.maildir('mover');
    // 10,000 messages over INBOX and three folders, as Dovecot keeps them
    const perFolder = [['', 0.55], ['.Archive', 0.3], ['.Sent', 0.1], ['.Projects.2024', 0.05]] as const;
    let i = 0;
    for (const [sub, share] of perFolder) {
      const count = Math.round(N * share);
      writeMaildir(join(maildir, sub), Array.from({ length: count }, () => message(i++)), (k) => (k % 3 ? 'S' : 'FS'));
    }
    dovecot.fixOwnership();
    for (const u of ['m@example.com', 'i@example.com', 'y@example.com']) await server.ctx.store.createUser({ address: u, password: 'new-server-pw' });
    const data = join(dir, 'data');
    const maildirRun = await timed(process.execPath, [BIN, 'import', 'maildir', maildir, '--user', 'm@example.com', '--data', data, '--quiet']);
    const imapRun = await timed(process.execPath, [BIN, 'import', 'imap', '--from', `imaps://127.0.0.1:${dovecot.ports.imaps}`, '--insecure', '--user', 'i@example.com', '--source-user', 'mover', '--password-stdin', '--data', data, '--quiet'], 'old-server-pw\n');
    const port = server.listeners.find((l) => l.name === 'imaps')!.port;
    const config = join(dir, 'mbsyncrc');
    mkdirSync(join(dir, 'mbsync-state'));
    writeFileSync(config, [
      'IMAPAccount old', 'Host 127.0.0.1', `Port ${dovecot.ports.imap}`, 'User mover', 'Pass old-server-pw', 'SSLType None', 'AuthMechs LOGIN', '',
      'IMAPStore old', 'Account old', '',
      'IMAPAccount new', 'Host 127.0.0.1', `Port ${port}`, 'User y@example.com', 'Pass new-server-pw', 'SSLType IMAPS', `CertificateFile ${join(data, 'tls', 'cert.pem')}`, '',
      'IMAPStore new', 'Account new', '',
      'Channel move', 'Far :old:', 'Near :new:', 'Patterns *', 'Create Both', 'Sync Pull', `SyncState ${join(dir, 'mbsync-state')}/`, '',
    ].join('\n'));
    const mbsyncRun = await timed('mbsync', ['-c', config, '-a']);
    const count = async (address: string) => {
      const u = (await server.ctx.store.findUser(address))!;
      let n = 0;
      for (const f of await server.ctx.store.listFolders(u.id)) n += (await server.ctx.store.listMessages(u.id, f.id)).length;
      return n;
    };
    const rows: Array<[string, { seconds: number; status: number | null; out: string }, string]> = [
      ['mailwarden import maildir (Dovecot Maildir on disk)', maildirRun, 'm@example.com'],
      ['mailwarden import imap (Dovecot IMAP)', imapRun, 'i@example.com'],
      ['mbsync Dovecot IMAP -> Mailwarden IMAP', mbsyncRun, 'y@example.com'],
    ];
    console.log(`${N} messages, ${perFolder.length} folders; load average ${(await import('node:os')).loadavg()[0].toFixed(1)}`);
    for (const [name, r, user] of rows) {
      const n = await count(user);
      console.log(`${name.padEnd(52)} ${r.seconds.toFixed(1).padStart(7)} s  ${(n / r.seconds).toFixed(0).padStart(6)} msg/s  ${n} stored${r.status === 0 ? '' : `  FAILED: ${r.out.slice(-300)}`}`);
    }
  } finally {
    await server.stop();
    await dovecot.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
