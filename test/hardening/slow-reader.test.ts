// Issue 14: the slow reader, per front end. An adversary asks for big answers — IMAP FETCH BODY[]
// of a 5.5 MB message, POP3 RETR, the web mail's attachment download, EWS GetItem with its MIME
// content, ActiveSync ItemOperations Fetch of the MIME — fifteen times over, pipelined, on several
// connections, and then reads nothing at all (half of them) or one byte at a time (the others).
// Meanwhile a normal client is served, and the test watches the server process's RSS: each
// connection may hold the answer it is writing, not every answer it was asked for. And SMTP: 16
// clients send a 20 MB message slowly, holding DATA open; the server spools what is past the
// connection input budget to the data folder instead of holding limit × connections in memory.
// Generous bounds, no timing: the test waits for events (answers, spooled bytes), never a clock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import https from 'node:https';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { createTransport } from 'nodemailer';
import { readUntil } from '../helpers/read-until.js';
import { startChildServer, type ChildServer } from '../helpers/child-server.js';
import { ApiClient } from '../web/helpers.js';
import { EasClient } from '../activesync/client.js';
import { el, encode, child, childText } from '../../src/protocols/activesync/wbxml/codec.js';

const MB = 1024 * 1024;
/**
 * RSS growth allowed while the adversaries hold their connections: each may hold the one answer it
 * is being written (~7 MB, and the garbage of building it). Without one answer at a time per
 * connection the web mail's went past 1.8 GB.
 */
const BOUND = 300 * MB;
/** SMTP: 16 DATA phases of 20 MB held in memory would be 320 MB; spooled, a few MB. */
const SMTP_BOUND = 150 * MB;
const ADVERSARIES = 6;
/** Requests pipelined per connection: within the web listener's 16 in flight, so the connections stay open. */
const REPEAT = 15;
let server: ChildServer;
let ca = '';

const attachment = Buffer.alloc(4 * MB, 'attachment data ');
const BIG = Buffer.from([
  'From: someone@remote.example', 'To: eve@test.example', 'Subject: big', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=bnd', '',
  '--bnd', 'Content-Type: text/plain', '', 'see attached', '--bnd', 'Content-Type: application/octet-stream', 'Content-Disposition: attachment; filename="big.bin"',
  'Content-Transfer-Encoding: base64', '', attachment.toString('base64').replace(/.{76}/g, '$&\r\n'), '--bnd--', '',
].join('\r\n'));

before(async () => {
  server = await startChildServer(async (ctx) => {
    for (const [address, password] of [['eve@test.example', 'eve-pw'], ['bob@test.example', 'bob-pw']] as const) {
      const u = await ctx.store.createUser({ address, password });
      await ctx.store.deliver([u.id], BIG);
    }
    for (const name of ['ImapSettings.LoginType', 'PopSettings.LoginType']) await ctx.store.putSetting({ scope: 'server', targetId: 0, name, value: 'PlainTextLogin' });
    ca = ctx.tls.cert;
  });
});

after(async () => {
  await server?.stop();
});


/** Sends `request` REPEAT times; then reads nothing (`trickle` false) or one byte per turn of the event loop. */
function slowRead(s: net.Socket, request: Buffer, trickle: boolean): { stop(): void; read(): number } {
  let read = 0;
  let stopped = false;
  s.on('error', () => undefined);
  s.pause();
  for (let i = 0; i < REPEAT; i++) s.write(request);
  const tick = () => {
    if (stopped) return;
    if (s.read(1)) read++;
    setImmediate(tick);
  };
  if (trickle) tick();
  return { stop: () => { stopped = true; s.destroy(); }, read: () => read };
}

/** Opens the adversaries, runs the normal visit five times, and checks the peak RSS growth. */
async function underSlowReaders(label: string, open: () => Promise<net.Socket>, request: Buffer, visit: () => Promise<void>, diagnostic: (m: string) => void): Promise<void> {
  const baseline = server.rss();
  const readers: Array<ReturnType<typeof slowRead>> = [];
  try {
    for (let i = 0; i < ADVERSARIES; i++) readers.push(slowRead(await open(), request, i % 2 === 1));
    let peak = baseline;
    for (let i = 0; i < 5; i++) {
      await visit();
      peak = Math.max(peak, server.rss());
      if (peak - baseline > BOUND) break;
    }
    diagnostic(`${label}: server RSS ${Math.round(baseline / MB)} MB before, at most ${Math.round(peak / MB)} MB with ${ADVERSARIES} slow readers of ${REPEAT} answers each (the tricklers read ${readers.reduce((n, r) => n + r.read(), 0)} bytes)`);
    assert.ok(peak - baseline <= BOUND, `${label}: RSS grew from ${Math.round(baseline / MB)} MB to ${Math.round(peak / MB)} MB`);
  } finally {
    for (const r of readers) r.stop();
  }
}

const tlsOpen = async (): Promise<net.Socket> => {
  const s = tls.connect({ host: '127.0.0.1', port: server.port('https'), rejectUnauthorized: false });
  await new Promise((r) => s.once('secureConnect', r));
  return s;
};

/** A whole HTTPS answer: status and body length. */
function httpsCall(method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: server.port('https'), method, path, headers, rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The adversary's request is a real one: answered 200 when sent once and read. */
async function answered(request: Buffer): Promise<void> {
  const s = await tlsOpen();
  s.write(request);
  assert.match(await readUntil(s, /^HTTP\/1\.1 \d{3}[^\r]*\r\n/), /^HTTP\/1\.1 200/);
  s.destroy();
}

const rawHttp = (method: string, path: string, headers: Record<string, string>, body: Buffer = Buffer.alloc(0)) =>
  Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries({ ...headers, 'content-length': String(body.length) }).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`), body]);

test('IMAP: slow readers of FETCH BODY[] of a big message stay bounded while a normal client is served', { timeout: 600_000 }, async (t) => {
  await underSlowReaders('imap', async () => {
    const s = net.connect(server.port('imap'), '127.0.0.1');
    await readUntil(s, /^\* OK/m);
    s.write('a LOGIN eve@test.example eve-pw\r\nb SELECT INBOX\r\n');
    await readUntil(s, /^b OK/m);
    return s;
  }, Buffer.from('f FETCH 1 BODY.PEEK[]\r\n'), async () => {
    const c = new ImapFlow({ host: '127.0.0.1', port: server.port('imap'), secure: false, doSTARTTLS: false, auth: { user: 'bob@test.example', pass: 'bob-pw' }, logger: false });
    await c.connect();
    await c.mailboxOpen('INBOX');
    const m = await c.fetchOne('1', { source: true });
    assert.equal(m && m.source ? m.source.length : 0, BIG.length);
    await c.logout();
  }, (m) => t.diagnostic(m));
});

test('POP3: slow readers of RETR of a big message stay bounded while a normal client is served', { timeout: 600_000 }, async (t) => {
  await underSlowReaders('pop3', async () => {
    const s = net.connect(server.port('pop3'), '127.0.0.1');
    await readUntil(s, /^\+OK/m);
    s.write('USER eve@test.example\r\nPASS eve-pw\r\n');
    await readUntil(s, /^\+OK[^\r]*\r\n\+OK/m);
    return s;
  }, Buffer.from('RETR 1\r\n'), async () => {
    const c = net.connect(server.port('pop3'), '127.0.0.1');
    await readUntil(c, /^\+OK/m);
    c.write('USER bob@test.example\r\nPASS bob-pw\r\nRETR 1\r\nQUIT\r\n');
    assert.match(await readUntil(c, /\r\n\.\r\n\+OK[^\r]*\r\n/), /Subject: big/);
    c.destroy();
  }, (m) => t.diagnostic(m));
});

test('web mail: slow readers of an attachment download stay bounded while a normal client is served', { timeout: 600_000 }, async (t) => {
  const signIn = async (address: string, password: string) => {
    const c = new ApiClient(server.port('https'));
    assert.equal((await c.login(address, password)).status, 200);
    const folders = (await c.get('/folders')).json as { folders: Array<{ id: number; specialUse: string | null }> };
    const inbox = folders.folders.find((f) => f.specialUse === '\\Inbox')!;
    const page = (await c.get(`/folders/${inbox.id}/messages`)).json as { items: Array<{ id: string }> };
    return { c, path: `/owa/api/messages/${page.items[0]!.id}/attachments/0`, cookie: [...c.jar].map(([k, v]) => `${k}=${v}`).join('; ') };
  };
  const eve = await signIn('eve@test.example', 'eve-pw');
  const bob = await signIn('bob@test.example', 'bob-pw');
  const request = rawHttp('GET', eve.path, { cookie: eve.cookie });
  await answered(request);
  await underSlowReaders('web mail', tlsOpen, request, async () => {
    const r = await httpsCall('GET', bob.path, { cookie: bob.cookie });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, attachment.length);
  }, (m) => t.diagnostic(m));
});

const SOAP = (body: string) => '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
  + 'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
  + `<s:Header><t:RequestServerVersion Version="Exchange2010_SP2"/></s:Header><s:Body>${body}</s:Body></s:Envelope>`;

test('EWS: slow readers of GetItem with the MIME content stay bounded while a normal client is served', { timeout: 600_000 }, async (t) => {
  const ews = async (user: string, body: string) => httpsCall('POST', '/EWS/Exchange.asmx', { authorization: `Basic ${Buffer.from(user).toString('base64')}`, 'content-type': 'text/xml; charset=utf-8' }, SOAP(body));
  const getItem = async (user: string) => {
    const found = await ews(user, '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>');
    const id = /<t:ItemId Id="([^"]+)"/.exec(found.body.toString())?.[1];
    assert.ok(id, found.body.toString().slice(0, 500));
    return `<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`;
  };
  const eveRequest = await getItem('eve@test.example:eve-pw');
  const bobRequest = await getItem('bob@test.example:bob-pw');
  const auth = `Basic ${Buffer.from('eve@test.example:eve-pw').toString('base64')}`;
  const request = rawHttp('POST', '/EWS/Exchange.asmx', { authorization: auth, 'content-type': 'text/xml; charset=utf-8' }, Buffer.from(SOAP(eveRequest)));
  await answered(request);
  await underSlowReaders('ews', tlsOpen, request, async () => {
    const r = await ews('bob@test.example:bob-pw', bobRequest);
    assert.equal(r.status, 200);
    const mime = /<t:MimeContent[^>]*>([^<]+)</.exec(r.body.toString())?.[1] ?? '';
    assert.equal(Buffer.from(mime, 'base64').length, BIG.length);
  }, (m) => t.diagnostic(m));
});

test('ActiveSync: slow readers of ItemOperations Fetch of the MIME stay bounded while a normal client is served', { timeout: 600_000 }, async (t) => {
  const prepare = async (user: string, password: string, deviceId: string) => {
    const c = new EasClient({ port: server.port('https'), ca, user, password, deviceId });
    await c.provision();
    const { folders } = await c.folderSync();
    const inboxId = [...folders.values()].find((f) => f.type === '2')!.serverId;
    let s = await c.sync(inboxId, '0');
    s = await c.sync(inboxId, s.key, { windowSize: 5 });
    const serverId = childText(s.adds[0], 'ServerId')!;
    const fetch = el('ItemOperations', 'ItemOperations', [el('ItemOperations', 'Fetch', [
      el('ItemOperations', 'Store', 'Mailbox'), el('AirSync', 'CollectionId', inboxId), el('AirSync', 'ServerId', serverId),
      el('ItemOperations', 'Options', [el('AirSyncBase', 'BodyPreference', [el('AirSyncBase', 'Type', '4')])]),
    ])]);
    return { c, fetch };
  };
  const eve = await prepare('eve@test.example', 'eve-pw', 'SLOWREADER1');
  const bob = await prepare('bob@test.example', 'bob-pw', 'NORMAL1');
  const query = new URLSearchParams({ Cmd: 'ItemOperations', User: 'eve@test.example', DeviceId: 'SLOWREADER1', DeviceType: 'TestPhone' }).toString();
  const request = rawHttp('POST', `/Microsoft-Server-ActiveSync?${query}`, {
    authorization: `Basic ${Buffer.from('eve@test.example:eve-pw').toString('base64')}`, 'ms-asprotocolversion': '14.1', 'x-ms-policykey': String(eve.c.policyKey),
    'content-type': 'application/vnd.ms-sync.wbxml', 'user-agent': 'MailwardenTestClient/1.0',
  }, encode(eve.fetch));
  await answered(request);
  await underSlowReaders('activesync', tlsOpen, request, async () => {
    const r = await bob.c.send('ItemOperations', bob.fetch);
    assert.equal(r.status, 200);
    const data = childText(child(child(child(child(r.body!, 'Response'), 'Fetch'), 'Properties'), 'Body'), 'Data') ?? '';
    assert.ok(data.length >= BIG.length, `MIME of ${data.length} characters`);
  }, (m) => t.diagnostic(m));
});

test('SMTP: 16 clients sending a 20 MB message slowly are spooled, not held in memory; a normal client is served', { timeout: 600_000 }, async (t) => {
  const SENDERS = 16;
  const SIZE = 20 * MB;
  const spool = join(server.dataDir, 'spool', 'smtp-data');
  const spooled = () => (existsSync(spool) ? readdirSync(spool).reduce((n, f) => n + statSync(join(spool, f), { throwIfNoEntry: false })!.size, 0) : 0);
  const baseline = server.rss();
  let peak = baseline;
  const line = Buffer.from(`${'z'.repeat(78)}\r\n`);
  const chunk = Buffer.concat(Array.from({ length: 800 }, () => line)); // 64 KB
  const senders = await Promise.all(Array.from({ length: SENDERS }, async (_, i) => {
    const s = net.connect(server.port('smtp'), '127.0.0.1');
    s.on('error', () => undefined);
    await readUntil(s, /^220 /m);
    s.write(`EHLO slow${i}.example\r\nMAIL FROM:<slow${i}@remote.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n`);
    await readUntil(s, /^354 /m);
    s.write(`Subject: slow ${i}\r\n\r\n`);
    // the body, 64 KB at a time, each write waiting for the last to be taken: the final dot only at the end of the test
    let sent = 0;
    const written = new Promise<void>((resolve) => {
      s.once('close', () => resolve()); // the server closed it (or died): the checks below tell
      const next = () => {
        if (sent >= SIZE) return resolve();
        sent += chunk.length;
        if (s.write(chunk)) setImmediate(next);
        else s.once('drain', next);
      };
      next();
    });
    return { s, written };
  }));
  await Promise.all(senders.map((x) => x.written));
  // the server has taken what the kernel buffers hold once its spool holds nearly all of it
  // (or, without the spool, once its memory has grown past the bound: then the test fails)
  await new Promise<void>((resolve) => {
    const check = () => {
      peak = Math.max(peak, server.rss());
      if (spooled() >= SENDERS * (SIZE - 2 * MB) || peak - baseline > SMTP_BOUND) resolve();
      else setTimeout(check, 50);
    };
    check();
  });
  const tr = createTransport({ host: '127.0.0.1', port: server.port('smtp'), secure: false, ignoreTLS: true });
  const info = await tr.sendMail({ from: 'someone@remote.example', to: 'bob@test.example', subject: 'normal', text: 'hello' });
  assert.match(info.response, /^250 /);
  tr.close();
  peak = Math.max(peak, server.rss());
  t.diagnostic(`smtp: server RSS ${Math.round(baseline / MB)} MB before, at most ${Math.round(peak / MB)} MB with ${SENDERS} DATA phases of ${SIZE / MB} MB open; ${Math.round(spooled() / MB)} MB spooled`);
  assert.ok(peak - baseline <= SMTP_BOUND, `smtp: RSS grew from ${Math.round(baseline / MB)} MB to ${Math.round(peak / MB)} MB`);
  // each message is complete and answered (delivered, or 452 once bob's mailbox is full); the spool empties
  for (const { s } of senders) {
    s.write('\r\n.\r\n');
    assert.match(await readUntil(s, /^(250|452|552) .*\r\n/m), /^(250 |452 )/m);
    s.destroy();
  }
  assert.equal(readdirSync(spool).length, 0);
});
