import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  formatSequenceSet,
  parseSequenceSet,
  resolveSequenceSet,
  seqSetContains,
} from '../../src/protocols/imap/parser/sequence-set.js';

test('parse valid sets, keeping order and * as Infinity', () => {
  assert.deepEqual(parseSequenceSet('1:3,5,7:*'), [
    { from: 1, to: 3 },
    { from: 5, to: 5 },
    { from: 7, to: Infinity },
  ]);
  assert.deepEqual(parseSequenceSet('*'), [{ from: Infinity, to: Infinity }]);
  assert.deepEqual(parseSequenceSet('9:2'), [{ from: 9, to: 2 }]);
  assert.deepEqual(parseSequenceSet('4294967295'), [{ from: 4294967295, to: 4294967295 }]);
});

test('invalid sets give null', () => {
  for (const s of ['', '0', '1:0', '0:*', '01', '1,', ',1', '1,,2', '1:2:3', ':', '1:', 'a', '-1', '1.5', ' 1', '$', '4294967296', '1 2', '+1']) {
    assert.equal(parseSequenceSet(s), null, s);
  }
});

test('resolve: * to max, reversed swapped, clipped, merged, sorted', () => {
  const r = (s: string, max: number) => resolveSequenceSet(parseSequenceSet(s)!, max);
  assert.deepEqual(r('7:*,1:3,5', 10), [
    { from: 1, to: 3 },
    { from: 5, to: 5 },
    { from: 7, to: 10 },
  ]);
  assert.deepEqual(r('5:2,3:9,10', 20), [{ from: 2, to: 10 }]);
  assert.deepEqual(r('100:*', 7), [{ from: 7, to: 7 }]); // "n:*" always reaches the last
  assert.deepEqual(r('100:200', 7), []);
  assert.deepEqual(r('*', 0), []);
  assert.deepEqual(r('4:6,1:2', 5), [
    { from: 1, to: 2 },
    { from: 4, to: 5 },
  ]);
  assert.deepEqual(r('1:2,3:4', 5), [{ from: 1, to: 4 }]);
});

test('contains works on raw and resolved ranges', () => {
  const raw = parseSequenceSet('9:5,20:*')!;
  assert.equal(seqSetContains(raw, 5), true);
  assert.equal(seqSetContains(raw, 10), false);
  assert.equal(seqSetContains(raw, 1e9), true);
  assert.equal(seqSetContains(resolveSequenceSet(raw, 25), 26), false);
});

test('format: compact, unsorted and duplicate input', () => {
  assert.equal(formatSequenceSet([5, 1, 3, 2, 3]), '1:3,5');
  assert.equal(formatSequenceSet([]), '');
  assert.equal(formatSequenceSet([7]), '7');
  assert.equal(formatSequenceSet([1, 2, 4, 5, 6, 9]), '1:2,4:6,9');
});

test('property: format -> parse -> resolve covers exactly the numbers', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1 }), (nums) => {
      const ranges = resolveSequenceSet(parseSequenceSet(formatSequenceSet(nums))!, 60);
      for (let n = 1; n <= 60; n++) assert.equal(seqSetContains(ranges, n), nums.includes(n));
    }),
  );
});
