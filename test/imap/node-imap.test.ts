// The older "imap" npm client (node-imap): its own parser, IDLE keepalive and UID commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Imap from 'imap';
import { PASSWORD, eventually, idling, sampleMessage, startTestServer } from './helpers.js';

function connect(port: number): Promise<Imap> {
  const imap = new Imap({ user: 'alice@example.com', password: PASSWORD, host: '127.0.0.1', port, tls: false, autotls: 'never' });
  return new Promise((resolve, reject) => {
    imap.once('ready', () => resolve(imap));
    imap.once('error', reject);
    imap.connect();
  });
}

const call = <T>(fn: (cb: (err: Error | null, v: T) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));

function fetchBodies(imap: Imap, source: string): Promise<Map<number, Buffer>> {
  return new Promise((resolve, reject) => {
    const out = new Map<number, Buffer>();
    const f = imap.fetch(source, { bodies: '', struct: true });
    f.on('message', (msg) => {
      let uid = 0;
      const chunks: Buffer[] = [];
      msg.on('body', (stream) => stream.on('data', (d: Buffer) => chunks.push(d)));
      msg.once('attributes', (a) => (uid = a.uid));
      msg.once('end', () => out.set(uid, Buffer.concat(chunks)));
    });
    f.once('error', reject);
    f.once('end', () => setImmediate(() => resolve(out)));
  });
}

test('node-imap: boxes, append, fetch, flags, search, copy, move, expunge, new-mail event', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const imap = await connect(srv.port);
  t.after(() => imap.end());

  const boxes = await call<Imap.MailBoxes>((cb) => imap.getBoxes(cb));
  assert.ok(boxes.INBOX && boxes['Sent Items'] && boxes['Deleted Items']);
  await call<void>((cb) => imap.addBox('Archive', cb as never));

  const raw = sampleMessage('node-imap', 'Line one\r\nLine two with ümlaut\r\n');
  await call<void>((cb) => imap.append(raw, { mailbox: 'INBOX', flags: ['Seen'] }, cb as never));
  await call<void>((cb) => imap.append(sampleMessage('other'), { mailbox: 'INBOX' }, cb as never));
  const box = await call<Imap.Box>((cb) => imap.openBox('INBOX', false, cb));
  assert.equal(box.messages.total, 2);

  const bodies = await fetchBodies(imap, '1:*');
  assert.ok(bodies.get(1)!.equals(raw), 'byte-identical body');

  await call<void>((cb) => imap.addFlags(2, ['\\Flagged'], cb as never));
  assert.deepEqual(await call<number[]>((cb) => imap.search(['FLAGGED'], cb)), [2]);
  assert.deepEqual(await call<number[]>((cb) => imap.search([['SUBJECT', 'node-imap']], cb)), [1]);
  assert.deepEqual(await call<number[]>((cb) => imap.search(['UNSEEN'], cb)), [2]);

  await call<void>((cb) => imap.copy(1, 'Archive', cb as never));
  await call<void>((cb) => imap.move(2, 'Deleted Items', cb as never));
  await call<void>((cb) => imap.addFlags(1, ['\\Deleted'], cb as never));
  await call<void>((cb) => imap.expunge(cb as never));
  assert.equal(imap.state, 'authenticated');
  const st = await call<Imap.Box>((cb) => imap.status('Archive', cb));
  assert.equal(st.messages.total, 1);

  // new mail while the client idles (node-imap enters IDLE by itself)
  const mail: number[] = [];
  imap.on('mail', (n: number) => mail.push(n));
  await idling(srv);
  await srv.ctx.store.deliver([srv.user.id], sampleMessage('arrives'));
  await eventually(() => mail.length > 0);
});
