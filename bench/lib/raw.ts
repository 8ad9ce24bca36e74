import net from 'node:net';
import tls from 'node:tls';

/**
 * A raw TCP connection with a pull-style reader, shared by the POP3, IMAP and SMTP/LMTP
 * benchmark clients so that the client-side cost is identical whichever server answers.
 */
export class RawConn {
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private ended = false;
  private error: Error | null = null;
  bytesIn = 0;

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.bytesIn += d.length;
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.notify();
    });
    sock.on('end', () => this.finish(null));
    sock.on('close', () => this.finish(null));
    sock.on('error', (e) => this.finish(e));
  }

  /** `secure`: implicit TLS (imaps, pop3s, submissions); the benchmark servers' certificates are self-signed, so not verified. */
  /** `localAddress`: the client's own address (e.g. 127.0.1.N), so that many clients are many addresses. */
  static connect(port: number, host = '127.0.0.1', secure = false, localAddress?: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const sock = secure ? tls.connect({ port, host, localAddress, rejectUnauthorized: false } as tls.ConnectionOptions) : net.connect({ port, host, localAddress });
      sock.setNoDelay(true);
      const onErr = (e: Error) => reject(e);
      sock.once('error', onErr);
      sock.once(secure ? 'secureConnect' : 'connect', () => {
        sock.off('error', onErr);
        resolve(new RawConn(sock));
      });
    });
  }

  private finish(e: Error | null): void {
    if (e && !this.error) this.error = e;
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private wait(what: string): Promise<void> {
    if (this.ended) {
      const tail = this.buf.subarray(0, 200).toString('latin1');
      throw new Error(`connection closed while waiting for ${what}${this.error ? ` (${this.error.message})` : ''}${tail ? `; unread: ${JSON.stringify(tail)}` : ''}`);
    }
    return new Promise((r) => (this.wake = r));
  }

  write(data: string | Buffer): void {
    this.sock.write(data);
  }

  /** Next CRLF-terminated line, without the CRLF. */
  async line(): Promise<string> {
    let from = 0;
    for (;;) {
      const i = this.buf.indexOf('\r\n', from, 'latin1');
      if (i >= 0) {
        const s = this.buf.toString('latin1', 0, i);
        this.buf = this.buf.subarray(i + 2);
        return s;
      }
      from = Math.max(0, this.buf.length - 1);
      await this.wait('a line');
    }
  }

  /** Exactly n bytes. */
  async bytes(n: number): Promise<Buffer> {
    while (this.buf.length < n) await this.wait(`${n} bytes`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** A POP3 multi-line body up to and including the "." line; returns the body's byte count. */
  async dotBlock(): Promise<number> {
    let from = 0;
    for (;;) {
      if (this.buf.length >= 3 && this.buf[0] === 0x2e && this.buf[1] === 0x0d && this.buf[2] === 0x0a) {
        this.buf = this.buf.subarray(3);
        return 0;
      }
      const i = this.buf.indexOf('\r\n.\r\n', from, 'latin1');
      if (i >= 0) {
        this.buf = this.buf.subarray(i + 5);
        return i + 2;
      }
      from = Math.max(0, this.buf.length - 4);
      await this.wait('the end of a multi-line response');
    }
  }

  close(): void {
    this.sock.destroy();
  }

  /** Resolves when the server has closed the connection (after QUIT/LOGOUT). */
  async closed(): Promise<void> {
    while (!this.ended) await new Promise<void>((r) => (this.wake = r));
    this.sock.destroy();
  }
}

// ------------------------------------------------------------------ POP3

export class Pop3Client {
  private constructor(readonly conn: RawConn) {}

  static async connect(port: number, secure = false, localAddress?: string): Promise<Pop3Client> {
    const c = new Pop3Client(await RawConn.connect(port, undefined, secure, localAddress));
    await c.expectOk('greeting');
    return c;
  }

  private async expectOk(what: string): Promise<string> {
    const l = await this.conn.line();
    if (!l.startsWith('+OK')) throw new Error(`POP3 ${what}: ${l}`);
    return l;
  }

  async cmd(line: string, what = line.split(' ')[0]): Promise<string> {
    this.conn.write(line + '\r\n');
    return this.expectOk(what);
  }

  async login(user: string, password: string): Promise<void> {
    await this.cmd(`USER ${user}`);
    await this.cmd(`PASS ${password}`, 'PASS');
  }

  /** LIST: message numbers and sizes. */
  async list(): Promise<Array<[number, number]>> {
    await this.cmd('LIST');
    const out: Array<[number, number]> = [];
    for (;;) {
      const l = await this.conn.line();
      if (l === '.') return out;
      const [n, size] = l.split(' ').map(Number);
      out.push([n, size]);
    }
  }

  /** RETR n: returns the bytes of the (dot-stuffed) body received. */
  async retr(n: number): Promise<number> {
    await this.cmd(`RETR ${n}`, 'RETR');
    return this.conn.dotBlock();
  }

  async quit(): Promise<void> {
    await this.cmd('QUIT');
    await this.conn.closed();
  }
}

// ------------------------------------------------------------------ IMAP

export interface ImapResponse {
  status: string;
  text: string;
  untagged: number;
  literalBytes: number;
}

export class ImapClient {
  private seq = 0;
  private constructor(readonly conn: RawConn) {}

  static async connect(port: number, secure = false, localAddress?: string): Promise<ImapClient> {
    const c = new ImapClient(await RawConn.connect(port, undefined, secure, localAddress));
    const greeting = await c.conn.line();
    if (!greeting.startsWith('* OK')) throw new Error(`IMAP greeting: ${greeting}`);
    return c;
  }

  /**
   * Sends one tagged command (with an optional synchronising literal at its end) and reads to its
   * tagged answer; untagged lines without literals go into `lines` when given.
   */
  async cmd(text: string, literal?: Buffer, requireOk = true, lines?: string[]): Promise<ImapResponse> {
    const tag = `A${++this.seq}`;
    let untagged = 0;
    let literalBytes = 0;
    if (literal) {
      this.conn.write(`${tag} ${text} {${literal.length}}\r\n`);
      for (;;) {
        const l = await this.conn.line();
        if (l.startsWith('+')) break;
        if (l.startsWith(`${tag} `)) throw new Error(`IMAP ${text.split(' ')[0]} refused the literal: ${l}`);
        untagged++;
      }
      this.conn.write(literal);
      this.conn.write('\r\n');
    } else {
      this.conn.write(`${tag} ${text}\r\n`);
    }
    for (;;) {
      let l = await this.conn.line();
      // a line ending in {n} is followed by n bytes and the rest of the response line
      for (let m = /\{(\d+)\+?\}$/.exec(l); m; m = /\{(\d+)\+?\}$/.exec(l)) {
        const n = Number(m[1]);
        await this.conn.bytes(n);
        literalBytes += n;
        l = await this.conn.line();
      }
      if (l.startsWith(`${tag} `)) {
        const rest = l.slice(tag.length + 1);
        const status = rest.split(' ')[0];
        if (requireOk && status !== 'OK') throw new Error(`IMAP ${text.slice(0, 60)}: ${l.slice(0, 300)}`);
        return { status, text: rest, untagged, literalBytes };
      }
      lines?.push(l);
      untagged++;
    }
  }

  async login(user: string, password: string): Promise<void> {
    await this.cmd(`LOGIN "${user}" "${password}"`);
  }

  async logout(): Promise<void> {
    await this.cmd('LOGOUT');
    await this.conn.closed();
  }
}

// ------------------------------------------------------------------ SMTP / LMTP

export class SmtpClient {
  private constructor(readonly conn: RawConn) {}

  static async connect(port: number, lmtp: boolean, heloName = 'client.bench.test', secure = false, localAddress?: string): Promise<SmtpClient> {
    const c = new SmtpClient(await RawConn.connect(port, undefined, secure, localAddress));
    await c.reply(220, 'greeting');
    c.conn.write(`${lmtp ? 'LHLO' : 'EHLO'} ${heloName}\r\n`);
    await c.reply(250, lmtp ? 'LHLO' : 'EHLO');
    return c;
  }

  /** Reads one (possibly multi-line) reply and checks its code. */
  async reply(expect: number, what: string): Promise<string> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.conn.line();
      lines.push(l);
      if (l.length < 4 || l[3] === ' ') break;
    }
    const code = Number(lines[lines.length - 1].slice(0, 3));
    if (code !== expect) throw new Error(`${what}: expected ${expect}, got ${lines.join(' | ').slice(0, 300)}`);
    return lines.join('\n');
  }

  async cmd(line: string, expect: number): Promise<string> {
    this.conn.write(line + '\r\n');
    return this.reply(expect, line.split(':')[0]);
  }

  /** One transaction with one recipient; `payload` is already dot-stuffed and terminated. */
  async send(from: string, to: string, payload: Buffer): Promise<void> {
    await this.cmd(`MAIL FROM:<${from}>`, 250);
    await this.cmd(`RCPT TO:<${to}>`, 250);
    await this.cmd('DATA', 354);
    this.conn.write(payload);
    await this.reply(250, 'end of DATA');
  }

  async quit(): Promise<void> {
    await this.cmd('QUIT', 221);
    this.conn.close();
  }
}
