/**
 * Settings (MS-ASCMD 2.2.1.18): UserInformation Get (the user's addresses, 14.1's account), and
 * DeviceInformation Set, which the device record keeps (model, friendly name, OS: what
 * `mailwarden devices list` and `sessions list` show). Oof and DevicePassword are answered
 * "not supported here" per element, never silently dropped.
 */
import type { EasAnswer, EasCall } from '../call.js';
import { child, childText, children, el, type WbxmlElement } from '../wbxml/codec.js';

export async function settings(call: EasCall): Promise<EasAnswer> {
  const out: WbxmlElement[] = [el('Settings', 'Status', '1')];
  for (const s of children(call.body ?? undefined)) {
    if (s.tag === 'UserInformation' && child(s, 'Get')) {
      const addresses = [el('Settings', 'SmtpAddress', call.user.address)];
      out.push(el('Settings', 'UserInformation', [el('Settings', 'Status', '1'), el('Settings', 'Get', call.req.version === '14.1'
        ? [el('Settings', 'Accounts', [el('Settings', 'Account', [el('Settings', 'UserDisplayName', call.user.displayName), el('Settings', 'EmailAddresses', [...addresses, el('Settings', 'PrimarySmtpAddress', call.user.address)])])])]
        : [el('Settings', 'EmailAddresses', addresses)])]));
    } else if (s.tag === 'DeviceInformation') {
      const set = child(s, 'Set');
      const v = (tag: string) => childText(set, tag)?.slice(0, 200);
      const device = await call.ctx.store.upsertDevice({
        userId: call.user.id, deviceId: call.device.deviceId, model: v('Model'), friendlyName: v('FriendlyName'), os: v('OS'), userAgent: v('UserAgent'),
      });
      call.session.setClientInfo(describeDevice(device));
      out.push(el('Settings', 'DeviceInformation', [el('Settings', 'Status', '1')]));
    } else {
      // Oof, DevicePassword, RightsManagementInformation: not kept by this server
      out.push(el('Settings', s.tag, [el('Settings', 'Status', '2')]));
    }
  }
  return { wbxml: el('Settings', 'Settings', out) };
}

/** What `sessions list` shows for an ActiveSync session: the device id, type and model. */
export function describeDevice(d: { deviceId: string; deviceType: string; model: string }): string {
  return `ActiveSync ${d.deviceId} (${[d.deviceType, d.model].filter(Boolean).join(', ')})`;
}
