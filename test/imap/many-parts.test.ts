// Issue 14 item 7: FETCH BODYSTRUCTURE of a 100,000-part message must not stall other clients.
// The structure describes at most MAX_MIME_PARTS parts (as Dovecot's parser: the rest is the
// body of the last part, no byte lost), and another client's NOOPs are answered while the FETCH
// runs (counted as events: answers that arrive between the FETCH and its completion).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestServer } from '../helpers/server.js';
import { MAX_MIME_PARTS } from '../../src/mime/structure.js';

/** A raw IMAP client: sends a tagged command, resolves with everything up to its tagged answer. */
class Raw {
  private buf = '';
  private wait: { tag: string; resolve: (s: string) => void } | null = null;
  private constructor(private readonly s: net.Socket) {
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      this.buf += d;
      this.check();
    });
  }
  static async open(port: number): Promise<Raw> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    const c = new Raw(s);
    await c.run('a0', 'NOOP');
    return c;
  }
  private check(): void {
    if (!this.wait) return;
    const m = new RegExp(`(^|\\r\\n)${this.wait.tag} (OK|NO|BAD)[^\\r]*\\r\\n`).exec(this.buf);
    if (!m) return;
    const end = m.index + m[0].length;
    const out = this.buf.slice(0, end);
    this.buf = this.buf.slice(end);
    const w = this.wait;
    this.wait = null;
    w.resolve(out);
  }
  run(tag: string, command: string): Promise<string> {
    return new Promise((resolve) => {
      this.wait = { tag, resolve };
      this.s.write(`${tag} ${command}\r\n`);
      this.check();
    });
  }
  close(): void {
    this.s.destroy();
  }
}

test('FETCH BODYSTRUCTURE of a 100,000-part message: at most MAX_MIME_PARTS parts, nothing lost, other clients answered meanwhile', { timeout: 600_000 }, async (t) => {
  const srv = await startTestServer({ plaintext: true });
  try {
    const alice = await srv.addUser('alice@test.example', 'pw');
    const parts: string[] = [];
    for (let i = 0; i < 100_000; i++) parts.push(`--b\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`);
    await srv.ctx.store.deliver([alice.id], Buffer.from(`Subject: many\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${parts.join('')}--b--\r\n`));
    const a = await Raw.open(srv.port('imap'));
    const b = await Raw.open(srv.port('imap'));
    for (const c of [a, b]) {
      assert.match(await c.run('l', 'LOGIN alice@test.example pw'), /l OK/);
      assert.match(await c.run('s', 'SELECT INBOX'), /s OK/);
    }
    let fetched = false;
    const fetch = a.run('f', 'FETCH 1 BODYSTRUCTURE').then((r) => {
      fetched = true;
      return r;
    });
    // the other client's answers, each an event: how many arrive while the FETCH runs
    let answeredMeanwhile = 0;
    let slowest = 0;
    for (let i = 0; !fetched; i++) {
      const started = performance.now();
      assert.match(await b.run(`n${i}`, 'NOOP'), new RegExp(`n${i} OK`));
      slowest = Math.max(slowest, performance.now() - started);
      if (!fetched) answeredMeanwhile++;
    }
    const answer = await fetch;
    t.diagnostic(`other client: ${answeredMeanwhile} NOOPs answered during the FETCH, slowest ${Math.round(slowest)} ms`);
    assert.ok(answeredMeanwhile >= 1, 'the other client was answered while the FETCH ran');
    assert.equal(answer.match(/\("TEXT" "PLAIN"/g)?.length, MAX_MIME_PARTS);
    // the last part described carries the rest of the message
    const last = await a.run('g', `FETCH 1 BODY.PEEK[${MAX_MIME_PARTS}]`);
    assert.ok(last.includes(`part ${MAX_MIME_PARTS - 1}\r\n`) && /part 99999\)\r\n/.test(last.slice(-40)));
    a.close();
    b.close();
  } finally {
    await srv.close();
  }
});
