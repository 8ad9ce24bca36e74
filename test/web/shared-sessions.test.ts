// Web sessions live in the shared state (ctx.state): what another node does to them there is
// what this node sees at the browser's next request; their times follow the injected clock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { ManualClock } from '../../src/shared-state/clock.js';
import { ApiClient } from './helpers.js';

let srv: TestServer;
const clock = new ManualClock(Date.now());
before(async () => {
  srv = await startTestServer({ clock });
});
after(async () => {
  await srv.close();
});

const owaCount = async (userId: number) => (await srv.ctx.governor.counts(userId)).byKind.owa ?? 0;

test('a web session is a shared-state record naming its store session; signed out there, it is signed out here', async () => {
  const user = await srv.addUser('shared-web@example.com');
  const c = new ApiClient(srv.port('https'));
  assert.equal((await c.login(user.address)).status, 200);
  const keys = await srv.ctx.state.keys('websession:');
  assert.equal(keys.length, 1);
  const shared = JSON.parse((await srv.ctx.state.get(keys[0]!))!);
  const [store] = await srv.ctx.governor.list({ userId: user.id });
  assert.equal(shared.storeSessionId, store!.id);
  assert.equal(shared.userId, user.id);
  assert.equal(shared.node, srv.ctx.governor.node);
  // what a sign-out on another node leaves in the shared state
  await srv.ctx.state.delete(keys[0]!);
  await srv.ctx.state.set(`websession-ended:${keys[0]!.slice('websession:'.length)}`, 'logout', { ttlMs: 60_000 });
  const r = await c.get('/folders');
  assert.equal(r.status, 401);
  assert.equal(r.json.code, 'signed-out:logout');
  await eventually(async () => (await owaCount(user.id)) === 0, 'the owa store session to be released');
});

test('the idle timeout follows the injected clock: no sleeping', async () => {
  const user = await srv.addUser('idle-web@example.com');
  const c = new ApiClient(srv.port('https'));
  assert.equal((await c.login(user.address)).status, 200);
  const idle = srv.ctx.settings.int('OwaSettings.SessionIdleTimeout') * 1000;
  clock.advance(idle - 1_000);
  assert.equal((await c.get('/folders')).status, 200, 'a request in time keeps the session');
  clock.advance(idle - 1_000);
  assert.equal((await c.get('/folders')).status, 200);
  clock.advance(idle + 1_000);
  const r = await c.get('/folders');
  assert.equal(r.status, 401);
  assert.equal(r.json.code, 'signed-out:timeout');
  await eventually(async () => (await owaCount(user.id)) === 0, 'the owa store session to be released');
  assert.deepEqual(await srv.ctx.state.keys('websession:'), []);
});
