// SPEC 3: the article's scenario over IMAP, and the release guarantee on every exit path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, eventually, startTestServer } from './helpers.js';
import type { ImapTuning } from '../../src/protocols/imap/server.js';

test('17th IMAP logon is refused with the store limit, then admitted after a live settings change', async () => {
  const srv = await startTestServer();
  const clients: RawClient[] = [];
  try {
    for (let i = 0; i < 16; i++) {
      const c = await RawClient.connect(srv.port);
      await c.readResponse();
      assert.match(await c.login(), /^t1 OK /);
      clients.push(c);
    }
    const extra = await RawClient.connect(srv.port);
    clients.push(extra);
    await extra.readResponse();
    const refused = await extra.login();
    assert.equal(refused, 't1 NO [UNAVAILABLE] Server Unavailable. 15: 16 of 16 service sessions in use for alice@example.com');
    // the connection stays usable, in the not-authenticated state
    assert.match((await extra.command('NOOP')).tagged, /^t2 OK/);
    assert.match((await extra.command('SELECT INBOX')).tagged, /^t3 BAD/);
    // a second refusal in the same minute does not write a second event
    assert.match(await extra.login(), /^t4 NO \[UNAVAILABLE\]/);
    const events = await srv.ctx.store.listEvents({ eventId: 9646 });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.message, `Mapi session "${srv.user.dn}" exceeded the maximum of 16 objects of type "session".`);
    assert.equal(events[0]!.count, 2);

    await srv.ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'Maximum Allowed Service Sessions Per User', value: '20' });
    assert.match(await extra.login(), /^t5 OK /);
    assert.equal((await srv.ctx.governor.counts(srv.user.id)).service, 17);
    const sessions = await srv.ctx.governor.list({ userId: srv.user.id });
    assert.equal(sessions.length, 17);
    assert.ok(sessions.every((s) => s.kind === 'imap' && s.clientAddress.includes('127.0.0.1')));
  } finally {
    for (const c of clients) c.close();
  }
  await eventually(async () => {
    const n = await srv.ctx.governor.counts(srv.user.id);
    return n.all === 0 && n.service === 0;
  });
  assert.equal(srv.ctx.connections.imap.connections, 0);
  assert.equal(srv.ctx.connections.imap.userConnections(srv.user.id), 0);
  await srv.close();
});

test('every exit path releases the session: LOGOUT, drop, timeout, admin kill, IDLE timeout, shutdown', async () => {
  // The server reads the tuning when it arms a session's timer: the short idle timeout is set only
  // for the steps about it, so that a slow machine's pauses never autologout the other steps' clients.
  const tuning: ImapTuning = {};
  const srv = await startTestServer({ tuning });
  const counts = () => srv.ctx.governor.counts(srv.user.id);
  const released = () => eventually(async () => (await counts()).all === 0 && srv.ctx.connections.imap.connections === 0);
  const loggedIn = async () => {
    const client = await RawClient.connect(srv.port);
    await client.readResponse();
    await client.login();
    return client;
  };

  // LOGOUT
  let c = await loggedIn();
  assert.equal((await counts()).all, 1);
  const out = await c.command('LOGOUT');
  assert.match(out.untagged[0]!, /^\* BYE /);
  await released();

  // client drop (RST) while selected and in the middle of a literal
  c = await loggedIn();
  await c.command('SELECT INBOX');
  // a synchronizing literal: the continuation says the server is inside the literal when the RST comes
  c.send('x APPEND INBOX {1000}\r\n');
  assert.match((await c.readResponse())!, /^\+ /);
  c.send('abc');
  c.socket.resetAndDestroy();
  await released();

  // authenticated idle timeout (armed when the logon completes)
  c = await RawClient.connect(srv.port);
  await c.readResponse();
  tuning.authTimeoutMs = 400;
  await c.login();
  const bye = await c.readResponse();
  assert.match(bye!, /^\* BYE Autologout/);
  await c.closedByServer();
  await released();
  delete tuning.authTimeoutMs;

  // IDLE is allowed up to the same timeout (armed when the IDLE command arrives), then ends with BYE
  c = await loggedIn();
  tuning.authTimeoutMs = 400;
  // measured from before the command is sent, so the client's own delays can only lengthen it
  const started = Date.now();
  c.send('i1 IDLE\r\n');
  assert.equal(await c.readResponse(), '+ idling');
  assert.match((await c.readResponse())!, /^\* BYE /);
  assert.ok(Date.now() - started >= 300);
  await c.closedByServer();
  await released();
  delete tuning.authTimeoutMs;

  // admin kill
  c = await loggedIn();
  const [rec] = await srv.ctx.governor.list({ userId: srv.user.id });
  await srv.ctx.governor.kill(rec!.id);
  assert.match((await c.readResponse())!, /^\* BYE Session ended by an administrator/);
  await c.closedByServer();
  await released();

  // server shutdown
  c = await loggedIn();
  const closing = srv.listener.close();
  assert.match((await c.readResponse())!, /^\* BYE Server shutting down/);
  await closing;
  assert.equal((await counts()).all, 0);
  await srv.ctx.store.close();
});

test('pre-authentication timeout counts from connect; commands do not reset it', async () => {
  const srv = await startTestServer({ tuning: { preAuthTimeoutMs: 400 } });
  const c = await RawClient.connect(srv.port);
  await c.readResponse();
  // NOOPs every 50 ms: a timer they reset would never fire. The session must end by itself; the
  // bound only ends that broken case (NOOPs answered in time but never a BYE), it is no deadline.
  const giveUp = Date.now() + 120_000;
  let bye: string | null = null;
  while (!bye) {
    const r = await c.command('NOOP').catch(() => null);
    if (!r) break;
    bye = r.untagged.find((l) => l.startsWith('* BYE')) ?? null;
    assert.ok(Date.now() < giveUp, 'commands kept resetting the pre-authentication timer');
    await new Promise((res) => setTimeout(res, 50));
  }
  await c.closedByServer();
  await eventually(() => srv.ctx.connections.imap.connections === 0);
  await srv.close();
});

test('protocol and throttling layers refuse with the limit named, before the store session', async () => {
  const srv = await startTestServer();
  await srv.ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'ImapSettings.MaxConnectionsPerUser', value: '1' });
  await srv.ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'ImapSettings.MaxConnectionFromSingleIP', value: '3' });
  const a = await RawClient.connect(srv.port);
  await a.readResponse();
  assert.match(await a.login(), /OK/);
  const b = await RawClient.connect(srv.port);
  await b.readResponse();
  assert.equal(await b.login(), 't1 NO [UNAVAILABLE] 1 of 1 connections in use for alice@example.com (ImapSettings.MaxConnectionsPerUser)');
  assert.equal((await srv.ctx.governor.counts(srv.user.id)).all, 1);
  const c = await RawClient.connect(srv.port);
  await c.readResponse();
  const d = await RawClient.connect(srv.port);
  assert.equal(await d.readResponse(), '* BYE [UNAVAILABLE] 3 of 3 connections in use for 127.0.0.1 (ImapSettings.MaxConnectionFromSingleIP)');
  await d.closedByServer();
  const ev = await srv.ctx.store.listEvents({ provider: 'MSExchangeIMAP4' });
  assert.equal(ev.length, 2);
  for (const x of [a, b, c]) x.close();
  await eventually(async () => (await srv.ctx.governor.counts(srv.user.id)).all === 0 && srv.ctx.connections.imap.connections === 0);
  await srv.close();
});
