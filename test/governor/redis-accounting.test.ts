import { after } from 'node:test';
import { RedisAccounting } from '../../src/cluster/redis-accounting.js';
import { ManualClock } from '../../src/shared-state/clock.js';
import { sessionAccountingContract } from '../conformance/session-accounting.js';
import { dropPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

const admin = testRedis();
after(() => admin.quit());

sessionAccountingContract('RedisAccounting', async () => {
  const clock = new ManualClock(Date.now());
  const prefix = uniquePrefix('acc');
  const redis = testRedis();
  const accounting = await RedisAccounting.open(redis, { prefix, clock, renewMs: 0 });
  return {
    accounting,
    advance: async (ms) => clock.advance(ms),
    now: () => clock.now(),
    close: async () => {
      await accounting.close();
      await dropPrefix(admin, prefix);
      await redis.quit();
    },
  };
});
