/**
 * What every ChangeBus must do (src/store/change-bus.ts). Run it with a factory for each
 * implementation, giving the bus a change is published on and the bus subscribers are on: two
 * instances (two nodes) where the implementation has them, one object twice in one process
 * (test/store/change-bus.test.ts); the Redis one of the cluster issue runs the same. Delivery may be asynchronous: the suite waits for what must
 * arrive, and checks what must not arrive once a later change on a channel the same subscriber
 * hears has arrived (one publisher's changes reach a subscriber in publish order, whatever channel).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangeBus, ChangeListener, StoreChange } from '../../src/store/change-bus.js';

/** The bus changes are published on and the bus subscribers listen on (the same object in process). */
export type BusPair = { publisher: ChangeBus; subscriber: ChangeBus };
type Factory = () => BusPair | Promise<BusPair>;

/** A listener that records what it hears and lets the test wait for the n-th change. */
function recorder(): { listener: ChangeListener; got: StoreChange[]; count(n: number): Promise<void> } {
  const got: StoreChange[] = [];
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  return {
    got,
    listener: (c) => {
      got.push(c);
      waiters = waiters.filter((w) => (got.length >= w.n ? (w.resolve(), false) : true));
    },
    count: (n) => (got.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}

const change = (userId: number, folderId: number, modseq = 1, kind: StoreChange['kind'] = 'append'): StoreChange => ({ userId, folderId, kind, modseq });

export function changeBusContract(name: string, makeBuses: Factory): void {
  const withBus = async (fn: (publisher: ChangeBus, subscriber: ChangeBus) => Promise<void>) => {
    const { publisher, subscriber } = await makeBuses();
    try {
      await fn(publisher, subscriber);
    } finally {
      await publisher.close();
      if (subscriber !== publisher) await subscriber.close();
    }
  };

  test(`${name}: a change reaches its user's and its folder's subscribers, and no one else's`, () =>
    withBus(async (pub, sub) => {
      const user = recorder();
      const folder = recorder();
      const otherUser = recorder();
      const otherFolder = recorder();
      const sameFolderIdOtherUser = recorder();
      sub.subscribeUser(1, user.listener);
      sub.subscribeFolder(1, 10, folder.listener);
      sub.subscribeUser(2, otherUser.listener);
      sub.subscribeFolder(1, 11, otherFolder.listener);
      sub.subscribeFolder(2, 10, sameFolderIdOtherUser.listener);
      pub.publish(change(1, 10, 5, 'flags'));
      await Promise.all([user.count(1), folder.count(1)]);
      assert.deepEqual(user.got, [change(1, 10, 5, 'flags')]);
      assert.deepEqual(folder.got, [change(1, 10, 5, 'flags')]);
      // sentinels on the channels that must have stayed silent: heard after, nothing before
      pub.publish(change(2, 20));
      pub.publish(change(1, 11));
      await Promise.all([otherUser.count(1), otherFolder.count(1)]);
      assert.deepEqual(otherUser.got, [change(2, 20)]);
      assert.deepEqual(otherFolder.got, [change(1, 11)]);
      pub.publish(change(2, 10));
      await sameFolderIdOtherUser.count(1);
      assert.deepEqual(sameFolderIdOtherUser.got, [change(2, 10)], 'a folder subscription is for its user only');
    }));

  test(`${name}: one publisher's changes arrive in the order published`, () =>
    withBus(async (pub, sub) => {
      const r = recorder();
      sub.subscribeFolder(3, 30, r.listener);
      for (let m = 1; m <= 200; m++) pub.publish(change(3, 30, m));
      await r.count(200);
      assert.deepEqual(r.got.map((c) => c.modseq), Array.from({ length: 200 }, (_, i) => i + 1));
    }));

  test(`${name}: unsubscribe stops delivery; each subscription is its own, even of one function`, () =>
    withBus(async (pub, sub) => {
      const twice = recorder();
      const gone = recorder();
      const sentinel = recorder();
      const a = sub.subscribeUser(4, twice.listener);
      sub.subscribeUser(4, twice.listener);
      const stop = sub.subscribeUser(4, gone.listener);
      const stopFolder = sub.subscribeFolder(4, 40, gone.listener);
      sub.subscribeUser(4, sentinel.listener);
      pub.publish(change(4, 40, 1));
      await Promise.all([twice.count(2), sentinel.count(1), gone.count(2)]);
      stop();
      stop(); // a second call is harmless
      stopFolder();
      a();
      pub.publish(change(4, 40, 2));
      await sentinel.count(2);
      assert.deepEqual(gone.got.map((c) => c.modseq), [1, 1], 'nothing after unsubscribing');
      await twice.count(3);
      assert.deepEqual(twice.got.map((c) => c.modseq), [1, 1, 2], 'the other subscription of the same function still hears');
    }));

  test(`${name}: a failing listener neither stops the others nor fails the publisher`, () =>
    withBus(async (pub, sub) => {
      const after = recorder();
      const quiet = console.error;
      console.error = () => undefined; // the bus reports the failure; not this test's output
      try {
        sub.subscribeUser(5, () => {
          throw new Error('listener bug');
        });
        sub.subscribeUser(5, after.listener);
        assert.doesNotThrow(() => pub.publish(change(5, 50)));
        await after.count(1);
      } finally {
        console.error = quiet;
      }
    }));

  test(`${name}: with thousands of folder subscribers, a change reaches exactly its folder's`, () =>
    withBus(async (pub, sub) => {
      const hits = new Map<number, number>();
      const sentinel = recorder();
      for (let i = 0; i < 5000; i++) {
        const folderId = 1000 + (i % 50);
        sub.subscribeFolder(6, folderId, () => hits.set(folderId, (hits.get(folderId) ?? 0) + 1));
      }
      sub.subscribeFolder(6, 1007, sentinel.listener);
      pub.publish(change(6, 1007));
      await sentinel.count(1);
      assert.deepEqual([...hits], [[1007, 100]]);
    }));
}
