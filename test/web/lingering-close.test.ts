// A request answered before its body was read (413: too large) closes the connection. The close
// must let the client finish sending: closing at once makes the kernel reset the connection when
// the rest of the body arrives, and a client still uploading then loses the 413 it has not read.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import net from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { MAX_REQUEST_BYTES } from '../../src/protocols/ews/endpoint.js';

let srv: TestServer;
before(async () => { srv = await startTestServer(); });
after(async () => srv?.close());

test('an answer sent before the body was read: the client may go on sending, then sees a clean close, not a reset', async () => {
  const extra = 1024 * 1024;
  const total = MAX_REQUEST_BYTES + 2 * extra;
  // half-open allowed, as curl's TCP does: the server's FIN does not end our sending
  const raw = net.connect({ host: '127.0.0.1', port: srv.port('https'), allowHalfOpen: true });
  const socket = connect({ socket: raw, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('error', reject); });
  const errors: Error[] = [];
  socket.on('error', (e) => errors.push(e));
  let received = '';
  const answered = new Promise<void>((resolve) => {
    socket.on('data', (c: Buffer) => {
      received += c.toString('latin1');
      const head = received.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(received)?.[1] ?? NaN);
      if (head >= 0 && received.length >= head + 4 + length) resolve();
    });
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  // a write resolves when it is taken, or when the connection is gone (what the assertion looks at)
  const write = (chunk: Buffer) => new Promise<void>((resolve) => {
    if (socket.destroyed || socket.write(chunk)) return resolve();
    socket.once('drain', resolve);
    socket.once('close', () => resolve());
  });
  socket.write(`POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: ${total}\r\n\r\n`);
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  let answeredYet = false;
  void answered.then(() => { answeredYet = true; });
  // send until the answer has come (it comes once the limit is passed), then a megabyte more
  while (sent < MAX_REQUEST_BYTES + extra && !answeredYet) { await write(chunk); sent += chunk.length; }
  await answered;
  assert.match(received, /^HTTP\/1\.1 413/);
  for (let more = 0; more < extra && !socket.destroyed; more += chunk.length) await write(chunk);
  socket.end();
  await closed;
  assert.deepEqual(errors.map((e) => (e as NodeJS.ErrnoException).code), [], 'no reset while the client was still sending');
});
