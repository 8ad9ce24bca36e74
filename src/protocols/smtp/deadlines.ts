/**
 * Deadlines that a slow client cannot stretch (issue 14 item 4). The library's idle timeout
 * starts over at every byte, so a client sending one byte every few seconds held its connection
 * for ever. Here a command line must be complete within `SmtpSettings.CommandTimeout` seconds of
 * its first byte, and the whole message within `SmtpSettings.DataTimeout` seconds of the 354;
 * nothing the client sends extends either. Both are read when each deadline starts (live).
 */
import type { Socket } from 'node:net';

/** What a deadline needs of smtp-server's connection object (public methods of SMTPConnection). */
export interface DeadlineConnection {
  send(code: number, data?: string | string[] | null, context?: string | false): void;
  close(): void;
}

export interface DeadlineOptions {
  commandMs: () => number;
  dataMs: () => number;
  /** Called once when a deadline bites, before the connection is closed. */
  onBite: (setting: 'SmtpSettings.CommandTimeout' | 'SmtpSettings.DataTimeout', seconds: number) => void;
}

export class SmtpDeadlines {
  private commandTimer: NodeJS.Timeout | null = null;
  private dataTimer: NodeJS.Timeout | null = null;
  private inData = false;
  private done = false;

  constructor(private readonly conn: DeadlineConnection, private readonly opts: DeadlineOptions) {}

  /**
   * Watches the socket's input (again after STARTTLS: the TLS socket's plaintext). A chunk that
   * ends in the middle of a line starts the command deadline unless it runs; one that ends a line
   * stops it (pipelined commands arrive as whole lines).
   */
  watch(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      if (this.done || this.inData || chunk.length === 0) return;
      if (chunk[chunk.length - 1] === 0x0a) this.clearCommand();
      else if (!this.commandTimer) this.commandTimer = this.arm(this.opts.commandMs(), 'SmtpSettings.CommandTimeout');
    });
    socket.once('close', () => this.stop());
  }

  /** The DATA phase starts (354 sent): its own deadline, for the whole message. */
  dataStarted(): void {
    this.inData = true;
    this.clearCommand();
    if (!this.done) this.dataTimer = this.arm(this.opts.dataMs(), 'SmtpSettings.DataTimeout');
  }

  /** The message's final dot arrived (or the transfer ended otherwise). */
  dataEnded(): void {
    this.inData = false;
    if (this.dataTimer) clearTimeout(this.dataTimer);
    this.dataTimer = null;
  }

  stop(): void {
    this.done = true;
    this.clearCommand();
    this.dataEnded();
  }

  private clearCommand(): void {
    if (this.commandTimer) clearTimeout(this.commandTimer);
    this.commandTimer = null;
  }

  private arm(ms: number, setting: 'SmtpSettings.CommandTimeout' | 'SmtpSettings.DataTimeout'): NodeJS.Timeout {
    const t = setTimeout(() => {
      if (this.done) return;
      this.stop();
      const seconds = Math.round(ms / 1000);
      this.opts.onBite(setting, seconds);
      const what = setting === 'SmtpSettings.DataTimeout' ? 'message' : 'command';
      this.conn.send(421, `4.4.2 ${what} not completed within ${seconds} seconds (${setting}); closing connection`, false);
      this.conn.close();
    }, ms);
    t.unref();
    return t;
  }
}
