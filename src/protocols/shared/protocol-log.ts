import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Optional per-protocol log (ProtocolLogEnabled): one CSV line per command and per response,
 * in the spirit of Exchange's protocol logs, in DATA/logs/<protocol>-protocol.log. Callers
 * mask secrets before logging.
 */
export class ProtocolLog {
  private ready: Promise<void> | null = null;
  private queue: string[] = [];
  /** The running flush, if any: one at a time keeps the lines in order. */
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly protocol: string,
  ) {}

  private get file(): string {
    return join(this.dataDir, 'logs', `${this.protocol}-protocol.log`);
  }

  /**
   * `client` (the remote address) adds a column before the direction. The text stays on one
   * CSV line and is cut at 500 characters: an IMAP command can be as long as its line limit.
   */
  write(sessionId: string, seq: number, direction: 'C' | 'S', text: string, client?: string): void {
    const clean = text.replace(/[\r\n]+$/, '').replace(/[\r\n]+/g, ' ').slice(0, 500).replace(/"/g, '""');
    const from = client === undefined ? '' : `${client},`;
    this.queue.push(`${new Date().toISOString()},${sessionId},${seq},${from}${direction},"${clean}"\n`);
    // flush() awaits before it can finish, so it never ends before this assignment
    this.flushing ??= this.flush();
  }

  /** Resolves once every line written so far is appended (or given up on). */
  async flushed(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    try {
      this.ready ??= mkdir(join(this.dataDir, 'logs'), { recursive: true }).then(() => undefined);
      await this.ready;
      while (this.queue.length) {
        const lines = this.queue.splice(0).join('');
        await appendFile(this.file, lines);
      }
    } catch {
      // a full disk must not take the protocol down; the log is best effort (and tries again)
      this.ready = null;
    } finally {
      this.flushing = null;
    }
  }
}
