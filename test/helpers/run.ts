import { spawn } from 'node:child_process';

export interface RunResult { status: number | null; stdout: string; stderr: string; stdoutBytes: Buffer }

/**
 * Runs an external client without blocking the event loop: tests that serve in-process must
 * never use spawnSync against their own server (it would deadlock).
 */
export function run(cmd: string, args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    // a bound on how long a hung client can hold the test, not a time the client must finish in
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (status) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ status, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes });
    });
    // a command that exits before reading its input (tmux, for one) must not fail the run with EPIPE
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
