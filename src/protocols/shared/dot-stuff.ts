/**
 * Prepares message bytes for a dot-terminated multi-line response (POP3 RETR/TOP, RFC 1939
 * §3): bare LF becomes CRLF, a line starting with "." gets one more, and the result ends
 * with CRLF so that the caller can append ".\r\n".
 */
export function dotStuff(raw: Buffer): Buffer {
  // Jumps from line end to line end with Buffer.indexOf (memchr) instead of visiting every
  // byte in JavaScript; a message that needs no change (CRLF lines, no line starting with
  // ".", CRLF at the end — what SMTP delivery stores) is returned as it is, without a copy.
  let out: Buffer[] | null = null;
  let start = 0;
  const n = raw.length;
  if (n > 0 && raw[0] === 0x2e) out = [DOT];
  for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) {
    const bare = i === 0 || raw[i - 1] !== 0x0d;
    const dot = i + 1 < n && raw[i + 1] === 0x2e;
    if (!bare && !dot) continue;
    out ??= [];
    if (bare) {
      out.push(raw.subarray(start, i), CRLF);
      start = i + 1;
    }
    if (dot) {
      if (start < i + 1) out.push(raw.subarray(start, i + 1));
      out.push(DOT);
      start = i + 1;
    }
  }
  let joined = raw;
  if (out) {
    out.push(raw.subarray(start));
    joined = Buffer.concat(out);
  }
  if (joined.length === 0 || !(joined[joined.length - 2] === 0x0d && joined[joined.length - 1] === 0x0a)) {
    return Buffer.concat([joined, CRLF]);
  }
  return joined;
}

const DOT = Buffer.from('.');
const CRLF = Buffer.from('\r\n');

/** Header block plus the first `lines` body lines (POP3 TOP). */
export function topOfMessage(raw: Buffer, lines: number): Buffer {
  let end = -1;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0a && (raw[i + 1] === 0x0a || (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a))) {
      end = raw[i + 1] === 0x0a ? i + 2 : i + 3;
      break;
    }
  }
  if (end < 0) return raw;
  let pos = end;
  for (let n = 0; n < lines && pos < raw.length; n++) {
    const nl = raw.indexOf(0x0a, pos);
    pos = nl < 0 ? raw.length : nl + 1;
  }
  return raw.subarray(0, pos);
}
