// Issue 14: a memory budget test per protocol. For IMAP, POP3, SMTP and HTTP an adversarial client
// pipelines without reading our answers (and announces huge sizes), while a normal client is
// served and the test watches the server process's RSS (a child process): it stays bounded.
// Generous bounds, no timing: the adversary writes until the server stops reading (or a cap),
// and the normal client's visits are the events the test waits for.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import https from 'node:https';
import { ImapFlow } from 'imapflow';
import { createTransport } from 'nodemailer';
import { readUntil } from '../helpers/read-until.js';
import { startChildServer, type ChildServer } from '../helpers/child-server.js';

const MB = 1024 * 1024;
/** What the adversary may write at most (the fix makes the server stop reading long before). */
const CAP = 300 * MB;
const BOUND = 200 * MB;
let server: ChildServer;

before(async () => {
  const big = Buffer.from(`Subject: big\r\n\r\n${'y'.repeat(76)}\r\n`.repeat(1300));
  server = await startChildServer(async (ctx) => {
    for (const [address, password] of [['eve@test.example', 'eve-pw'], ['bob@test.example', 'bob-pw']] as const) {
      const u = await ctx.store.createUser({ address, password });
      await ctx.store.deliver([u.id], big);
    }
    for (const name of ['ImapSettings.LoginType', 'PopSettings.LoginType']) await ctx.store.putSetting({ scope: 'server', targetId: 0, name, value: 'PlainTextLogin' });
  });
});

after(async () => {
  await server?.stop();
});


/** Writes `chunk` over and over, honouring backpressure, until stopped or CAP bytes; never reads. */
function flood(s: net.Socket, chunk: Buffer): { stop: () => void; sent: () => number } {
  let sent = 0;
  let stopped = false;
  s.pause();
  s.on('error', () => undefined);
  const pump = () => {
    // a few chunks per turn, and wait for 'drain' once the kernel (or TLS) stops taking them
    for (let i = 0; i < 16 && !stopped && sent < CAP; i++) {
      sent += chunk.length;
      if (!s.write(chunk) || s.writableLength > 4 * MB) return void s.once('drain', pump);
    }
    if (!stopped && sent < CAP) setImmediate(pump);
  };
  pump();
  return { stop: () => { stopped = true; s.destroy(); }, sent: () => sent };
}

/** Runs the normal client's visit a few times while an adversary runs; the peak RSS growth. */
async function watch(label: string, visit: () => Promise<void>, diagnostic: (m: string) => void): Promise<void> {
  const baseline = server.rss();
  let peak = baseline;
  for (let i = 0; i < 5; i++) {
    await visit();
    peak = Math.max(peak, server.rss());
    if (peak - baseline > BOUND) break;
  }
  diagnostic(`${label}: server RSS ${Math.round(baseline / MB)} MB before, at most ${Math.round(peak / MB)} MB during`);
  assert.ok(peak - baseline <= BOUND, `${label}: RSS grew from ${Math.round(baseline / MB)} MB to ${Math.round(peak / MB)} MB`);
}

test('IMAP: pipelined FETCHes never read, and a huge announced literal, while a normal client is served', { timeout: 300_000 }, async (t) => {
  const s = net.connect(server.port('imap'), '127.0.0.1');
  await readUntil(s, /^\* OK/m);
  s.write('a LOGIN eve@test.example eve-pw\r\nb SELECT INBOX\r\n');
  await readUntil(s, /^b OK/m);
  const f = flood(s, Buffer.from('f FETCH 1 BODY.PEEK[]\r\n'.repeat(1000)));
  // a literal larger than any message is refused before its data is invited
  const huge = net.connect(server.port('imap'), '127.0.0.1');
  await readUntil(huge, /^\* OK/m);
  huge.write('a LOGIN eve@test.example eve-pw\r\n');
  await readUntil(huge, /^a OK/m);
  huge.write('b APPEND INBOX {2000000000}\r\n');
  assert.match(await readUntil(huge, /^b (NO|BAD) .*\r\n/m), /^b (NO|BAD) /m);
  huge.destroy();
  await watch('imap', async () => {
    const c = new ImapFlow({ host: '127.0.0.1', port: server.port('imap'), secure: false, doSTARTTLS: false, auth: { user: 'bob@test.example', pass: 'bob-pw' }, logger: false });
    await c.connect();
    await c.mailboxOpen('INBOX');
    const m = await c.fetchOne('1', { source: true });
    assert.ok(m && m.source && m.source.length > 100_000);
    await c.logout();
  }, (m) => t.diagnostic(m));
  t.diagnostic(`imap adversary wrote ${Math.round(f.sent() / MB)} MB`);
  f.stop();
});

test('POP3: pipelined RETRs never read, while a normal client is served', { timeout: 300_000 }, async (t) => {
  const s = net.connect(server.port('pop3'), '127.0.0.1');
  await readUntil(s, /^\+OK/m);
  s.write('USER eve@test.example\r\nPASS eve-pw\r\n');
  await readUntil(s, /^\+OK[^\r]*\r\n\+OK/m);
  const f = flood(s, Buffer.from('RETR 1\r\nLIST\r\nUIDL\r\n'.repeat(1000)));
  await watch('pop3', async () => {
    const c = net.connect(server.port('pop3'), '127.0.0.1');
    await readUntil(c, /^\+OK/m);
    c.write('USER bob@test.example\r\nPASS bob-pw\r\nRETR 1\r\nQUIT\r\n');
    assert.match(await readUntil(c, /\r\n\.\r\n\+OK[^\r]*\r\n/), /\r\n\.\r\n\+OK/);
    c.destroy();
  }, (m) => t.diagnostic(m));
  t.diagnostic(`pop3 adversary wrote ${Math.round(f.sent() / MB)} MB`);
  f.stop();
});

test('SMTP: pipelined commands never read, and a huge announced SIZE, while a normal client is served', { timeout: 300_000 }, async (t) => {
  const s = net.connect(server.port('smtp'), '127.0.0.1');
  await readUntil(s, /^220 /m);
  s.write('EHLO adversary.example\r\nMAIL FROM:<x@remote.example> SIZE=99999999999\r\n');
  assert.match(await readUntil(s, /^5\d\d /m), /^552 /m);
  const f = flood(s, Buffer.from('NOOP\r\nRSET\r\nHELP\r\n'.repeat(1000)));
  await watch('smtp', async () => {
    const tr = createTransport({ host: '127.0.0.1', port: server.port('smtp'), secure: false, ignoreTLS: true });
    const info = await tr.sendMail({ from: 'someone@remote.example', to: 'bob@test.example', subject: 'normal', text: 'hello' });
    assert.match(info.response, /^250 /);
    tr.close();
  }, (m) => t.diagnostic(m));
  t.diagnostic(`smtp adversary wrote ${Math.round(f.sent() / MB)} MB`);
  f.stop();
});

test('HTTP: pipelined requests never read, and a huge body before sign-in, while a normal client is served', { timeout: 300_000 }, async (t) => {
  const port = server.port('https');
  const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await new Promise((r) => s.once('secureConnect', r));
  const f = flood(s, Buffer.from('GET /owa/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(200)));
  // a body of 40 MB announced before sign-in is refused before it is read
  const b = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await new Promise((r) => b.once('secureConnect', r));
  b.write('POST /owa/api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 40000000\r\n\r\n{"address":"');
  assert.match(await readUntil(b, /^HTTP\/1\.1 \d{3}/), /^HTTP\/1\.1 413/);
  b.destroy();
  await watch('http', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/owa/', rejectUnauthorized: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      }).on('error', reject);
    });
    assert.equal(status, 200);
  }, (m) => t.diagnostic(m));
  t.diagnostic(`http adversary wrote ${Math.round(f.sent() / MB)} MB`);
  f.stop();
});
