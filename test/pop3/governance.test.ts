import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { LineClient } from '../helpers/line-client.js';
import { explainAccess } from '../../src/access/explain.js';
import { eventToXml } from '../../src/events/xml.js';
import type { User } from '../../src/store/types.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer({ plaintext: true });
});
after(async () => srv.close());

async function connectAndLogin(address: string): Promise<{ c: LineClient; answer: string }> {
  const c = await LineClient.connect(srv.port('pop3'));
  await c.line();
  await c.cmd(`USER ${address}`);
  return { c, answer: await c.cmd('PASS secret-pw') };
}

const counts = async (u: User) => srv.ctx.governor.counts(u.id);

test("the article's scenario: 16 held, the 17th refused exactly, one event, raising the store limit lets it in live", async () => {
  const user = await srv.addUser('scenario@example.com');
  const held: LineClient[] = [];
  for (let i = 0; i < 16; i++) {
    const { c, answer } = await connectAndLogin(user.address);
    assert.match(answer, /^\+OK/);
    held.push(c);
  }
  const seventeenth = await connectAndLogin(user.address);
  assert.equal(seventeenth.answer, '-ERR [IN-USE] Server Unavailable. 15: 16 of 16 service sessions in use for scenario@example.com');
  await seventeenth.c.waitClose(); // POP3: closed after -ERR
  const again = await connectAndLogin(user.address);
  assert.match(again.answer, /^-ERR \[IN-USE\]/);
  const events = await srv.ctx.store.listEvents({ eventId: 9646, user: user.address });
  assert.equal(events.length, 1, 'once per minute per user and type');
  assert.equal(events[0].count, 2);
  assert.match(eventToXml(events[0]), /<Data>\/o=First Organization\/ou=Exchange Administrative Group \(FYDIBOHF23SPDLT\)\/cn=Recipients\/cn=scenario<\/Data>/);
  const listed = await srv.ctx.governor.list({ userId: user.id });
  assert.equal(listed.length, 16);
  assert.ok(listed.every((s) => s.kind === 'pop3' && s.clientAddress === '127.0.0.1'));
  // the article's note: the per-protocol limit is not the one that refuses
  await srv.setSetting('PopSettings.MaxConnectionsPerUser', '100');
  const explained = await explainAccess(srv.ctx, user, 'pop3');
  assert.equal(explained.refusedBy, 'store session limits');
  assert.ok(explained.notes.some((n) => n.includes('does not help')));
  assert.match((await connectAndLogin(user.address)).answer, /^-ERR \[IN-USE\] Server Unavailable\. 15/);
  // the store limit, raised live, lets the 17th in at once
  await srv.ctx.store.putSetting({ scope: 'user', targetId: user.id, name: 'Maximum Allowed Service Sessions Per User', value: '20' });
  const now = await connectAndLogin(user.address);
  assert.match(now.answer, /^\+OK/);
  held.push(now.c);
  for (const c of held) c.destroy();
  await eventually(async () => (await counts(user)).all === 0, 'all sessions released');
});

test('protocol and throttling layers refuse with their own codes and events, naming the setting', async () => {
  const user = await srv.addUser('layers@example.com');
  await srv.setSetting('PopSettings.MaxConnectionsPerUser', '2');
  const a = await connectAndLogin(user.address);
  const b = await connectAndLogin(user.address);
  const c = await connectAndLogin(user.address);
  assert.equal(c.answer, '-ERR [IN-USE] 2 of 2 connections in use for layers@example.com (PopSettings.MaxConnectionsPerUser)');
  await srv.setSetting('PopSettings.MaxConnectionsPerUser', '100');
  await srv.setSetting('ThrottlingPolicy.POPMaxConcurrency', '2');
  const d = await connectAndLogin(user.address);
  assert.equal(d.answer, '-ERR [SYS/TEMP] 2 of 2 connections in use for layers@example.com (ThrottlingPolicy.POPMaxConcurrency)');
  await srv.setSetting('ThrottlingPolicy.POPMaxConcurrency', '20');
  await srv.setSetting('PopSettings.MaxConnectionFromSingleIP', '3');
  const e = await LineClient.connect(srv.port('pop3'));
  assert.match(await e.line(), /^-ERR \[SYS\/TEMP\] 2 of 3|^\+OK/); // a and b hold two; e is the third connection and passes
  const f = await LineClient.connect(srv.port('pop3'));
  assert.equal(await f.line(), '-ERR [SYS/TEMP] 3 of 3 connections in use for 127.0.0.1 (PopSettings.MaxConnectionFromSingleIP)');
  await srv.setSetting('PopSettings.MaxConnectionFromSingleIP', '2000');
  const popEvents = await srv.ctx.store.listEvents({ provider: 'MSExchangePOP3' });
  assert.ok(popEvents.some((ev) => ev.data[0] === 'PopSettings.MaxConnectionsPerUser'));
  assert.ok(popEvents.some((ev) => ev.data[0] === 'PopSettings.MaxConnectionFromSingleIP'));
  assert.equal((await srv.ctx.store.listEvents({ eventId: 2915 })).length, 1);
  for (const x of [a.c, b.c, e, f]) x.destroy();
  await eventually(async () => (await counts(user)).all === 0 && srv.ctx.connections.pop.connections === 0, 'release');
});

test('drop, idle timeout, pre-auth timeout, admin kill and shutdown each free the session', async () => {
  const user = await srv.addUser('release@example.com');
  const dropped = await connectAndLogin(user.address);
  assert.equal((await counts(user)).all, 1);
  dropped.c.socket.resetAndDestroy(); // RST
  await eventually(async () => (await counts(user)).all === 0, 'release after RST');

  await srv.setSetting('PopSettings.AuthenticatedConnectionTimeout', '1');
  const idle = await connectAndLogin(user.address);
  assert.equal(await idle.c.line(), '-ERR [SYS/TEMP] Idle too long; closing');
  await idle.c.waitClose();
  await eventually(async () => (await counts(user)).all === 0, 'release after idle timeout');
  await srv.setSetting('PopSettings.AuthenticatedConnectionTimeout', '1800');

  await srv.setSetting('PopSettings.PreAuthenticatedConnectionTimeout', '1');
  const lingering = await LineClient.connect(srv.port('pop3'));
  await lingering.line();
  // commands do not reset the pre-auth timer: the client is closed once the window from connect
  // is over. A loaded machine may end the window before the CAPA is answered (or read): either
  // way the last line is the timeout's.
  lingering.send('CAPA\r\n');
  const said: string[] = [];
  for (let l = await lingering.line(); ; l = await lingering.line()) {
    said.push(l);
    if (l.startsWith('-ERR')) break;
  }
  assert.equal(said.at(-1), '-ERR [SYS/TEMP] Logon took too long; closing');
  await srv.setSetting('PopSettings.PreAuthenticatedConnectionTimeout', '60');

  const killed = await connectAndLogin(user.address);
  const [s] = await srv.ctx.governor.list({ userId: user.id });
  await srv.ctx.governor.kill(s.id);
  assert.equal(await killed.c.line(), '-ERR [SYS/PERM] Your session was ended by an administrator');
  await killed.c.waitClose();
  assert.equal((await counts(user)).all, 0);
});

test('200 clients connecting, logging on and dropping at random end with zero sessions held', async () => {
  const user = await srv.addUser('storm@example.com');
  await srv.setSetting('Maximum Allowed Service Sessions Per User', '1000');
  await srv.setSetting('Maximum Allowed Sessions Per User', '1000');
  await srv.setSetting('PopSettings.MaxConnectionsPerUser', '1000');
  await srv.setSetting('ThrottlingPolicy.POPMaxConcurrency', '0');
  const run = async (i: number) => {
    const c = await LineClient.connect(srv.port('pop3'));
    try {
      await c.line();
      if (i % 4 === 0) return c.destroy();
      await c.cmd(`USER ${user.address}`);
      if (i % 4 === 1) { c.send('PASS secret-pw\r\n'); return c.destroy(); } // drop mid-logon
      await c.cmd('PASS secret-pw');
      if (i % 4 === 2) { c.send('RETR 1\r\nLIST\r\n'); return c.socket.resetAndDestroy(); }
      await c.cmd('QUIT');
    } catch {
      c.destroy();
    }
  };
  await Promise.all(Array.from({ length: 200 }, (_, i) => run(i)));
  await eventually(async () => (await counts(user)).all === 0 && srv.ctx.connections.pop.connections === 0 && srv.ctx.connections.pop.userConnections(user.id) === 0, 'zero sessions');
  assert.equal(srv.ctx.governor.openCount, 0);
});
