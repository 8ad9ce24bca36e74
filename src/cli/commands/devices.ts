import { allowOnly, CliError, type ParsedArgs } from '../args.js';
import { positional, withStore } from '../common.js';
import { ago, printJson, printTable } from '../output.js';

/**
 * mailwarden devices list [--user U] | devices remove USER DEVICEID — ActiveSync devices
 * (partnerships) as admin objects, from the store (Exchange: Get-MobileDevice, Remove-MobileDevice).
 * Removing a device drops its sync state: if it comes back it starts afresh (FolderSync from 0)
 * and counts against ThrottlingPolicy.EASMaxDevices again.
 */
export async function devicesCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  if (sub === 'list') {
    allowOnly(args, ['user']);
    const devices = await withStore(args, async (s) => {
      const user = args.flags.get('user');
      if (!user) return s.listDevices();
      const u = await s.findUser(user);
      if (!u) throw new CliError(`no user ${user}`);
      return s.listDevices(u.id);
    });
    if (args.switches.has('json')) return printJson(devices);
    if (!devices.length) return void process.stdout.write('no mobile devices\n');
    printTable(['USER', 'DEVICE ID', 'TYPE', 'MODEL', 'OS', 'USER AGENT', 'FIRST SYNC', 'LAST SYNC'], devices.map((d) => [
      d.user, d.deviceId, d.deviceType, d.model || '-', d.os || '-', d.userAgent || '-', d.firstSyncAt.toISOString(), ago(d.lastSyncAt),
    ]));
    process.stdout.write(`${devices.length} device${devices.length === 1 ? '' : 's'}\n`);
    return;
  }
  if (sub === 'remove') {
    allowOnly(args, []);
    const user = positional(args, 0, 'USER');
    const deviceId = positional(args, 1, 'DEVICEID (see "devices list")');
    const removed = await withStore(args, async (s) => {
      const u = await s.findUser(user);
      if (!u) throw new CliError(`no user ${user}`);
      return s.removeDevice(u.id, deviceId);
    });
    if (!removed) throw new CliError(`${user} has no device ${deviceId}`);
    if (args.switches.has('json')) return printJson({ removed: { user, deviceId } });
    process.stdout.write(`removed device ${deviceId} of ${user}\n`);
    return;
  }
  throw new CliError(`unknown "devices ${sub ?? ''}": use list or remove`);
}
