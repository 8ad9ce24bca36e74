/**
 * What every SessionAccounting must do (src/governor/accounting.ts). Run it with a factory for
 * each implementation: the in-process one in test/governor/in-process-accounting.test.ts, the
 * cluster issue's networked one with the same suite. `advance(ms)` moves the implementation's
 * clock (a manual clock in process); `now()` reads it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { EndReason, SessionAccounting, SessionLimits, SessionRecord } from '../../src/governor/accounting.js';
import type { SessionKind } from '../../src/settings/catalog.js';

export interface AccountingUnderTest {
  accounting: SessionAccounting;
  advance(ms: number): Promise<void>;
  now(): number;
  close?(): Promise<void>;
}

const LIMITS: SessionLimits = { all: 32, service: 16, perKind: 0, disabled: false };

export function sessionAccountingContract(name: string, make: () => Promise<AccountingUnderTest>): void {
  const withAccounting = async (fn: (t: AccountingUnderTest & { record: (userId: number, kind: SessionKind, node?: string, idleMs?: number) => SessionRecord }) => Promise<void>) => {
    const t = await make();
    const record = (userId: number, kind: SessionKind, node = 'node-a', idleMs = 0): SessionRecord => {
      const at = new Date(t.now() - idleMs);
      return {
        id: randomUUID(), userId, user: `u${userId}@example.com`, dn: `/o=Test/cn=u${userId}`, databaseId: 1, kind,
        clientAddress: '127.0.0.1', clientInfo: null, node, openedAt: at, lastActivity: at, objects: {},
      };
    };
    try {
      await fn({ ...t, record });
    } finally {
      await t.close?.();
    }
  };

  test(`${name}: acquire, count, release (idempotent); records handed out are copies`, () =>
    withAccounting(async ({ accounting, record }) => {
      const a = record(1, 'imap');
      const b = record(1, 'admin');
      assert.deepEqual(await accounting.tryAcquire(a, LIMITS), { ok: true });
      assert.deepEqual(await accounting.tryAcquire(b, LIMITS), { ok: true });
      assert.deepEqual(await accounting.counts(1), { all: 2, service: 1, byKind: { imap: 1, admin: 1 } });
      const got = (await accounting.get(a.id))!;
      assert.equal(got.user, a.user);
      got.objects.objtFolder = 99;
      got.lastActivity = new Date(0);
      a.objects.objtMessage = 5;
      const again = (await accounting.get(a.id))!;
      assert.deepEqual(again.objects, {}, 'neither the caller\'s record nor a returned copy changes the accounting');
      assert.notEqual(again.lastActivity.getTime(), 0);
      assert.deepEqual((await accounting.list({ userId: 1 })).map((s) => s.id).sort(), [a.id, b.id].sort());
      assert.deepEqual(await accounting.list({ userId: 2 }), []);
      assert.equal((await accounting.release(a.id))?.id, a.id);
      assert.equal(await accounting.release(a.id), undefined);
      await accounting.release(b.id);
      assert.deepEqual(await accounting.counts(1), { all: 0, service: 0, byKind: {} });
      assert.deepEqual(await accounting.list(), []);
    }));

  test(`${name}: exact limits under concurrent acquires (all, service, per kind)`, () =>
    withAccounting(async ({ accounting, record }) => {
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => accounting.tryAcquire(record(1, i % 2 ? 'imap' : 'pop3'), LIMITS)));
      assert.equal(results.filter((r) => r.ok).length, 16);
      for (const r of results.filter((x) => !x.ok)) assert.deepEqual(r, { ok: false, scope: 'service', limit: 16, count: 16 });
      const admin = await Promise.all(Array.from({ length: 40 }, () => accounting.tryAcquire(record(1, 'admin'), LIMITS)));
      assert.equal(admin.filter((r) => r.ok).length, 16, 'admin sessions fill the all-sessions limit (32) only');
      const perKind = { ...LIMITS, perKind: 3 };
      const owa = await Promise.all(Array.from({ length: 20 }, () => accounting.tryAcquire(record(2, 'owa'), perKind)));
      assert.equal(owa.filter((r) => r.ok).length, 3);
      assert.deepEqual(owa.find((r) => !r.ok), { ok: false, scope: 'kind', limit: 3, count: 3 });
      const off = await Promise.all(Array.from({ length: 20 }, () => accounting.tryAcquire(record(3, 'eas'), { ...LIMITS, service: 1, disabled: true })));
      assert.equal(off.filter((r) => r.ok).length, 20, 'disabled limits count but do not refuse');
      assert.deepEqual(await accounting.counts(1), { all: 32, service: 16, byKind: { imap: 8, pop3: 8, admin: 16 } });
      assert.equal((await accounting.counts(3)).service, 20);
    }));

  test(`${name}: touch moves last activity forward only; client info is kept; objects are counted against their limit`, () =>
    withAccounting(async ({ accounting, record, now }) => {
      const s = record(1, 'imap', 'node-a', 60_000);
      await accounting.tryAcquire(s, LIMITS);
      await accounting.touch(s.id, new Date(now()));
      assert.equal((await accounting.get(s.id))!.lastActivity.getTime(), now());
      await accounting.touch(s.id, new Date(now() - 10_000));
      assert.equal((await accounting.get(s.id))!.lastActivity.getTime(), now(), 'a late touch does not make a session idler');
      await accounting.setClientInfo(s.id, '("name" "Thunderbird")');
      assert.equal((await accounting.get(s.id))!.clientInfo, '("name" "Thunderbird")');
      const opens = await Promise.all(Array.from({ length: 10 }, () => accounting.openObject(s.id, 'objtFolder', 4)));
      assert.equal(opens.filter((r) => r.ok).length, 4);
      assert.deepEqual(opens.find((r) => !r.ok), { ok: false, count: 4 });
      await accounting.closeObject(s.id, 'objtFolder');
      assert.equal((await accounting.get(s.id))!.objects.objtFolder, 3);
      assert.deepEqual(await accounting.openObject(s.id, 'objtFolder', 4), { ok: true });
      assert.deepEqual(await accounting.openObject(s.id, 'objtMessage', 1), { ok: true });
      assert.deepEqual((await accounting.get(s.id))!.objects, { objtFolder: 4, objtMessage: 1 });
    }));

  test(`${name}: kill is routed to the owning node, which ends the session; unknown ids are undefined`, () =>
    withAccounting(async ({ accounting, record }) => {
      const calls: Array<[string, string, EndReason]> = [];
      const handler = (node: string) => async (id: string, reason: EndReason) => {
        calls.push([node, id, reason]);
        await accounting.release(id); // what a node does: close the connection, release the session
      };
      await accounting.attachNode('node-a', handler('node-a'));
      await accounting.attachNode('node-b', handler('node-b'));
      const onA = record(1, 'imap', 'node-a');
      const onB = record(1, 'pop3', 'node-b');
      await accounting.tryAcquire(onA, LIMITS);
      await accounting.tryAcquire(onB, LIMITS);
      const killed = await accounting.kill(onB.id, 'killed');
      assert.equal(killed?.id, onB.id);
      assert.equal(killed?.node, 'node-b');
      assert.deepEqual(calls, [['node-b', onB.id, 'killed']]);
      assert.equal(await accounting.get(onB.id), undefined);
      assert.equal((await accounting.counts(1)).all, 1);
      assert.equal(await accounting.kill(onB.id, 'killed'), undefined);
      assert.equal(await accounting.kill(randomUUID(), 'killed'), undefined);
      // a node whose handler does not release (or fails) still loses the session
      await accounting.attachNode('node-c', () => {
        throw new Error('connection already gone');
      });
      const onC = record(1, 'owa', 'node-c');
      await accounting.tryAcquire(onC, LIMITS);
      assert.equal((await accounting.kill(onC.id, 'killed'))?.id, onC.id);
      assert.equal(await accounting.get(onC.id), undefined);
      // a session of a node that is not attached is released where the kill is asked
      const orphan = record(1, 'eas', 'node-gone');
      await accounting.tryAcquire(orphan, LIMITS);
      assert.equal((await accounting.kill(orphan.id, 'killed'))?.id, orphan.id);
      assert.equal((await accounting.counts(1)).all, 1);
      assert.equal(calls.length, 1);
    }));

  test(`${name}: heartbeats move a node's last-seen time; nodes() counts its sessions`, () =>
    withAccounting(async ({ accounting, record, advance, now }) => {
      const t0 = now();
      await accounting.attachNode('node-a', () => undefined);
      await accounting.attachNode('node-b', () => undefined);
      await accounting.tryAcquire(record(1, 'imap', 'node-b'), LIMITS);
      await accounting.tryAcquire(record(2, 'imap', 'node-b'), LIMITS);
      await advance(5_000);
      await accounting.heartbeat('node-a');
      const nodes = Object.fromEntries((await accounting.nodes()).map((n) => [n.id, n]));
      assert.deepEqual(Object.keys(nodes).sort(), ['node-a', 'node-b']);
      assert.equal(nodes['node-a'].lastSeen.getTime(), t0 + 5_000);
      assert.equal(nodes['node-b'].lastSeen.getTime(), t0);
      assert.equal(nodes['node-a'].sessions, 0);
      assert.equal(nodes['node-b'].sessions, 2);
    }));

  test(`${name}: releaseNode frees every session of a dead node and forgets it, without calling it`, () =>
    withAccounting(async ({ accounting, record }) => {
      let called = 0;
      await accounting.attachNode('node-a', () => undefined);
      await accounting.attachNode('node-b', () => void called++);
      const keep = record(1, 'imap', 'node-a');
      await accounting.tryAcquire(keep, LIMITS);
      const dead = [record(1, 'imap', 'node-b'), record(1, 'owa', 'node-b'), record(2, 'pop3', 'node-b')];
      for (const s of dead) await accounting.tryAcquire(s, LIMITS);
      const freed = await accounting.releaseNode('node-b');
      assert.deepEqual(freed.map((s) => s.id).sort(), dead.map((s) => s.id).sort());
      assert.equal(called, 0);
      assert.deepEqual((await accounting.list()).map((s) => s.id), [keep.id]);
      assert.deepEqual(await accounting.counts(2), { all: 0, service: 0, byKind: {} });
      assert.equal((await accounting.counts(1)).all, 1);
      assert.deepEqual((await accounting.nodes()).map((n) => n.id), ['node-a']);
      assert.deepEqual(await accounting.releaseNode('node-b'), []);
    }));

  test(`${name}: acquiring in an idle session's place releases it atomically and routes the kill to its node`, () =>
    withAccounting(async ({ accounting, record, now }) => {
      const kills: Array<[string, EndReason]> = [];
      await accounting.attachNode('node-b', async (id, reason) => {
        kills.push([id, reason]);
        await accounting.release(id);
      });
      const limits = { ...LIMITS, service: 2 };
      const idle = record(1, 'imap', 'node-b', 600_000);
      const busy = record(1, 'imap', 'node-b', 0);
      await accounting.tryAcquire(idle, limits);
      await accounting.tryAcquire(busy, limits);
      const idleBefore = new Date(now() - 300_000);
      // an active session is never taken, nor one of another kind
      assert.deepEqual(await accounting.tryAcquire(record(1, 'imap'), limits, { id: busy.id, idleBefore, reason: 'reclaimed' }), { ok: false, scope: 'gone' });
      assert.deepEqual(await accounting.tryAcquire(record(1, 'pop3'), limits, { id: idle.id, idleBefore, reason: 'reclaimed' }), { ok: false, scope: 'gone' });
      // two logons race for the same victim: exactly one gets in
      const [x, y] = [record(1, 'imap'), record(1, 'imap')];
      const race = await Promise.all([x, y].map((s) => accounting.tryAcquire(s, limits, { id: idle.id, idleBefore, reason: 'reclaimed' })));
      assert.equal(race.filter((r) => r.ok).length, 1);
      const won = race.find((r) => r.ok) as { ok: true; replaced?: SessionRecord };
      assert.equal(won.replaced?.id, idle.id);
      assert.deepEqual(race.find((r) => !r.ok), { ok: false, scope: 'gone' });
      assert.deepEqual(kills, [[idle.id, 'reclaimed']]);
      assert.equal(await accounting.get(idle.id), undefined);
      assert.equal((await accounting.counts(1)).service, 2, 'one in, one out: never over the limit');
      // with the limit lowered below the count, a replacement does not help
      const newcomer = race[0].ok ? x : y;
      await accounting.touch(newcomer.id, new Date(now() - 600_000)); // ignored: touch only moves forward
      const stale = record(1, 'imap', 'node-b', 900_000);
      await accounting.tryAcquire(stale, { ...limits, service: 3 });
      const lowered = await accounting.tryAcquire(record(1, 'imap'), { ...limits, service: 1 }, { id: stale.id, idleBefore, reason: 'reclaimed' });
      assert.deepEqual(lowered, { ok: false, scope: 'service', limit: 1, count: 3 });
      assert.ok(await accounting.get(stale.id), 'a refused replacement keeps its victim');
    }));
}
