/**
 * SyncState strings: base64 of a small JSON record around the store's opaque account state
 * (Store.changeState / changesSince) and a check value. A folder sync starts with a walk of the
 * folder by UID below the UIDNEXT it began at (`walk.after`: last UID sent, `walk.top`), with
 * `state` taken before the walk, so that what changes meanwhile comes after it as changes since
 * that state. The walk is the cursor: each page reads only its own rows (Store.listMessagesAfter).
 *
 * The check value is a SHA-256 over the record and the user's id: a SyncState edited, cut short
 * or handed to another account is refused (ErrorInvalidSyncStateData: the client syncs afresh).
 * It needs no server secret, so a state stays valid across restarts and on every node: what a
 * state can steer is its owner's own sync, and every value in it is checked before use.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { EwsError } from './call.js';

export type ChangeStateRecord =
  | { kind: 'hierarchy'; state: string }
  | { kind: 'items'; state: string; folder: string; walk?: { after: number; top: number } };

function check(userId: number, body: string): Buffer {
  return createHash('sha256').update(`mailwarden-ews-syncstate\0${userId}\0`).update(body).digest().subarray(0, 12);
}

export function writeChangeState(userId: number, r: ChangeStateRecord): string {
  const body = JSON.stringify(r);
  return Buffer.concat([check(userId, body), Buffer.from(body)]).toString('base64');
}

const invalid = () => new EwsError('ErrorInvalidSyncStateData', 'The SyncState is not valid for this request');

const isUid = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

export function readChangeState<K extends ChangeStateRecord['kind']>(userId: number, s: string, kind: K): Extract<ChangeStateRecord, { kind: K }> {
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length <= 12) throw invalid();
  const body = bytes.subarray(12).toString('utf8');
  if (!timingSafeEqual(bytes.subarray(0, 12), check(userId, body))) throw invalid();
  let r: ChangeStateRecord;
  try {
    r = JSON.parse(body) as ChangeStateRecord;
  } catch {
    throw invalid();
  }
  if (!r || r.kind !== kind || typeof r.state !== 'string') throw invalid();
  if (r.kind === 'items' && (typeof r.folder !== 'string' || (r.walk && !(isUid(r.walk.after) && isUid(r.walk.top))))) throw invalid();
  return r as Extract<ChangeStateRecord, { kind: K }>;
}
