import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisChangeBus } from '../../src/cluster/redis-change-bus.js';
import type { StoreChange } from '../../src/store/change-bus.js';
import { changeBusContract } from './change-bus-contract.js';
import { testRedis, uniquePrefix } from '../helpers/redis.js';

const conns = [testRedis(), testRedis()];
after(async () => {
  for (const c of conns) await c.quit();
});

// two nodes: a change published on one reaches subscribers on the other (pub/sub leaves no keys behind)
changeBusContract('RedisChangeBus', async () => {
  const prefix = uniquePrefix('bus');
  return { publisher: await RedisChangeBus.open(conns[0]!, { prefix }), subscriber: await RedisChangeBus.open(conns[1]!, { prefix }) };
});

test('RedisChangeBus: a lost message is found by the HIGHESTMODSEQ safety check', async () => {
  const prefix = uniquePrefix('bus');
  const bus = await RedisChangeBus.open(conns[0]!, { prefix });
  // the store as this node reads it: folder 7 moves to modseq 9 without any message
  const folders = [{ id: 7, highestModseq: 3 }];
  bus.startSafetyCheck(async () => folders.map((f) => ({ ...f })), 3_600_000);
  const got: StoreChange[] = [];
  bus.subscribeFolder(1, 7, (c) => got.push(c));
  await bus.check(); // baseline
  assert.deepEqual(got, []);
  folders[0]!.highestModseq = 9;
  folders.push({ id: 8, highestModseq: 1 });
  await bus.check();
  assert.deepEqual(got, [{ userId: 1, folderId: 7, kind: 'flags', modseq: 9 }]);
  await bus.check();
  assert.equal(got.length, 1, 'a change is caught up once');
  await bus.close();
});
