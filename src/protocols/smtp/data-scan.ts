import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

/**
 * smtp-server finds the end of DATA (CRLF "." CRLF) and the dot-stuffing escapes (RFC 5321
 * 4.5.2) by looking at every byte of the message in a JavaScript loop, and goes through a
 * setImmediate for each escaped dot. Under the inbound benchmark's mix that loop was the
 * largest single cost of the event loop (15% of the main thread's busy time, more than the
 * socket writes). Its `_feedDataStream` is replaced, once, by one that does the same with
 * Buffer.indexOf (memchr in C++) for "\n." and handles the escapes of a chunk in one pass.
 *
 * Same contract as the library's (smtp-server 3.21): the start-of-DATA checks unchanged; a
 * candidate dot is one at index >= 2 of the (last bytes + chunk) bytes and below length - 2;
 * the last 4 bytes wait for the next chunk; backpressure of the data stream is honoured for
 * what is emitted at the end of the chunk. Unlike the library, the held bytes and the chunk
 * are not joined into a new buffer (Seam). test/smtp/data-scan.test.ts compares it with the
 * library's on random chunkings.
 */
const END_SEQUENCE = Buffer.from('\r\n.\r\n');
const LINE_START_DOT = Buffer.from('\n.');
const DOT_CRLF = Buffer.from('.\r\n');
const EMPTY = Buffer.alloc(0);
const LF = 0x0a;
const DOT = 0x2e;
let installed = false;

/**
 * The bytes the scan looks at: the last bytes of the previous chunk (`head`, at most 4, not
 * emitted yet) followed by the new chunk (`body`), without joining them: the library joined
 * them into a new buffer, a copy of every chunk of every message (and an allocation the event
 * loop's garbage collector then reclaims) to put 4 bytes in front. Positions count from the
 * start of `head`.
 */
class Seam {
  readonly h: number;
  readonly len: number;
  constructor(readonly head: Buffer, readonly body: Buffer) {
    this.h = head.length;
    this.len = head.length + body.length;
  }
  at(p: number): number {
    return p < this.h ? this.head[p]! : this.body[p - this.h]!;
  }
  /** The first p >= from where LF "." starts, or -1. */
  lineStartDot(from: number): number {
    for (let p = from; p < this.h; p++) if (this.head[p] === LF && this.at(p + 1) === DOT) return p;
    const k = this.body.indexOf(LINE_START_DOT, Math.max(0, from - this.h));
    return k < 0 ? -1 : k + this.h;
  }
  /** Whether CRLF "." CRLF sits at i - 2 … i + 2. */
  endsAt(i: number): boolean {
    for (let k = 0; k < 5; k++) if (this.at(i - 2 + k) !== END_SEQUENCE[k]) return false;
    return true;
  }
  /** The bytes a … b as at most two views (no copy). */
  parts(a: number, b: number): Buffer[] {
    const out: Buffer[] = [];
    if (a < this.h && a < b) out.push(this.head.subarray(a, Math.min(b, this.h)));
    if (b > this.h && b > a) out.push(this.body.subarray(Math.max(a, this.h) - this.h, b - this.h));
    return out;
  }
}

const lengthOf = (parts: Buffer[]) => parts.reduce((n, p) => n + p.length, 0);

function feedDataStream(this: SMTPStream, input: Buffer, done: (err?: Error | null) => void): void {
  const dataStream = this._dataStream!;
  let held = this._lastBytes && this._lastBytes.length ? this._lastBytes : EMPTY;
  this._lastBytes = false;
  let chunk = input;
  // at the start of DATA (only after chunks too short to decide on) the checks below look at
  // one buffer: joined, once per message
  if (held.length && this._atDataStart) {
    chunk = Buffer.concat([held, input], held.length + input.length);
    held = EMPTY;
  }
  // the start-of-DATA checks, as the library has them (a first line that is a lone dot ends an
  // empty message; a first line starting with an escaped dot loses the escape)
  if (this._atDataStart && chunk.length >= 3 && chunk.subarray(0, 3).equals(DOT_CRLF)) {
    this._endDataMode(false, chunk.subarray(3), done);
    return;
  }
  if (this._atDataStart && chunk.length >= 2 && chunk[0] === DOT && chunk[1] === DOT) {
    chunk = chunk.subarray(1);
    this._atDataStart = false;
  }
  const v = new Seam(held, chunk);
  const len = v.len;
  // `start`: the first byte not emitted yet; a dot at index i is a candidate when byte i-1 is LF
  let start = 0;
  let from = 1;
  for (;;) {
    const lf = v.lineStartDot(from);
    const i = lf + 1;
    if (lf < 0 || i >= len - 2) break;
    if (v.endsAt(i)) {
      const parts = v.parts(start, i);
      this._countDataBytes(lengthOf(parts));
      const last = parts.pop() ?? false;
      for (const p of parts) if (dataStream.writable) dataStream.write(p);
      this._endDataMode(last, chunk.subarray(i + 3 - v.h), done); // i + 3 > v.h: the rest is in the chunk
      return;
    }
    if (v.at(i + 1) === DOT) {
      // an escaped dot: emit up to it and go on after it
      const parts = v.parts(start, i);
      this._countDataBytes(lengthOf(parts));
      for (const p of parts) if (dataStream.writable) dataStream.write(p);
      start = i + 1;
      from = i + 2;
    } else from = i;
  }
  // the last 4 bytes may be the start of the terminator: kept for the next chunk
  const keep = Math.min(4, len - start);
  this._lastBytes = keep <= chunk.length ? chunk.subarray(chunk.length - keep) : Buffer.concat(v.parts(len - keep, len));
  if (keep >= len - start) return done();
  const parts = v.parts(start, len - keep);
  this._countDataBytes(lengthOf(parts));
  if (!dataStream.writable) return done();
  let flowing = true;
  for (const p of parts) flowing = dataStream.write(p);
  if (flowing || dataStream.destroyed) return done();
  // a stream that the application destroys never drains, it only closes
  const onDrain = () => {
    dataStream.removeListener('drain', onDrain);
    dataStream.removeListener('close', onDrain);
    done();
  };
  dataStream.once('drain', onDrain);
  dataStream.once('close', onDrain);
}

/** Installs the scan (idempotent); the library's own stays reachable for the comparison test. */
export function useFastDataScan(): void {
  if (installed) return;
  installed = true;
  SMTPStream.prototype._feedDataStream = feedDataStream;
}

export const libraryFeedDataStream = SMTPStream.prototype._feedDataStream;
