import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, createWriteStream, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { prepareDataDir, STORE_FILE } from '../../src/server/create-context.js';
import type { User } from '../../src/store/types.js';
import type { Store } from '../../src/store/store.js';
import { processTreeMemory, stopChild, type MemoryUse } from './proc.js';
import { log } from './stats.js';
import { eventLoopDelayOf, type EventLoopDelay } from './event-loop-delay.js';
import { wakeTimelineOf, type WakeTimeline } from './wake-timeline.js';

/** A temporary folder for one Mailwarden data folder; remove with cleanup(). */
export function mwTempDir(prefix = 'mw-bench-'): { dir: string; dataDir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, dataDir: join(dir, 'data'), cleanup: () => (process.env.BENCH_KEEP ? undefined : rmSync(dir, { recursive: true, force: true })) };
}

/** Opens (creating) the store of a data folder directly, to seed it before the server starts. */
export async function openSeedStore(dataDir: string): Promise<SqliteStore> {
  const dir = prepareDataDir(dataDir, true);
  return SqliteStore.open(join(dir, STORE_FILE));
}

/** Settings every load benchmark needs: plaintext logons without TLS (as Dovecot with plaintext allowed) and room for many sessions. */
export async function putBenchSettings(store: Store): Promise<void> {
  const put = (name: string, value: string) => store.putSetting({ scope: 'server', targetId: 0, name, value });
  await put('PopSettings.LoginType', 'PlainTextLogin');
  await put('ImapSettings.LoginType', 'PlainTextLogin');
  await put('Maximum Allowed Sessions Per User', '10000');
  await put('Maximum Allowed Service Sessions Per User', '10000');
  await put('PopSettings.MaxConnectionsPerUser', '25000');
  await put('ImapSettings.MaxConnectionsPerUser', '25000');
  await put('ThrottlingPolicy.POPMaxConcurrency', '0');
  await put('ThrottlingPolicy.IMAPMaxConcurrency', '0');
}

/** Creates users (scrypt hashing makes this ~60 ms each; two at a time on two cores). */
export async function createUsers(store: Store, addresses: string[], password: string): Promise<User[]> {
  const out: User[] = [];
  for (let i = 0; i < addresses.length; i += 2) {
    out.push(...(await Promise.all(addresses.slice(i, i + 2).map((address) => store.createUser({ address, password })))));
  }
  return out;
}

export interface MailwardenProcess {
  pid: number;
  listeners: Array<{ name: string; port: number; implicitTls: boolean }>;
  port(name: string): number | undefined;
  memory(): MemoryUse;
  /** A full garbage collection in the server's main and store threads (before a memory reading). */
  collectGarbage(): Promise<void>;
  /** The server's event-loop delay since the last reset (bench/lib/event-loop-delay.ts). */
  eventLoopDelay: { reset(): Promise<void>; read(): Promise<EventLoopDelay> };
  /** When the server published changes and wrote answers, armed before a wake (bench/lib/wake-timeline.ts). */
  wakeTimeline: { arm(): Promise<void>; read(): Promise<WakeTimeline> };
  stop(): Promise<void>;
}

/**
 * Spawns `node script args…`; with `nofile`, through `sh -c 'ulimit -n …; exec node …'` so the
 * child may hold that many sockets (Node cannot raise its own RLIMIT_NOFILE). When the hard
 * limit is lower and cannot be raised (not root), the soft limit goes up to the hard one.
 * `exec` keeps the pid, so signals and /proc reach the Node process itself.
 */
export function spawnNode(script: string, args: string[], stdio: StdioOptions, nofile?: number, nodeArgs: string[] = [], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  if (!nofile) return spawn(process.execPath, [...nodeArgs, script, ...args], { stdio, env });
  const sh = `ulimit -n ${nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  return spawn('/bin/sh', ['-c', sh, process.execPath, ...nodeArgs, script, ...args], { stdio, env });
}

/** The soft RLIMIT_NOFILE of a running process (Linux /proc), or null. */
export function openFileLimit(pid: number | 'self' = 'self'): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? (m[1] === 'unlimited' ? Infinity : Number(m[1])) : null;
  } catch {
    return null;
  }
}

/**
 * Starts bench/lib/mw-server.js (startServer on loopback, port 0 everywhere) on a seeded data folder.
 * `env` adds to the server's environment (e.g. MAILWARDEN_STORE, MAILWARDEN_REDIS for a node of several);
 * `logFile` takes the server's log (standard error) instead of the benchmark's terminal, as Dovecot
 * writes its own to a file: a line per logon and per delivery would drown the benchmark's output.
 */
export async function startMailwarden(dataDir: string, opts: { nofile?: number; env?: Record<string, string>; logFile?: string } = {}): Promise<MailwardenProcess> {
  const script = fileURLToPath(new URL('./mw-server.js', import.meta.url));
  // BENCH_MW_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": profile the server under a benchmark
  // (NODE_OPTIONS may not carry --cpu-prof)
  // --expose-gc: collectGarbage() before memory readings (mw-server.ts)
  const nodeArgs = ['--expose-gc', ...(process.env.BENCH_MW_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const stderr = opts.logFile ? openSync(opts.logFile, 'a') : 'inherit';
  const child = spawnNode(script, [dataDir], ['ignore', 'pipe', stderr, 'ipc'], opts.nofile, nodeArgs, { ...process.env, ...opts.env });
  if (typeof stderr === 'number') closeSync(stderr); // the child holds its own copy
  const info = await new Promise<{ pid: number; listeners: MailwardenProcess['listeners'] }>((resolve, reject) => {
    let out = '';
    // the listeners' line is JSON; V8's tracing flags (BENCH_MW_NODE_ARGS=--trace-gc…) print
    // lines of their own before it, which are skipped (and kept, with BENCH_MW_STDOUT)
    const onData = (d: Buffer) => {
      out += d.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        child.stdout!.off('data', onData);
        try {
          resolve(JSON.parse(line));
        } catch (err) {
          reject(new Error(`mw-server printed ${line.slice(0, 200)}: ${(err as Error).message}`));
        }
        return;
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`mw-server exited with code ${code}`)));
    child.once('error', reject);
  });
  // BENCH_MW_STDOUT=FILE keeps what the server prints after its listeners (V8's --trace-gc or
  // --trace-opt lines; the wake timeline marks where a wake begins and ends in it); else dropped
  if (process.env.BENCH_MW_STDOUT) child.stdout!.pipe(createWriteStream(`${process.env.BENCH_MW_STDOUT}.${info.pid}`));
  else child.stdout!.resume();
  log(`mailwarden (pid ${info.pid}) listeners: ${info.listeners.map((l) => `${l.name}:${l.port}`).join(', ')}`);
  let stopped = false;
  let gcSeq = 0;
  return {
    pid: info.pid,
    listeners: info.listeners,
    port: (name) => info.listeners.find((l) => l.name === name)?.port,
    memory: () => processTreeMemory(info.pid),
    collectGarbage: () =>
      new Promise<void>((resolve) => {
        const seq = ++gcSeq;
        const onMessage = (m: { collectedGarbage?: number }) => {
          if (m?.collectedGarbage !== seq) return;
          child.off('message', onMessage);
          resolve();
        };
        child.on('message', onMessage);
        child.send({ collectGarbage: seq });
      }),
    eventLoopDelay: eventLoopDelayOf(child),
    wakeTimeline: wakeTimelineOf(child),
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopChild(child);
    },
  };
}
