import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { LiveSettings } from '../../settings/resolve.js';

/**
 * ImapSettings.ProtocolLogEnabled: one CSV line per command and per tagged answer, in
 * DATA/logs/imap-protocol.log, like Exchange's protocol log. The setting is read on every
 * line so that switching it takes effect at once; passwords never reach the file.
 */
export class ProtocolLog {
  private stream: WriteStream | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly settings: LiveSettings,
  ) {}

  line(sessionId: string, seq: number, client: string, direction: 'C' | 'S', text: string): void {
    if (!this.settings.bool('ImapSettings.ProtocolLogEnabled')) return;
    if (!this.stream) {
      const dir = join(this.dataDir, 'logs');
      mkdirSync(dir, { recursive: true });
      this.stream = createWriteStream(join(dir, 'imap-protocol.log'), { flags: 'a' });
      this.stream.on('error', () => (this.stream = null));
    }
    const safe = text.replace(/[\r\n]+/g, ' ').slice(0, 500).replace(/"/g, '""');
    this.stream.write(`${new Date().toISOString()},${sessionId},${seq},${client},${direction},"${safe}"\n`);
  }

  close(): Promise<void> {
    const s = this.stream;
    this.stream = null;
    return new Promise((resolve) => (s ? s.end(resolve) : resolve()));
  }
}
