/**
 * One IMAP connection's state machine (RFC 3501 section 3): not authenticated ->
 * authenticated -> selected -> logout. Commands run strictly one at a time; every exit
 * path (LOGOUT, drop, timeout, admin kill, server shutdown) ends in finish(), which releases
 * the store session and the connection counters exactly once.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ServerContext } from '../../server/context.js';
import { RECLAIMED_TEXT, type EndReason, type StoreSession } from '../../governor/governor.js';
import type { User } from '../../store/types.js';
import type { Connection } from './connection.js';
import type { FramerOptions, FramerEvent } from './parser/line-reader.js';
import { LITERAL_PLACEHOLDER, commandHead, parseCommand, type ImapValue, type ParsedCommand } from './parser/command-parser.js';
import { bad, oneLine, toImapFailure } from './errors.js';
import { capabilityList } from './capabilities.js';
import type { MailboxView, ViewOptions } from './mailbox-view.js';
import type { ProtocolLog } from '../shared/protocol-log.js';
import { COMMANDS } from './commands/index.js';
import { imapTurns } from './turns.js';
import type { Log } from '../../observability/log.js';

export type ImapState = 'notauth' | 'auth' | 'selected' | 'logout';

/** Test hooks: the timeout settings count in seconds and have minimums too long for tests. */
export interface ImapTuning {
  preAuthTimeoutMs?: number;
  authTimeoutMs?: number;
}

/** What all connections of one listener share. */
export interface ServerShared {
  ctx: ServerContext;
  implicitTls: boolean;
  tuning: ImapTuning;
  log: ProtocolLog;
  sessions: Set<ImapSession>;
}

/** Literals before login are small (a password); after it, up to the message size limit. */
const PREAUTH_LITERAL = 64 * 1024;


export class ImapSession {
  state: ImapState = 'notauth';
  user: User | null = null;
  storeSession: StoreSession | null = null;
  selected: { view: MailboxView; release: () => void } | null = null;
  readonly enabled = new Set<string>();
  clientInfo: string | null = null;
  /** Set while IDLE waits, so that store changes are pushed at once. */
  idleWake: (() => void) | null = null;
  /** The tag of the command being run (ESEARCH echoes it). */
  tag = '*';
  /** COMPRESS: the tagged OK goes out plain, everything after it deflated. */
  startCompressionAfterReply = false;
  /** STARTTLS: likewise, the handshake starts right after the tagged OK. */
  startTlsAfterReply = false;
  endReason: EndReason = 'drop';
  readonly id = randomUUID();
  private timer: NodeJS.Timeout | null = null;
  /** The timeout `timer` was set for (armTimer restarts it when unchanged). */
  private timerMs = 0;
  private finished: Promise<void> | null = null;
  private seq = 0;
  /** Short response lines written so far (pace). */
  private shortLines = 0;
  /** The structured log of this connection: its id, and the store session's once logged on. */
  logger: Log;

  constructor(
    readonly shared: ServerShared,
    readonly conn: Connection,
    private readonly releaseConnection: () => void,
  ) {
    this.logger = shared.ctx.log.child({ frontend: 'imap', conn: this.id });
  }

  get ctx(): ServerContext {
    return this.shared.ctx;
  }

  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT');
  }

  get viewOptions(): ViewOptions {
    return { condstore: this.enabled.has('CONDSTORE'), qresync: this.enabled.has('QRESYNC'), imap4rev2: this.enabled.has('IMAP4rev2') };
  }

  /**
   * A CONDSTORE-enabling command (RFC 7162 3.1) other than SELECT/EXAMINE: the first one while a
   * mailbox is selected is preceded by its HIGHESTMODSEQ (SELECT and EXAMINE send it anyway).
   */
  enableCondstore(): void {
    if (this.enabled.has('CONDSTORE')) return;
    this.enabled.add('CONDSTORE');
    if (this.selected) this.send(`OK [HIGHESTMODSEQ ${this.selected.view.highestModseq}] Highest`);
  }

  get isFinished(): boolean {
    return this.finished !== null;
  }

  maxMessageSize(): number {
    return this.ctx.settings.int('SmtpSettings.MaxMessageSize');
  }

  loginAllowed(): boolean {
    return this.conn.secure || this.ctx.settings.str('ImapSettings.LoginType') !== 'SecureLogin';
  }

  framerLimits(): FramerOptions {
    const line = this.ctx.settings.int('ImapSettings.MaxCommandSize');
    const literal = this.state === 'notauth' ? PREAUTH_LITERAL : this.maxMessageSize();
    return { maxLineLength: line, maxLiteralSize: literal, maxCommandSize: literal + 4 * line };
  }

  // ------------------------------------------------------------------ output
  /** Output is collected by the connection; flush() sends it (see Connection.write). */
  write(data: string | Buffer): boolean {
    return this.conn.write(data);
  }

  /** Sends the collected output now: at the end of a response, or before waiting for the client. */
  flush(): void {
    this.conn.flush();
  }

  /** One untagged response line ("* " is added). */
  /**
   * Between two lines (or messages) of a long response, given what write() answered: null to go
   * on at once; else wait for the client to take our output (it lags), or for a later event-loop
   * turn (this one's budget is spent: imapTurns). Check conn.closed after it. `short`: the line
   * was a short one (FETCH FLAGS, STORE): the clock is read every 32nd of them only (reading it
   * for each of 100,000 lines cost about 5% of the FETCH's time).
   */
  pace(writeOk: boolean, short = false): Promise<void> | null {
    if (!writeOk) return this.conn.drain();
    if (short && (++this.shortLines & 31) !== 0) return null;
    return imapTurns.pause();
  }

  /**
   * In a long loop over a view with no line written per step (SEARCH, SELECT ... QRESYNC): every
   * 256th step (`i`), null to go on or a later turn once this one's budget is spent (imapTurns).
   * Why: a SEARCH of 50,000 messages from the view alone was one turn of several ms.
   */
  step(i: number): Promise<void> | null {
    return (i & 255) === 0 ? imapTurns.pause() : null;
  }

  send(line: string): void {
    this.write(`* ${line}\r\n`);
  }

  private tagged(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: string): void {
    const line = `${tag} ${status} ${code ? `[${code}] ` : ''}${text}`;
    this.log('S', line);
    this.write(`${line}\r\n`);
    this.flush(); // a tagged line ends a response
  }

  bye(text: string): void {
    this.log('S', `* BYE ${text}`);
    this.send(`BYE ${text}`);
    this.flush();
  }

  /**
   * One protocol log line if ImapSettings.ProtocolLogEnabled, read on every line so that
   * switching it takes effect at once. Callers mask passwords (describe()).
   */
  private log(direction: 'C' | 'S', text: string): void {
    if (!this.protocolLogOn()) return;
    this.shared.log.write(this.id, this.seq, direction, text, this.conn.remoteAddress);
  }

  /** Whether protocol lines are logged now; callers that build a line for it ask first (most servers log nothing). */
  private protocolLogOn(): boolean {
    return this.ctx.settings.bool('ImapSettings.ProtocolLogEnabled');
  }

  // ------------------------------------------------------------------ main loop
  async run(): Promise<void> {
    this.logger.debug({ client: this.conn.remoteAddress, tls: this.conn.secure }, 'connection opened');
    this.conn.onClose(() => void this.finish());
    const t = this.shared.tuning.preAuthTimeoutMs ?? this.ctx.settings.int('ImapSettings.PreAuthenticatedConnectionTimeout') * 1000;
    this.armTimer(t);
    this.send(`OK [CAPABILITY ${capabilityList(this)}] ${oneLine(this.ctx.settings.str('ImapSettings.Banner'))}`);
    this.flush();
    while (this.state !== 'logout') {
      const e = await this.conn.next();
      if (!e) break;
      try {
        // commands of many sessions become ready in one turn (their store answers arrive in one message)
        const turn = imapTurns.pause();
        if (turn) await turn;
        await this.handle(e);
        // a client that pipelines without reading our answers: stop taking commands until it reads
        if (this.conn.outputBacklogged) await this.conn.drain();
      } catch {
        // handle() answers every failure itself; this only guards the loop against a bug
        this.bye('Server Unavailable. 15: internal error');
        this.endReason = 'error';
        break;
      }
    }
    this.conn.end();
    await this.finish();
  }

  private async handle(e: FramerEvent): Promise<void> {
    if (e.type === 'continue') {
      // a command that will be refused is answered now, before the client sends its literal
      // (RFC 3501 7.5; before login, no literal is invited for APPEND or anything else it may not use)
      const head = commandHead(e.head);
      const refusal = head ? await this.refusalBeforeLiteral(head.name, e.head) : null;
      if (head && refusal && this.conn.refuseLiteral(e.id)) {
        this.seq++;
        this.log('C', `${head.tag} ${head.name} (literal not invited)`);
        this.tagged(head.tag, refusal.status, refusal.text, refusal.code);
        return;
      }
      this.write('+ Ready for literal data\r\n');
      this.flush();
      return;
    }
    if (e.type === 'error') {
      const f = toImapFailure(bad(e.message, e.code));
      if (e.fatal) {
        this.bye(f.code ? `[${f.code}] ${f.text}` : f.text);
        this.endReason = 'error';
        this.state = 'logout';
      } else if (e.tag) this.tagged(e.tag, 'BAD', f.text, f.code);
      else this.send(`BAD ${f.code ? `[${f.code}] ` : ''}${f.text}`);
      return;
    }
    let cmd: ParsedCommand;
    try {
      cmd = parseCommand(e.line, e.literals, e.literal8);
    } catch (err) {
      const f = toImapFailure(err);
      const tag = (err as { tag?: string | null }).tag;
      this.seq++;
      this.log('C', `(unparsable) ${f.text}`);
      if (tag) this.tagged(tag, 'BAD', f.text, f.code);
      else this.send(`BAD ${f.text}`);
      return;
    }
    await this.execute(cmd);
  }

  private async execute(cmd: ParsedCommand): Promise<void> {
    const started = performance.now();
    this.seq++;
    this.tag = cmd.tag;
    if (this.protocolLogOn()) this.log('C', describe(cmd));
    const refusal = this.refusal(cmd.name);
    if (refusal) return this.tagged(cmd.tag, 'BAD', refusal);
    const spec = COMMANDS[cmd.name]!;
    this.activity();
    let status: 'OK' | 'NO' | 'BAD' = 'OK';
    let text: string;
    let code: string | undefined;
    try {
      const r = await spec.run(this, cmd);
      if (typeof r === 'object') ({ code, text } = r);
      else text = r ?? `${cmd.name} completed`;
    } catch (err) {
      const f = toImapFailure(err);
      if (f.code === 'SERVERBUG') this.logger.error({ err, command: cmd.name }, 'command failed');
      ({ status, text, code } = f);
    }
    // RFC 3501 7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH (UID forms may).
    await this.pushChanges(!spec.noExpunge).catch(() => undefined);
    if (this.state === 'logout' && cmd.name !== 'LOGOUT') return; // said BYE meanwhile: no tagged answer follows it
    this.tagged(cmd.tag, status, text, code);
    const ms = performance.now() - started;
    this.ctx.metrics.observeCommand('imap', cmd.name, ms / 1000);
    // the object is made only when it is logged (debug is off in production: no allocation per command)
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ command: cmd.name, status, ms: Math.round(ms * 10) / 10 }, 'command');
    if (this.startTlsAfterReply) {
      this.startTlsAfterReply = false;
      void this.conn.startTls({ secureContext: this.shared.ctx.tls.contextFor(), SNICallback: this.shared.ctx.tls.SNICallback }, this.framerLimits());
    }
    if (this.startCompressionAfterReply) {
      this.startCompressionAfterReply = false;
      this.conn.startCompression();
    }
    this.activity();
  }

  /**
   * The answer to a command whose synchronising literal the client announced, when it is
   * refused already: unknown, not in this state, or its own beforeLiteral check says so (asked
   * before the first literal only: `head`, the text so far, holds no placeholder then).
   */
  private async refusalBeforeLiteral(name: string, head: Buffer): Promise<{ status: 'NO' | 'BAD'; text: string; code?: string } | null> {
    const why = this.refusal(name);
    if (why) return { status: 'BAD', text: why };
    const check = COMMANDS[name]!.beforeLiteral;
    if (!check || head.includes(LITERAL_PLACEHOLDER)) return null;
    let cmd: ParsedCommand;
    try {
      cmd = parseCommand(head, []);
    } catch {
      return null; // cut mid-token: let the whole command tell
    }
    try {
      await check(this, cmd);
      return null;
    } catch (err) {
      const f = toImapFailure(err);
      return f.code === 'SERVERBUG' ? null : f; // a failed check refuses nothing: the command will tell
    }
  }

  /** Why a command of this name cannot run now (unknown, or not in this state), or null. */
  private refusal(name: string): string | null {
    const spec = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!spec) return `Unknown command ${oneLine(name).slice(0, 40)}`;
    if (spec.states.includes(this.state)) return null;
    const why = this.state === 'notauth' ? 'Log in first' : spec.states.includes('selected') ? 'Select a mailbox first' : 'Not allowed in this state';
    return `${name}: ${why}`;
  }

  /** Announces what changed in the selected mailbox (EXISTS, EXPUNGE/VANISHED, FETCH FLAGS). */
  async pushChanges(allowExpunge: boolean): Promise<void> {
    if (!this.selected) return;
    const view = this.selected.view;
    const lines = view.deleted ? [] : await view.sync(allowExpunge, this.viewOptions);
    if (view.deleted) {
      if (!this.isFinished && this.state !== 'logout') this.endForDeletedMailbox();
      return;
    }
    if (lines.length === 0) return;
    // one write for all of them (an IDLE push reaches many connections at once)
    this.write(lines.length === 1 ? `* ${lines[0]}\r\n` : `* ${lines.join('\r\n* ')}\r\n`);
    this.flush();
  }

  // ------------------------------------------------------------------ timers
  private armTimer(ms: number): void {
    // the same timeout again (every command re-arms it twice): restart the timer in place rather
    // than allocate a new one (an object, a closure and a timer-list entry per command)
    if (this.timer && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(this.timeout, ms);
    this.timer.unref();
  }

  /** Commands reset the authenticated idle timer, never the pre-authentication one. */
  activity(): void {
    if (this.state === 'notauth' || this.state === 'logout') return;
    this.storeSession?.touch();
    const t = this.shared.tuning.authTimeoutMs ?? this.ctx.settings.int('ImapSettings.AuthenticatedConnectionTimeout') * 1000;
    this.armTimer(t);
  }

  private readonly timeout = (): void => {
    if (this.isFinished) return;
    this.bye(this.state === 'notauth' ? 'Pre-authentication timeout; closing connection' : 'Autologout; idle for too long');
    this.end('timeout');
  };

  /** Ends the connection from our side (timeout, admin kill, shutdown). */
  end(reason: EndReason): void {
    this.endReason = reason;
    this.state = 'logout';
    this.conn.end();
    void this.finish();
  }

  // ------------------------------------------------------------------ logon
  /** After a successful logon: state, timers, admin kill. */
  loggedIn(user: User, session: StoreSession): void {
    this.user = user;
    this.storeSession = session;
    this.logger = this.logger.child({ session: session.id });
    this.state = 'auth';
    this.activity();
    this.conn.setLimits(this.framerLimits());
    session.onEnd((reason) => {
      if (this.isFinished || (reason !== 'killed' && reason !== 'shutdown' && reason !== 'reclaimed')) return;
      this.bye(reason === 'killed' ? 'Session ended by an administrator' : reason === 'reclaimed' ? RECLAIMED_TEXT : 'Server shutting down');
      this.end(reason);
    });
  }

  /**
   * Change notifications for a mailbox being selected: subscribed before its view loads (a change
   * committed meanwhile then only costs one more sync), for that folder alone (a delivery wakes
   * the sessions that have its folder selected, not every session of the node). The caller
   * unsubscribes when the mailbox is closed.
   */
  watchFolder(view: MailboxView): () => void {
    return this.ctx.changes.subscribeFolder(view.userId, view.folder.id, (c) => {
      if (c.kind === 'folders') {
        void this.closeIfDeleted(view);
        return;
      }
      view.dirty = true;
      if (this.selected?.view === view) this.idleWake?.();
    });
  }

  /**
   * Another session deleted the selected mailbox (a rename keeps it: the view follows the
   * folder, not its name). Nothing the client could do with it would work, so, as Dovecot
   * does, the server says BYE and closes (RFC 3501 7.1.5); finish() releases the store session.
   * The view may still be loading (a SELECT that overlapped the DELETE): it is marked, and the
   * SELECT fails with NONEXISTENT or the next pushChanges() says BYE, whichever comes first.
   */
  private async closeIfDeleted(view: MailboxView): Promise<void> {
    let exists: unknown;
    try {
      exists = await this.ctx.store.getFolderById(this.user!.id, view.folder.id);
    } catch {
      view.dirty = true; // the store cannot tell now: the next command's sync will
      return;
    }
    if (exists || this.isFinished) return;
    view.deleted = true;
    if (this.selected?.view === view) this.endForDeletedMailbox();
  }

  private endForDeletedMailbox(): void {
    this.bye('Selected mailbox was deleted, have to disconnect.');
    this.end('logout');
  }

  deselect(): void {
    this.selected?.release();
    this.selected = null;
    if (this.state === 'selected') this.state = 'auth';
  }

  /** The selected mailbox's view (handlers registered for the selected state only). */
  get view(): MailboxView {
    if (!this.selected) throw bad('No mailbox selected');
    return this.selected.view;
  }

  finish(): Promise<void> {
    // never rejects: it runs from socket events, where a rejection would be unhandled
    this.finished ??= this.release().catch((err) => this.logger.error({ err }, 'release failed'));
    return this.finished;
  }

  private async release(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.idleWake = null;
    this.selected?.release();
    this.selected = null;
    this.state = 'logout';
    try {
      await this.storeSession?.close(this.endReason);
      if (this.storeSession) this.logger.info({ reason: this.endReason }, 'session ended');
    } finally {
      this.releaseConnection();
      this.shared.sessions.delete(this);
    }
  }
}

/** The command as the protocol log shows it: passwords and message data never appear. */
function describe(cmd: ParsedCommand): string {
  if (cmd.name === 'LOGIN') return `${cmd.tag} LOGIN ${show(cmd.args[0])} *****`;
  if (cmd.name === 'AUTHENTICATE') return `${cmd.tag} AUTHENTICATE ${show(cmd.args[0])}${cmd.args.length > 1 ? ' *****' : ''}`;
  return `${cmd.tag} ${cmd.name} ${cmd.args.map(show).join(' ')}`.trimEnd();
}

function show(v: ImapValue | undefined): string {
  if (!v) return '';
  if (v.t === 'atom') return v.v;
  if (v.t === 'list') return `(${v.v.map(show).join(' ')})`;
  return v.v.length <= 100 && !v.v.includes(0x0a) ? JSON.stringify(v.v.toString('utf8')) : `{${v.v.length}}`;
}
