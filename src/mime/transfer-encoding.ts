// Content-Transfer-Encoding (RFC 2045 section 6) removed from a body part's bytes.

/** The part's bytes without their transfer encoding; null for an encoding we do not know. */
export function decodeTransfer(body: Buffer, encoding: string): Buffer | null {
  switch (encoding.toLowerCase()) {
    case '7bit':
    case '8bit':
    case 'binary':
    case '':
      return body;
    case 'base64':
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return null;
  }
}

function hex(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * RFC 2045 6.7, line by line: white space at the end of an encoded line is transport padding and
 * is deleted (rule 3), "=" ending a line (after that deletion) is a soft line break (rule 5),
 * "=XX" is one octet (rule 1). Malformed escapes are kept as they are rather than refused.
 */
function decodeQuotedPrintable(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length);
  let n = 0;
  let start = 0;
  while (start < body.length) {
    const lf = body.indexOf(0x0a, start);
    const next = lf === -1 ? body.length : lf + 1;
    // the line's text without its break (LF or CRLF) and without trailing white space
    let end = lf === -1 ? body.length : lf;
    if (end > start && body[end - 1] === 0x0d) end--;
    while (end > start && (body[end - 1] === 0x20 || body[end - 1] === 0x09)) end--;
    let soft = false;
    for (let i = start; i < end; i++) {
      const c = body[i]!;
      if (c !== 0x3d) {
        out[n++] = c;
        continue;
      }
      if (i === end - 1) {
        soft = true;
        break;
      }
      const h = hex(body[i + 1]);
      const l = hex(body[i + 2]);
      if (h >= 0 && l >= 0 && i + 2 < end) {
        out[n++] = h * 16 + l;
        i += 2;
      } else out[n++] = c;
    }
    // a hard line break is kept as it was written (CRLF, or a bare LF)
    if (lf !== -1 && !soft) {
      if (lf > start && body[lf - 1] === 0x0d) out[n++] = 0x0d;
      out[n++] = 0x0a;
    }
    start = next;
  }
  return out.subarray(0, n);
}
