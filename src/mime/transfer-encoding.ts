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

/** RFC 2045 6.7; malformed escapes are kept as they are rather than refused. */
function decodeQuotedPrintable(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length);
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== 0x3d) {
      out[n++] = c;
      continue;
    }
    // Soft line break: "=" then optional trailing whitespace, then (CR)LF.
    let j = i + 1;
    while (body[j] === 0x20 || body[j] === 0x09) j++;
    if (body[j] === 0x0d && body[j + 1] === 0x0a) {
      i = j + 1;
      continue;
    }
    if (body[j] === 0x0a || j >= body.length) {
      i = j;
      continue;
    }
    const h = hex(body[i + 1]);
    const l = hex(body[i + 2]);
    if (h >= 0 && l >= 0) {
      out[n++] = h * 16 + l;
      i += 2;
    } else out[n++] = c;
  }
  return out.subarray(0, n);
}
