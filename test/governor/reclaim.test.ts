// Reclaim at the store session limit (Reclaim Idle Session Seconds), with real clients over real
// sockets: python3 imaplib/poplib hold the sessions that age, imapflow and poplib log on at the
// limit, web mail signs in through its API. Idle age comes from the server's injected clock,
// moved by the test: no sleeps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { ImapFlow } from 'imapflow';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { ManualClock } from '../../src/shared-state/clock.js';
import { createServerContext } from '../../src/server/create-context.js';
import { TooManyObjectsOpened } from '../../src/governor/errors.js';
import type { StoreSession, EndReason } from '../../src/governor/governor.js';
import type { User } from '../../src/store/types.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/run.js';
import { ApiClient } from '../web/helpers.js';

let srv: TestServer;
const clock = new ManualClock(Date.now());

before(async () => {
  srv = await startTestServer({ plaintext: true, clock });
});
after(async () => {
  await srv.close();
});

/**
 * A python3 client that logs on, says "ready", then runs one NOOP per line of its input and
 * prints the result, or the error text (a BYE / -ERR from the server) and exits.
 */
class PyClient {
  private readonly lines: AsyncIterator<string>;
  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static async start(protocol: 'imap' | 'pop3', port: number, user: string): Promise<PyClient> {
    const open = protocol === 'imap'
      ? `import imaplib\nc = imaplib.IMAP4('127.0.0.1', ${port})\nc.login('${user}', 'secret-pw')\nnoop = c.noop`
      : `import poplib\nc = poplib.POP3('127.0.0.1', ${port})\nc.user('${user}'); c.pass_('secret-pw')\nnoop = c.noop`;
    const py = `${open}\nimport sys\nprint('ready', flush=True)\nfor line in sys.stdin:\n    try:\n        r = noop()\n        print('ok', flush=True)\n    except Exception as e:\n        print('error ' + str(e), flush=True)\n        break\n`;
    const c = new PyClient(spawn('python3', ['-c', py]));
    let err = '';
    c.child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const first = await c.next();
    assert.equal(first, 'ready', `python ${protocol} client did not log on: ${first} ${err}`);
    return c;
  }

  private async next(): Promise<string> {
    const r = await this.lines.next();
    return r.done ? 'closed' : r.value;
  }

  /** One NOOP: 'ok', or 'error <the server's text>'. */
  async noop(): Promise<string> {
    this.child.stdin.write('noop\n');
    return this.next();
  }

  stop(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

async function imapflow(user: string): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port: srv.port('imap'), secure: false, auth: { user, pass: 'secret-pw' }, logger: false, tls: { rejectUnauthorized: false }, doSTARTTLS: false });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function limitUser(user: User, service: number, reclaimSeconds: number): Promise<void> {
  await srv.setSetting('Maximum Allowed Service Sessions Per User', String(service), { userId: user.id });
  await srv.setSetting('Reclaim Idle Session Seconds', String(reclaimSeconds), { userId: user.id });
}

/** The real CLI, run without blocking this process (it asks this in-process server's admin API). */
async function cli(args: string[]) {
  const r = await run(process.execPath, [resolve('bin/mailwarden'), ...args]);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sessionsOf = (user: User) => srv.ctx.governor.list({ userId: user.id });
const reclaimEvents = (user: User) => srv.ctx.store.listEvents({ eventId: 9648, user: user.address });

test('IMAP: at the limit the longest-idle session is reclaimed (BYE with the reason), an active one never; explain shows which', async () => {
  const user = await srv.addUser('rec-imap@example.com');
  await limitUser(user, 2, 300);
  const a = await PyClient.start('imap', srv.port('imap'), user.address);
  const b = await PyClient.start('imap', srv.port('imap'), user.address);
  const [idA] = (await sessionsOf(user)).sort((x, y) => x.openedAt.getTime() - y.openedAt.getTime()).map((s) => s.id);
  clock.advance(200_000);
  assert.equal(await b.noop(), 'ok'); // b is in use
  clock.advance(200_000); // a idle 400 s, b idle 200 s

  const explained = await cli(['access', 'explain', user.address, '--protocol', 'imap', '--data', srv.dataDir, '--json']);
  assert.equal(explained.code, 0, explained.stderr);
  const x = JSON.parse(explained.stdout);
  assert.equal(x.allowed, true);
  const store = x.layers.find((l: { layer: string }) => l.layer === 'store session limits');
  assert.equal(store.reclaims.sessionId, idA);
  assert.equal(store.reclaims.idleSeconds, 400);
  assert.equal(store.reclaims.seconds, 300);
  assert.equal(store.reclaims.source, 'user');
  const text = await cli(['access', 'explain', user.address, '--protocol', 'imap', '--data', srv.dataDir]);
  assert.match(text.stdout, new RegExp(`reclaims: imap session ${idA} from 127\\.0\\.0\\.1, idle 400 s`));

  const c = await imapflow(user.address);
  assert.match(await a.noop(), /^error .*Session reclaimed: it was idle when a new logon for this user reached the session limit \(Reclaim Idle Session Seconds\)/);
  assert.equal(await b.noop(), 'ok');
  assert.deepEqual((await sessionsOf(user)).map((s) => s.id).includes(idA), false);
  assert.equal((await srv.ctx.governor.counts(user.id)).service, 2);
  const events = await reclaimEvents(user);
  assert.equal(events.length, 1);
  assert.equal(events[0].data[0], idA);
  assert.equal(events[0].data[4], '400');
  assert.match(events[0].message, /was ended to admit new session .* at the session limit \(Reclaim Idle Session Seconds = 300\)/);

  // nothing idle long enough now: the next logon is refused as before, and explain says so
  await assert.rejects(imapflow(user.address));
  const now = JSON.parse((await cli(['access', 'explain', user.address, '--protocol', 'imap', '--data', srv.dataDir, '--json'])).stdout);
  assert.equal(now.allowed, false);
  assert.ok(now.notes.some((n: string) => /no imap session of this user has been idle that long/.test(n)), now.notes.join('\n'));
  await c.logout();
  a.stop();
  b.stop();
});

test('IMAP race: two logons at once, two idle sessions: each logon takes exactly one victim', async () => {
  const user = await srv.addUser('rec-race@example.com');
  await limitUser(user, 2, 60);
  const victims = [await PyClient.start('imap', srv.port('imap'), user.address), await PyClient.start('imap', srv.port('imap'), user.address)];
  const before = (await sessionsOf(user)).map((s) => s.id).sort();
  clock.advance(120_000);
  const [c, d] = await Promise.all([imapflow(user.address), imapflow(user.address)]);
  for (const v of victims) assert.match(await v.noop(), /^error .*Session reclaimed/);
  const events = await reclaimEvents(user);
  assert.equal(events.length, 2);
  assert.deepEqual(events.map((e) => e.data[0]).sort(), before, 'each idle session was reclaimed once');
  assert.notEqual(events[0].data[5], events[1].data[5], 'by two different logons');
  assert.equal((await srv.ctx.governor.counts(user.id)).service, 2);

  // one idle victim, one active session, two logons at once: exactly one gets in
  clock.advance(120_000);
  await c.noop(); // c is in use; d has been idle 120 s
  const idD = (await sessionsOf(user)).sort((x, y) => x.lastActivity.getTime() - y.lastActivity.getTime())[0].id;
  const results = await Promise.allSettled([imapflow(user.address), imapflow(user.address)]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
  assert.match(String((refused.reason as { responseText?: string }).responseText ?? refused.reason), /Server Unavailable\. 15: 2 of 2 service sessions/);
  await eventually(() => !d.usable, 'the reclaimed imapflow client to be closed');
  const after = await reclaimEvents(user);
  assert.equal(after.length, 3);
  assert.equal(after[2].data[0], idD);
  assert.equal((await srv.ctx.governor.counts(user.id)).service, 2);
  assert.ok(c.usable);
  for (const r of results) if (r.status === 'fulfilled') await r.value.logout();
  await c.logout();
  for (const v of victims) v.stop();
});

test('POP3 (poplib): the reclaimed session gets -ERR [SYS/TEMP] with the reason; other kinds are never taken', async () => {
  const user = await srv.addUser('rec-pop@example.com');
  await limitUser(user, 2, 30);
  const imap = await PyClient.start('imap', srv.port('imap'), user.address);
  const pop = await PyClient.start('pop3', srv.port('pop3'), user.address);
  clock.advance(60_000);
  assert.equal(await imap.noop(), 'ok');
  // an IMAP logon may only reclaim an IMAP session: the idle POP3 one is not its kind
  await assert.rejects(imapflow(user.address));
  const b = await PyClient.start('pop3', srv.port('pop3'), user.address);
  assert.match(await pop.noop(), /^error .*-ERR \[SYS\/TEMP\] Session reclaimed: /);
  assert.equal(await imap.noop(), 'ok');
  assert.deepEqual((await reclaimEvents(user)).map((e) => e.data[1]), ['pop3']);
  imap.stop();
  pop.stop();
  b.stop();
});

test('web mail: the reclaimed browser is signed out with reason "reclaimed"', async () => {
  const user = await srv.addUser('rec-owa@example.com');
  await limitUser(user, 1, 600);
  const first = new ApiClient(srv.port('https'));
  assert.equal((await first.login(user.address)).status, 200);
  clock.advance(601_000);
  const second = new ApiClient(srv.port('https'));
  assert.equal((await second.login(user.address)).status, 200);
  const api = await first.get('/folders');
  assert.equal(api.status, 401);
  assert.match(api.text, /signed-out:reclaimed/);
  assert.match(api.json.error, /signed out because the session was idle when you signed in elsewhere/);
  const gone = await first.get('/session'); // (which also clears the cookie, as a browser's sign-in page would)
  assert.equal(gone.json.signedIn, false);
  assert.equal(gone.json.reason, 'reclaimed');
  assert.equal((await second.get('/session')).json.signedIn, true);
  assert.equal((await reclaimEvents(user)).length, 1);
});

test('governor: 20 logons at once against 10 idle sessions admit exactly 10, one victim each, never over the limit', async () => {
  const tmp = tempDir();
  const ctl = new ManualClock(Date.now());
  const ctx = await createServerContext(join(tmp.dir, 'data'), { clock: ctl });
  try {
    const user = await ctx.store.createUser({ address: 'many@example.com', password: 'pw' });
    await ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'Maximum Allowed Service Sessions Per User', value: '10' });
    await ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'Reclaim Idle Session Seconds', value: '5' });
    const held = await Promise.all(Array.from({ length: 10 }, () => ctx.governor.open({ user, kind: 'eas', clientAddress: 'x' })));
    const ends: Array<[string, EndReason]> = [];
    for (const s of held) s.onEnd((r) => ends.push([s.id, r]));
    let max = 0;
    const acc = ctx.governor.accounting;
    const acquire = acc.tryAcquire.bind(acc);
    acc.tryAcquire = async (s, limits, replacing) => {
      const r = await acquire(s, limits, replacing);
      max = Math.max(max, (await acc.counts(user.id)).service);
      return r;
    };
    ctl.advance(10_000);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => ctx.governor.open({ user, kind: 'eas', clientAddress: 'y' })));
    const admitted = results.filter((r): r is PromiseFulfilledResult<StoreSession> => r.status === 'fulfilled');
    assert.equal(admitted.length, 10);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof TooManyObjectsOpened);
    assert.deepEqual(ends.map(([id]) => id).sort(), held.map((s) => s.id).sort());
    assert.ok(ends.every(([, r]) => r === 'reclaimed'));
    assert.ok(max <= 10, `count reached ${max}`);
    const events = await ctx.store.listEvents({ eventId: 9648 });
    assert.equal(events.length, 10);
    assert.equal(new Set(events.map((e) => e.data[0])).size, 10);
    assert.deepEqual(new Set(events.map((e) => e.data[5])), new Set(admitted.map((r) => r.value.id)));
    for (const r of admitted) await r.value.close();
  } finally {
    await ctx.store.close();
    tmp.cleanup();
  }
});
