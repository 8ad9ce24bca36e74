import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { openDataStore } from '../../src/server/create-context.js';
import { LiveSettings } from '../../src/settings/resolve.js';
import { CredentialCache, CREDENTIAL_CACHE_SIZE, CREDENTIAL_CACHE_TTL } from '../../src/access/credentials.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tempDir } from '../helpers/tmp.js';
import { ManualClock } from '../../src/shared-state/clock.js';
import { startTestServer } from '../helpers/server.js';
import { LineClient } from '../helpers/line-client.js';
import { run } from '../helpers/run.js';
import { createServerContext } from '../../src/server/create-context.js';
import { DEFAULT_GUARD_POLICY } from '../../src/access/brute-force-guard.js';
import { logon } from '../../src/access/logon.js';

/** The real store, with its password checks (the scrypt path) counted. */
async function withCache(fn: (t: { store: SqliteStore; settings: LiveSettings; cache: CredentialCache; scrypts: () => number; clock: ManualClock }) => Promise<void>): Promise<void> {
  const tmp = tempDir();
  const store = await openDataStore(join(tmp.dir, 'data'), true);
  try {
    const settings = new LiveSettings(store);
    await settings.refresh();
    let scrypts = 0;
    const counted = {
      verifyPassword: (identity: string, password: string) => {
        scrypts++;
        return store.verifyPassword(identity, password);
      },
      credentialStamp: (identity: string) => store.credentialStamp(identity),
    };
    const clock = new ManualClock();
    const cache = new CredentialCache(counted, settings, clock);
    await fn({ store, settings, cache, scrypts: () => scrypts, clock });
  } finally {
    await store.close();
    tmp.cleanup();
  }
}

async function setServer(store: SqliteStore, settings: LiveSettings, name: string, value: string): Promise<void> {
  await store.putSetting({ scope: 'server', targetId: 0, name, value });
  await settings.refresh();
}

test('a second logon with the same password is a hit; identities are matched as the store matches them', async () => {
  await withCache(async ({ store, cache, scrypts }) => {
    const alice = await store.createUser({ address: 'alice@example.com', password: 'pw-1' });
    assert.equal((await cache.verify('alice@example.com', 'pw-1'))?.id, alice.id);
    assert.equal(scrypts(), 1);
    assert.equal((await cache.verify(' Alice@Example.COM ', 'pw-1'))?.id, alice.id);
    assert.equal(scrypts(), 1);
    assert.equal(cache.hits, 1);
    // the alias is another identity: its first logon is checked in full
    assert.equal((await cache.verify('alice', 'pw-1'))?.id, alice.id);
    assert.equal(scrypts(), 2);
  });
});

test('a wrong password is never answered from the cache, and never cached', async () => {
  await withCache(async ({ store, cache, scrypts }) => {
    await store.createUser({ address: 'alice@example.com', password: 'right' });
    assert.ok(await cache.verify('alice@example.com', 'right'));
    for (let i = 0; i < 3; i++) assert.equal(await cache.verify('alice@example.com', 'wrong'), null);
    assert.equal(scrypts(), 4, 'every wrong try went to scrypt');
    assert.equal(await cache.verify('nobody@example.com', 'x'), null);
    assert.equal(await cache.verify('nobody@example.com', 'x'), null);
    assert.equal(scrypts(), 6, 'unknown users are not cached either');
    assert.ok(await cache.verify('alice@example.com', 'right'));
    assert.equal(scrypts(), 6, 'the right password still hits after wrong ones');
  });
});

test('entries expire after the TTL (injected clock), and a shorter TTL applies at once', async () => {
  await withCache(async ({ store, settings, cache, scrypts, clock }) => {
    await store.createUser({ address: 'alice@example.com', password: 'pw' });
    await cache.verify('alice@example.com', 'pw');
    clock.advance(899_000);
    await cache.verify('alice@example.com', 'pw');
    assert.equal(scrypts(), 1, 'within the default 900 s');
    clock.advance(1_000);
    await cache.verify('alice@example.com', 'pw');
    assert.equal(scrypts(), 2, 'expired at 900 s');
    await setServer(store, settings, CREDENTIAL_CACHE_TTL, '10');
    clock.advance(10_000);
    await cache.verify('alice@example.com', 'pw');
    assert.equal(scrypts(), 3, 'the live TTL of 10 s applies to the entry made before');
  });
});

test('the size bound drops the least recently used identity', async () => {
  await withCache(async ({ store, settings, cache, scrypts }) => {
    await setServer(store, settings, CREDENTIAL_CACHE_SIZE, '2');
    for (const u of ['a', 'b', 'c']) await store.createUser({ address: `${u}@example.com`, password: 'pw' });
    await cache.verify('a@example.com', 'pw');
    await cache.verify('b@example.com', 'pw');
    await cache.verify('a@example.com', 'pw'); // a is now the most recently used
    await cache.verify('c@example.com', 'pw'); // pushes b out
    assert.equal(cache.size, 2);
    assert.equal(scrypts(), 3);
    await cache.verify('a@example.com', 'pw');
    assert.equal(scrypts(), 3, 'a was kept');
    await cache.verify('b@example.com', 'pw');
    assert.equal(scrypts(), 4, 'b was dropped');
  });
});

test('TTL 0 turns the cache off: every logon is checked in full and nothing is kept', async () => {
  await withCache(async ({ store, settings, cache, scrypts }) => {
    await store.createUser({ address: 'alice@example.com', password: 'pw' });
    await cache.verify('alice@example.com', 'pw');
    await setServer(store, settings, CREDENTIAL_CACHE_TTL, '0');
    for (let i = 0; i < 3; i++) assert.ok(await cache.verify('alice@example.com', 'pw'));
    assert.equal(scrypts(), 4);
    assert.equal(cache.size, 0);
  });
});

test('set-password, remove and forget invalidate at once; the old password is refused', async () => {
  await withCache(async ({ store, cache, scrypts }) => {
    const alice = await store.createUser({ address: 'alice@example.com', password: 'old' });
    await store.addAddress(alice.id, 'al@example.com');
    await cache.verify('alice@example.com', 'old');
    await store.setPassword(alice.id, 'new');
    assert.equal(await cache.verify('alice@example.com', 'old'), null);
    assert.ok(await cache.verify('alice@example.com', 'new'));
    assert.ok(await cache.verify('al@example.com', 'new'));
    const before = scrypts();
    cache.forget('alice@example.com'); // a lockout: every identity of that user goes
    assert.ok(await cache.verify('al@example.com', 'new'));
    assert.equal(scrypts(), before + 1);
    await store.removeUser(alice.id);
    assert.equal(await cache.verify('al@example.com', 'new'), null);
    // a new user at the same address does not inherit the entry
    await store.createUser({ address: 'al@example.com', password: 'new' });
    const n = scrypts();
    assert.ok(await cache.verify('al@example.com', 'new'));
    assert.equal(scrypts(), n + 1);
  });
});

test('the logon pipeline checks passwords through the cache, and a brute-force lockout makes it forget the identity', async () => {
  const tmp = tempDir();
  const ctx = await createServerContext(join(tmp.dir, 'data'), { guardPolicy: { ...DEFAULT_GUARD_POLICY, lockoutAfter: 2, delayStepMs: 0, maxDelayMs: 0 } });
  try {
    await ctx.store.createUser({ address: 'alice@example.com', password: 'pw' });
    const smtp = (password: string, clientAddress = '192.0.2.1') => logon(ctx, { kind: 'smtp', identity: 'alice@example.com', password, clientAddress });
    assert.ok((await smtp('pw')).ok);
    assert.ok((await smtp('pw')).ok);
    assert.equal(ctx.credentials.hits, 1);
    assert.equal(ctx.credentials.size, 1);
    const first = await smtp('wrong', '192.0.2.9');
    assert.ok(!first.ok && first.refusal.kind === 'auth');
    assert.equal(ctx.credentials.size, 1, 'a failure alone changes nothing');
    const second = await smtp('wrong', '192.0.2.9'); // the second failure locks 192.0.2.9 out
    assert.ok(!second.ok && second.refusal.kind === 'auth');
    assert.equal(ctx.credentials.size, 0);
    assert.ok((await smtp('pw')).ok);
    assert.equal(ctx.credentials.hits, 1, 'the next right password was checked in full');
  } finally {
    await ctx.store.close();
    tmp.cleanup();
  }
});

const BIN = resolve('bin/mailwarden');

async function imapLogin(port: number, ca: string, user: string, password: string): Promise<string> {
  const c = await LineClient.connect(port, { tls: true, ca });
  try {
    await c.line();
    c.send(`a LOGIN "${user}" "${password}"\r\n`);
    for (;;) {
      const l = await c.line();
      if (l.startsWith('a ')) return l;
    }
  } finally {
    c.socket.destroy();
  }
}

async function popLogin(port: number, ca: string, user: string, password: string): Promise<string> {
  const c = await LineClient.connect(port, { tls: true, ca });
  try {
    await c.line();
    await c.cmd(`USER ${user}`);
    c.send(`PASS ${password}\r\n`);
    return await c.line();
  } finally {
    c.socket.destroy();
  }
}

test('set-password and user remove by the real CLI reach a running server at once (IMAPS, POP3S)', async () => {
  const srv = await startTestServer();
  try {
    const ca = srv.ctx.tls.cert;
    await srv.addUser('alice@example.com', 'old-pw');
    const imaps = srv.port('imaps');
    const pop3s = srv.port('pop3s');
    assert.match(await imapLogin(imaps, ca, 'alice@example.com', 'old-pw'), /^a OK/);
    assert.match(await popLogin(pop3s, ca, 'alice@example.com', 'old-pw'), /^\+OK/);
    assert.ok(srv.ctx.credentials.hits >= 1, 'the second logon was served from the cache');

    const set = await run(process.execPath, [BIN, 'user', 'set-password', 'alice@example.com', '--password-stdin', '--data', srv.dataDir], { input: 'new-pw\n' });
    assert.equal(set.status, 0, set.stderr);
    assert.match(await imapLogin(imaps, ca, 'alice@example.com', 'old-pw'), /^a NO \[AUTHENTICATIONFAILED\]/);
    assert.match(await popLogin(pop3s, ca, 'alice@example.com', 'old-pw'), /^-ERR \[AUTH\]/);
    assert.match(await imapLogin(imaps, ca, 'alice@example.com', 'new-pw'), /^a OK/);
    const hits = srv.ctx.credentials.hits;
    assert.match(await popLogin(pop3s, ca, 'alice@example.com', 'new-pw'), /^\+OK/);
    assert.equal(srv.ctx.credentials.hits, hits + 1);

    const removed = await run(process.execPath, [BIN, 'user', 'remove', 'alice@example.com', '--data', srv.dataDir]);
    assert.equal(removed.status, 0, removed.stderr);
    assert.match(await imapLogin(imaps, ca, 'alice@example.com', 'new-pw'), /^a NO \[AUTHENTICATIONFAILED\]/);
  } finally {
    await srv.close();
  }
});
