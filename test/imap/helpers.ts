// Shared set-up for the IMAP tests: a fresh data folder, a server on port 0, a raw client.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ImapFlow } from 'imapflow';
import tls from 'node:tls';
import { createServerContext } from '../../src/server/create-context.js';
import type { ServerContext } from '../../src/server/context.js';
import type { Listener } from '../../src/server/listener.js';
import type { User } from '../../src/store/types.js';
import { startImapServer, type ImapTuning } from '../../src/protocols/imap/server.js';
import { run, type RunResult } from '../helpers/run.js';
import { GIVE_UP_MS } from '../helpers/server.js';
import { testStoreLocation } from '../helpers/postgres.js';
import type { Clock } from '../../src/shared-state/clock.js';

export const PASSWORD = 'correct horse';

export interface TestServer {
  ctx: ServerContext;
  dir: string;
  /** The PostgreSQL URL of the store (MAILWARDEN_TEST_STORE=postgres); otherwise the store is `dir`'s SQLite file. */
  storeUrl?: string;
  user: User;
  listener: Listener;
  port: number;
  /**
   * Stops the listener and closes the store, runs `between` (the store is closed: a test may change
   * its files or database), then opens the same store again (migrating it) and listens on a new port.
   */
  restart(between?: () => Promise<void> | void): Promise<void>;
  close(): Promise<void>;
}

/** `clock`: where the server's time and the store's save dates come from (a clock the test moves). */
export async function startTestServer(o: { implicitTls?: boolean; tuning?: ImapTuning; secureLogin?: boolean; clock?: Clock } = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mw-imap-'));
  const where = await testStoreLocation();
  const ctx = await createServerContext(dir, { computer: 'TESTHOST', store: where.store, clock: o.clock });
  if (!o.secureLogin) {
    // the test clients talk plain text to 127.0.0.1
    await ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'ImapSettings.LoginType', value: 'PlainTextLogin' });
    await ctx.settings.refresh();
  }
  const user = await ctx.store.createUser({ address: 'alice@example.com', password: PASSWORD });
  const listen = (c: ServerContext) => startImapServer(c, { host: '127.0.0.1', port: 0, implicitTls: o.implicitTls ?? false }, o.tuning);
  let closed = false;
  const srv: TestServer = {
    ctx, dir, storeUrl: where.store, user, listener: await listen(ctx), port: 0,
    async restart(between) {
      await srv.listener.close();
      await srv.ctx.store.close();
      await between?.();
      srv.ctx = await createServerContext(dir, { computer: 'TESTHOST', store: where.store, clock: o.clock });
      srv.listener = await listen(srv.ctx);
      srv.port = srv.listener.port;
    },
    async close() {
      if (closed) return;
      closed = true;
      await srv.listener.close();
      await srv.ctx.store.close().catch(() => undefined);
      await where.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  srv.port = srv.listener.port;
  return srv;
}

/**
 * Polls until fn() is true (counters are released asynchronously after a socket closes). `ms` only
 * bounds how long a broken test hangs: generous, so that a loaded machine never fails a test.
 */
export async function eventually(fn: () => boolean | Promise<boolean>, ms = GIVE_UP_MS): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves once a session of the test user is in IDLE (it holds its change subscription, one objtNotify). */
export async function idling(srv: TestServer): Promise<void> {
  await eventually(async () => (await srv.ctx.governor.list({ userId: srv.user.id })).some((s) => s.objects.objtNotify === 1));
}

/** An npm imapflow client for the test server (plain text to 127.0.0.1, STARTTLS trusting its certificate). */
export function imapflowClient(srv: TestServer, extra: Record<string, unknown> = {}): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1', port: srv.port, secure: false, logger: false, auth: { user: 'alice@example.com', pass: PASSWORD },
    tls: { ca: [srv.ctx.tls.cert], servername: 'localhost' }, ...extra,
  });
}

export function sampleMessage(subject: string, body = 'Hello there.\r\n', extra = ''): Buffer {
  return Buffer.from(
    `From: Bob <bob@example.org>\r\nTo: Alice <alice@example.com>\r\nSubject: ${subject}\r\n` +
      `Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n${extra}` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}`,
  );
}

/**
 * A minimal IMAP client that speaks raw protocol, so tests can see exact responses.
 * Responses are read as latin1 text with literals inlined.
 */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  private n = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static async connect(port: number, o: { tls?: boolean; ca?: string } = {}): Promise<RawClient> {
    const socket = o.tls
      ? tls.connect({ port, host: '127.0.0.1', ca: o.ca, servername: 'localhost' })
      : net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(o.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Upgrades after "OK Begin TLS" (STARTTLS). */
  async startTls(ca: string): Promise<void> {
    this.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: this.socket, ca, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    (this as { socket: net.Socket }).socket = secure;
    secure.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    secure.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private async waitData(timeout: number): Promise<void> {
    if (this.closed) throw new Error('connection closed');
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout; buffer: ${this.buf.toString('latin1').slice(-300)}`)), timeout);
      t.unref(); // the open socket keeps the process alive; a left-over read must not hold it for the whole bound
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** One response (a line, with any literals it announces inlined); null once closed. */
  async readResponse(timeout = GIVE_UP_MS): Promise<string | null> {
    let out = '';
    let pos = 0;
    for (;;) {
      const lf = this.buf.indexOf(0x0a, pos);
      if (lf === -1) {
        if (this.closed) return null;
        await this.waitData(timeout);
        continue;
      }
      const line = this.buf.toString('latin1', pos, lf + 1);
      const m = /\{(\d+)\}\r\n$/.exec(line);
      if (!m) {
        out += line;
        this.buf = this.buf.subarray(lf + 1);
        return out.replace(/\r\n$/, '');
      }
      const need = lf + 1 + Number(m[1]);
      while (this.buf.length < need) {
        if (this.closed) return null;
        await this.waitData(timeout);
      }
      out += line + this.buf.toString('latin1', lf + 1, need);
      this.buf = this.buf.subarray(need);
      pos = 0;
    }
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends "<tag> <text>" and collects responses up to the tagged one. */
  async command(text: string, timeout = GIVE_UP_MS): Promise<{ untagged: string[]; tagged: string }> {
    const tag = `t${++this.n}`;
    this.send(`${tag} ${text}\r\n`);
    return this.until(tag, timeout);
  }

  async until(tag: string, timeout = GIVE_UP_MS): Promise<{ untagged: string[]; tagged: string }> {
    const untagged: string[] = [];
    for (;;) {
      const r = await this.readResponse(timeout);
      if (r === null) throw new Error(`closed before ${tag} completed; got ${JSON.stringify(untagged)}`);
      if (r.startsWith(`${tag} `)) return { untagged, tagged: r };
      untagged.push(r);
    }
  }

  async login(user = 'alice@example.com', password = PASSWORD): Promise<string> {
    return (await this.command(`LOGIN "${user}" "${password}"`)).tagged;
  }

  close(): void {
    this.socket.destroy();
  }

  /** Waits for the server to close the connection. */
  async closedByServer(timeout = GIVE_UP_MS): Promise<void> {
    const end = Date.now() + timeout;
    while (!this.closed) {
      if (Date.now() > end) throw new Error('server did not close');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/**
 * Runs a python3 imaplib script with `M` logged in as alice (`caps`: the capabilities before
 * login) and asserts it ran to its end; the script ends by printing "python ok".
 */
export async function assertPythonLoggedIn(srv: TestServer, name: string, body: string): Promise<void> {
  const r = await runPython(srv, name, `import imaplib, sys, time
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
typ, data = M.capability()
caps = data[0].decode().split()
M.login('alice@example.com', '${PASSWORD}')
${body}
print('python ok')
`);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /python ok/);
}

/** Runs a python3 imaplib script (argv[1] = the IMAP port) written into the server's folder. */
export function runPython(srv: TestServer, name: string, source: string): Promise<RunResult> {
  const script = join(srv.dir, name);
  writeFileSync(script, source);
  return run('python3', [script, String(srv.port)], { timeoutMs: 600_000 });
}
