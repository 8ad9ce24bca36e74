import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { createServerContext } from '../../src/server/create-context.js';
import { TooManyObjectsOpened } from '../../src/governor/errors.js';
import type { StoreSession } from '../../src/governor/governor.js';
import type { ServerContext } from '../../src/server/context.js';
import type { SessionKind } from '../../src/settings/catalog.js';
import type { InProcessAccounting } from '../../src/governor/in-process-accounting.js';
import { tempDir } from '../helpers/tmp.js';
import { eventually } from '../helpers/server.js';
import { ManualClock } from '../../src/shared-state/clock.js';

async function withContext(fn: (ctx: ServerContext, clock: ManualClock) => Promise<void>): Promise<void> {
  const tmp = tempDir();
  const clock = new ManualClock();
  const ctx = await createServerContext(join(tmp.dir, 'data'), { clock });
  try {
    await fn(ctx, clock);
  } finally {
    await ctx.store.close();
    tmp.cleanup();
  }
}

test('100 concurrent opens for one user at the default limit give exactly 16 sessions', async () => {
  await withContext(async (ctx) => {
    const user = await ctx.store.createUser({ address: 'alice@example.com', password: 'pw' });
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) => ctx.governor.open({ user, kind: i % 2 ? 'imap' : 'pop3', clientAddress: '127.0.0.1' })),
    );
    const opened = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(opened.length, 16);
    assert.equal(refused.length, 84);
    for (const r of refused) {
      assert.ok(r.reason instanceof TooManyObjectsOpened);
      assert.equal(r.reason.objectType, 'session');
      assert.equal(r.reason.limit, 16);
      assert.equal(r.reason.message, 'Server Unavailable. 15: 16 of 16 service sessions in use for alice@example.com');
    }
    assert.deepEqual((await ctx.governor.counts(user.id)).service, 16);
    // one event for the burst, standing for all 84 refusals
    const events = await ctx.store.listEvents({ eventId: 9646 });
    assert.equal(events.length, 1);
    assert.equal(events[0].count, 84);
    assert.equal(events[0].message, `Mapi session "${user.dn}" exceeded the maximum of 16 objects of type "session".`);
    assert.deepEqual(events[0].data, [user.dn, '16', 'session']);
    for (const r of opened) await (r as PromiseFulfilledResult<StoreSession>).value.close();
    assert.deepEqual(await ctx.governor.counts(user.id), { all: 0, service: 0, byKind: {} });
  });
});

test('the all-sessions limit counts admin sessions; the service limit does not', async () => {
  await withContext(async (ctx) => {
    const user = await ctx.store.createUser({ address: 'bob@example.com', password: 'pw' });
    const admin = await Promise.all(Array.from({ length: 20 }, () => ctx.governor.open({ user, kind: 'admin', clientAddress: 'local' })));
    const svc = await Promise.all(Array.from({ length: 12 }, () => ctx.governor.open({ user, kind: 'owa', clientAddress: '::1' })));
    await assert.rejects(ctx.governor.open({ user, kind: 'imap', clientAddress: '::1' }), (e: TooManyObjectsOpened) => e.limitName === 'Maximum Allowed Sessions Per User' && e.count === 32);
    for (const s of [...admin, ...svc]) await s.close();
  });
});

test('settings apply live, with per-database, per-user and per-kind overrides', async () => {
  await withContext(async (ctx) => {
    const db = await ctx.store.createDatabase('DB2');
    const alice = await ctx.store.createUser({ address: 'alice@example.com', password: 'pw' });
    const carol = await ctx.store.createUser({ address: 'carol@example.com', password: 'pw', database: 'DB2' });
    await ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'Maximum Allowed Service Sessions Per User', value: '3' });
    await ctx.store.putSetting({ scope: 'database', targetId: db.id, name: 'Maximum Allowed Service Sessions Per User', value: '5' });
    await ctx.store.putSetting({ scope: 'user', targetId: alice.id, name: 'Maximum Allowed IMAP Sessions Per User', value: '2' });
    const open = (user: typeof alice, kind: SessionKind) => ctx.governor.open({ user, kind, clientAddress: 'x' });
    const a = [await open(alice, 'imap'), await open(alice, 'imap')];
    await assert.rejects(open(alice, 'imap'), (e: TooManyObjectsOpened) => e.counted === 'imap sessions' && e.limit === 2);
    a.push(await open(alice, 'pop3'));
    await assert.rejects(open(alice, 'owa'), (e: TooManyObjectsOpened) => e.counted === 'service sessions' && e.limit === 3);
    const c = await Promise.all(Array.from({ length: 5 }, () => open(carol, 'pop3')));
    await assert.rejects(open(carol, 'pop3'), (e: TooManyObjectsOpened) => e.limit === 5);
    // raised live: the very next open sees it
    await ctx.store.putSetting({ scope: 'user', targetId: carol.id, name: 'Maximum Allowed Service Sessions Per User', value: '6' });
    c.push(await open(carol, 'pop3'));
    for (const s of [...a, ...c]) await s.close();
  });
});

test('event 9646 is written once per interval per user and object type, carrying the refusal count', async () => {
  await withContext(async (ctx, clock) => {
    await ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'Maximum Allowed Service Sessions Per User', value: '1' });
    await ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'Event 9646 Interval Seconds', value: '60' });
    const user = await ctx.store.createUser({ address: 'dave@example.com', password: 'pw' });
    const other = await ctx.store.createUser({ address: 'erin@example.com', password: 'pw' });
    const held = [await ctx.governor.open({ user, kind: 'imap', clientAddress: 'x' }), await ctx.governor.open({ user: other, kind: 'imap', clientAddress: 'x' })];
    for (let i = 0; i < 5; i++) await assert.rejects(ctx.governor.open({ user, kind: 'pop3', clientAddress: 'x' }));
    await assert.rejects(ctx.governor.open({ user: other, kind: 'pop3', clientAddress: 'x' }));
    let events = await ctx.store.listEvents({ eventId: 9646 });
    assert.deepEqual(events.map((e) => [e.user, e.count]), [['dave@example.com', 5], ['erin@example.com', 1]]);
    clock.advance(59_000); // still inside the window
    await assert.rejects(ctx.governor.open({ user, kind: 'pop3', clientAddress: 'x' }));
    assert.equal((await ctx.store.listEvents({ eventId: 9646, user: 'dave@example.com' }))[0].count, 6);
    clock.advance(1_000); // the interval passes
    await assert.rejects(ctx.governor.open({ user, kind: 'pop3', clientAddress: 'x' }));
    events = await ctx.store.listEvents({ eventId: 9646, user: 'dave@example.com' });
    assert.equal(events.length, 2);
    assert.equal(events[1].count, 1);
    for (const s of held) await s.close();
  });
});

test('object limits refuse one operation, keep the session open, and log 9646 for the object type', async () => {
  await withContext(async (ctx) => {
    await ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'MaxObjsPerMapiSession.objtFolder', value: '2' });
    const user = await ctx.store.createUser({ address: 'frank@example.com', password: 'pw' });
    const s = await ctx.governor.open({ user, kind: 'imap', clientAddress: 'x' });
    const r1 = await s.openObject('objtFolder');
    const r2 = await s.openObject('objtFolder');
    await assert.rejects(s.openObject('objtFolder'), (e: TooManyObjectsOpened) => e.objectType === 'objtFolder' && e.limit === 2 && e.count === 2);
    assert.ok(s.isOpen);
    r1();
    r1(); // idempotent
    const r3 = await s.openObject('objtFolder');
    assert.equal((await ctx.governor.accounting.get(s.id))?.objects.objtFolder, 2);
    r2();
    r3();
    assert.equal((await ctx.governor.accounting.get(s.id))?.objects.objtFolder, 0);
    await eventually(async () => (await ctx.store.listEvents({ eventId: 9646 })).length > 0, 'event 9646');
    const ev = await ctx.store.listEvents({ eventId: 9646 });
    assert.equal(ev.length, 1);
    assert.deepEqual(ev[0].data, [user.dn, '2', 'objtFolder']);
    await s.close();
  });
});

test('kill ends a session, runs its end handler once, and frees the count', async () => {
  await withContext(async (ctx) => {
    const user = await ctx.store.createUser({ address: 'gina@example.com', password: 'pw' });
    const s = await ctx.governor.open({ user, kind: 'pop3', clientAddress: '10.0.0.1', clientInfo: 'test' });
    const reasons: string[] = [];
    s.onEnd((r) => reasons.push(r));
    const listed = await ctx.governor.list({ userId: user.id });
    assert.equal(listed.length, 1);
    assert.equal(listed[0].clientAddress, '10.0.0.1');
    const killed = await ctx.governor.kill(s.id);
    assert.equal(killed?.id, s.id);
    await s.close(); // a later close from the front end is harmless
    assert.deepEqual(reasons, ['killed']);
    assert.equal((await ctx.governor.counts(user.id)).all, 0);
    assert.equal(await ctx.governor.kill(s.id), undefined);
    const ev = await ctx.store.listEvents({ eventId: 9647 });
    assert.equal(ev.length, 1);
  });
});

test('property: random interleavings of open/close/drop/kill never exceed a limit and counts match open sessions', async () => {
  await withContext(async (ctx) => {
    const users = await Promise.all(['u1', 'u2', 'u3'].map((n) => ctx.store.createUser({ address: `${n}@example.com`, password: 'pw' })));
    const kinds: SessionKind[] = ['admin', 'imap', 'pop3', 'owa', 'ews', 'eas'];
    // invariant checked at the moment of every granted acquire, against the limits in force then
    const violations: string[] = [];
    const acc = ctx.governor.accounting as InProcessAccounting;
    const acquire = acc.tryAcquire.bind(acc);
    acc.tryAcquire = async (s, limits) => {
      const r = await acquire(s, limits);
      if (r.ok) {
        const c = await acc.counts(s.userId);
        if (c.all > limits.all) violations.push(`all ${c.all} > ${limits.all}`);
        if (s.kind !== 'admin' && c.service > limits.service) violations.push(`service ${c.service} > ${limits.service}`);
        if (limits.perKind > 0 && (c.byKind[s.kind] ?? 0) > limits.perKind) violations.push(`${s.kind} > ${limits.perKind}`);
      }
      return r;
    };
    const op = fc.oneof(
      fc.record({ t: fc.constant('open' as const), u: fc.nat(2), k: fc.nat(5) }),
      fc.record({ t: fc.constantFrom('close' as const, 'drop' as const, 'kill' as const), i: fc.nat(200) }),
      fc.record({ t: fc.constant('limit' as const), which: fc.constantFrom('Maximum Allowed Sessions Per User', 'Maximum Allowed Service Sessions Per User', 'Maximum Allowed IMAP Sessions Per User'), v: fc.integer({ min: 1, max: 8 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 120 }), async (ops) => {
        await ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'Maximum Allowed Sessions Per User', value: '6' });
        await ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'Maximum Allowed Service Sessions Per User', value: '4' });
        await ctx.store.deleteSetting({ scope: 'server', targetId: 0, name: 'Maximum Allowed IMAP Sessions Per User' });
        const open: StoreSession[] = [];
        // several operations start before any finishes: interleavings inside the governor
        const pending: Array<Promise<unknown>> = [];
        for (const o of ops) {
          if (o.t === 'open') {
            pending.push(ctx.governor.open({ user: users[o.u], kind: kinds[o.k], clientAddress: 'p' }).then((s) => open.push(s), (e) => assert.ok(e instanceof TooManyObjectsOpened)));
          } else if (o.t === 'limit') {
            pending.push(ctx.store.putSetting({ scope: 'server', targetId: 0, name: o.which, value: String(o.v) }));
          } else if (open.length) {
            const [s] = open.splice(o.i % open.length, 1);
            pending.push(o.t === 'kill' ? ctx.governor.kill(s.id) : s.close(o.t === 'drop' ? 'drop' : 'logout'));
          }
          if (pending.length > 3) await Promise.all(pending.splice(0));
        }
        await Promise.all(pending);
        for (const u of users) {
          const c = await ctx.governor.counts(u.id);
          const mine = open.filter((s) => s.user.id === u.id);
          assert.equal(c.all, mine.length);
          assert.equal(c.service, mine.filter((s) => s.kind !== 'admin').length);
        }
        assert.deepEqual(violations, []);
        for (const s of open) await s.close();
        for (const u of users) assert.deepEqual(await ctx.governor.counts(u.id), { all: 0, service: 0, byKind: {} });
      }),
      { numRuns: 60 },
    );
  });
});
