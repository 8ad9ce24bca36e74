import assert from 'node:assert/strict';
import { msg, rejectsWith, type Contract } from '../harness.js';

export const area = 'mobile devices';

export const contracts: Contract[] = [
  {
    name: 'upsertDevice records a device once per (user, DeviceId), keeps fields not given, and moves lastSyncAt',
    async run({ store, user }) {
      const u = await user();
      const other = await user();
      const first = await store.upsertDevice({ userId: u.id, deviceId: 'PHONE1', deviceType: 'iPhone', userAgent: 'Apple-iPhone/1' });
      assert.equal(first.user, u.address);
      assert.equal(first.model, '');
      assert.equal(first.policyKey, 0);
      const again = await store.upsertDevice({ userId: u.id, deviceId: 'PHONE1', model: 'iPhone15,2', policyKey: 1234 });
      assert.equal(again.deviceType, 'iPhone', 'a field not given keeps its value');
      assert.equal(again.model, 'iPhone15,2');
      assert.equal(again.policyKey, 1234);
      assert.equal(again.firstSyncAt.getTime(), first.firstSyncAt.getTime());
      assert.ok(again.lastSyncAt.getTime() >= first.lastSyncAt.getTime());
      await store.upsertDevice({ userId: u.id, deviceId: 'ANDROID7' });
      await store.upsertDevice({ userId: other.id, deviceId: 'PHONE1' });
      assert.deepEqual((await store.listDevices(u.id)).map((d) => d.deviceId), ['ANDROID7', 'PHONE1']);
      assert.equal((await store.listDevices()).length, 3);
      await rejectsWith(store.upsertDevice({ userId: 987_654, deviceId: 'X' }), 'not-found');
      await rejectsWith(store.upsertDevice({ userId: u.id, deviceId: '' }), 'invalid');
    },
  },
  {
    name: 'device state: named pieces per device, replaced, removed with null, gone with the device and with the user',
    async run({ store, user }) {
      const u = await user();
      await store.upsertDevice({ userId: u.id, deviceId: 'D1' });
      await store.upsertDevice({ userId: u.id, deviceId: 'D2' });
      assert.equal(await store.getDeviceState(u.id, 'D1', 'sync:F1'), null);
      await store.putDeviceState(u.id, 'D1', 'sync:F1', '{"key":1}');
      await store.putDeviceState(u.id, 'D1', 'sync:F1', '{"key":2}');
      await store.putDeviceState(u.id, 'D2', 'sync:F1', '{"key":9}');
      assert.equal(await store.getDeviceState(u.id, 'D1', 'sync:F1'), '{"key":2}');
      await store.putDeviceState(u.id, 'D1', 'sync:F1', null);
      assert.equal(await store.getDeviceState(u.id, 'D1', 'sync:F1'), null);
      await rejectsWith(store.putDeviceState(u.id, 'NOPE', 'x', '1'), 'not-found');
      await store.putDeviceState(u.id, 'D1', 'folders', 'x');
      assert.equal(await store.removeDevice(u.id, 'D1'), true);
      assert.equal(await store.removeDevice(u.id, 'D1'), false);
      assert.equal(await store.getDeviceState(u.id, 'D1', 'folders'), null);
      await store.upsertDevice({ userId: u.id, deviceId: 'D1' });
      assert.equal(await store.getDeviceState(u.id, 'D1', 'folders'), null, 'a device recorded again starts without state');
      await store.removeUser(u.id);
      assert.deepEqual(await store.listDevices(u.id), []);
      assert.equal(await store.getDeviceState(u.id, 'D2', 'sync:F1'), null);
    },
  },

  {
    name: 'getMessages with objectId: each message\'s stable id, the one getMessage and listMessagePage give (ActiveSync ServerIds)',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const a = await store.append(u.id, inbox.id, msg('a'));
      const b = await store.append(u.id, inbox.id, msg('b'));
      const got = await store.getMessages(u.id, inbox.id, [b.uid, a.uid], { objectId: true });
      assert.deepEqual(got.map((m) => m.objectId), [a.objectId, b.objectId]);
      assert.equal((await store.getMessage(u.id, got[0]!.objectId!))?.uid, a.uid);
      assert.equal((await store.getMessages(u.id, inbox.id, [a.uid]))[0]!.objectId, undefined, 'only when asked for');
    },
  },
];
