import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Optional per-protocol log (ProtocolLogEnabled): one CSV line per command and per response,
 * in the spirit of Exchange's protocol logs. Callers mask secrets before logging.
 */
export class ProtocolLog {
  private ready: Promise<void> | null = null;
  private queue: string[] = [];
  private flushing = false;

  constructor(
    private readonly dataDir: string,
    private readonly protocol: string,
  ) {}

  private get file(): string {
    return join(this.dataDir, 'logs', `${this.protocol}-protocol.log`);
  }

  write(sessionId: string, seq: number, direction: 'C' | 'S', text: string): void {
    const clean = text.replace(/[\r\n]+$/, '').replace(/"/g, '""');
    this.queue.push(`${new Date().toISOString()},${sessionId},${seq},${direction},"${clean}"\n`);
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      this.ready ??= mkdir(join(this.dataDir, 'logs'), { recursive: true }).then(() => undefined);
      await this.ready;
      while (this.queue.length) {
        const lines = this.queue.splice(0).join('');
        await appendFile(this.file, lines);
      }
    } catch {
      // a full disk must not take the protocol down; the log is best effort
    } finally {
      this.flushing = false;
    }
  }
}
