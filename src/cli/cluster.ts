import { connectRedis, keyPrefix } from '../cluster/redis-connection.js';
import { RedisAccounting } from '../cluster/redis-accounting.js';
import { RedisState } from '../cluster/redis-state.js';
import { CliError } from './args.js';

/**
 * For one CLI command, the cluster's accounting and shared state on Redis (`--redis`): the
 * sessions of every node, kills routed to the owning node. The command attaches no node of its own.
 */
export async function withCluster<T>(url: string, fn: (c: { accounting: RedisAccounting; state: RedisState }) => Promise<T>): Promise<T> {
  const redis = connectRedis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined); // reported by the failing command below
  try {
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new CliError(`cannot reach Redis at ${url}: ${(err as Error).message}`);
  }
  const accounting = await RedisAccounting.open(redis, { prefix: keyPrefix(url) });
  try {
    return await fn({ accounting, state: new RedisState(redis, keyPrefix(url), false) });
  } finally {
    await accounting.close();
    await redis.quit().catch(() => redis.disconnect());
  }
}
