/**
 * Mobile devices and their named state on SQLite (Store.upsertDevice … putDeviceState): two
 * tables of migration 10, removed with their user (and the state with its device) by cascade.
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import type { MobileDevice, MobileDeviceUpdate } from '../types.js';
import { DEVICE_FIELDS, DEVICE_SELECT, toDevice, type DeviceRow } from '../rows.js';

export class SqliteDevices {
  constructor(
    private readonly q: (sql: string) => Database.Statement,
    private readonly write: <T>(fn: () => T) => T,
  ) {}

  upsert(u: MobileDeviceUpdate, now: number): MobileDevice {
    if (!u.deviceId) throw new StoreError('invalid', 'a device needs a DeviceId');
    return this.write(() => {
      if (!this.q('SELECT 1 FROM users WHERE id = ?').get(u.userId)) throw new StoreError('not-found', `no user with id ${u.userId}`);
      this.q('INSERT INTO mobile_devices (user_id, device_id, first_sync_at, last_sync_at) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, device_id) DO UPDATE SET last_sync_at = excluded.last_sync_at')
        .run(u.userId, u.deviceId, now, now);
      for (const [field, column] of Object.entries(DEVICE_FIELDS)) {
        const value = u[field as keyof typeof DEVICE_FIELDS];
        if (value !== undefined) this.q(`UPDATE mobile_devices SET ${column} = ? WHERE user_id = ? AND device_id = ?`).run(value, u.userId, u.deviceId);
      }
      return toDevice(this.q(`${DEVICE_SELECT} WHERE d.user_id = ? AND d.device_id = ?`).get(u.userId, u.deviceId) as DeviceRow);
    });
  }

  list(userId?: number): MobileDevice[] {
    const rows = userId === undefined
      ? this.q(`${DEVICE_SELECT} ORDER BY u.address, d.device_id`).all()
      : this.q(`${DEVICE_SELECT} WHERE d.user_id = ? ORDER BY d.device_id`).all(userId);
    return (rows as DeviceRow[]).map(toDevice);
  }

  remove(userId: number, deviceId: string): boolean {
    return this.write(() => this.q('DELETE FROM mobile_devices WHERE user_id = ? AND device_id = ?').run(userId, deviceId).changes > 0);
  }

  getState(userId: number, deviceId: string, name: string): string | null {
    const v = this.q('SELECT value FROM mobile_device_state WHERE user_id = ? AND device_id = ? AND name = ?').pluck().get(userId, deviceId, name);
    return (v as string | undefined) ?? null;
  }

  putState(userId: number, deviceId: string, name: string, value: string | null): void {
    this.write(() => {
      if (!this.q('SELECT 1 FROM mobile_devices WHERE user_id = ? AND device_id = ?').get(userId, deviceId)) {
        throw new StoreError('not-found', `no device ${deviceId} for user ${userId}`);
      }
      if (value === null) this.q('DELETE FROM mobile_device_state WHERE user_id = ? AND device_id = ? AND name = ?').run(userId, deviceId, name);
      else {
        this.q('INSERT INTO mobile_device_state (user_id, device_id, name, value) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, device_id, name) DO UPDATE SET value = excluded.value')
          .run(userId, deviceId, name, value);
      }
    });
  }
}
