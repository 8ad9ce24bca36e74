import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * A deliberately dumb line-oriented client for protocol tests: it sends exactly the bytes a
 * test gives it and hands back the server's lines, so that tests can send what no polite
 * client would (garbage, over-long lines, commands in the wrong state).
 */
export class LineClient {
  private buf = '';
  private readonly lines: string[] = [];
  private readonly waiters: Array<{ resolve: (l: string) => void; reject: (e: Error) => void }> = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      this.buf += c;
      let i;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        const w = this.waiters.shift();
        if (w) w.resolve(l);
        else this.lines.push(l);
      }
    });
    const end = () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error('connection closed'));
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  static async connect(port: number, opts: { tls?: boolean; ca?: string; host?: string } = {}): Promise<LineClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s: Socket = opts.tls
        ? tlsConnect({ port, host: opts.host ?? '127.0.0.1', ca: opts.ca, servername: 'localhost' }, () => resolve(s))
        : netConnect(port, opts.host ?? '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    return new LineClient(socket);
  }

  /** `timeoutMs` only bounds how long a broken test hangs (generous: a loaded machine is slow, not broken). */
  line(timeoutMs = 120_000): Promise<string> {
    if (this.lines.length) return Promise.resolve(this.lines.shift()!);
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const w = { resolve, reject };
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error('timed out waiting for a line'));
      }, timeoutMs);
      t.unref(); // the open socket keeps the process alive; a left-over read must not hold it for the whole bound
      w.resolve = (l) => { clearTimeout(t); resolve(l); };
      w.reject = (e) => { clearTimeout(t); reject(e); };
      this.waiters.push(w);
    });
  }

  /** Lines up to (not including) a lone "." — a POP3 multi-line body, un-dot-stuffed. */
  async block(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l === '.') return out;
      out.push(l.startsWith('..') ? l.slice(1) : l);
    }
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  async cmd(text: string): Promise<string> {
    this.send(text + '\r\n');
    return this.line();
  }

  /** Resolves when the server closes the connection. */
  waitClose(timeoutMs = 120_000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('server did not close')), timeoutMs);
      t.unref();
      this.socket.once('close', () => { clearTimeout(t); resolve(); });
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}
