import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PageCache } from '../../src/web/owa/page-cache.js';
import { InProcessChangeBus, type ChangeBus } from '../../src/store/change-bus.js';

const body = (n: number, fill = 'x') => Buffer.alloc(n, fill);

test('PageCache answers only for the stamp the page was built from, and forgets the stale one', () => {
  const c = new PageCache(1000);
  c.set('u1/5/0/100/', '7/41', body(10));
  assert.deepEqual(c.get('u1/5/0/100/', '7/41'), body(10));
  assert.equal(c.get('u1/5/0/100/', '7/42'), undefined, 'the folder changed (HIGHESTMODSEQ moved)');
  assert.equal(c.get('u1/5/0/100/', '7/41'), undefined, 'a stale entry is dropped, not kept for an old stamp');
  assert.deepEqual(c.size, { entries: 0, bytes: 0 });
  assert.equal(c.get('u1/6/0/100/', '7/41'), undefined, 'another key never answers');
});

test('PageCache stays within its bytes, least recently used out first; a page bigger than all of it is not kept', () => {
  const c = new PageCache(100);
  c.set('a', 's', body(40, 'a'));
  c.set('b', 's', body(40, 'b'));
  assert.ok(c.get('a', 's'), 'a is now the most recently used');
  c.set('c', 's', body(40, 'c')); // 120 bytes: b (least recently used) goes
  assert.equal(c.get('b', 's'), undefined);
  assert.ok(c.get('a', 's') && c.get('c', 's'));
  assert.deepEqual(c.size, { entries: 2, bytes: 80 });
  c.set('a', 't', body(10, 'a')); // replacing an entry counts its new size only
  assert.deepEqual(c.size, { entries: 2, bytes: 50 });
  c.set('huge', 's', body(101));
  assert.equal(c.get('huge', 's'), undefined);
  assert.deepEqual(c.size, { entries: 2, bytes: 50 });
});

test('PageCache drops a folder’s pages when the bus publishes a change of it, subscribed per user only while it holds their pages', () => {
  const bus = new InProcessChangeBus();
  let subscriptions = 0;
  const counting: ChangeBus = {
    publish: (c) => bus.publish(c),
    subscribeFolder: (u, f, l) => bus.subscribeFolder(u, f, l),
    close: () => bus.close(),
    subscribeUser: (u, l) => {
      subscriptions += 1;
      const stop = bus.subscribeUser(u, l);
      return () => {
        subscriptions -= 1;
        stop();
      };
    },
  };
  const c = new PageCache(1000, counting);
  c.set('1/5/0', 's', body(10), { userId: 1, folderId: 5 });
  c.set('1/5/50', 's', body(10), { userId: 1, folderId: 5 });
  c.set('1/6/0', 's', body(10), { userId: 1, folderId: 6 });
  c.set('2/7/0', 's', body(10), { userId: 2, folderId: 7 });
  assert.equal(subscriptions, 2, 'one per user with pages');
  bus.publish({ userId: 1, folderId: 5, kind: 'flags', modseq: 9 });
  assert.equal(c.get('1/5/0', 's'), undefined, 'dropped at once, whatever the stamp says');
  assert.equal(c.get('1/5/50', 's'), undefined);
  assert.ok(c.get('1/6/0', 's') && c.get('2/7/0', 's'), 'other folders keep their pages');
  assert.deepEqual(c.size, { entries: 2, bytes: 20 });
  bus.publish({ userId: 1, folderId: 6, kind: 'append', modseq: 3 });
  assert.equal(subscriptions, 1, 'user 1 has no pages left: unsubscribed');
  c.get('2/7/0', 'other stamp'); // stale: dropped by the stamp check, as before
  assert.equal(subscriptions, 0);
});
