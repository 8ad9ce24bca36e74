import type { Redis } from 'ioredis';
import type { SetOptions, SharedState } from '../shared-state/shared-state.js';

const COMPARE_AND_SET = `
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if cur then return 0 end
elseif cur ~= ARGV[2] then
  return 0
end
if ARGV[3] == '0' then
  redis.call('DEL', KEYS[1])
elseif ARGV[5] ~= '' then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
elseif ARGV[6] == '1' then
  redis.call('SET', KEYS[1], ARGV[4], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[4])
end
return 1
`;

// INCRBY, then the window's expiry only when this increment created the key (PEXPIRE NX)
const INCREMENT = `
local existed = redis.call('EXISTS', KEYS[1])
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and existed == 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return n
`;

// one step: absent stays absent, 1 (or less) deletes, else DECR (which keeps the expiry)
const DECREMENT = `
local v = redis.call('GET', KEYS[1])
if not v then return -1 end
if tonumber(v) <= 1 then
  redis.call('DEL', KEYS[1])
  return 0
end
return redis.call('DECR', KEYS[1])
`;

type Scripts = Redis & {
  mwCompareAndSet(key: string, hasExpected: string, expected: string, hasValue: string, value: string, ttl: string, keepTtl: string): Promise<number>;
  mwIncrement(key: string, by: number, ttl: string): Promise<number>;
  mwDecrement(key: string): Promise<number>;
};

/** Escapes the glob characters of a literal prefix for SCAN MATCH. */
const globLiteral = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/**
 * SharedState on Redis: what every node of a cluster must agree on (web mail sessions, the
 * brute-force guard, the event-9646 windows). Each operation is one Redis command or one Lua
 * script, so each is atomic across nodes; expiry is Redis's own.
 */
export class RedisState implements SharedState {
  private readonly r: Scripts;

  /** `owned`: close() quits the connection (false when the caller shares it). */
  constructor(redis: Redis, private readonly prefix: string, private readonly owned = true) {
    if (!('mwCompareAndSet' in redis)) {
      redis.defineCommand('mwCompareAndSet', { numberOfKeys: 1, lua: COMPARE_AND_SET });
      redis.defineCommand('mwIncrement', { numberOfKeys: 1, lua: INCREMENT });
      redis.defineCommand('mwDecrement', { numberOfKeys: 1, lua: DECREMENT });
    }
    this.r = redis as Scripts;
  }

  private k(key: string): string {
    return this.prefix + key;
  }

  async get(key: string): Promise<string | null> {
    return this.r.get(this.k(key));
  }

  async set(key: string, value: string, opts?: SetOptions): Promise<void> {
    if (opts?.ttlMs !== undefined) await this.r.set(this.k(key), value, 'PX', Math.max(1, Math.round(opts.ttlMs)));
    else if (opts?.keepTtl) await this.r.set(this.k(key), value, 'KEEPTTL');
    else await this.r.set(this.k(key), value);
  }

  async setIfAbsent(key: string, value: string, opts?: SetOptions): Promise<boolean> {
    const r = opts?.ttlMs !== undefined
      ? await this.r.set(this.k(key), value, 'PX', Math.max(1, Math.round(opts.ttlMs)), 'NX')
      : await this.r.set(this.k(key), value, 'NX');
    return r === 'OK';
  }

  async compareAndSet(key: string, expected: string | null, value: string | null, opts?: SetOptions): Promise<boolean> {
    const ttl = opts?.ttlMs !== undefined ? String(Math.max(1, Math.round(opts.ttlMs))) : '';
    const done = await this.r.mwCompareAndSet(
      this.k(key), expected === null ? '0' : '1', expected ?? '', value === null ? '0' : '1', value ?? '', ttl, opts?.keepTtl ? '1' : '0',
    );
    return done === 1;
  }

  async increment(key: string, by = 1, opts?: { ttlMs?: number }): Promise<number> {
    return Number(await this.r.mwIncrement(this.k(key), by, opts?.ttlMs !== undefined ? String(Math.max(1, Math.round(opts.ttlMs))) : ''));
  }

  async decrement(key: string): Promise<number | null> {
    const n = Number(await this.r.mwDecrement(this.k(key)));
    return n < 0 ? null : n;
  }

  async delete(key: string): Promise<boolean> {
    return (await this.r.del(this.k(key))) > 0;
  }

  async ttl(key: string): Promise<number | null> {
    const ms = await this.r.pttl(this.k(key));
    if (ms === -2) return null;
    if (ms === -1) return Infinity;
    return ms;
  }

  async keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.r.scan(cursor, 'MATCH', `${globLiteral(this.k(prefix))}*`, 'COUNT', 500);
      for (const k of batch) out.push(k.slice(this.prefix.length));
      cursor = next;
    } while (cursor !== '0');
    return [...new Set(out)]; // SCAN may return a key twice
  }

  async close(): Promise<void> {
    if (this.owned) await this.r.quit().catch(() => this.r.disconnect());
  }
}
