import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import type { User } from '../../src/store/types.js';
import { run } from '../helpers/run.js';
import { addAdmin, ApiClient, cookieHeader, openStream, startOwaServer, type OwaTestServer } from './helpers.js';

let srv: OwaTestServer;
let alice: User;
let port: number;

before(async () => {
  srv = await startOwaServer();
  port = srv.port('https');
  alice = await srv.addUser('alice@example.com');
  await addAdmin(srv, 'admin@example.com');
});
after(async () => srv.close());

/** The real CLI, as an administrator runs it next to the running server (async: the server is in this process). */
const mailwarden = (...args: string[]) => run(process.execPath, [resolve('bin/mailwarden'), ...args, '--data', srv.dataDir]);
const owaCount = async () => (await srv.ctx.governor.counts(alice.id)).byKind.owa ?? 0;
const MINUTE = 60_000;

test('the web session idle timeout is a live setting: a short one signs an idle browser out and releases its owa session', async () => {
  const c = new ApiClient(port);
  assert.equal((await c.login(alice.address)).status, 200);
  // the default (20 minutes) keeps a browser idle for 5 minutes
  await srv.owa.sessions.sweep(Date.now() + 5 * MINUTE);
  assert.equal(await owaCount(), 1);
  assert.equal((await c.get('/folders')).status, 200);

  const set = await mailwarden('settings', 'set', 'OwaSettings.SessionIdleTimeout', '60');
  assert.equal(set.status, 0, set.stderr);
  assert.match(set.stdout, /no restart needed/);
  const get = await mailwarden('settings', 'get', 'owa.SessionIdleTimeout', '--json');
  assert.equal(JSON.parse(get.stdout).value, 60);
  // the running server picks the new value up at its next sweep, without a restart
  await srv.owa.sessions.sweep(Date.now() + 5 * MINUTE);
  assert.equal(await owaCount(), 0, 'idle for 5 minutes with a 60-second idle timeout');
  const gone = await c.get('/folders');
  assert.equal(gone.status, 401);
  assert.equal(gone.json.code, 'signed-out:timeout');

  // the administrator's sessions view (web mail admin page, and the CLI) no longer lists it
  const admin = new ApiClient(port);
  assert.equal((await admin.login('admin@example.com')).status, 200);
  const view = await admin.get(`/admin/sessions?user=${encodeURIComponent(alice.address)}`);
  assert.equal(view.status, 200);
  assert.deepEqual(view.json.sessions, []);
  const listed = await mailwarden('sessions', 'list', '--user', alice.address, '--json');
  assert.equal(listed.status, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout), []);

  assert.equal((await mailwarden('settings', 'unset', 'OwaSettings.SessionIdleTimeout')).status, 0);
  await admin.post('/logout');
});

test('an open tab (push stream) keeps its session past the idle timeout, but not past the session lifetime', async () => {
  const c = new ApiClient(port);
  assert.equal((await c.login(alice.address)).status, 200);
  const stream = await openStream(port, cookieHeader(c));
  assert.equal(stream.status, 200);
  try {
    // 50 minutes without a request (idle timeout 20), but the tab is open: still signed in (lifetime 12 h)
    await srv.owa.sessions.sweep(Date.now() + 50 * MINUTE);
    assert.equal(await owaCount(), 1);
    assert.ok(!stream.events.includes('signedout'));

    await srv.setSetting('OwaSettings.SessionLifetime', String(30 * 60));
    await srv.owa.sessions.sweep(Date.now() + 50 * MINUTE);
    await stream.ended;
    assert.ok(stream.events.includes('signedout'), `events: ${stream.events.join(' ')}`);
    assert.equal(await owaCount(), 0, 'a forgotten tab is signed out at the end of the lifetime');
    const gone = await c.get('/folders');
    assert.equal(gone.status, 401);
    assert.equal(gone.json.code, 'signed-out:timeout');
  } finally {
    stream.close();
    await srv.setSetting('OwaSettings.SessionLifetime', String(12 * 60 * 60));
  }
});
