/**
 * Redis for tests: the server CI runs on 127.0.0.1:6379, a key prefix of its own per test
 * (deleted after), so that runs and parallel test files never see each other's keys.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.MAILWARDEN_TEST_REDIS ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(what = 'test'): string {
  return `mwtest:${what}:${randomUUID().slice(0, 8)}:`;
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
