/**
 * The byte side of one IMAP connection: socket (replaced on STARTTLS), optional DEFLATE
 * (RFC 4978), the command framer, and a queue of framed commands read by one consumer.
 * Input respects the connection's input budget (shared/input-budget.ts): past it the socket is
 * paused and the inflater is no longer read, so neither a client that pipelines faster than we
 * answer nor a deflate bomb (bytes already received inflate ~1000:1) can grow our memory;
 * compressed bytes wait compressed inside zlib, which inflates only as far as we read.
 */
import { normaliseClientAddress } from '../../access/client-address.js';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { SniCallback } from '../../tls/certificates.js';
import zlib from 'node:zlib';
import { CommandFramer, type FramerEvent, type FramerOptions } from './parser/line-reader.js';
import { InputBudget } from '../shared/input-budget.js';

/** Output is collected into chunks of about this size (one socket write each). */
const OUT_CHUNK = 64 * 1024;
/** write() asks the caller to wait for drain() past this much unsent output. */
const HIGH_WATER = 256 * 1024;

/** Connections with collected output, flushed together once the current work is done. */
let flushQueue: Connection[] = [];
function scheduleFlush(c: Connection): void {
  if (flushQueue.length === 0) setImmediate(flushAll);
  flushQueue.push(c);
}
function flushAll(): void {
  const q = flushQueue;
  flushQueue = [];
  for (const c of q) c.flushScheduledDone();
}

export class Connection {
  socket: Socket;
  secure: boolean;
  closed = false;
  compressed = false;
  private inputEnded = false;
  private framer: CommandFramer;
  private queue: FramerEvent[] = [];
  private readonly budget: InputBudget;
  /** The inflater holds more compressed input than it takes at once: wait for its 'drain'. */
  private inflateBackedUp = false;
  private waiter: ((e: FramerEvent | null) => void) | null = null;
  private deflate: zlib.DeflateRaw | null = null;
  private inflate: zlib.InflateRaw | null = null;
  private readonly closeHandlers: Array<() => void> = [];
  private readonly onData = (chunk: Buffer) => this.feed(chunk);
  private pending: Array<string | Buffer> = [];
  private pendingBytes = 0;
  private flushScheduled = false;

  constructor(socket: Socket, secure: boolean, limits: FramerOptions, inputBudget: number) {
    this.socket = socket;
    this.secure = secure;
    this.framer = new CommandFramer(limits);
    this.budget = new InputBudget(inputBudget, () => this.updateFlow(), () => {
      this.updateFlow();
      this.readInflated();
    });
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
    // what a deflate bomb left inside zlib goes with the connection
    this.inflate?.destroy();
    this.deflate?.destroy();
    this.pending = [];
    this.pendingBytes = 0;
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
      // zlib inflates only as far as readInflated() reads; its input side is bounded by this pause
      if (!this.inflate.write(chunk)) {
        this.inflateBackedUp = true;
        this.updateFlow();
      }
      return;
    }
    this.frame(chunk);
  }

  /** Reads what the inflater produced while the budget has room; zlib stops inflating when not read. */
  private readInflated(): void {
    const inflate = this.inflate;
    if (!inflate) return;
    while (!this.closed && !this.budget.full) {
      const d = inflate.read() as Buffer | null;
      if (d === null) return;
      this.frame(d);
    }
  }

  /** The socket is read only while the budget has room and the inflater takes more. */
  private updateFlow(): void {
    if (this.closed) return;
    const stop = this.budget.full || this.inflateBackedUp;
    if (stop && !this.socket.isPaused()) this.socket.pause();
    else if (!stop && this.socket.isPaused()) this.socket.resume();
  }

  /** Output not yet taken by the client is past the point where commands should wait for drain(). */
  get outputBacklogged(): boolean {
    return this.outputBacklog() >= HIGH_WATER;
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
    this.budget.add(eventSize(e));
  }

  /** The next framed event, or null once the connection is closed. */
  next(): Promise<FramerEvent | null> {
    const e = this.queue.shift();
    if (e) {
      this.budget.remove(eventSize(e));
      return Promise.resolve(e);
    }
    if (this.closed || this.inputEnded) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** Refuses the command a continuation request was for (CommandFramer.refuseLiteral). */
  refuseLiteral(id: number): boolean {
    return this.framer.refuseLiteral(id);
  }

  /** New limits (e.g. larger literals once authenticated); only between commands. */
  setLimits(limits: FramerOptions): void {
    if (this.framer.idle) this.framer = new CommandFramer(limits);
  }

  /**
   * Queues output. Writes are collected and go to the socket (or the DEFLATE stream) as few
   * large chunks: when OUT_CHUNK bytes are pending, when flush() is called (end of a command
   * response, IDLE pushes), and in any case before the event loop goes idle (one shared
   * setImmediate for all connections). Order is kept: everything passes through one queue.
   * Returns false when the caller should await drain() before writing more.
   */
  write(data: string | Buffer): boolean {
    if (this.closed) return false;
    if (typeof data !== 'string' && data.length >= OUT_CHUNK) {
      // big literals (message bodies) go out as they are, without a copy into a chunk
      this.flush();
      this.emit(data);
    } else {
      this.pending.push(data);
      this.pendingBytes += data.length;
      if (this.pendingBytes >= OUT_CHUNK) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        scheduleFlush(this);
      }
    }
    return this.outputBacklog() < HIGH_WATER;
  }

  /** Sends what write() collected, as one chunk. */
  flush(): void {
    if (this.pending.length === 0) return;
    const parts = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (this.closed) return;
    let chunk: string | Buffer;
    if (parts.length === 1) chunk = parts[0]!;
    else if (parts.every((p) => typeof p === 'string')) chunk = (parts as string[]).join('');
    else chunk = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
    this.emit(chunk);
  }

  /** The shared setImmediate's turn (see scheduleFlush). */
  flushScheduledDone(): void {
    this.flushScheduled = false;
    this.flush();
  }

  private emit(chunk: string | Buffer): void {
    if (this.closed) return;
    if (this.deflate) {
      this.deflate.write(chunk);
      this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    } else this.socket.write(chunk);
  }

  /** Bytes accepted but not yet handed to the kernel (socket buffer, DEFLATE input). */
  private outputBacklog(): number {
    return this.socket.writableLength + (this.deflate ? this.deflate.writableLength : 0) + this.pendingBytes;
  }

  /** Resolves when the socket can take more output (or is gone). */
  async drain(): Promise<void> {
    this.flush();
    while (!this.closed) {
      const stream = this.deflate && this.deflate.writableLength >= HIGH_WATER ? this.deflate : this.socket.writableLength >= HIGH_WATER ? this.socket : null;
      if (!stream) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done);
          resolve();
        };
        stream.on('drain', done);
        this.onClose(done);
      });
    }
  }

  /**
   * Swaps the plain socket for TLS (STARTTLS). Bytes the client pipelined after the command
   * are dropped (RFC 3501 6.2.1: they could have been injected by an attacker).
   */
  startTls(tlsOptions: { secureContext: SecureContext; SNICallback: SniCallback }, framerLimits: FramerOptions): Promise<void> {
    this.flush(); // the tagged OK still goes out in the clear
    const raw = this.socket;
    raw.off('data', this.onData);
    this.queue = [];
    this.budget.clear();
    this.framer = new CommandFramer(framerLimits);
    const secure = new TLSSocket(raw, { isServer: true, ...tlsOptions });
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
    this.flush(); // the tagged OK still goes out uncompressed
    this.compressed = true;
    const deflate = zlib.createDeflateRaw();
    deflate.on('data', (d: Buffer) => {
      if (!this.closed) this.socket.write(d);
    });
    deflate.on('error', () => this.destroy());
    const inflate = zlib.createInflateRaw();
    // paused mode: readInflated() reads only while the budget has room (see the header)
    inflate.on('readable', () => this.readInflated());
    inflate.on('drain', () => {
      this.inflateBackedUp = false;
      this.updateFlow();
    });
    inflate.on('error', () => this.destroy());
    this.deflate = deflate;
    this.inflate = inflate;
  }

  /** Flushes what was written, then closes; a client that does not read is cut off. */
  end(): void {
    if (this.closed) return;
    this.flush();
    if (this.deflate) this.deflate.end(() => this.socket.end());
    else this.socket.end();
    const t = setTimeout(() => this.destroy(), 2000);
    t.unref();
    this.onClose(() => clearTimeout(t));
  }

  destroy(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.socket.destroy();
    this.markClosed();
  }

  /** The client's address in the one spelling every layer counts by (client-address.ts). */
  get remoteAddress(): string {
    return normaliseClientAddress(this.socket.remoteAddress);
  }
}

function eventSize(e: FramerEvent): number {
  if (e.type !== 'command') return 64;
  return e.line.length + e.literals.reduce((n, l) => n + l.length, 64);
}
