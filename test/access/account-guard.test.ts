// Issue 14 item 3: guessing one account from many addresses is slowed per account, without
// letting the attacker lock the real user out; one locked address (an office NAT) does not lock
// out the users who logged on from it before. On an injected clock: no sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { LineClient } from '../helpers/line-client.js';
import { ManualClock } from '../../src/shared-state/clock.js';
import { DEFAULT_GUARD_POLICY } from '../../src/access/brute-force-guard.js';
import { DEFAULT_ACCOUNT_GUARD_POLICY } from '../../src/access/account-guard.js';
import { logon, type LogonResult } from '../../src/access/logon.js';
import { ACCOUNT_RULE } from '../../src/access/refusal.js';
import { LOGON_ANSWERS } from '../../src/access/answers.js';
import { explainAccess } from '../../src/access/explain.js';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const GUARD = { ...DEFAULT_GUARD_POLICY, delayStepMs: 0, maxDelayMs: 0 };
const ACCOUNT = { ...DEFAULT_ACCOUNT_GUARD_POLICY, freeFailures: 5, delayStepMs: 10_000, maxDelayMs: 60_000 };

const attempt = (srv: TestServer, identity: string, password: string, clientAddress: string): Promise<LogonResult> =>
  logon(srv.ctx, { kind: 'smtp', identity, password, clientAddress });

const kindOf = (r: LogonResult) => (r.ok ? 'ok' : r.refusal.setting === ACCOUNT_RULE ? 'slowed' : r.refusal.kind);

test('40 wrong passwords for one account from 40 addresses: after the free tries, new addresses are spaced out per account', async () => {
  const clock = new ManualClock();
  const srv = await startTestServer({ clock, guardPolicy: GUARD, accountGuardPolicy: ACCOUNT });
  try {
    await srv.addUser('alice@test.example', 'right-pw');
    // alice's own laptop logged on before the attack
    assert.equal(kindOf(await attempt(srv, 'alice@test.example', 'right-pw', '10.0.0.1')), 'ok');
    const results: string[] = [];
    for (let i = 0; i < 40; i++) results.push(kindOf(await attempt(srv, 'alice@test.example', `guess-${i}`, `192.0.2.${i + 1}`)));
    // 5 free failures, then one check that takes the gate; every other address is told to wait
    assert.deepEqual(results.filter((k) => k === 'auth').length, 6, results.join(' '));
    assert.equal(results.filter((k) => k === 'slowed').length, 34);
    // the laptop's right password is admitted at once (known address: never slowed)
    assert.equal(kindOf(await attempt(srv, 'alice@test.example', 'right-pw', '10.0.0.1')), 'ok');
    // a new device with the right password is told how long to wait, and gets in after it
    const refused = await attempt(srv, 'alice@test.example', 'right-pw', '203.0.113.9');
    assert.equal(kindOf(refused), 'slowed');
    const wait = !refused.ok ? refused.refusal.retryAfterSeconds! : 0;
    assert.ok(wait >= 1 && wait <= ACCOUNT.maxDelayMs / 1000, `retry after ${wait}`);
    assert.match(LOGON_ANSWERS.lockout.imap(!refused.ok ? refused.refusal : (undefined as never)).text, /Logons to alice@test\.example from new addresses are slowed after 6 failed attempts/);
    // access explain shows the account guard: failures, the delay now, the known addresses (issue 14 item 5)
    const alice = (await srv.ctx.store.findUser('alice@test.example'))!;
    const fromNew = await explainAccess(srv.ctx, alice, 'imap', { from: '203.0.113.9' });
    assert.equal(fromNew.refusedBy, 'account guard');
    assert.equal(fromNew.accountGuard.failures, 6);
    assert.ok(fromNew.accountGuard.delayMs > 0 && fromNew.accountGuard.delayMs <= ACCOUNT.maxDelayMs);
    assert.deepEqual(fromNew.accountGuard.knownAddresses, ['10.0.0.1']);
    assert.equal(fromNew.accountGuard.fromKnown, false);
    assert.match(fromNew.layers.find((l) => l.layer === 'account guard')!.remedy!, /wait \d+ seconds, or log on from an address known for the account \(10\.0\.0\.1\)/);
    const fromLaptop = await explainAccess(srv.ctx, alice, 'imap', { from: '10.0.0.1' });
    assert.equal(fromLaptop.allowed, true);
    assert.equal(fromLaptop.accountGuard.fromKnown, true);
    // the same in the admin API's answer (what `mailwarden access explain` prints from a running server)
    const token = readFileSync(join(srv.dataDir, 'admin.token'), 'utf8').trim();
    const viaApi = await new Promise<{ refusedBy: string; accountGuard: { failures: number; knownAddresses: string[] } }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: srv.port('https'), path: '/api/admin/access/explain?user=alice@test.example&protocol=imap&from=203.0.113.9', ca: srv.ctx.tls.cert, servername: 'localhost', headers: { authorization: `Bearer ${token}` } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve(JSON.parse(text)));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(viaApi.refusedBy, 'account guard');
    assert.equal(viaApi.accountGuard.failures, 6);
    assert.deepEqual(viaApi.accountGuard.knownAddresses, ['10.0.0.1']);
    clock.advance(wait * 1000);
    assert.equal(kindOf(await attempt(srv, 'alice@test.example', 'right-pw', '203.0.113.9')), 'ok');
    assert.equal((await explainAccess(srv.ctx, alice, 'imap', { from: '203.0.113.9' })).accountGuard.knownAddresses.join(), '10.0.0.1,203.0.113.9');
    // other accounts are not affected
    await srv.addUser('bob@test.example', 'bob-pw');
    assert.equal(kindOf(await attempt(srv, 'bob@test.example', 'bob-pw', '192.0.2.77')), 'ok');
  } finally {
    await srv.close();
  }
});

test('40 parallel wrong passwords from 40 addresses: checks in flight count, at most the free tries plus one are checked', async () => {
  const clock = new ManualClock();
  const srv = await startTestServer({ clock, guardPolicy: GUARD, accountGuardPolicy: ACCOUNT });
  try {
    await srv.addUser('alice@test.example', 'right-pw');
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => attempt(srv, 'alice@test.example', `guess-${i}`, `198.18.0.${i + 1}`)));
    const checked = results.filter((r) => kindOf(r) === 'auth').length;
    assert.ok(checked <= ACCOUNT.freeFailures + 1, `${checked} password checks`);
    assert.equal(results.filter((r) => kindOf(r) === 'slowed').length, 40 - checked);
  } finally {
    await srv.close();
  }
});

test('office NAT: a guesser locking the shared address out does not lock out users who logged on from it before (IMAP)', async () => {
  const clock = new ManualClock();
  const srv = await startTestServer({ clock, plaintext: true, guardPolicy: { ...GUARD, lockoutAfter: 5 } });
  try {
    await srv.addUser('bob@test.example', 'bob-pw');
    await srv.addUser('carol@test.example', 'carol-pw');
    const login = async (user: string, pw: string) => {
      const c = await LineClient.connect(srv.port('imap'));
      await c.line();
      const answer = await c.cmd(`a1 LOGIN "${user}" "${pw}"`);
      c.destroy();
      return answer;
    };
    assert.match(await login('bob@test.example', 'bob-pw'), /^a1 OK/m);
    // someone behind the same address guesses other accounts until the address is locked
    for (let i = 0; i < 5; i++) assert.match(await login(`user${i}@test.example`, 'guess'), /AUTHENTICATIONFAILED/);
    assert.match(await login('carol@test.example', 'carol-pw'), /^a1 NO \[UNAVAILABLE\] Logons from 127\.0\.0\.1 are refused/m);
    // bob logged on from here before: his right password still gets in
    assert.match(await login('bob@test.example', 'bob-pw'), /^a1 OK/m);
    // and guesses at bob's password from here are limited by bob's own failures from here
    for (let i = 0; i < 5; i++) assert.match(await login('bob@test.example', `guess-${i}`), /AUTHENTICATIONFAILED/);
    assert.match(await login('bob@test.example', 'bob-pw'), /^a1 NO \[UNAVAILABLE\] Logons from 127\.0\.0\.1 are refused/m);
  } finally {
    await srv.close();
  }
});
