// The logon pipeline (src/access/logon.ts) across front ends, over real sockets: the brute-force
// guard is race-free and shared, a dual-stack client is one client, and `access explain` names
// the same layer, setting, limit and count as the refusal a client gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { LineClient } from '../helpers/line-client.js';
import { createTransport } from 'nodemailer';
import { ApiClient } from '../web/helpers.js';
import { ManualClock } from '../../src/shared-state/clock.js';
import { DEFAULT_GUARD_POLICY, type GuardPolicy } from '../../src/access/brute-force-guard.js';
import { explainAccess } from '../../src/access/explain.js';
import { normaliseClientAddress } from '../../src/access/client-address.js';

const POLICY: GuardPolicy = { ...DEFAULT_GUARD_POLICY, lockoutAfter: 5, delayStepMs: 1, maxDelayMs: 5 };

/** Counts the password checks the server makes (the store itself is the real SQLite store). */
function countPasswordChecks(srv: TestServer): { readonly n: number } {
  const store = srv.ctx.store;
  const real = store.verifyPassword.bind(store);
  const counter = { n: 0 };
  store.verifyPassword = (identity, password) => {
    counter.n++;
    return real(identity, password);
  };
  return counter;
}

async function imapLogin(port: number, user: string, password: string, host?: string): Promise<{ c: LineClient; answer: string }> {
  const c = await LineClient.connect(port, { host });
  await c.line();
  return { c, answer: await c.cmd(`a1 LOGIN "${user}" "${password}"`) };
}

async function popLogin(port: number, user: string, password: string, host?: string): Promise<{ c: LineClient; answer: string }> {
  const c = await LineClient.connect(port, { host });
  await c.line();
  await c.cmd(`USER ${user}`);
  return { c, answer: await c.cmd(`PASS ${password}`) };
}

test('client addresses: one spelling for IPv4-mapped and non-canonical IPv6', () => {
  assert.equal(normaliseClientAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normaliseClientAddress('::FFFF:10.1.2.3'), '10.1.2.3');
  assert.equal(normaliseClientAddress('127.0.0.1'), '127.0.0.1');
  assert.equal(normaliseClientAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(normaliseClientAddress('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(normaliseClientAddress('::1'), '::1');
  assert.equal(normaliseClientAddress('fe80::1%eth0'), 'fe80::1%eth0');
  assert.equal(normaliseClientAddress(undefined), 'unknown');
  assert.equal(normaliseClientAddress('not an address'), 'not an address');
});

test('the guard on shared state: reserved slots, lockout, window and lockout expiry on an injected clock', async () => {
  const clock = new ManualClock();
  const srv = await startTestServer({ clock, guardPolicy: POLICY });
  try {
    const guard = srv.ctx.bruteForceGuard;
    // 20 parallel reservations from one address: lockoutAfter get a password check at once,
    // the others wait for one of those to settle instead of being refused
    type Reserved = Awaited<ReturnType<typeof guard.reserve>>;
    const done: Reserved[] = [];
    let onDone = () => {};
    const resolvedCount = (n: number) => new Promise<void>((resolve) => {
      onDone = () => done.length >= n && resolve();
      onDone();
    });
    for (let i = 0; i < 20; i++) void guard.reserve('192.0.2.7').then((r) => { done.push(r); onDone(); });
    await resolvedCount(5);
    const slots = done.flatMap((t) => (t.ok ? [t.slot] : []));
    assert.equal(slots.length, 5);
    // the other 15 register as waiting (each after taking back its tentative count)
    const until = async (cond: () => boolean | Promise<boolean>) => { while (!(await cond())) await new Promise((r) => setImmediate(r)); };
    await until(async () => guard.waiting('192.0.2.7') === 15 && (await guard.inFlight('192.0.2.7')) === 5);
    assert.equal(await guard.check('192.0.2.7'), null, 'checks in flight are not failures');
    // one succeeds (a right password): one waiting attempt gets its check
    await guard.succeeded(slots.shift()!);
    await resolvedCount(6);
    assert.ok(done[5].ok);
    slots.push(done[5].slot);
    for (const s of slots.slice(0, 4)) await guard.failed(s, 'imap', 'guess@example.com');
    assert.equal(await guard.check('192.0.2.7'), null, '4 failures of 5');
    await until(async () => guard.waiting('192.0.2.7') === 14 && (await guard.inFlight('192.0.2.7')) === 1);
    assert.equal(done.length, 6, 'one check in flight and 4 failures: the others still wait');
    await guard.failed(slots[4], 'imap', 'guess@example.com');
    await resolvedCount(20);
    assert.equal(done.filter((r) => r.ok).length, 6, 'the fifth failure locks the address: every waiting attempt is refused');
    assert.equal(await guard.inFlight('192.0.2.7'), 0);
    const locked = await guard.check('192.0.2.7');
    assert.ok(locked);
    assert.equal(locked.retryAfterMs, POLICY.lockoutMs);
    assert.equal((await srv.ctx.store.listEvents({ eventId: 4625 })).length, 1);
    clock.advance(POLICY.lockoutMs - 1);
    assert.equal((await guard.check('192.0.2.7'))?.retryAfterMs, 1);
    clock.advance(1);
    assert.equal(await guard.check('192.0.2.7'), null, 'the lockout expires; the count starts over');
    // failures older than the window do not count
    const failFourTimes = async () => {
      for (let i = 0; i < 4; i++) {
        const r = await guard.reserve('192.0.2.8');
        assert.ok(r.ok);
        await guard.failed(r.slot, 'pop3', 'x');
      }
    };
    await failFourTimes();
    clock.advance(POLICY.windowMs);
    await failFourTimes();
    assert.equal(await guard.check('192.0.2.8'), null);
  } finally {
    await srv.close();
  }
});

test('many right passwords at once from one address (a NAT\'d office, a client opening connections in parallel) all get in: they wait for checks in flight, never refused', async () => {
  const srv = await startTestServer({ plaintext: true, guardPolicy: POLICY });
  try {
    const user = await srv.addUser('office@example.com');
    const N = 3 * POLICY.lockoutAfter; // 15: within the 16 service sessions
    const answers = await Promise.all(Array.from({ length: N }, async () => {
      const { c, answer } = await imapLogin(srv.port('imap'), user.address, 'secret-pw');
      c.destroy();
      return answer;
    }));
    assert.deepEqual(answers.filter((a) => !/^a1 OK /.test(a)), [], 'every right password is let in');
    assert.equal(await srv.ctx.bruteForceGuard.inFlight('127.0.0.1'), 0);
    assert.equal(await srv.ctx.bruteForceGuard.failures('127.0.0.1'), 0);
  } finally {
    await srv.close();
  }
});

test('lockout race over IMAP, POP3, web mail and SMTP AUTH: parallel wrong passwords get no more password checks than allowed', async () => {
  const clock = new ManualClock();
  const srv = await startTestServer({ plaintext: true, clock, guardPolicy: POLICY });
  const forgotten: string[] = [];
  srv.ctx.bruteForceGuard.onLockout((identity) => forgotten.push(identity));
  const checks = countPasswordChecks(srv);
  const user = await srv.addUser('racer@example.com');
  const N = 16;
  const fronts: Array<{ name: string; attempt: (password: string) => Promise<string>; auth: RegExp; lockout: RegExp }> = [
    {
      name: 'imap',
      attempt: async (pw) => { const { c, answer } = await imapLogin(srv.port('imap'), user.address, pw); c.destroy(); return answer; },
      auth: /^a1 NO \[AUTHENTICATIONFAILED\] Authentication failed$/,
      lockout: /^a1 NO \[UNAVAILABLE\] Logons from 127\.0\.0\.1 are refused for \d+ more seconds after 5 failed attempts$/,
    },
    {
      name: 'pop3',
      attempt: async (pw) => { const { c, answer } = await popLogin(srv.port('pop3'), user.address, pw); c.destroy(); return answer; },
      auth: /^-ERR \[AUTH\] Authentication failed$/,
      lockout: /^-ERR \[SYS\/TEMP\] Logons from 127\.0\.0\.1 are refused for \d+ more seconds/,
    },
    {
      name: 'web mail',
      attempt: async (pw) => { const r = await new ApiClient(srv.port('https')).login(user.address, pw); return `${r.status} ${r.json.error}`; },
      auth: /^401 The user name or password you entered isn't correct\.$/,
      lockout: /^429 Too many failed sign-ins from 127\.0\.0\.1; try again in \d+ seconds\.$/,
    },
    {
      name: 'smtp auth',
      attempt: async (pw) => {
        const t = createTransport({ host: '127.0.0.1', port: srv.port('smtps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: user.address, pass: pw } });
        try {
          await t.verify();
          return 'OK';
        } catch (err) {
          return String((err as { response?: string }).response);
        } finally {
          t.close();
        }
      },
      auth: /^535 5\.7\.8 Authentication credentials invalid$/,
      lockout: /^454 4\.7\.0 Too many failed logons from your address; try again later$/,
    },
  ];
  try {
    for (const f of fronts) {
      await srv.ctx.bruteForceGuard.reset('127.0.0.1');
      const before = checks.n;
      const answers = await Promise.all(Array.from({ length: N }, () => f.attempt('wrong')));
      assert.equal(checks.n - before, POLICY.lockoutAfter, `${f.name}: password checks`);
      assert.equal(answers.filter((a) => f.auth.test(a)).length, POLICY.lockoutAfter, `${f.name}: ${answers.join(' | ')}`);
      assert.equal(answers.filter((a) => f.lockout.test(a)).length, N - POLICY.lockoutAfter, `${f.name}: ${answers.join(' | ')}`);
      // now even the right password is refused, without a check
      assert.match(await f.attempt('secret-pw'), f.lockout);
      assert.equal(checks.n - before, POLICY.lockoutAfter);
      // the lockout ends when its time has passed (injected clock: no waiting)
      clock.advance(POLICY.lockoutMs);
      assert.doesNotMatch(await f.attempt('secret-pw'), f.lockout);
    }
    assert.deepEqual(forgotten, fronts.map(() => user.address), 'the lockout hook heard each lockout');
    assert.equal((await srv.ctx.store.listEvents({ eventId: 4625 })).length, fronts.length);
  } finally {
    await srv.close();
  }
});

test('dual-stack listener: a client over 127.0.0.1 and ::ffff:127.0.0.1 is one client for the guard and per-address limits', async () => {
  const srv = await startTestServer({ plaintext: true, host: '::', guardPolicy: POLICY });
  try {
    const user = await srv.addUser('dual@example.com');
    // failures through IMAP, POP3 and web mail, over both spellings, count for one address
    for (const host of ['127.0.0.1', '::ffff:127.0.0.1']) {
      (await imapLogin(srv.port('imap'), user.address, 'wrong', host)).c.destroy();
      (await popLogin(srv.port('pop3'), user.address, 'wrong', host)).c.destroy();
    }
    assert.equal(await srv.ctx.bruteForceGuard.check('127.0.0.1'), null, '4 of 5');
    assert.equal((await new ApiClient(srv.port('https')).login(user.address, 'wrong')).status, 401);
    assert.ok(await srv.ctx.bruteForceGuard.check('127.0.0.1'), 'the fifth failure, over HTTPS, locks the one address');
    await srv.ctx.bruteForceGuard.reset('127.0.0.1');
    // sessions carry the one spelling
    const a = await imapLogin(srv.port('imap'), user.address, 'secret-pw', '::ffff:127.0.0.1');
    assert.match(a.answer, /^a1 OK /);
    const listed = await srv.ctx.governor.list({ userId: user.id });
    assert.deepEqual(listed.map((s) => s.clientAddress), ['127.0.0.1']);
    // MaxConnectionFromSingleIP 1: the second connection, other spelling, is the same address
    await srv.setSetting('ImapSettings.MaxConnectionFromSingleIP', '1');
    const second = await LineClient.connect(srv.port('imap'), { host: '127.0.0.1' });
    assert.equal(await second.line(), '* BYE [UNAVAILABLE] 1 of 1 connections in use for 127.0.0.1 (ImapSettings.MaxConnectionFromSingleIP)');
    second.destroy();
    a.c.destroy();
    await eventually(async () => (await srv.ctx.governor.counts(user.id)).all === 0, 'released');
  } finally {
    await srv.close();
  }
});

test('access explain names the layer, setting, limit and count of the refusal a client then gets: protocol, throttling, store, password, lockout', async () => {
  const clock = new ManualClock();
  const srv = await startTestServer({ plaintext: true, clock, guardPolicy: POLICY });
  const held: LineClient[] = [];
  try {
    const user = await srv.addUser('explained@example.com');
    const explain = async (protocol: 'imap' | 'pop3' | 'owa', from = '127.0.0.1') => explainAccess(srv.ctx, user, protocol, { from });
    assert.equal((await explain('imap')).allowed, true);

    // protocol connection limit (IMAP)
    await srv.setSetting('ImapSettings.MaxConnectionsPerUser', '1');
    const first = await imapLogin(srv.port('imap'), user.address, 'secret-pw');
    held.push(first.c);
    let x = await explain('imap');
    assert.equal(x.refusedBy, 'protocol connection limits');
    assert.deepEqual([x.refusal?.kind, x.refusal?.setting, x.refusal?.limit, x.refusal?.count], ['protocol', 'ImapSettings.MaxConnectionsPerUser', 1, 1]);
    const protocolAnswer = (await imapLogin(srv.port('imap'), user.address, 'secret-pw')).answer;
    assert.equal(protocolAnswer, `a1 ${x.layers.find((l) => l.refuses)!.clientSees}`);
    const e1030 = (await srv.ctx.store.listEvents({ eventId: 1030, user: user.address })).at(-1)!;
    assert.deepEqual(e1030.data.slice(0, 3).map(String), ['ImapSettings.MaxConnectionsPerUser', '1', '1']);
    await srv.setSetting('ImapSettings.MaxConnectionsPerUser', '100');

    // throttling (POP3)
    await srv.setSetting('ThrottlingPolicy.POPMaxConcurrency', '1', { userId: user.id });
    const pop = await popLogin(srv.port('pop3'), user.address, 'secret-pw');
    assert.match(pop.answer, /^\+OK/);
    held.push(pop.c);
    x = await explain('pop3');
    assert.equal(x.refusedBy, 'throttling policy');
    assert.deepEqual([x.refusal?.kind, x.refusal?.setting, x.refusal?.limit, x.refusal?.count], ['throttling', 'ThrottlingPolicy.POPMaxConcurrency', 1, 1]);
    assert.equal((await popLogin(srv.port('pop3'), user.address, 'secret-pw')).answer, x.layers.find((l) => l.refuses)!.clientSees);
    const e2915 = (await srv.ctx.store.listEvents({ eventId: 2915, user: user.address })).at(-1)!;
    assert.deepEqual(e2915.data.slice(1, 4).map(String), ['ThrottlingPolicy.POPMaxConcurrency', '1', '1']);

    // store session limit (IMAP and web mail): 2 service sessions are held
    await srv.setSetting('Maximum Allowed Service Sessions Per User', '2', { userId: user.id });
    x = await explain('imap');
    assert.equal(x.refusedBy, 'store session limits');
    assert.deepEqual([x.refusal?.kind, x.refusal?.setting, x.refusal?.limit, x.refusal?.count], ['store', 'Maximum Allowed Service Sessions Per User', 2, 2]);
    assert.equal((await imapLogin(srv.port('imap'), user.address, 'secret-pw')).answer, `a1 ${x.layers.find((l) => l.refuses)!.clientSees}`);
    x = await explain('owa');
    const web = await new ApiClient(srv.port('https')).login(user.address);
    assert.equal(`HTTP ${web.status}: ${web.json.details.message}`, x.layers.find((l) => l.refuses)!.clientSees);
    assert.deepEqual([web.json.details.limitName, web.json.details.limit, web.json.details.count], [x.refusal?.setting, x.refusal?.limit, x.refusal?.count]);

    // wrong password (IMAP): explain with the password names the failure this attempt would be
    x = await explainAccess(srv.ctx, user, 'imap', { from: '127.0.0.1', password: 'wrong' });
    assert.equal(x.refusedBy, 'password');
    assert.deepEqual([x.refusal?.kind, x.refusal?.limit, x.refusal?.count], ['auth', POLICY.lockoutAfter, 1]);
    const wrong = await imapLogin(srv.port('imap'), user.address, 'wrong');
    wrong.c.destroy();
    assert.equal(wrong.answer, `a1 ${x.layers.find((l) => l.refuses)!.clientSees}`);
    assert.equal(await srv.ctx.bruteForceGuard.failures('127.0.0.1'), x.refusal?.count, 'the real failure was counted as explain said');
    assert.equal((await explainAccess(srv.ctx, user, 'imap', { password: 'secret-pw' })).layers[1]!.refuses, false);

    // lockout (IMAP): failures from 127.0.0.1, then explain --from 127.0.0.1
    for (let i = 1; i < POLICY.lockoutAfter; i++) {
      const r = await imapLogin(srv.port('imap'), user.address, 'wrong');
      r.c.destroy();
      assert.match(r.answer, /AUTHENTICATIONFAILED/);
      if (i < POLICY.lockoutAfter - 1) assert.equal((await explain('imap')).layers[0]!.refuses, false);
    }
    x = await explain('imap');
    assert.equal(x.refusedBy, 'brute-force guard');
    assert.deepEqual([x.refusal?.kind, x.refusal?.limit, x.refusal?.count], ['lockout', 5, 5]);
    assert.equal((await imapLogin(srv.port('imap'), user.address, 'secret-pw')).answer, `a1 ${x.layers[0]!.clientSees}`);
    assert.equal((await explain('imap', '192.0.2.1')).layers[0]!.refuses, false, 'another address is not locked out');
    // explain changed nothing: no reservation, no session
    assert.equal((await srv.ctx.governor.counts(user.id)).all, 2);
  } finally {
    for (const c of held) c.destroy();
    await srv.close();
  }
});
