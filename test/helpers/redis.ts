/**
 * Redis for tests: the server CI runs on 127.0.0.1:6379, a key prefix of its own per test
 * (deleted after), so that runs and parallel test files never see each other's keys. What a
 * killed run leaves behind is swept by the next one, after an hour (sweepTestPrefixes).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { STALE_AFTER_MS } from './postgres.js';

export const REDIS_URL = process.env.MAILWARDEN_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/**
 * `mwtest:<what>:<epoch seconds>.<random>:`: the prefix says when it was made, so a sweep of
 * what killed runs left (sweepTestPrefixes) needs no other record. The first prefix of a test
 * process starts that sweep (on a connection of its own; it touches only old prefixes, so
 * nothing waits for it).
 */
export function uniquePrefix(what = 'test', createdAtMs = Date.now()): string {
  swept ??= sweepOnce();
  return `mwtest:${what}:${Math.floor(createdAtMs / 1000)}.${randomUUID().slice(0, 8)}:`;
}

/** A key of a test prefix, and when its prefix was made (seconds). Prefixes without a time (older runs) do not match. */
const TEST_KEY = /^mwtest:[^:]*:(\d{10,})\.[0-9a-f]{8}:/;

/**
 * Deletes the keys of test prefixes made more than STALE_AFTER_MS (an hour, as the test
 * databases) before `now`: what a killed run left. Younger prefixes (parallel runs) and keys
 * without a time in their prefix are left alone. SCAN, never KEYS. Returns how many keys went.
 */
export async function sweepTestPrefixes(redis: Redis, now = Date.now()): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', 'mwtest:*', 'COUNT', 1000);
    const stale = batch.filter((k) => {
      const m = TEST_KEY.exec(k);
      return m !== null && now - Number(m[1]) * 1000 > STALE_AFTER_MS;
    });
    if (stale.length) deleted += await redis.del(...stale);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

let swept: Promise<void> | null = null;

async function sweepOnce(): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined); // no Redis here: nothing to sweep
  try {
    await redis.connect();
    await sweepTestPrefixes(redis);
  } catch {
    // a sweep that cannot run leaves the leftovers for the next one
  } finally {
    redis.disconnect();
  }
}

export function testRedis(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
}

/** Every key under the prefix (SCAN, never KEYS or FLUSHALL: other tests share this Redis). */
export async function prefixKeys(redis: Redis, prefix: string): Promise<string[]> {
  const out = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`, 'COUNT', 1000);
    for (const k of batch) out.add(k);
    cursor = next;
  } while (cursor !== '0');
  return [...out];
}

/** Deletes the prefix's keys: the end of a test, or "Redis lost its data" for that deployment. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<number> {
  const keys = await prefixKeys(redis, prefix);
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  return keys.length;
}

/**
 * Moves Redis's expiry forward by `ms` for the prefix's keys (each TTL shortened, expired ones
 * deleted): the contract suite's advance() without waiting in real time.
 */
export async function shiftTtls(redis: Redis, prefix: string, ms: number): Promise<void> {
  for (const key of await prefixKeys(redis, prefix)) {
    const ttl = await redis.pttl(key);
    if (ttl < 0) continue;
    if (ttl <= ms) await redis.del(key);
    else await redis.pexpire(key, ttl - ms);
  }
}
