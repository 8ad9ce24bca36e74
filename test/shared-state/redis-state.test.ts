import { after } from 'node:test';
import { RedisState } from '../../src/cluster/redis-state.js';
import { dropPrefix, shiftTtls, testRedis, uniquePrefix } from '../helpers/redis.js';
import { sharedStateContract } from './shared-state-contract.js';

const admin = testRedis();
const prefixes: string[] = [];
after(async () => {
  for (const p of prefixes) await dropPrefix(admin, p);
  await admin.quit();
});

sharedStateContract('RedisState', async () => {
  const prefix = uniquePrefix('state');
  prefixes.push(prefix);
  return {
    state: new RedisState(testRedis(), prefix),
    advance: (ms) => shiftTtls(admin, prefix, ms),
    peer: () => new RedisState(testRedis(), prefix),
  };
});
