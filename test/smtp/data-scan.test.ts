import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { libraryFeedDataStream, useFastDataScan } from '../../src/protocols/smtp/data-scan.js';

/**
 * The DATA scan that replaces smtp-server's byte loop (src/protocols/smtp/data-scan.ts) against
 * the library's own: the same messages come out, and the same commands after them, however the
 * input is cut into chunks (TCP may cut anywhere: inside the terminator, between an escape dot
 * and the dot it escapes, at the first byte).
 */

/** Feeds `chunks` to a parser; resolves with the messages its data streams gave and the commands it saw. */
function parse(chunks: Buffer[], library: boolean): Promise<{ messages: string[]; commands: string[] }> {
  const stream = new SMTPStream();
  if (library) stream._feedDataStream = libraryFeedDataStream;
  const messages: string[] = [];
  const commands: string[] = [];
  return new Promise((resolve, reject) => {
    stream.oncommand = (line: Buffer, next?: () => void) => {
      const command = line.toString('latin1');
      commands.push(command);
      if (command === 'QUIT') return resolve({ messages, commands });
      if (command === 'DATA') {
        const data = stream.startDataMode(Infinity);
        const parts: Buffer[] = [];
        data.on('data', (c: Buffer) => parts.push(c));
        data.on('end', () => {
          messages.push(Buffer.concat(parts).toString('latin1'));
          stream.continue();
        });
        // The message follows only after the 354 (RFC 2920 3.1: DATA ends a pipelined group),
        // so its bytes never reach the parser inside the previous message's continue(), which
        // the library's continuation does not allow for; here all input is buffered up front.
        if (next) setImmediate(next);
        return;
      }
      next?.();
    };
    stream.on('error', reject);
    for (const c of chunks) stream.write(c);
  });
}

/** A deterministic generator (the failing case can be replayed from its seed). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return s / 2 ** 32;
  };
}

const LINES = ['.', '..', '...', '.x', 'x.', 'plain text', '', '.\r', 'a\n.b', 'a\n..b', ' .', '\r\n', 'x'.repeat(70)];

function dotStuff(body: string): string {
  return body.split('\r\n').map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n');
}

/** Cuts `wire` into chunks of random sizes: many tiny ones, some large. */
function cut(wire: Buffer, rnd: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < wire.length;) {
    const n = rnd() < 0.7 ? 1 + Math.floor(rnd() * 8) : 1 + Math.floor(rnd() * 400);
    out.push(wire.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe('DATA scan (dot-stuffing and the terminator)', () => {
  useFastDataScan();

  it('gives the messages and commands smtp-server itself gives, on 600 random messages and chunkings', async () => {
    for (let seed = 1; seed <= 600; seed++) {
      const rnd = random(seed);
      const messages = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => {
        const lines = Array.from({ length: Math.floor(rnd() * 12) }, () => LINES[Math.floor(rnd() * LINES.length)]!);
        return lines.length ? lines.join('\r\n') + '\r\n' : '';
      });
      const wire = Buffer.from(['EHLO x', ...messages.map((m) => `MAIL FROM:<a@b>\r\nDATA\r\n${dotStuff(m)}.`), 'QUIT', ''].join('\r\n'), 'latin1');
      const chunks = cut(wire, rnd);
      const ours = await parse(chunks, false);
      const theirs = await parse(chunks, true);
      assert.deepEqual(ours, theirs, `seed ${seed}`);
      // where the body has no bare LF (which both treat as a line start), the message comes out as it went in
      messages.forEach((m, i) => {
        if (!/[^\r]\n/.test(m)) assert.equal(ours.messages[i], m, `seed ${seed}, message ${i}`);
      });
    }
  });

  it('takes a large message in big chunks with many escaped dots (one pass, no turn per dot)', async () => {
    const body = Array.from({ length: 20_000 }, (_, i) => (i % 3 === 0 ? `.line ${i}` : `line ${i}`)).join('\r\n') + '\r\n';
    const wire = Buffer.from(`DATA\r\n${dotStuff(body)}.\r\nQUIT\r\n`, 'latin1');
    const chunks: Buffer[] = [];
    for (let at = 0; at < wire.length; at += 65_536) chunks.push(wire.subarray(at, at + 65_536));
    const ours = await parse(chunks, false);
    assert.equal(ours.messages[0], body);
    assert.deepEqual(ours.commands, ['DATA', 'QUIT']);
  });
});
