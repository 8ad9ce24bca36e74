// The sweep of what killed test runs leave on the shared PostgreSQL and Redis: databases
// `mw_test_<epoch seconds>_<random>` and key prefixes `mwtest:<what>:<epoch seconds>.<random>:`
// older than an hour go; younger ones (a parallel run) and names without a time stay.
// Ages are made relative to one `now` the test passes: no wall-clock timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connectionConfig } from '../../src/store/postgres/postgres-store.js';
import { admin, postgresUrl, STALE_AFTER_MS, sweepTestDatabases, testDatabaseName } from './postgres.js';
import { dropPrefix, prefixKeys, sweepTestPrefixes, testRedis, uniquePrefix } from './redis.js';

const MINUTE = 60_000;

const databases = () => admin(async (c) => new Set((await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'mw\\_test\\_%'")).rows.map((r) => r.datname as string)));

test('PostgreSQL: test databases older than an hour are dropped; a younger one and one without a time in its name are kept', async (t) => {
  const now = Date.now();
  const old = testDatabaseName(now - STALE_AFTER_MS - 10 * MINUTE);
  const young = testDatabaseName(now - STALE_AFTER_MS + 10 * MINUTE);
  const timeless = `mw_test_${randomBytes(6).toString('hex')}`; // named before names carried a time
  for (const name of [old, young, timeless]) await admin((c) => c.query(`CREATE DATABASE ${name}`));
  t.after(() => admin(async (c) => {
    for (const name of [old, young, timeless]) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }));
  // a killed run's database may still have a connection (a stuck server): it goes all the same
  const stuck = new pg.Client(connectionConfig(postgresUrl(old)));
  await stuck.connect();
  stuck.on('error', () => undefined);
  t.after(() => stuck.end().catch(() => undefined));

  const dropped = await sweepTestDatabases(now);
  assert.ok(dropped.includes(old), `dropped: ${dropped.join(', ')}`);
  assert.ok(!dropped.includes(young) && !dropped.includes(timeless));
  const left = await databases();
  assert.ok(!left.has(old));
  assert.ok(left.has(young), 'a run younger than an hour is never touched');
  assert.ok(left.has(timeless), 'a name without a time has no known age: kept');
});

test('Redis: keys of test prefixes older than an hour are deleted; a younger prefix and one without a time are kept', async (t) => {
  const redis = testRedis();
  const now = Date.now();
  const old = uniquePrefix('sweep', now - STALE_AFTER_MS - 10 * MINUTE);
  const young = uniquePrefix('sweep', now - STALE_AFTER_MS + 10 * MINUTE);
  const timeless = `mwtest:sweep:${randomBytes(4).toString('hex')}:`; // the form before prefixes carried a time
  t.after(async () => {
    for (const p of [old, young, timeless]) await dropPrefix(redis, p);
    await redis.quit();
  });
  for (const p of [old, young, timeless]) {
    await redis.set(`${p}a`, '1');
    await redis.hset(`${p}b`, 'f', 'v');
  }
  // (the process's own first sweep, which uniquePrefix started, may have been first: the outcome is the same)
  await sweepTestPrefixes(redis, now);
  assert.deepEqual(await prefixKeys(redis, old), []);
  assert.equal((await prefixKeys(redis, young)).length, 2, 'a run younger than an hour is never touched');
  assert.equal((await prefixKeys(redis, timeless)).length, 2, 'a prefix without a time has no known age: kept');
});
