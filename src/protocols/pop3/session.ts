import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ServerContext } from '../../server/context.js';
import { STORE_ERROR_ANSWERS } from '../../access/answers.js';
import { StoreError } from '../../store/errors.js';
import { RECLAIMED_TEXT, type StoreSession } from '../../governor/governor.js';
import type { User } from '../../store/types.js';
import { ProtocolLog } from '../shared/protocol-log.js';
import { InputBudget, INPUT_BUDGET_SETTING } from '../shared/input-budget.js';
import { COMMANDS, type Pop3State } from './commands.js';
import type { Maildrop } from './maildrop.js';
import type { Log } from '../../observability/log.js';

const DOT_LINE = Buffer.from('.\r\n');

/** After this many bad commands the connection is closed, as Exchange and Dovecot do. */
const MAX_BAD_COMMANDS = 10;

/**
 * One POP3 connection (RFC 1939): reads CRLF lines, runs commands strictly in order
 * (PIPELINING-safe), and guarantees that the store session and connection slots it holds
 * are released exactly once, whatever way the connection ends.
 */
export class Pop3Session {
  state: Pop3State = 'AUTHORIZATION';
  socket: Socket;
  user: User | null = null;
  pendingUser: string | null = null;
  storeSession: StoreSession | null = null;
  maildrop: Maildrop | null = null;
  readonly id: string;
  private buffer: Buffer = Buffer.alloc(0);
  /** Pipelined lines waiting in `buffer` count against the connection's input budget. */
  private readonly inputBudget: InputBudget;
  private discarding = false;
  private busy = false;
  private closed = false;
  private badCommands = 0;
  private seq = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private preAuthTimer: NodeJS.Timeout | null = null;
  /** Continuation handler for AUTH exchanges: the next line goes here instead of the command table. */
  continuation: ((line: string) => Promise<void>) | null = null;
  private readonly releases: Array<() => void> = [];
  private readonly log: ProtocolLog | null;
  /** The structured log of this connection: its id, and the store session's once logged on. */
  logger: Log;

  constructor(
    readonly ctx: ServerContext,
    socket: Socket,
    readonly implicitTls: boolean,
    readonly clientAddress: string,
    connectionRelease: () => void,
    private readonly onClosed: (s: Pop3Session) => void,
  ) {
    this.socket = socket;
    this.id = `pop3-${randomUUID()}`;
    this.logger = ctx.log.child({ frontend: 'pop3', conn: this.id });
    this.logger.debug({ client: clientAddress, tls: implicitTls }, 'connection opened');
    this.releases.push(connectionRelease);
    this.inputBudget = new InputBudget(ctx.settings.int(INPUT_BUDGET_SETTING), () => this.socket.pause(), () => {
      if (!this.closed) this.socket.resume();
    });
    this.log = ctx.settings.bool('PopSettings.ProtocolLogEnabled') ? new ProtocolLog(ctx.dataDir, 'pop3') : null;
    this.attach(socket);
    const preAuth = ctx.settings.int('PopSettings.PreAuthenticatedConnectionTimeout') * 1000;
    // commands do not reset this timer: a client has this long to log on, full stop
    this.preAuthTimer = setTimeout(() => this.timeout('-ERR [SYS/TEMP] Logon took too long; closing'), preAuth);
  }

  get secure(): boolean {
    return this.socket instanceof TLSSocket;
  }

  get plaintextAllowed(): boolean {
    return this.secure || this.ctx.settings.str('PopSettings.LoginType') !== 'SecureLogin';
  }

  attach(socket: Socket): void {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => void this.end('drop'));
    socket.on('close', () => void this.end('drop'));
  }

  /** STLS: stop reading the plain socket; the caller attaches the TLS socket. */
  detach(): void {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
    this.buffer = Buffer.alloc(0);
    this.inputBudget.clear();
  }

  greet(): void {
    const banner = this.ctx.settings.str('PopSettings.Banner');
    this.send(`+OK ${banner}`);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Takes ownership of a freshly opened store session. The logon awaited the password check
   * and the governor, so the client may have gone meanwhile: then the session is closed now,
   * never leaked. Returns false in that case.
   */
  async adopt(session: StoreSession): Promise<boolean> {
    if (this.closed) {
      await session.close('drop');
      return false;
    }
    this.storeSession = session;
    this.logger = this.logger.child({ session: session.id });
    return true;
  }

  /** Called once the store session is open: the authenticated idle timer starts. */
  authenticated(): void {
    if (this.preAuthTimer) clearTimeout(this.preAuthTimer);
    this.preAuthTimer = null;
    this.resetIdle();
    this.storeSession?.onEnd((reason) => {
      if (reason === 'killed') this.close('-ERR [SYS/PERM] Your session was ended by an administrator');
      else if (reason === 'reclaimed') this.close(`-ERR [SYS/TEMP] ${RECLAIMED_TEXT}`);
    });
  }

  private resetIdle(): void {
    // closed: the client may leave while the maildrop opens, after adopt()
    if (this.state !== 'TRANSACTION' || this.closed) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const ms = this.ctx.settings.int('PopSettings.AuthenticatedConnectionTimeout') * 1000;
    this.idleTimer = setTimeout(() => this.timeout('-ERR [SYS/TEMP] Idle too long; closing'), ms);
    this.idleTimer.unref(); // the listener keeps the server alive; a session's timer must not keep a closed one
  }

  private timeout(text: string): void {
    if (this.closed) return;
    this.sendLine(text);
    void this.end('timeout');
  }

  send(line: string): void {
    this.sendLine(line);
  }

  private sendLine(line: string): void {
    if (this.closed || this.socket.destroyed) return;
    this.log?.write(this.id, this.seq, 'S', line);
    this.socket.write(line + '\r\n');
  }

  /** A multi-line response body; waits for the socket to drain so that big RETRs stay bounded in memory. */
  async sendBlock(first: string, body: Buffer): Promise<void> {
    if (this.closed || this.socket.destroyed) return;
    this.log?.write(this.id, this.seq, 'S', `${first} [${body.length} bytes]`);
    // one writev for status line, body and terminator instead of three socket writes
    this.socket.cork();
    this.socket.write(first + '\r\n');
    this.socket.write(body);
    const ok = this.socket.write(DOT_LINE);
    this.socket.uncork();
    if (!ok) await new Promise<void>((resolve) => {
      const done = () => { this.socket.off('drain', done); this.socket.off('close', done); resolve(); };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => { this.socket.off('drain', done); this.socket.off('close', done); resolve(); };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    this.inputBudget.add(chunk.length);
    const max = this.ctx.settings.int('PopSettings.MaxCommandSize');
    // bound memory: a line longer than the limit is answered and discarded as it streams in
    if (this.buffer.indexOf(0x0a) < 0 && this.buffer.length > max) {
      if (!this.discarding) {
        this.discarding = true;
        this.badCommand(`-ERR Command line too long (PopSettings.MaxCommandSize is ${max} bytes)`);
      }
      this.buffer = Buffer.alloc(0);
      this.inputBudget.clear();
      return;
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      let nl: number;
      while (!this.closed && (nl = this.buffer.indexOf(0x0a)) >= 0) {
        const raw = this.buffer.subarray(0, nl);
        this.buffer = this.buffer.subarray(nl + 1);
        this.inputBudget.remove(nl + 1);
        if (this.discarding) {
          this.discarding = false;
          continue; // the tail of an over-long line
        }
        const line = raw.toString('latin1').replace(/\r$/, '');
        await this.handleLine(line);
        // a client that pipelines without reading our answers: wait until it reads
        if (this.socket.writableLength > this.inputBudget.limit) await this.drained();
      }
    } finally {
      this.busy = false;
    }
  }

  private async handleLine(line: string): Promise<void> {
    this.seq++;
    const max = this.ctx.settings.int('PopSettings.MaxCommandSize');
    if (line.length > max) {
      this.badCommand(`-ERR Command line too long (PopSettings.MaxCommandSize is ${max} bytes)`);
      return;
    }
    if (this.continuation) {
      this.log?.write(this.id, this.seq, 'C', '*****');
      const next = this.continuation;
      this.continuation = null;
      await next(line);
      return;
    }
    const space = line.indexOf(' ');
    const name = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const arg = space < 0 ? '' : line.slice(space + 1);
    this.log?.write(this.id, this.seq, 'C', name === 'PASS' || name === 'AUTH' ? `${name} *****` : line);
    const cmd = COMMANDS[name];
    if (!cmd) {
      this.badCommand(/^[\x20-\x7e]*$/.test(name) && name.length <= 16 ? `-ERR Unknown command: ${name}` : '-ERR Unknown command');
      return;
    }
    if (!cmd.states.includes(this.state)) {
      this.badCommand(`-ERR ${name} is not valid in the ${this.state} state`);
      return;
    }
    this.resetIdle();
    this.storeSession?.touch();
    const started = process.hrtime.bigint();
    try {
      await cmd.run(this, arg);
    } catch (err) {
      // a failure answers like Exchange's catch-all, with the real reason after it; a store
      // error's code comes from the one table (access/answers.ts)
      const code = err instanceof StoreError ? STORE_ERROR_ANSWERS[err.kind].pop3 : 'SYS/TEMP';
      if (err instanceof StoreError) this.logger.info({ err, command: name }, 'command refused by the store');
      else this.logger.error({ err, command: name }, 'command failed');
      this.send(`-ERR [${code}] Server Unavailable. 21: ${(err as Error).message.replace(/[\r\n]+/g, ' ').slice(0, 200)}`);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.ctx.metrics.observeCommand('pop3', name, seconds);
    this.logger.debug({ command: name, ms: Math.round(seconds * 1e4) / 10 }, 'command');
  }

  badCommand(text: string): void {
    this.badCommands++;
    if (this.badCommands >= MAX_BAD_COMMANDS) {
      this.close(`${text}; too many bad commands, closing`);
      return;
    }
    this.send(text);
  }

  /** Sends a last line and closes; the session is released by end(). */
  close(lastLine?: string): void {
    if (lastLine) this.sendLine(lastLine);
    this.socket.end();
    void this.end('logout');
  }

  /** The single exit path: every way out comes here; release is idempotent. */
  async end(reason: 'logout' | 'drop' | 'timeout' | 'shutdown'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.preAuthTimer) clearTimeout(this.preAuthTimer);
    if (reason !== 'logout') this.socket.destroy();
    for (const r of this.releases.splice(0)) r();
    try {
      await this.storeSession?.close(reason);
      if (this.storeSession) this.logger.info({ reason }, 'session ended');
    } finally {
      this.onClosed(this);
    }
  }
}
