/**
 * The inbound mix of issue 15: messages of 4–90 KB of four kinds, as a real domain receives
 * them — plain text; HTML (multipart/alternative, text and HTML); text with attachments
 * (multipart/mixed, base64 parts); nested (mixed → alternative + base64 attachment + a
 * forwarded message/rfc822 that is itself multipart). Seeded like messages.ts, so both
 * servers get the same bytes; CRLF line ends, no line starting with a dot.
 */
import { prng } from './messages.js';

export type MixKind = 'plain' | 'html' | 'attachments' | 'nested';
export const MIX_KINDS: MixKind[] = ['plain', 'html', 'attachments', 'nested'];

const WORDS = 'the of and to in is that for it as with was on be by this are from at or an have not which but were all can has more one been their there when would will its also into out about other than them some then only these new may time any two first each most over well such like very just where after before because between'.split(' ');

function words(rnd: () => number, bytes: number): string {
  const lines: string[] = [];
  let line = '';
  let total = 0;
  while (total < bytes) {
    const w = WORDS[(rnd() * WORDS.length) | 0];
    if (line.length + w.length + 1 > 72) {
      lines.push(line);
      total += line.length + 2;
      line = '';
    }
    line = line ? `${line} ${w}` : w.charAt(0).toUpperCase() + w.slice(1);
  }
  if (line) lines.push(line);
  return lines.join('\r\n') + '\r\n';
}

function html(rnd: () => number, bytes: number): string {
  const out: string[] = ['<!DOCTYPE html>', '<html><head><meta charset="utf-8"><style>p{margin:0 0 8px}</style></head><body>'];
  let total = 0;
  while (total < bytes) {
    const p = `<p style="font-family:Arial">${words(rnd, 200).replace(/\r\n/g, ' ').trim()} <b>${WORDS[(rnd() * WORDS.length) | 0]}</b></p>`;
    out.push(p);
    total += p.length + 2;
  }
  out.push('</body></html>');
  return out.join('\r\n') + '\r\n';
}

/** base64 of `bytes` pseudo-random bytes, 76-character lines. */
function base64(rnd: () => number, bytes: number): string {
  const b = Buffer.alloc(Math.max(1, bytes));
  for (let i = 0; i < b.length; i++) b[i] = (rnd() * 256) | 0;
  return (b.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n') + '\r\n';
}

function header(id: string, to: string, kind: MixKind, contentType: string): string {
  return [
    'From: "Bench Sender" <sender@remote.test>',
    `To: <${to}>`,
    `Subject: =?UTF-8?Q?Mix_${kind}_message_${id.replace(/[^A-Za-z0-9]/g, '_')}_=E2=82=AC?=`,
    `Message-ID: <${id}@remote.test>`,
    'Date: Mon, 01 Jan 2024 10:00:00 +0000',
    'MIME-Version: 1.0',
    `Content-Type: ${contentType}`,
    '',
    '',
  ].join('\r\n');
}

function part(contentType: string, body: string, extra: string[] = []): string {
  return [`Content-Type: ${contentType}`, ...extra, '', body].join('\r\n');
}

function multipart(boundary: string, parts: string[]): string {
  return parts.map((p) => `--${boundary}\r\n${p}`).join('') + `--${boundary}--\r\n`;
}

/** One message of about `size` bytes (within a few hundred) of the given kind. */
export function makeMixedMessage(id: string, kind: MixKind, size: number, rnd: () => number, to: string): Buffer {
  const b1 = `=_mix1_${id}`;
  const b2 = `=_mix2_${id}`;
  const b3 = `=_mix3_${id}`;
  const qp = ['Content-Transfer-Encoding: 7bit'];
  let text: string;
  switch (kind) {
    case 'plain':
      text = header(id, to, kind, 'text/plain; charset=us-ascii') + words(rnd, size - 300);
      break;
    case 'html': {
      const budget = size - 700;
      text = header(id, to, kind, `multipart/alternative; boundary="${b1}"`) +
        multipart(b1, [part('text/plain; charset=utf-8', words(rnd, budget * 0.3), qp), part('text/html; charset=utf-8', html(rnd, budget * 0.7), qp)]);
      break;
    }
    case 'attachments': {
      const budget = size - 1000;
      const n = 1 + ((rnd() * 3) | 0);
      const each = ((budget * 0.85) / n) * 0.75; // base64 grows 4/3
      const atts = Array.from({ length: n }, (_, k) =>
        part(`application/octet-stream; name="file${k}.bin"`, base64(rnd, each), ['Content-Transfer-Encoding: base64', `Content-Disposition: attachment; filename="file${k}.bin"`]));
      text = header(id, to, kind, `multipart/mixed; boundary="${b1}"`) + multipart(b1, [part('text/plain; charset=utf-8', words(rnd, budget * 0.15), qp), ...atts]);
      break;
    }
    case 'nested': {
      const budget = size - 2000;
      const alt = multipart(b2, [part('text/plain; charset=utf-8', words(rnd, budget * 0.1), qp), part('text/html; charset=utf-8', html(rnd, budget * 0.2), qp)]);
      const inner = header(`${id}.fwd`, to, 'html', `multipart/alternative; boundary="${b3}"`) +
        multipart(b3, [part('text/plain; charset=utf-8', words(rnd, budget * 0.1), qp), part('text/html; charset=utf-8', html(rnd, budget * 0.15), qp)]);
      text = header(id, to, kind, `multipart/mixed; boundary="${b1}"`) + multipart(b1, [
        part(`multipart/alternative; boundary="${b2}"`, alt),
        part('image/png; name="photo.png"', base64(rnd, budget * 0.3), ['Content-Transfer-Encoding: base64', 'Content-Disposition: inline; filename="photo.png"', `Content-ID: <photo.${id}@remote.test>`]),
        part('message/rfc822', inner, ['Content-Disposition: attachment; filename="forwarded.eml"']),
      ]);
      break;
    }
  }
  return Buffer.from(text, 'latin1');
}

/** `count` messages, sizes uniform in [minSize, maxSize], kinds in turn at random. */
export function makeMixedMessages(count: number, minSize: number, maxSize: number, seed: number, prefix: string, to: (i: number) => string): Buffer[] {
  const rnd = prng(seed);
  return Array.from({ length: count }, (_, i) => {
    const size = minSize + Math.floor(rnd() * (maxSize - minSize + 1));
    const kind = MIX_KINDS[(rnd() * MIX_KINDS.length) | 0];
    return makeMixedMessage(`${prefix}-${i}`, kind, size, rnd, to(i));
  });
}
