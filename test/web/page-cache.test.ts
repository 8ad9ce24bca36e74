import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PageCache } from '../../src/web/owa/page-cache.js';

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
