// A woken Ping's answer is written past Fastify's reply path (plugin.ts `send`, a shared
// answer): the HTTP around it must stay what every other answer gets. Over a raw TLS connection,
// so that the bytes on the wire are what is checked: HTTP/1.1 keep-alive (the connection takes
// the next request), HTTP/1.0 and `Connection: close` (the server closes after the answer); each
// time the answer's head (status, type, length, cache-control), the request counted in the
// metrics, and the Ping's `eas` session released.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type TLSSocket } from 'node:tls';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';
import type { User } from '../../src/store/types.js';
import { child, childText, decode, el, encode } from '../../src/protocols/activesync/wbxml/codec.js';
import { easSessionsOf, heldRequestsOf } from './server-state.js';
import { EasClient } from './client.js';

let srv: TestServer;
let fay: User;

before(async () => {
  srv = await startTestServer();
  fay = await srv.addUser('fay@example.com');
});
after(async () => srv.close());

const held = () => heldRequestsOf(srv);
const easSessions = () => easSessionsOf(srv, fay.id);
const pingRequests = async (): Promise<number> => {
  const line = (await srv.ctx.metrics.render()).split('\n').find((l) => l.startsWith('mailwarden_command_duration_seconds_count{') && l.includes('protocol="http"') && l.includes('command="POST /Microsoft-Server-ActiveSync"'));
  return line ? Number(line.split(' ').pop()) : 0;
};

/** The device's Inbox id after FolderSync and a first Sync (nothing pending, so its Ping is held). */
async function inboxOf(deviceId: string): Promise<string> {
  const c = new EasClient({ port: srv.port('https'), ca: srv.ctx.tls.cert, user: 'fay@example.com', password: 'secret-pw', deviceId, deviceType: 'Android' });
  const { folders } = await c.folderSync();
  const id = [...folders.values()].find((f) => f.type === '2')!.serverId;
  let s = await c.sync(id, '0');
  do s = await c.sync(id, s.key, { windowSize: 512 }); while (s.more);
  return id;
}

function pingBytes(deviceId: string, inboxId: string, httpVersion: '1.0' | '1.1', extraHeaders = ''): Buffer {
  const body = encode(el('Ping', 'Ping', [el('Ping', 'HeartbeatInterval', '900'), el('Ping', 'Folders', [el('Ping', 'Folder', [el('Ping', 'Id', inboxId), el('Ping', 'Class', 'Email')])])]));
  const head = `POST /Microsoft-Server-ActiveSync?Cmd=Ping&User=fay%40example.com&DeviceId=${deviceId}&DeviceType=Android HTTP/${httpVersion}\r\n` +
    `Host: localhost\r\nAuthorization: Basic ${Buffer.from('fay@example.com:secret-pw').toString('base64')}\r\nMS-ASProtocolVersion: 14.1\r\n` +
    `Content-Type: application/vnd.ms-sync.wbxml\r\nContent-Length: ${body.length}\r\n${extraHeaders}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Reads one HTTP answer (head and Content-Length bytes of body) from the socket. */
function readAnswer(socket: TLSSocket): Promise<{ status: number; headers: Map<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = buf.toString('latin1', 0, end).split('\r\n');
      const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const length = Number(headers.get('content-length'));
      if (buf.length < end + 4 + length) return;
      socket.off('data', onData);
      socket.off('error', reject);
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: buf.subarray(end + 4, end + 4 + length) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

const open = (): Promise<TLSSocket> => new Promise((resolve, reject) => {
  const s = connect({ host: '127.0.0.1', port: srv.port('https'), ca: srv.ctx.tls.cert, servername: 'localhost' }, () => resolve(s));
  s.once('error', reject);
});
const closed = (s: TLSSocket): Promise<void> => new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

/** Sends a Ping on `socket`, waits until it is held, delivers a message, and returns its answer. */
async function wokenPing(socket: TLSSocket, request: Buffer): Promise<Awaited<ReturnType<typeof readAnswer>>> {
  const answer = readAnswer(socket);
  socket.write(request);
  await held().whenSize(1);
  await srv.ctx.store.deliver([fay.id], Buffer.from('From: x@example.com\r\nTo: fay@example.com\r\nSubject: wake\r\n\r\nx\r\n'));
  return answer;
}

function assertWokenAnswer(a: Awaited<ReturnType<typeof readAnswer>>, inboxId: string): void {
  assert.equal(a.status, 200);
  assert.equal(a.headers.get('content-type'), 'application/vnd.ms-sync.wbxml');
  assert.equal(a.headers.get('cache-control'), 'private');
  assert.ok(a.headers.has('date'));
  const ping = decode(a.body);
  assert.equal(childText(ping, 'Status'), '2');
  assert.equal(childText(child(ping, 'Folders'), 'Folder'), inboxId);
}

test('HTTP/1.1 keep-alive: the woken answer leaves the connection open for the next request; counted, session released', async () => {
  const inboxId = await inboxOf('KEEPALIVE1');
  const counted = await pingRequests();
  const s = await open();
  const a = await wokenPing(s, pingBytes('KEEPALIVE1', inboxId, '1.1'));
  assertWokenAnswer(a, inboxId);
  assert.equal(a.headers.get('connection'), 'keep-alive');
  assert.equal(held().size, 0);
  // the same connection takes the next request: a Sync would answer at once; a Ping (nothing
  // pending once it has synced) is held again, which shows the connection was read on
  const next = readAnswer(s);
  s.write(pingBytes('KEEPALIVE1', inboxId, '1.1'));
  const b = await next;
  assert.equal(b.status, 200);
  assert.equal(childText(decode(b.body), 'Status'), '2', 'the message not synced yet answers the new Ping at once');
  s.destroy();
  await requestsCounted(counted + 2);
  await noEasSessions();
});

test('HTTP/1.0 and Connection: close: the woken answer says close and the server closes the connection', async () => {
  for (const [deviceId, version, extra] of [['HTTP10PHONE', '1.0', ''], ['CLOSEPHONE', '1.1', 'Connection: close\r\n']] as const) {
    const inboxId = await inboxOf(deviceId);
    const counted = await pingRequests();
    const s = await open();
    const gone = closed(s);
    const a = await wokenPing(s, pingBytes(deviceId, inboxId, version, extra));
    assertWokenAnswer(a, inboxId);
    assert.equal(a.headers.get('connection'), 'close', `${deviceId}: Connection: close`);
    await gone;
    await requestsCounted(counted + 1);
    await noEasSessions();
  }
});

// the metrics (onResponse) and the session's release (the request's finally) follow the answer's
// write: the client can read it first
const requestsCounted = (n: number) => eventually(async () => (await pingRequests()) === n, 'the Pings counted in the metrics');
const noEasSessions = () => eventually(async () => (await easSessions()).length === 0, "the Pings' eas sessions released");
