// ActiveSync under the governor: a Ping holds one `eas` store session per (user, device); a new
// Ping from the same device supersedes the old one in its slot; at a limit a Ping is refused
// with HTTP 503, Retry-After and Status 111 (event 9646 for the store limit, 2915 for
// EASMaxConcurrency), and goes through again once a slot is free; EASMaxDevices refuses a new
// device with Status 177.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { User } from '../../src/store/types.js';
import { childText } from '../../src/protocols/activesync/wbxml/codec.js';
import { easSessionsOf, heldRequestsOf } from './server-state.js';
import { EasClient } from './client.js';

let srv: TestServer;
let dora: User;

before(async () => {
  srv = await startTestServer();
  dora = await srv.addUser('dora@example.com');
});
after(async () => srv.close());

const phone = (deviceId: string) => new EasClient({ port: srv.port('https'), ca: srv.ctx.tls.cert, user: 'dora@example.com', password: 'secret-pw', deviceId, deviceType: 'Android' });
const held = () => heldRequestsOf(srv);
const easSessions = () => easSessionsOf(srv, dora.id);

/** Waits until the server holds `n` requests (the held-request table tells when it changes). */
const heldReaches = (n: number): Promise<void> => held().whenSize(n);

async function inboxOf(c: EasClient): Promise<string> {
  const { folders } = await c.folderSync();
  const id = [...folders.values()].find((f) => f.type === '2')!.serverId;
  let s = await c.sync(id, '0');
  do s = await c.sync(id, s.key, { windowSize: 512 }); while (s.more);
  return id;
}

async function deliver(subject: string): Promise<void> {
  const inbox = await srv.ctx.store.getSpecialFolder(dora.id, '\\Inbox');
  await srv.ctx.store.deliver([dora.id], Buffer.from(`From: x@example.com\r\nTo: dora@example.com\r\nSubject: ${subject}\r\n\r\nx\r\n`));
  void inbox;
}

test('a Ping holds one eas session; a second Ping from the same device answers the first and takes its slot', async () => {
  const c = phone('SUPERSEDE1');
  const inboxId = await inboxOf(c);
  const first = c.ping([inboxId], 900);
  await heldReaches(1);
  assert.equal((await easSessions()).length, 1, 'one session while the Ping is held');
  assert.match((await easSessions())[0]!.clientInfo ?? '', /SUPERSEDE1 \(Android/);
  const second = c.ping([inboxId], 900);
  const a = await first;
  assert.equal(a.status, 200);
  assert.equal(childText(a.body!, 'Status'), '1', 'the superseded Ping is answered as a heartbeat end');
  await heldReaches(1);
  assert.equal((await easSessions()).length, 1, 'still one session: the new Ping reused the slot');
  await deliver('wakes the second');
  const b = await second;
  assert.equal(childText(b.body!, 'Status'), '2');
  assert.equal(held().size, 0);
  assert.equal((await easSessions()).length, 0, 'every session released');
});

test('at the store session limit a Ping is refused (503, Retry-After, Status 111, event 9646) and goes through once a slot is free', async () => {
  await srv.setSetting('Maximum Allowed EAS Sessions Per User', '2', { userId: dora.id });
  try {
    const p1 = phone('LIMIT1');
    const p2 = phone('LIMIT2');
    const p3 = phone('LIMIT3');
    const [i1, i2, i3] = [await inboxOf(p1), await inboxOf(p2), await inboxOf(p3)];
    const h1 = p1.ping([i1], 900);
    await heldReaches(1);
    const h2 = p2.ping([i2], 900);
    await heldReaches(2);
    const refused = await p3.ping([i3], 900);
    assert.equal(refused.status, 503);
    assert.ok(Number(refused.headers['retry-after']) > 0);
    assert.equal(childText(refused.body!, 'Status'), '111');
    assert.match(String(refused.headers['x-mailwarden-refusal']), /Server Unavailable\. 15: 2 of 2 eas sessions in use for dora@example\.com/);
    const events = await srv.ctx.store.listEvents({ eventId: 9646, user: dora.address });
    assert.ok(events.length >= 1, 'event 9646 logged');
    // a delivery answers both held Pings; their slots are free again
    await deliver('frees the slots');
    assert.equal(childText((await h1).body!, 'Status'), '2');
    assert.equal(childText((await h2).body!, 'Status'), '2');
    const again = await p3.ping([i3], 900);
    assert.equal(again.status, 200, 'recovered: the third device gets in');
    assert.equal(childText(again.body!, 'Status'), '2', 'and is told of the delivery it has not synced');
  } finally {
    await srv.setSetting('Maximum Allowed EAS Sessions Per User', '0', { userId: dora.id });
  }
});

test('ThrottlingPolicy.EASMaxConcurrency refuses with 503 and Status 111 (event 2915); EASMaxDevices refuses a new device with Status 177', async () => {
  await srv.setSetting('ThrottlingPolicy.EASMaxConcurrency', '1', { userId: dora.id });
  try {
    const p1 = phone('THROTTLE1');
    const i1 = await inboxOf(p1);
    const h1 = p1.ping([i1], 900);
    await heldReaches(1);
    const r = await phone('THROTTLE2').send('FolderSync', undefined);
    assert.equal(r.status, 503);
    assert.match(String(r.headers['x-mailwarden-refusal']), /ThrottlingPolicy\.EASMaxConcurrency/);
    assert.equal(childText(r.body!, 'Status'), '111');
    assert.ok((await srv.ctx.store.listEvents({ eventId: 2915 })).length >= 1);
    await deliver('ends the throttled Ping');
    await h1;
  } finally {
    await srv.setSetting('ThrottlingPolicy.EASMaxConcurrency', '10', { userId: dora.id });
  }
  const have = (await srv.ctx.store.listDevices(dora.id)).length;
  await srv.setSetting('ThrottlingPolicy.EASMaxDevices', String(have), { userId: dora.id });
  const raw = await phone('ONETOOMANY').send('FolderSync', undefined);
  assert.equal(childText(raw.body!, 'Status'), '177');
  assert.ok(!(await srv.ctx.store.listDevices(dora.id)).some((d) => d.deviceId === 'ONETOOMANY'));
  await srv.ctx.store.removeDevice(dora.id, 'THROTTLE1');
  const ok = await phone('ONETOOMANY').folderSync();
  assert.ok(ok.folders.size >= 5, 'after a device is removed the new one is admitted');
});
