/**
 * The byte side of one IMAP connection: socket (replaced on STARTTLS), optional DEFLATE
 * (RFC 4978), the command framer, and a queue of framed commands read by one consumer.
 * Input is paused while too much is queued, so a client that pipelines faster than we
 * answer cannot grow our memory.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import zlib from 'node:zlib';
import { CommandFramer, type FramerEvent, type FramerOptions } from './parser/line-reader.js';

const PAUSE_BYTES = 1 << 20;

export class Connection {
  socket: Socket;
  secure: boolean;
  closed = false;
  compressed = false;
  private inputEnded = false;
  private framer: CommandFramer;
  private queue: FramerEvent[] = [];
  private queuedBytes = 0;
  private waiter: ((e: FramerEvent | null) => void) | null = null;
  private deflate: zlib.DeflateRaw | null = null;
  private inflate: zlib.InflateRaw | null = null;
  private readonly closeHandlers: Array<() => void> = [];
  private readonly onData = (chunk: Buffer) => this.feed(chunk);

  constructor(socket: Socket, secure: boolean, limits: FramerOptions) {
    this.socket = socket;
    this.secure = secure;
    this.framer = new CommandFramer(limits);
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    // The client finished sending (FIN): answer what it pipelined, then close (allowHalfOpen).
    socket.on('end', () => {
      this.inputEnded = true;
      if (this.queue.length === 0) {
        this.waiter?.(null);
        this.waiter = null;
      }
    });
    socket.on('error', () => this.markClosed());
    socket.on('close', () => this.markClosed());
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.waiter?.(null);
    this.waiter = null;
    for (const h of this.closeHandlers.splice(0)) h();
  }

  onClose(h: () => void): void {
    if (this.closed) h();
    else this.closeHandlers.push(h);
  }

  private feed(chunk: Buffer): void {
    if (this.inflate) {
      this.inflate.write(chunk);
      return;
    }
    this.frame(chunk);
  }

  private frame(chunk: Buffer): void {
    if (this.closed) return;
    for (const e of this.framer.push(chunk)) this.enqueue(e);
  }

  private enqueue(e: FramerEvent): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(e);
      return;
    }
    this.queue.push(e);
    this.queuedBytes += eventSize(e);
    if (this.queuedBytes > PAUSE_BYTES) this.socket.pause();
  }

  /** The next framed event, or null once the connection is closed. */
  next(): Promise<FramerEvent | null> {
    const e = this.queue.shift();
    if (e) {
      this.queuedBytes -= eventSize(e);
      if (this.queuedBytes <= PAUSE_BYTES / 2 && this.socket.isPaused()) this.socket.resume();
      return Promise.resolve(e);
    }
    if (this.closed || this.inputEnded) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** New limits (e.g. larger literals once authenticated); only between commands. */
  setLimits(limits: FramerOptions): void {
    if (this.framer.idle) this.framer = new CommandFramer(limits);
  }

  write(data: string | Buffer): boolean {
    if (this.closed) return false;
    if (this.deflate) {
      this.deflate.write(data);
      this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
      return this.socket.writableLength < 256 * 1024;
    }
    return this.socket.write(data);
  }

  /** Resolves when the socket can take more output (or is gone). */
  drain(): Promise<void> {
    if (this.closed || this.socket.writableLength < 256 * 1024) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.onClose(done);
    });
  }

  /**
   * Swaps the plain socket for TLS (STARTTLS). Bytes the client pipelined after the command
   * are dropped (RFC 3501 6.2.1: they could have been injected by an attacker).
   */
  startTls(context: SecureContext, framerLimits: FramerOptions): Promise<void> {
    const raw = this.socket;
    raw.off('data', this.onData);
    this.queue = [];
    this.queuedBytes = 0;
    this.framer = new CommandFramer(framerLimits);
    const secure = new TLSSocket(raw, { isServer: true, secureContext: context });
    this.socket = secure;
    this.secure = true;
    this.attach(secure);
    return new Promise((resolve) => {
      secure.once('secure', () => resolve());
      this.onClose(() => resolve());
    });
  }

  /** COMPRESS DEFLATE: from the next byte on, both directions are raw DEFLATE streams. */
  startCompression(): void {
    this.compressed = true;
    const deflate = zlib.createDeflateRaw();
    deflate.on('data', (d: Buffer) => {
      if (!this.closed) this.socket.write(d);
    });
    deflate.on('error', () => this.destroy());
    const inflate = zlib.createInflateRaw();
    inflate.on('data', (d: Buffer) => this.frame(d));
    inflate.on('error', () => this.destroy());
    this.deflate = deflate;
    this.inflate = inflate;
  }

  /** Flushes what was written, then closes; a client that does not read is cut off. */
  end(): void {
    if (this.closed) return;
    if (this.deflate) this.deflate.end(() => this.socket.end());
    else this.socket.end();
    const t = setTimeout(() => this.destroy(), 2000);
    t.unref();
    this.onClose(() => clearTimeout(t));
  }

  destroy(): void {
    this.socket.destroy();
    this.markClosed();
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? 'unknown';
  }
}

function eventSize(e: FramerEvent): number {
  if (e.type !== 'command') return 64;
  return e.line.length + e.literals.reduce((n, l) => n + l.length, 64);
}
