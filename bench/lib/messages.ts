/**
 * Deterministic test messages: the same seed gives the same bytes, so both servers are fed
 * identical data. CRLF line ends, no line starting with a dot (so no dot-stuffing needed,
 * although the SMTP/LMTP client stuffs anyway), 76-character body lines.
 */

/** mulberry32: a tiny, fast, seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ';

/** One message of exactly `size` bytes (at least the header size). */
export function makeMessage(id: string, size: number, rnd: () => number, to = 'user@bench.test'): Buffer {
  const header = [
    'From: Bench Sender <sender@remote.test>',
    `To: <${to}>`,
    `Subject: Benchmark message ${id}`,
    `Message-ID: <${id}@bench.test>`,
    'Date: Mon, 01 Jan 2024 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    '',
  ].join('\r\n');
  const out = Buffer.alloc(Math.max(size, header.length + 4));
  let pos = out.write(header, 'latin1');
  const bodyEnd = out.length - 2; // ends with CRLF
  let col = 0;
  while (pos < bodyEnd) {
    if (col === 76 || pos === bodyEnd - 1) {
      if (pos <= bodyEnd - 2) {
        out[pos++] = 0x0d;
        out[pos++] = 0x0a;
        col = 0;
        continue;
      }
      out[pos++] = 0x78; // 'x'
      continue;
    }
    out[pos++] = ALPHABET.charCodeAt((rnd() * 62) | 0); // letters and digits only: never a leading dot
    col++;
  }
  out[out.length - 2] = 0x0d;
  out[out.length - 1] = 0x0a;
  return out;
}

/** `count` messages with sizes uniformly in [minSize, maxSize]. */
export function makeMessages(count: number, minSize: number, maxSize: number, seed: number, prefix: string, to?: (i: number) => string): Buffer[] {
  const rnd = prng(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const size = minSize + Math.floor(rnd() * (maxSize - minSize + 1));
    out.push(makeMessage(`${prefix}-${i}`, size, rnd, to ? to(i) : undefined));
  }
  return out;
}

/** SMTP/LMTP DATA payload: dot-stuffed body followed by the terminating line. */
export function dataPayload(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const stuffed = text.replace(/(^|\r\n)\./g, '$1..');
  const ending = stuffed.endsWith('\r\n') ? '.\r\n' : '\r\n.\r\n';
  return Buffer.from(stuffed + ending, 'latin1');
}
