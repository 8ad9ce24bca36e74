/**
 * Streaming IMAP command framer: cuts a client byte stream into whole commands
 * (line text plus literals) without doing any I/O. The result must not depend on how
 * the bytes were chunked, and memory stays bounded by the configured limits whatever
 * a client sends.
 *
 * In the emitted `line`, each literal (its "{n}" announcement and the data) is replaced
 * by one LITERAL_PLACEHOLDER byte; `literals` holds the data in order, and `literal8` the
 * positions (in `literals`) of those announced as literal8 ("~{n}", RFC 3516).
 */
import { LITERAL_PLACEHOLDER, extractTag } from './command-parser.js';

export type FramerEvent =
  | { type: 'command'; line: Buffer; literals: Buffer[]; literal8: number[] }
  /**
   * A synchronising literal was announced: the server answers "+" (or refuses the command, see
   * CommandFramer.refuseLiteral). `head`: the command's text up to this literal, earlier literals
   * as LITERAL_PLACEHOLDER bytes; `id` names this request.
   */
  | { type: 'continue'; id: number; head: Buffer }
  | { type: 'error'; tag: string | null; message: string; fatal: boolean; code?: string };

export interface FramerOptions {
  maxLineLength: number;
  maxLiteralSize: number;
  maxCommandSize: number;
  /**
   * Largest rejected non-synchronising literal we still read and throw away to stay in
   * step with the client; above it the connection cannot be recovered (fatal error).
   * Default: twice the larger of maxLiteralSize and maxCommandSize.
   */
  maxDiscardSize?: number;
}

const LF = 0x0a;
const CR = 0x0d;
/** Enough trailing bytes to recognise "~{4294967295+}" at the end of a discarded line. */
const TAIL_KEEP = 64;
/** Discarded-line tails also keep the CR before LF. */
const TAIL_BYTES = TAIL_KEEP + 1;
const LITERAL_AT_END = /(~?)\{(\d+)([+-]?)\}$/;

interface LiteralSpec {
  size: number; // Infinity when the announced number does not fit
  sync: boolean;
  /** "~{n}": literal8, which may carry NUL bytes. */
  binary: boolean;
  announcementLength: number;
}

/**
 * "{n}", "{n+}", "{n-}" or "~{n}" closing a line. "{n-}" is accepted as non-synchronising
 * for clients that mirror the LITERAL- name; RFC 7888 itself spells it "{n+}".
 */
function literalAtEnd(line: Buffer): LiteralSpec | null {
  if (line.length < 3 || line[line.length - 1] !== 0x7d) return null;
  const m = LITERAL_AT_END.exec(line.toString('latin1', Math.max(0, line.length - TAIL_KEEP)));
  if (!m) return null;
  const digits = m[2]!;
  // Larger than 2^32-1 is illegal anyway; 16+ digits would lose precision as a number.
  const size = digits.length > 15 ? Infinity : Number(digits);
  return { size, sync: m[3] === '', binary: m[1] === '~', announcementLength: m[0].length };
}

/** Growable byte buffer that never reserves more than `cap` bytes, whatever the chunking. */
class ByteAccumulator {
  private buf = Buffer.alloc(0);
  length = 0;
  constructor(private cap: number) {}

  reset(cap: number): void {
    this.buf = Buffer.alloc(0);
    this.length = 0;
    this.cap = cap;
  }

  append(src: Buffer, start: number, end: number): void {
    const need = this.length + (end - start);
    if (need > this.buf.length) {
      // Doubling keeps byte-at-a-time input linear; the cap keeps a lying client cheap.
      const size = Math.min(Math.max(need, this.buf.length * 2, 256), Math.max(this.cap, need));
      const next = Buffer.allocUnsafe(size);
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    src.copy(this.buf, this.length, start, end);
    this.length = need;
  }

  take(): Buffer {
    const out = this.buf.subarray(0, this.length);
    this.buf = Buffer.alloc(0);
    this.length = 0;
    return out;
  }

  peekStart(n: number): Buffer {
    return this.buf.subarray(0, Math.min(n, this.length));
  }

  peekEnd(n: number): Buffer {
    return this.buf.subarray(Math.max(0, this.length - n), this.length);
  }
}

type Phase =
  | 'line' // reading command text up to LF
  | 'literal' // reading literal data of an accepted literal
  | 'discardLine' // rejected command: skipping text up to LF
  | 'discardLiteral' // rejected command: skipping a non-synchronising literal's data
  | 'dead'; // fatal error: nothing more is read

export class CommandFramer {
  private readonly maxLineLength: number;
  private readonly maxLiteralSize: number;
  private readonly maxCommandSize: number;
  private readonly maxDiscardSize: number;

  private phase: Phase = 'line';
  private readonly current: ByteAccumulator;
  private segments: Buffer[] = [];
  private literals: Buffer[] = [];
  private literal8: number[] = [];
  private commandSize = 0;
  private tag: string | null = null;
  private remaining = 0; // bytes left in the literal being read or skipped
  private tail = Buffer.alloc(0); // end of the line being discarded
  private events: FramerEvent[] = [];
  /** The last continuation request, while its literal has not started to arrive. */
  private continuation = 0;
  private awaiting = false;

  constructor(opts: FramerOptions) {
    this.maxLineLength = opts.maxLineLength;
    this.maxLiteralSize = opts.maxLiteralSize;
    this.maxCommandSize = opts.maxCommandSize;
    this.maxDiscardSize = opts.maxDiscardSize ?? 2 * Math.max(opts.maxLiteralSize, opts.maxCommandSize);
    this.current = new ByteAccumulator(this.maxLineLength + 2);
  }

  push(chunk: Buffer): FramerEvent[] {
    this.events = [];
    let pos = 0;
    while (pos < chunk.length && this.phase !== 'dead') {
      switch (this.phase) {
        case 'line':
          pos = this.readLine(chunk, pos);
          break;
        case 'literal':
          pos = this.readLiteral(chunk, pos);
          break;
        case 'discardLine':
          pos = this.skipLine(chunk, pos);
          break;
        case 'discardLiteral': {
          const n = Math.min(this.remaining, chunk.length - pos);
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) this.startDiscardLine();
          break;
        }
      }
    }
    return this.events;
  }

  /**
   * Call when the connection's input ends. Reports a command cut off midway (unterminated
   * line or literal) so the server can log it; a clean stop gives no events.
   */
  end(): FramerEvent[] {
    const busy =
      this.phase === 'literal' ||
      this.phase === 'discardLine' ||
      this.phase === 'discardLiteral' ||
      this.current.length > 0 ||
      this.segments.length > 0;
    this.phase = 'dead';
    if (!busy) return [];
    return [{ type: 'error', tag: this.tag, message: 'Connection closed in the middle of a command', fatal: true }];
  }

  /** True while no partial command is buffered (useful for idle timeouts / STARTTLS). */
  get idle(): boolean {
    return this.phase === 'line' && this.current.length === 0 && this.segments.length === 0;
  }

  private readLine(chunk: Buffer, pos: number): number {
    const lf = chunk.indexOf(LF, pos);
    const end = lf === -1 ? chunk.length : lf;
    // +1 leaves room for the CR that precedes LF.
    if (this.current.length + (end - pos) > this.maxLineLength + 1) {
      if (this.segments.length === 0) {
        const room = Math.max(0, this.maxLineLength - this.current.length);
        const head = Buffer.concat([this.current.peekStart(this.maxLineLength), chunk.subarray(pos, Math.min(end, pos + room))]);
        this.tag = extractTag(head);
      }
      this.error(this.tag, 'Command line too long', false);
      const joined = Buffer.concat([this.current.peekEnd(TAIL_BYTES), chunk.subarray(Math.max(pos, end - TAIL_BYTES), end)]);
      this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - TAIL_BYTES)));
      this.current.reset(this.maxLineLength + 2);
      this.phase = 'discardLine';
      if (lf === -1) return chunk.length;
      this.endDiscardedLine();
      return lf + 1;
    }
    this.current.append(chunk, pos, end);
    if (lf === -1) return chunk.length;
    let line = this.current.take();
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    this.onLine(line);
    return lf + 1;
  }

  private onLine(line: Buffer): void {
    if (this.segments.length === 0) {
      // Blank lines between commands carry nothing; some clients send them.
      if (line.length === 0) return;
      // Same bytes as the too-long path sees, so the tag does not depend on chunking.
      this.tag = extractTag(line.subarray(0, this.maxLineLength));
    }
    if (line.length > this.maxLineLength) return this.reject('Command line too long', line);
    const lit = literalAtEnd(line);
    const text = lit ? line.subarray(0, line.length - lit.announcementLength) : line;
    // NUL is our literal placeholder and is never valid in command text.
    if (text.includes(LITERAL_PLACEHOLDER)) return this.reject('NUL byte in command line', line);
    this.commandSize += text.length;
    if (this.commandSize > this.maxCommandSize) return this.reject('Command too long', line, 'TOOBIG');
    if (!lit) {
      this.segments.push(Buffer.from(text));
      const out = Buffer.concat(this.segments);
      const { literals, literal8 } = this;
      this.resetCommand();
      this.events.push({ type: 'command', line: out, literals, literal8 });
      return;
    }
    if (lit.size > this.maxLiteralSize || this.commandSize + lit.size > this.maxCommandSize) {
      if (!lit.sync && lit.size > this.maxDiscardSize) {
        this.error(this.tag, 'Literal too big', true, 'TOOBIG');
        this.phase = 'dead';
        return;
      }
      return this.reject('Literal too big', line, 'TOOBIG');
    }
    this.segments.push(Buffer.from(text), Buffer.of(LITERAL_PLACEHOLDER));
    if (lit.binary) this.literal8.push(this.literals.length);
    this.commandSize += lit.size;
    if (lit.sync) {
      this.awaiting = lit.size > 0;
      // the text so far (earlier literals as placeholders): at most a few lines, never literal data
      const head = Buffer.concat(this.segments.slice(0, -1));
      this.events.push({ type: 'continue', id: ++this.continuation, head });
    }
    this.remaining = lit.size;
    this.current.reset(lit.size);
    if (lit.size === 0) this.finishLiteral();
    else this.phase = 'literal';
  }

  /**
   * The server refuses the command whose synchronising literal it was asked to invite
   * (continuation `id`), instead of sending "+": the client then sends no data (RFC 3501 7.5),
   * so the command ends here. False when that is no longer possible (the client sent data
   * without waiting, or another command is being read): then the command runs its course.
   */
  refuseLiteral(id: number): boolean {
    if (id !== this.continuation || !this.awaiting || this.phase !== 'literal') return false;
    this.resetCommand();
    return true;
  }

  private readLiteral(chunk: Buffer, pos: number): number {
    this.awaiting = false;
    const n = Math.min(this.remaining, chunk.length - pos);
    this.current.append(chunk, pos, pos + n);
    this.remaining -= n;
    if (this.remaining === 0) this.finishLiteral();
    return pos + n;
  }

  private finishLiteral(): void {
    this.literals.push(this.current.take());
    this.current.reset(this.maxLineLength + 2);
    this.phase = 'line';
  }

  /** Reports the error, then skips whatever the client still sends for this command. */
  private reject(message: string, line: Buffer, code?: string): void {
    this.error(this.tag, message, false, code);
    this.tail = Buffer.from(line.subarray(Math.max(0, line.length - TAIL_BYTES)));
    this.endDiscardedLine();
  }

  private skipLine(chunk: Buffer, pos: number): number {
    const lf = chunk.indexOf(LF, pos);
    const end = lf === -1 ? chunk.length : lf;
    if (end - pos >= TAIL_BYTES) this.tail = Buffer.from(chunk.subarray(end - TAIL_BYTES, end));
    else if (end > pos) {
      const joined = Buffer.concat([this.tail, chunk.subarray(pos, end)]);
      this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - TAIL_BYTES)));
    }
    if (lf === -1) return chunk.length;
    this.endDiscardedLine();
    return lf + 1;
  }

  /**
   * A discarded line ended. If it announced a non-synchronising literal the client sends
   * the data regardless, so it must be skipped; a synchronising one is never sent since
   * no continuation request goes out, so the command is over.
   */
  private endDiscardedLine(): void {
    let tail = this.tail;
    if (tail.length > 0 && tail[tail.length - 1] === CR) tail = tail.subarray(0, tail.length - 1);
    const lit = literalAtEnd(tail);
    if (!lit || lit.sync) {
      this.resetCommand();
      return;
    }
    if (lit.size > this.maxDiscardSize) {
      this.error(this.tag, 'Literal too big', true, 'TOOBIG');
      this.phase = 'dead';
      return;
    }
    this.remaining = lit.size;
    if (lit.size === 0) this.startDiscardLine();
    else this.phase = 'discardLiteral';
  }

  private startDiscardLine(): void {
    this.tail = Buffer.alloc(0);
    this.phase = 'discardLine';
  }

  private resetCommand(): void {
    this.phase = 'line';
    this.segments = [];
    this.literals = [];
    this.literal8 = [];
    this.commandSize = 0;
    this.tag = null;
    this.remaining = 0;
    this.tail = Buffer.alloc(0);
    this.awaiting = false;
    this.current.reset(this.maxLineLength + 2);
  }

  /** `code`: an RFC 5530 response code, kept apart from the text (answers.ts). */
  private error(tag: string | null, message: string, fatal: boolean, code?: string): void {
    this.events.push(code ? { type: 'error', tag, code, message, fatal } : { type: 'error', tag, message, fatal });
  }
}
