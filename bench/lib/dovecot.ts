import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { log } from './stats.js';
import { processTreeMemory, stopChild, type MemoryUse } from './proc.js';

/**
 * A private Dovecot for the benchmarks: generated config in a temporary folder, loopback
 * high ports, passwd-file users with one static uid, Maildir in the same folder. Nothing of
 * the system's Dovecot (config, services, ports) is used or touched.
 */

export interface DovecotUser {
  name: string;
  password: string;
}

export interface DovecotOptions {
  users: DovecotUser[];
  /** Password scheme for passwd-file, "SCHEME[:rounds]" (see bench/README.md); DEFAULT_SCHEME unless BENCH_DOVECOT_SCHEME says otherwise. */
  scheme?: string;
  /** Extra users with another scheme (e.g. a cheap one for a login-rate reference). */
  extraUsers?: Array<DovecotUser & { scheme: string }>;
  /**
   * TLS with this certificate and key (PEM files): adds implicit-TLS listeners `imaps`, `pop3s` and,
   * with `submissionRelayPort`, Dovecot's submission service (`submissions`, SMTP AUTH over TLS),
   * relaying to 127.0.0.1 on that port.
   */
  tls?: { certFile: string; keyFile: string; submissionRelayPort?: number };
}

export interface Dovecot {
  dir: string;
  version: string;
  ports: { imap: number; pop3: number; lmtp: number; imaps?: number; pop3s?: number; submissions?: number };
  pid: number;
  uid: number;
  gid: number;
  maildir(user: string): string;
  /** Makes everything under the mail folder owned by the mail uid (after writing files as root). */
  fixOwnership(): void;
  memory(): MemoryUse;
  stop(): Promise<void>;
}

/**
 * bcrypt with cost 10 costs about as much per check as Mailwarden's scrypt (N=16384, r=8):
 * ~60 ms each on the reference machine, so logon rates compare protocol work, not hash choice.
 */
/** What a real Dovecot deployment stores (doveadm pw's default scheme family): the founders' brief asks for it. */
export const DEFAULT_SCHEME = 'SHA512-CRYPT';

export function dovecotScheme(): string {
  return process.env.BENCH_DOVECOT_SCHEME || DEFAULT_SCHEME;
}

export function dovecotVersion(): string | null {
  const r = spawnSync('dovecot', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return r.stdout.trim();
}

/** Why Dovecot cannot run here, or null when it can. */
export function dovecotMissing(): string | null {
  if (!dovecotVersion()) return 'dovecot is not installed (apt-get install -y dovecot-imapd dovecot-pop3d dovecot-lmtpd)';
  return null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function lookupId(name: string, db: 'passwd' | 'group'): number | null {
  const r = spawnSync('getent', [db, name], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return Number(r.stdout.split(':')[2]);
}

const hashCache = new Map<string, string>();

/** One hash per scheme and password (salt reuse is fine for a benchmark). */
function passwordHash(scheme: string, password: string): string {
  const key = `${scheme}\0${password}`;
  const hit = hashCache.get(key);
  if (hit) return hit;
  // "SCHEME" or "SCHEME:rounds" (e.g. BLF-CRYPT:10, SHA512-CRYPT:100000)
  const [name, rounds] = scheme.split(':');
  const r = spawnSync('doveadm', ['pw', '-s', name, ...(rounds ? ['-r', rounds] : []), '-p', password], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`doveadm pw -s ${scheme} failed: ${r.stderr}`);
  const h = r.stdout.trim();
  hashCache.set(key, h);
  return h;
}

function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tryOnce = () => {
      if (child.exitCode !== null) return reject(new Error(`dovecot exited with code ${child.exitCode}`));
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > end) reject(new Error(`dovecot did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(tryOnce, 50);
      });
    };
    tryOnce();
  });
}

export async function startDovecot(opts: DovecotOptions): Promise<Dovecot> {
  const version = dovecotVersion();
  if (!version) throw new Error('dovecot is not installed');
  const major = version.split(' ')[0].split('.').map(Number);
  const is24 = major[0] > 2 || (major[0] === 2 && major[1] >= 4);
  const dir = mkdtempSync(join(tmpdir(), 'mw-bench-dovecot-'));
  chmodSync(dir, 0o755);
  for (const d of ['run', 'state', 'mail', 'home']) mkdirSync(join(dir, d), { mode: 0o755 });

  // the mail uid: `nobody` when running as root, else ourselves (Dovecot then runs unprivileged)
  const root = process.getuid?.() === 0;
  const uid = root ? (lookupId('nobody', 'passwd') ?? 65534) : userInfo().uid;
  const gid = root ? (lookupId('nogroup', 'group') ?? lookupId('nobody', 'group') ?? 65534) : userInfo().gid;
  const internalUser = lookupId('dovecot', 'passwd') !== null ? 'dovecot' : null;
  const loginUser = lookupId('dovenull', 'passwd') !== null ? 'dovenull' : null;
  if (root && (!internalUser || !loginUser)) {
    throw new Error('the dovecot and dovenull accounts are missing (the Debian dovecot-core package creates them)');
  }

  if (root) for (const d of ['mail', 'home']) chownSync(join(dir, d), uid, gid);
  const scheme = opts.scheme ?? dovecotScheme();
  const lines = [
    ...opts.users.map((u) => ({ ...u, scheme })),
    ...(opts.extraUsers ?? []),
  ].map((u) => `${u.name}:${passwordHash(u.scheme, u.password)}:${uid}:${gid}::${join(dir, 'home', u.name)}::`);
  writeFileSync(join(dir, 'passwd'), lines.join('\n') + '\n', { mode: 0o644 });

  const ports: Dovecot['ports'] = { imap: await freePort(), pop3: await freePort(), lmtp: await freePort() };
  const tls = opts.tls;
  const submission = tls?.submissionRelayPort !== undefined;
  if (tls) {
    ports.imaps = await freePort();
    ports.pop3s = await freePort();
    if (submission) ports.submissions = await freePort();
    // Dovecot's config process reads them as root; a copy keeps the server's own folder private
    writeFileSync(join(dir, 'tls-cert.pem'), readFileSync(tls.certFile), { mode: 0o644 });
    writeFileSync(join(dir, 'tls-key.pem'), readFileSync(tls.keyFile), { mode: 0o600 });
  }
  const tlsListener = (name: string, port: number | undefined) =>
    port === undefined ? `  inet_listener ${name} {\n    port = 0\n  }` : `  inet_listener ${name} {\n    address = 127.0.0.1\n    port = ${port}\n    ssl = yes\n  }`;
  const conf = `# generated by Mailwarden bench/lib/dovecot.ts — private instance, loopback only
instance_name = mwbench-${process.pid}
protocols = imap pop3 lmtp${submission ? ' submission' : ''}
listen = 127.0.0.1
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
info_log_path = ${dir}/dovecot.log
${tls ? `ssl = yes\nssl_cert = <${dir}/tls-cert.pem\nssl_key = <${dir}/tls-key.pem` : 'ssl = no'}
${is24 ? 'auth_allow_cleartext = yes' : 'disable_plaintext_auth = no'}
auth_mechanisms = plain login
${root ? `default_internal_user = ${internalUser}\ndefault_login_user = ${loginUser}` : `default_internal_user = ${userInfo().username}\ndefault_login_user = ${userInfo().username}`}
first_valid_uid = ${Math.min(uid, 100)}
first_valid_gid = ${Math.min(gid, 100)}
mail_location = maildir:${dir}/mail/%u
postmaster_address = postmaster@bench.test
hostname = dovecot.bench.test
default_process_limit = 1000
default_client_limit = 10000
default_vsz_limit = 1G
mail_max_userip_connections = 2000
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = passwd-file
  args = ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = ${dir}/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${ports.imap}
  }
${tlsListener('imaps', ports.imaps)}
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${ports.pop3}
  }
${tlsListener('pop3s', ports.pop3s)}
}
${submission ? `submission_relay_host = 127.0.0.1
submission_relay_port = ${tls!.submissionRelayPort}
submission_relay_trusted = yes
service submission-login {
  inet_listener submission {
    port = 0
  }
${tlsListener('submissions', ports.submissions)}
}` : ''}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${ports.lmtp}
  }
}
protocol lmtp {
  mail_plugins =
}
`;
  const confFile = join(dir, 'dovecot.conf');
  writeFileSync(confFile, conf);
  const child = spawn('dovecot', ['-F', '-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  try {
    await waitForPort(ports.imap, child, 10_000);
    await waitForPort(ports.pop3, child, 5_000);
    await waitForPort(ports.lmtp, child, 5_000);
  } catch (err) {
    child.kill('SIGTERM');
    const logText = existsSync(join(dir, 'dovecot.log')) ? readFileSync(join(dir, 'dovecot.log'), 'utf8').slice(-2000) : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n${output}\n${logText}`);
  }
  log(`dovecot ${version} (pid ${child.pid}) on 127.0.0.1 imap ${ports.imap}, pop3 ${ports.pop3}, lmtp ${ports.lmtp}; ${dir}`);
  let stopped = false;
  return {
    dir,
    version,
    ports,
    pid: child.pid!,
    uid,
    gid,
    maildir: (user) => join(dir, 'mail', user),
    fixOwnership() {
      if (!root) return;
      const r = spawnSync('chown', ['-R', `${uid}:${gid}`, join(dir, 'mail'), join(dir, 'home')]);
      if (r.status !== 0) throw new Error(`chown failed: ${r.stderr}`);
    },
    memory: () => processTreeMemory(child.pid!),
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopChild(child);
      if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** RFC 822 size with CRLF line ends (what Dovecot calls the virtual size, W= in Maildir names). */
function virtualSize(m: Buffer): number {
  let bareLf = 0;
  for (let i = m.indexOf(0x0a); i >= 0; i = m.indexOf(0x0a, i + 1)) if (i === 0 || m[i - 1] !== 0x0d) bareLf++;
  return m.length + bareLf;
}

/**
 * Writes messages into a Maildir (cur/, with ,S=size so Dovecot need not stat) as Dovecot's
 * own delivery would leave them; call fixOwnership() afterwards when running as root.
 */
export function writeMaildir(root: string, messages: Buffer[], flags: (i: number) => string = () => ''): void {
  for (const d of ['cur', 'new', 'tmp']) mkdirSync(join(root, d), { recursive: true });
  const base = 1_700_000_000;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    writeFileSync(join(root, 'cur', `${base + i}.M${i}P${process.pid}.bench,S=${m.length},W=${virtualSize(m)}:2,${flags(i)}`), m);
  }
}
