import { Redis, type RedisOptions } from 'ioredis';

/**
 * One place that turns `--redis redis://…` into a client. Commands fail after a couple of
 * reconnect attempts instead of queueing for ever: a node that cannot reach Redis must learn it
 * (and fence its sessions) rather than hang its logons.
 */
export function connectRedis(url: string, extra: RedisOptions = {}): Redis {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--redis: not a URL: ${url}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new Error(`--redis: expected redis://host:port[/db], got ${parsed.protocol}`);
  // the query (?prefix=) is Mailwarden's, not a client option
  const bare = `${parsed.protocol}//${parsed.username || parsed.password ? `${parsed.username}:${parsed.password}@` : ''}${parsed.host}${parsed.pathname}`;
  return new Redis(bare, {
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    // reconnect for ever, at most every 2 s: Redis coming back is the normal way out of an outage
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    ...extra,
  });
}

/** The key prefix every Mailwarden key of one deployment starts with (several deployments may share a Redis). */
export function keyPrefix(url: string): string {
  const p = new URL(url).searchParams.get('prefix');
  return p ?? 'mailwarden:';
}

/** Epoch milliseconds from Redis's own clock (Lua: the same computation inside scripts). */
export const LUA_NOW = `
local function now_ms(arg)
  local n = tonumber(arg)
  if n then return n end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;
