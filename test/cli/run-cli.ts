import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const BIN = resolve('bin/mailwarden');

export interface CliResult { code: number; stdout: string; stderr: string }

/** Runs the real CLI as a user would, optionally feeding standard input. */
export function cli(args: string[], input?: string): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: input ?? '', encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `mailwarden serve` on free ports and resolves once it printed its listeners. */
export function serve(dataDir: string, extra: string[] = []): Promise<{ child: ChildProcess; out: string; port: (name: string) => number; stop: () => Promise<void> }> {
  const ports = ['imap', 'imaps', 'pop3', 'pop3s', 'smtp', 'submission', 'submissions', 'lmtp', 'http'].flatMap((p) => [`--${p}-port`, '0']);
  const child = spawn(process.execPath, [BIN, 'serve', '--data', dataDir, ...ports, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolveStart, reject) => {
    // a failure detector, not a timing assertion: a loaded machine may take long to start node;
    // a server that did not start in time is stopped: left running it would keep the test file from ending
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start: ${out}`));
    }, 120_000);
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Stop with Ctrl-C.')) {
        resolveStart({
          child,
          out,
          port(name: string) {
            const m = new RegExp(`^\\s+${name}\\s+\\S+:(\\d+)`, 'm').exec(out);
            if (!m) throw new Error(`no ${name} listener in: ${out}`);
            return Number(m[1]);
          },
          stop: () => new Promise<void>((r) => { child.once('exit', () => r()); child.kill('SIGTERM'); }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}
