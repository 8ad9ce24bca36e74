import { execFile } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './tmp.js';

const exec = promisify(execFile);

/**
 * A PostgreSQL server of a test's own (initdb in a temporary folder, a free high port, Unix
 * socket in that folder): for what must never be done to the shared one, such as restarting it
 * under load. As root the server runs as the `postgres` account (PostgreSQL refuses root), with
 * the connecting user (root) made its superuser. null when the binaries are not installed.
 */
export interface PrivatePostgres {
  url: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const v = readdirSync(base).sort((a, b) => Number(b) - Number(a))[0];
  return v && existsSync(join(base, v, 'bin', 'initdb')) ? join(base, v, 'bin') : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres | null> {
  const bin = binDir();
  if (!bin) return null;
  const tmp = tempDir('mw-private-pg-');
  const data = join(tmp.dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const me = asRoot ? 'root' : (process.env.USER ?? 'postgres');
  // as root: the postgres account runs the server and owns its folder
  const run = (cmd: string, args: string[]) => (asRoot ? exec('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : exec(join(bin, cmd), args));
  if (asRoot) {
    const { stdout } = await exec('id', ['-u', 'postgres']);
    const { stdout: g } = await exec('id', ['-g', 'postgres']);
    chownSync(tmp.dir, Number(stdout.trim()), Number(g.trim()));
  }
  await run('initdb', ['-D', data, '-A', 'trust', '-U', me, '--no-sync']);
  const port = await freePort();
  const opts = `-p ${port} -k ${tmp.dir} -c listen_addresses=127.0.0.1 -c fsync=on`;
  const ctl = (...args: string[]) => run('pg_ctl', ['-D', data, '-o', opts, '-l', join(tmp.dir, 'log'), '-w', '-t', '120', ...args]);
  await ctl('start');
  return {
    url: `postgres://${me}@127.0.0.1:${port}/postgres`,
    restart: async () => void (await ctl('restart', '-m', 'fast')),
    stop: async () => {
      await ctl('stop', '-m', 'immediate').catch(() => undefined);
      tmp.cleanup();
    },
  };
}
