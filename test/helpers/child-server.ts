// The whole server as a child process (`mailwarden serve`, every port 0), so that a test can
// watch the server's own memory (VmRSS from /proc) apart from the test's clients.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServerContext } from '../../src/server/create-context.js';
import type { ServerContext } from '../../src/server/context.js';
import { tempDir } from './tmp.js';

// MW_SERVER_CLI runs another build (e.g. main's, to see a regression test fail before its fix).
const CLI = process.env.MW_SERVER_CLI ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

export interface ChildServer {
  pid: number;
  dataDir: string;
  port(name: string): number;
  /** The server process's resident set size now, in bytes. */
  rss(): number;
  stop(): Promise<void>;
}

/** prepare() runs on the data folder's store before the server starts (users, messages, settings). */
export async function startChildServer(prepare: (ctx: ServerContext) => Promise<void>): Promise<ChildServer> {
  const tmp = tempDir();
  const dataDir = join(tmp.dir, 'data');
  const setup = await createServerContext(dataDir);
  try {
    await prepare(setup);
  } finally {
    await setup.store.close();
  }
  const portFlags = ['imap', 'imaps', 'pop3', 'pop3s', 'smtp', 'submission', 'submissions', 'lmtp', 'http'].flatMap((n) => [`--${n}-port`, '0']);
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--data', dataDir, '--host', '127.0.0.1', ...portFlags], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, MAILWARDEN_LOG_LEVEL: 'warn' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ports = await new Promise<Map<string, number>>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('Stop with Ctrl-C.')) return;
      const m = new Map<string, number>();
      for (const line of out.split('\n')) {
        const hit = /^\s+(\S+)\s+127\.0\.0\.1:(\d+)/.exec(line);
        if (hit) m.set(hit[1]!, Number(hit[2]));
      }
      resolve(m);
    });
    child.once('exit', () => reject(new Error(`server exited before serving: ${out}`)));
  });
  return {
    pid: child.pid!,
    dataDir,
    port(name) {
      const p = ports.get(name);
      if (p === undefined) throw new Error(`no listener ${name}`);
      return p;
    },
    rss() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return Number(m![1]) * 1024;
    },
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 120_000); // a graceful stop under load can be slow
      await exited;
      clearTimeout(t);
      tmp.cleanup();
    },
  };
}
