/**
 * What every SharedState must do (src/shared-state/shared-state.ts). Run it with a factory for
 * each implementation: the in-process one here (test/shared-state/in-process-state.test.ts), the
 * Redis one of the cluster issue with the same suite. `advance(ms)` moves the implementation's
 * time forward: a manual clock in process; Redis's TTLs shifted (test/helpers/redis.ts). Redis's own
 * clock still runs, so the TTLs here are a minute or more: the real time a loaded machine spends
 * between two calls must never end one (only advance() does).
 * `peer()` gives a second handle on the same state where the implementation has one (another node).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SharedState } from '../../src/shared-state/shared-state.js';

export interface StateUnderTest {
  state: SharedState;
  advance(ms: number): Promise<void>;
  peer?: () => SharedState;
}

export function sharedStateContract(name: string, make: () => Promise<StateUnderTest>): void {
  const withState = async (fn: (s: StateUnderTest) => Promise<void>) => {
    const s = await make();
    try {
      await fn(s);
    } finally {
      await s.state.close();
    }
  };

  test(`${name}: get/set/delete`, () =>
    withState(async ({ state }) => {
      assert.equal(await state.get('a'), null);
      await state.set('a', '1');
      assert.equal(await state.get('a'), '1');
      await state.set('a', '2');
      assert.equal(await state.get('a'), '2');
      assert.equal(await state.delete('a'), true);
      assert.equal(await state.delete('a'), false);
      assert.equal(await state.get('a'), null);
    }));

  test(`${name}: expiry, and keepTtl keeps it`, () =>
    withState(async ({ state, advance }) => {
      await state.set('k', 'v', { ttlMs: 60_000 });
      await state.set('forever', 'v');
      assert.equal(await state.ttl('forever'), Infinity);
      const ttl = await state.ttl('k');
      assert.ok(ttl !== null && ttl > 0 && ttl <= 60_000, `ttl ${ttl}`);
      await state.set('k', 'w', { keepTtl: true });
      assert.equal(await state.get('k'), 'w');
      await advance(66_000);
      assert.equal(await state.get('k'), null);
      assert.equal(await state.ttl('k'), null);
      assert.equal(await state.get('forever'), 'v');
      assert.deepEqual(await state.keys('k'), []);
    }));

  test(`${name}: setIfAbsent sets once; an expired key is absent`, () =>
    withState(async ({ state, advance }) => {
      assert.equal(await state.setIfAbsent('lock', 'a', { ttlMs: 30_000 }), true);
      assert.equal(await state.setIfAbsent('lock', 'b'), false);
      assert.equal(await state.get('lock'), 'a');
      await advance(36_000);
      assert.equal(await state.setIfAbsent('lock', 'c'), true);
      assert.equal(await state.get('lock'), 'c');
    }));

  test(`${name}: compareAndSet replaces only the expected value, null means absent`, () =>
    withState(async ({ state }) => {
      assert.equal(await state.compareAndSet('x', 'nope', 'v'), false);
      assert.equal(await state.get('x'), null);
      assert.equal(await state.compareAndSet('x', null, 'v1'), true);
      assert.equal(await state.compareAndSet('x', null, 'v2'), false);
      assert.equal(await state.compareAndSet('x', 'v1', 'v2'), true);
      assert.equal(await state.get('x'), 'v2');
      assert.equal(await state.compareAndSet('x', 'v2', null), true);
      assert.equal(await state.get('x'), null);
    }));

  test(`${name}: increment counts from 0, sets the expiry only when it creates the key`, () =>
    withState(async ({ state, advance }) => {
      assert.equal(await state.increment('n'), 1);
      assert.equal(await state.increment('n', 5), 6);
      assert.equal(await state.increment('n', -2), 4);
      assert.equal(await state.increment('w', 1, { ttlMs: 60_000 }), 1);
      await advance(36_000);
      assert.equal(await state.increment('w', 1, { ttlMs: 60_000 }), 2, 'the window is not extended');
      await advance(30_000);
      assert.equal(await state.get('w'), null, 'the window ended 60 s after its first increment');
      assert.equal(await state.increment('w', 1, { ttlMs: 60_000 }), 1);
      await state.set('text', 'abc');
      await assert.rejects(state.increment('text'));
    }));

  test(`${name}: decrement stops at zero by deleting, never creates, keeps the expiry`, () =>
    withState(async ({ state, advance }) => {
      assert.equal(await state.decrement('absent'), null);
      assert.equal(await state.get('absent'), null, 'not created');
      assert.equal(await state.increment('p', 3, { ttlMs: 60_000 }), 3);
      assert.equal(await state.decrement('p'), 2);
      assert.equal(await state.decrement('p'), 1);
      const ttl = await state.ttl('p');
      assert.ok(ttl !== null && ttl <= 60_000 && ttl > 0, `the expiry kept (${ttl})`);
      assert.equal(await state.decrement('p'), 0);
      assert.equal(await state.get('p'), null, 'deleted at zero');
      await state.increment('q', 2, { ttlMs: 60_000 });
      await advance(66_000);
      assert.equal(await state.decrement('q'), null, 'an expired counter is absent');
      await state.set('text', 'abc');
      await assert.rejects(state.decrement('text'));
    }));

  test(`${name}: concurrent decrements from two clients take exactly one each, down to zero`, () =>
    withState(async ({ state, peer }) => {
      const other = peer?.() ?? state;
      await state.increment('pending', 100, { ttlMs: 60_000 });
      const left = await Promise.all(Array.from({ length: 120 }, (_, i) => (i % 2 ? state : other).decrement('pending')));
      assert.deepEqual(left.filter((v) => v !== null && v > 0).sort((a, b) => a! - b!), Array.from({ length: 99 }, (_, i) => i + 1));
      assert.equal(left.filter((v) => v === 0).length, 1, 'one of them took the last');
      assert.equal(left.filter((v) => v === null).length, 20, 'the rest found nothing to take');
      assert.equal(await state.get('pending'), null);
      if (other !== state) await other.close();
    }));

  test(`${name}: concurrent increments and compare-and-sets lose nothing`, () =>
    withState(async ({ state, peer }) => {
      const other = peer?.() ?? state;
      const incs = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? state : other).increment('c')));
      assert.deepEqual([...incs].sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i + 1));
      const wins = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? state : other).setIfAbsent('once', String(i))));
      assert.equal(wins.filter(Boolean).length, 1);
      if (other !== state) await other.close();
    }));

  test(`${name}: keys by prefix, live ones only`, () =>
    withState(async ({ state, advance }) => {
      await state.set('websession:1', 'a');
      await state.set('websession:2', 'b', { ttlMs: 30_000 });
      await state.set('auth-fail:1', 'c');
      assert.deepEqual((await state.keys('websession:')).sort(), ['websession:1', 'websession:2']);
      await advance(60_000);
      assert.deepEqual(await state.keys('websession:'), ['websession:1']);
    }));
}
