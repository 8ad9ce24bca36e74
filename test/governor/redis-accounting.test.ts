import { after } from 'node:test';
import { RedisAccounting } from '../../src/cluster/redis-accounting.js';
import { ManualClock } from '../../src/shared-state/clock.js';
import { sessionAccountingContract } from '../conformance/session-accounting.js';
import { dropPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { eventually } from '../helpers/server.js';

const admin = testRedis();
after(() => admin.quit());

sessionAccountingContract('RedisAccounting', async () => {
  const clock = new ManualClock(Date.now());
  const prefix = uniquePrefix('acc');
  const redis = testRedis();
  const accounting = await RedisAccounting.open(redis, { prefix, clock, renewMs: 0 });
  return {
    accounting,
    advance: async (ms) => clock.advance(ms),
    now: () => clock.now(),
    close: async () => {
      await accounting.close();
      await dropPrefix(admin, prefix);
      await redis.quit();
    },
  };
});

// What the contract cannot show with one process: two nodes on their own connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { SessionRecord } from '../../src/governor/accounting.js';

const LIMITS = { all: 32, service: 3, perKind: 0, disabled: false };
const rec = (node: string): SessionRecord => {
  const now = new Date();
  return { id: randomUUID(), userId: 7, user: 'u7@example.com', dn: '/o=T/cn=u7', databaseId: 1, kind: 'imap', clientAddress: '127.0.0.1', clientInfo: null, node, openedAt: now, lastActivity: now, objects: {} };
};

async function twoNodes(opts: { leaseMs?: number; renewMs?: number; clock?: ManualClock } = {}) {
  const prefix = uniquePrefix('acc2');
  const [ra, rb] = [testRedis(), testRedis()];
  const a = await RedisAccounting.open(ra, { prefix, ...opts });
  const b = await RedisAccounting.open(rb, { prefix, ...opts });
  return {
    a, b, ra, rb, prefix,
    async close() {
      await a.close();
      await b.close();
      await dropPrefix(admin, prefix);
      ra.disconnect();
      rb.disconnect();
    },
  };
}

test('RedisAccounting: a kill asked on one node is carried out by the owning node', async () => {
  const t = await twoNodes({ renewMs: 0 });
  try {
    const ended: string[] = [];
    await t.a.attachNode('node-a', () => undefined);
    await t.b.attachNode('node-b', async (id, reason) => {
      ended.push(`${id}:${reason}`);
      await t.b.release(id);
    });
    const s = rec('node-b');
    assert.deepEqual(await t.b.tryAcquire(s, LIMITS), { ok: true });
    assert.equal((await t.a.kill(s.id, 'killed'))?.id, s.id);
    assert.deepEqual(ended, [`${s.id}:killed`]);
    assert.equal(await t.a.get(s.id), undefined);
  } finally {
    await t.close();
  }
});

test('RedisAccounting: a node that cannot renew ends its own sessions (fencing); then the places are free elsewhere', async () => {
  const t = await twoNodes({ leaseMs: 1_500, renewMs: 300 });
  try {
    await t.a.attachNode('node-a', () => undefined);
    let fencedAt = 0;
    const fenced = new Promise<void>((resolve) => {
      let n = 0;
      void t.b.attachNode('node-b', () => {
        if (++n === 3) {
          fencedAt = performance.now();
          resolve();
        }
      });
    });
    await eventually(async () => (await t.a.nodes()).length === 2, 'node b to attach');
    for (let i = 0; i < 3; i++) assert.deepEqual(await t.b.tryAcquire(rec('node-b'), LIMITS), { ok: true });
    // node b loses Redis: its renewals fail from now on
    t.rb.disconnect();
    // node a keeps trying; every admission must come after node b ended its sessions
    let admittedAt = 0;
    const tryA = async () => {
      const r = await t.a.tryAcquire(rec('node-a'), LIMITS);
      if (r.ok && !admittedAt) admittedAt = performance.now();
      return r.ok;
    };
    await fenced;
    await eventually(tryA, 'node a to be admitted');
    assert.ok(admittedAt >= fencedAt, 'no place was given away while node b still served it');
    assert.equal((await t.a.counts(7)).service, 1);
  } finally {
    await t.close();
  }
});

test('RedisAccounting: after Redis lost its data, a node re-registers its sessions before anyone is admitted', async () => {
  const clock = new ManualClock(Date.now());
  const t = await twoNodes({ leaseMs: 60_000, renewMs: 0, clock });
  try {
    await t.a.attachNode('node-a', () => undefined);
    await t.b.attachNode('node-b', () => undefined);
    for (let i = 0; i < 3; i++) assert.deepEqual(await t.b.tryAcquire(rec('node-b'), LIMITS), { ok: true });
    await dropPrefix(admin, t.prefix);
    // node a notices first (its acquire), opens the recovery window (one lease) and waits in it;
    // node b re-registers at its next renewal, inside the window; when it closes, node a is refused
    const pending = t.a.tryAcquire(rec('node-a'), LIMITS);
    await eventually(async () => t.a.stats.recoveries === 1, 'node a to notice');
    await t.b.heartbeat('node-b');
    clock.advance(30_000);
    await t.b.heartbeat('node-b'); // node b goes on renewing, as its timer does
    clock.advance(30_001);
    assert.deepEqual(await pending, { ok: false, scope: 'service', limit: 3, count: 3 });
    assert.equal(t.b.stats.recoveries, 1);
  } finally {
    await t.close();
  }
});
