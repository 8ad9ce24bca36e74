/**
 * Provision (MS-ASPROV): the two steps — the device asks for the policy and gets it with a
 * temporary policy key, then acknowledges it and gets the final key, which the device record
 * keeps. Our policy is empty (no PIN, no encryption demanded): Exchange's "no policy" answer.
 * A RemoteWipe acknowledgement is answered but never asked for (no remote wipe yet).
 */
import { randomInt } from 'node:crypto';
import { loadState, saveState, type EasAnswer, type EasCall } from '../call.js';
import { child, childText, el } from '../wbxml/codec.js';

const POLICY_TYPE = 'MS-EAS-Provisioning-WBXML';

export async function provision(call: EasCall): Promise<EasAnswer> {
  const policy = child(child(call.body ?? undefined, 'Policies'), 'Policy');
  const out = (children: ReturnType<typeof el>[]) => ({ wbxml: el('Provision', 'Provision', [el('Provision', 'Status', '1'), ...children]) });
  if (!policy) {
    if (child(call.body ?? undefined, 'RemoteWipe')) return out([el('Provision', 'RemoteWipe', [el('Provision', 'Status', '1')])]);
    return { wbxml: el('Provision', 'Provision', [el('Provision', 'Status', '2')]) };
  }
  const type = childText(policy, 'PolicyType');
  if (type !== POLICY_TYPE) {
    return out([el('Provision', 'Policies', [el('Provision', 'Policy', [el('Provision', 'PolicyType', type ?? ''), el('Provision', 'Status', '3')])])]);
  }
  const ackKey = childText(policy, 'PolicyKey');
  if (ackKey === undefined) {
    // step 1: the policy and a temporary key
    const temporary = randomInt(1, 0x7fffffff);
    await saveState(call, 'policy-temporary', temporary);
    return out([el('Provision', 'Policies', [el('Provision', 'Policy', [
      el('Provision', 'PolicyType', POLICY_TYPE), el('Provision', 'Status', '1'), el('Provision', 'PolicyKey', String(temporary)),
      el('Provision', 'Data', [el('Provision', 'EASProvisionDoc', [
        el('Provision', 'DevicePasswordEnabled', '0'), el('Provision', 'AttachmentsEnabled', '1'), el('Provision', 'AllowSimpleDevicePassword', '1'),
        el('Provision', 'AllowHTMLEmail', '1'), el('Provision', 'AllowPOPIMAPEmail', '1'), el('Provision', 'AllowBrowser', '1'),
      ])]),
    ])])]);
  }
  // step 2: the device acknowledges the temporary key and gets the final one
  const temporary = await loadState<number>(call, 'policy-temporary');
  if (temporary === null || String(temporary) !== ackKey) {
    return out([el('Provision', 'Policies', [el('Provision', 'Policy', [el('Provision', 'PolicyType', POLICY_TYPE), el('Provision', 'Status', '5')])])]);
  }
  const final = randomInt(1, 0x7fffffff);
  await saveState(call, 'policy-temporary', null);
  await call.ctx.store.upsertDevice({ userId: call.user.id, deviceId: call.device.deviceId, policyKey: final });
  return out([el('Provision', 'Policies', [el('Provision', 'Policy', [
    el('Provision', 'PolicyType', POLICY_TYPE), el('Provision', 'Status', '1'), el('Provision', 'PolicyKey', String(final)),
  ])])]);
}
