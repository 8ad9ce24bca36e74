import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { createServerContext } from '../../src/server/create-context.js';
import { ServerConfigSchema } from '../../src/server/config.js';
import type { ServerContext } from '../../src/server/context.js';
import type { User } from '../../src/store/types.js';
import { testStoreLocation } from '../helpers/postgres.js';

export interface TestEnv {
  ctx: ServerContext;
  dir: string;
  cleanup(): Promise<void>;
}

/** A fresh data folder and context; `config` is the JSON of a --config file. */
export async function makeEnv(config: unknown = {}): Promise<TestEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'mw-smtp-'));
  const where = await testStoreLocation();
  const ctx = await createServerContext(dir, { computer: 'mx.test.example', config: ServerConfigSchema.parse(config), store: where.store });
  return {
    ctx, dir,
    async cleanup() {
      await ctx.store.close();
      await where.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function addUser(ctx: ServerContext, address: string, password = 'secret-pw'): Promise<User> {
  return ctx.store.createUser({ address, password });
}

/** Messages (with bytes) in a user's folder, oldest first. */
export async function folderMessages(ctx: ServerContext, user: User, use: '\\Inbox' | '\\Sent' = '\\Inbox') {
  const folder = await ctx.store.getSpecialFolder(user.id, use);
  const list = await ctx.store.listMessages(user.id, folder.id);
  return Promise.all(list.map(async (m) => ({ ...m, raw: await ctx.store.readBlob(m.blobHash) })));
}

/** Waits until `check` returns true (polling), or fails after `ms` (a bound for a broken test only). */
export async function waitFor(check: () => Promise<boolean> | boolean, ms = 120_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A bare SMTP client for checking exact replies: `cmd` sends one line and resolves with the
 * whole (possibly multi-line) reply; `startTls` upgrades the connection in place.
 */
export class RawSmtp {
  private buf = '';
  private waiters: Array<(line: string) => void> = [];
  private closed = false;

  private constructor(private socket: net.Socket) {
    this.attach();
  }

  static async connect(port: number, implicitTls = false): Promise<{ client: RawSmtp; greeting: string }> {
    const socket = implicitTls
      ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(implicitTls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const client = new RawSmtp(socket);
    return { client, greeting: await client.reply() };
  }

  private attach(): void {
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => {
      this.buf += d;
      this.pump();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.pump();
    });
    this.socket.on('error', () => undefined);
  }

  private pump(): void {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i < 0 || this.waiters.length === 0) break;
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      this.waiters.shift()!(line);
    }
    if (this.closed) while (this.waiters.length) this.waiters.shift()!('');
  }

  private line(): Promise<string> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.pump();
    });
  }

  /** One reply; multi-line replies joined with \n. Empty string when the server closed. */
  async reply(): Promise<string> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l === '') return lines.join('\n');
      lines.push(l);
      if (l[3] !== '-') return lines.join('\n');
    }
  }

  async cmd(line: string): Promise<string> {
    this.socket.write(line + '\r\n');
    return this.reply();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async startTls(): Promise<string> {
    const r = await this.cmd('STARTTLS');
    if (!r.startsWith('220')) return r;
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach();
    return r;
  }

  close(): void {
    this.socket.destroy();
  }
}
