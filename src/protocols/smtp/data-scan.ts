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
 * candidate dot is one at index >= 2 of the (last bytes + chunk) buffer and below length - 2;
 * the last 4 bytes wait for the next chunk; backpressure of the data stream is honoured for
 * what is emitted at the end of the chunk. test/smtp/data-scan.test.ts compares it with the
 * library's on random chunkings.
 */
const END_SEQUENCE = Buffer.from('\r\n.\r\n');
const LINE_START_DOT = Buffer.from('\n.');
const DOT_CRLF = Buffer.from('.\r\n');
let installed = false;

function feedDataStream(this: SMTPStream, input: Buffer, done: (err?: Error | null) => void): void {
  const dataStream = this._dataStream!;
  let chunk = input;
  if (this._lastBytes && this._lastBytes.length) {
    chunk = Buffer.concat([this._lastBytes, chunk], this._lastBytes.length + chunk.length);
    this._lastBytes = false;
  }
  // the start-of-DATA checks, as the library has them (a first line that is a lone dot ends an
  // empty message; a first line starting with an escaped dot loses the escape)
  if (this._atDataStart && chunk.length >= 3 && chunk.subarray(0, 3).equals(DOT_CRLF)) {
    this._endDataMode(false, chunk.subarray(3), done);
    return;
  }
  if (this._atDataStart && chunk.length >= 2 && chunk[0] === 0x2e && chunk[1] === 0x2e) {
    chunk = chunk.subarray(1);
    this._atDataStart = false;
  }
  const len = chunk.length;
  // `start`: the first byte not emitted yet; a dot at index i is a candidate when chunk[i-1] is LF
  let start = 0;
  let from = 1;
  for (;;) {
    const lf = chunk.indexOf(LINE_START_DOT, from);
    const i = lf + 1;
    if (lf < 0 || i >= len - 2) break;
    if (chunk.compare(END_SEQUENCE, 0, 5, i - 2, i + 3) === 0) {
      const last = chunk.subarray(start, i);
      this._countDataBytes(last.length);
      this._endDataMode(last, chunk.subarray(i + 3), done);
      return;
    }
    if (chunk[i + 1] === 0x2e) {
      // an escaped dot: emit up to it and go on after it
      const part = chunk.subarray(start, i);
      this._countDataBytes(part.length);
      if (dataStream.writable) dataStream.write(part);
      start = i + 1;
      from = i + 2;
    } else from = i;
  }
  const rest = start ? chunk.subarray(start) : chunk;
  // the last 4 bytes may be the start of the terminator: kept for the next chunk
  this._lastBytes = rest.length < 4 ? rest : rest.subarray(rest.length - 4);
  if (this._lastBytes.length >= rest.length) return done();
  const buf = rest.subarray(0, rest.length - this._lastBytes.length);
  this._countDataBytes(buf.length);
  if (!dataStream.writable) return done();
  if (dataStream.write(buf) || dataStream.destroyed) return done();
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
