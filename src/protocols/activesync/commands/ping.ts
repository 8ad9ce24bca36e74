/**
 * Ping (MS-ASCMD 2.2.1.13): the device names folders and a heartbeat; the answer comes when one
 * of them changes (Status 2 with the folders) or the heartbeat ends (Status 1). The request holds
 * its `eas` store session meanwhile — one per (user, device): a new Ping from the same device
 * answers the old one and takes its place (plugin.ts supersedes before the logon's limits).
 * Changes the device has not synced yet answer at once, so a delivery between the device's Sync
 * and its Ping is never missed.
 */
import type { Folder } from '../../../store/types.js';
import { loadState, saveState, WBXML_TYPE, type EasAnswer, type EasCall } from '../call.js';
import { folderOf } from '../folders.js';
import { child, childText, children, el, encode } from '../wbxml/codec.js';
import { cancelOnAbort, waitForChange } from '../wait.js';
import { pendingCount } from './sync.js';

const MIN_HEARTBEAT = 60;
const MAX_FOLDERS = 300;

interface PingState {
  heartbeat: number;
  folders: string[];
}

export const heartbeatLimit = (call: Pick<EasCall, 'ctx'>): number => call.ctx.settings.int('ActiveSync.MaxHeartbeatSeconds');

const answer = (status: number, extra: ReturnType<typeof el>[] = []): EasAnswer => ({ wbxml: el('Ping', 'Ping', [el('Ping', 'Status', String(status)), ...extra]) });

/**
 * The answers a held Ping gives — "nothing changed" and "these folders changed" — encoded once and
 * shared: a delivery to a user wakes each of that user's devices with the same bytes, so 10,000
 * woken Pings encode a handful of answers, not 10,000 (bounded: a device's folder list is its own).
 */
const encodedAnswers = new Map<string, EasAnswer>();
const ENCODED_ANSWERS_MAX = 10_000;

/** The same object for every request it answers (plugin.ts keeps its HTTP head with it). */
const sharedAnswer = (tree: ReturnType<typeof el>): EasAnswer => Object.freeze({ raw: encode(tree), contentType: WBXML_TYPE, shared: true as const });

let heartbeatAnswer: EasAnswer | undefined;

function precomputed(changedIds: string[] | null): EasAnswer {
  if (changedIds === null) return (heartbeatAnswer ??= sharedAnswer(answer(1).wbxml!));
  // the usual wake: one folder (the Inbox) changed, its id the key as it is
  const key = changedIds.length === 1 ? changedIds[0]! : changedIds.join('\n');
  let shared = encodedAnswers.get(key);
  if (!shared) {
    shared = sharedAnswer(answer(2, [el('Ping', 'Folders', changedIds.map((id) => el('Ping', 'Folder', id)))]).wbxml!);
    if (encodedAnswers.size >= ENCODED_ANSWERS_MAX) encodedAnswers.clear();
    encodedAnswers.set(key, shared);
  }
  return shared;
}

export async function ping(call: EasCall): Promise<EasAnswer> {
  const previous = await loadState<PingState>(call, 'ping');
  let state = previous;
  if (call.body) {
    const hb = childText(call.body, 'HeartbeatInterval');
    const ids = children(child(call.body, 'Folders'), 'Folder').map((f) => childText(f, 'Id') ?? '');
    state = { heartbeat: hb !== undefined ? Number(hb) : previous?.heartbeat ?? 0, folders: ids.length ? ids : previous?.folders ?? [] };
  }
  if (!state || !state.folders.length || !state.heartbeat) return answer(3); // the device must send the parameters
  const limit = heartbeatLimit(call);
  if (!Number.isSafeInteger(state.heartbeat) || state.heartbeat < MIN_HEARTBEAT) return answer(5, [el('Ping', 'HeartbeatInterval', String(MIN_HEARTBEAT))]);
  if (state.heartbeat > limit) return answer(5, [el('Ping', 'HeartbeatInterval', String(limit))]);
  if (state.folders.length > MAX_FOLDERS) return answer(6, [el('Ping', 'MaxFolders', String(MAX_FOLDERS))]);
  // a phone repeats the same Ping every heartbeat: no store write unless its parameters changed
  if (JSON.stringify(state) !== JSON.stringify(previous)) await saveState(call, 'ping', state);

  const folders: Array<{ id: string; folder: Folder }> = [];
  for (const id of state.folders) {
    const folder = await folderOf(call.ctx.store, call.user.id, id);
    if (!folder) return answer(7); // the hierarchy changed: FolderSync first
    folders.push({ id, folder });
  }
  const changed = (ids: string[]) => precomputed(ids);

  // what the device has not fetched yet answers now
  const pending: string[] = [];
  for (const f of folders) if (((await pendingCount(call, f.folder, f.id, 1)) ?? 1) > 0) pending.push(f.id);
  if (pending.length) return changed(pending);

  const wait = waitForChange(call.ctx.changes, call.user.id, folders.map((f) => f.folder.id), state.heartbeat * 1000);
  const release = call.held.hold(call.user.id, call.device.deviceId, {
    supersede: async () => {
      wait.cancel();
      // the old request's session is closed by the plugin once it has answered; wait for that
      await new Promise<void>((resolve) => call.session.onEnd(() => resolve()));
    },
  });
  cancelOnAbort(wait, call.signal);
  try {
    const outcome = await wait.outcome;
    if (outcome.kind === 'changed') return changed(folders.filter((f) => outcome.folderIds.has(f.folder.id)).map((f) => f.id));
    return precomputed(null);
  } finally {
    release();
  }
}
