/**
 * SyncState strings: base64 of a small JSON record around the store's opaque account state
 * (Store.changeState / changesSince). A folder sync starts with a walk of the folder by UID
 * below the UIDNEXT it began at (`u`: last UID sent, `top`), with `state` taken before the walk,
 * so that what changes meanwhile comes after it as changes since that state.
 */
import { EwsError } from './call.js';

export type ChangeStateRecord =
  | { kind: 'hierarchy'; state: string }
  | { kind: 'items'; state: string; folder: string; walk?: { after: number; top: number } };

export function writeChangeState(r: ChangeStateRecord): string {
  return Buffer.from(JSON.stringify(r)).toString('base64');
}

export function readChangeState<K extends ChangeStateRecord['kind']>(s: string, kind: K): Extract<ChangeStateRecord, { kind: K }> {
  try {
    const r = JSON.parse(Buffer.from(s, 'base64').toString('utf8')) as ChangeStateRecord;
    if (r && r.kind === kind && typeof r.state === 'string') return r as Extract<ChangeStateRecord, { kind: K }>;
  } catch {
    // answered below
  }
  throw new EwsError('ErrorInvalidSyncStateData', 'The SyncState is not valid for this request');
}
