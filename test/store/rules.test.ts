// The store's domain rules (rules.ts): pure functions every backend uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../src/store/errors.js';
import {
  applyFlags, canonicalFolderName, chooseAlias, nextUidValidity, normaliseAddress, normaliseDomain, renameMovesMessages, renamePlan, sameFlags,
  validateFolderName,
} from '../../src/store/rules.js';

const invalid = (e: unknown) => e instanceof StoreError && e.kind === 'invalid';

test('addresses and aliases', () => {
  assert.equal(normaliseAddress('  Alice@Example.COM '), 'alice@example.com');
  for (const bad of ['alice', 'a b@example.com', '<a@example.com>', `${'a'.repeat(250)}@example.com`]) assert.throws(() => normaliseAddress(bad), invalid, bad);
  const taken = new Set(['bob', 'bob2']);
  assert.equal(chooseAlias('bob@example.com', (a) => taken.has(a)), 'bob3');
  assert.equal(chooseAlias('d+é!@example.com', () => false), 'd');
  assert.equal(chooseAlias('+++@example.com', () => false), 'user');
  assert.equal(normaliseDomain('Example.COM.'), 'example.com');
});

test('folder names, INBOX, renames with children', () => {
  for (const bad of ['', '/a', 'a/', 'a//b', 'a*', '%', 'a\r\nb', 'x'.repeat(256)]) assert.throws(() => validateFolderName(bad), invalid, JSON.stringify(bad));
  validateFolderName('Projects/2024');
  assert.equal(canonicalFolderName('inBox'), 'INBOX');
  assert.equal(canonicalFolderName('Inbox/Sub'), 'Inbox/Sub');
  assert.equal(renameMovesMessages('INBOX'), true);
  assert.equal(renameMovesMessages('Archive'), false);
  assert.deepEqual(renamePlan('a', 'z', ['a', 'a/b', 'a/b/c', 'ab', 'b/a']), [['a', 'z'], ['a/b', 'z/b'], ['a/b/c', 'z/b/c']]);
});

test('UIDVALIDITY: strictly increasing, near the clock, never 0', () => {
  assert.equal(nextUidValidity(0, 1_700_000_000_500), 1_700_000_000);
  assert.equal(nextUidValidity(1_700_000_000, 1_700_000_000_500), 1_700_000_001, 'two folders in one second');
  assert.equal(nextUidValidity(0xfffffffe, 0), 1, 'wraps past 32 bits to 1, not 0');
});

test('flag algebra: set, add, remove (case-insensitive), each flag once', () => {
  assert.deepEqual(applyFlags(['\\Seen'], 'add', ['\\Flagged', '\\Seen']), ['\\Seen', '\\Flagged']);
  assert.deepEqual(applyFlags(['\\Seen', '$A'], 'set', ['$B', '$B']), ['$B']);
  assert.deepEqual(applyFlags(['\\Seen', '$Work'], 'remove', ['\\SEEN']), ['$Work']);
  assert.equal(sameFlags(['a', 'b'], ['b', 'a']), true);
  assert.equal(sameFlags(['a'], ['a', 'b']), false);
});
