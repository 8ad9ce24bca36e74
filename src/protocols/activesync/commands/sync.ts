/**
 * Sync (MS-ASCMD 2.2.1.21) for mail folders. Per device and collection the server keeps a state
 * behind the store contract (device state `sync:<CollectionId>`): the SyncKey the client holds,
 * the store change state its changes are counted from, the cursor of the first load (newest
 * first, UIDs below it still to send), and the answer to the previous key — so that a client
 * that lost an answer and sends the same SyncKey again gets the same answer again.
 */
import { StoreError } from '../../../store/errors.js';
import type { Folder } from '../../../store/types.js';
import { loadState, saveState, type EasAnswer, type EasCall } from '../call.js';
import { folderOf } from '../folders.js';
import { applicationData, bodyPreferenceOf, DEFAULT_BODY_PREFERENCE, flagElement, type BodyPreference } from '../mail-item.js';
import { child, childText, children, el, text, type WbxmlElement } from '../wbxml/codec.js';
import { cancelOnAbort, waitForChange } from '../wait.js';
import { heartbeatLimit } from './ping.js';

export interface CollectionState {
  key: number;
  /** Store change state the next changes are counted from. */
  base: string;
  /** First load: UIDs below this are still to be sent (0 when the first load is done). */
  cursor: number;
  pref: BodyPreference;
  /** The answer given to the request with SyncKey `key - 1`, to give again if that key comes back. */
  replay: WbxmlElement | null;
}

const DEFAULT_WINDOW = 100;
const MAX_WINDOW = 512;

export const stateName = (collectionId: string) => `sync:${collectionId}`;

export async function sync(call: EasCall): Promise<EasAnswer> {
  let body = call.body;
  if (!body) {
    // an empty Sync repeats the previous request (MS-ASCMD 2.2.1.21: 12.1 and later)
    body = await loadState<WbxmlElement>(call, 'sync-request');
    if (!body) return { wbxml: el('AirSync', 'Sync', [el('AirSync', 'Status', '13')]) };
  } else await saveState(call, 'sync-request', body);
  const requestWindow = Number(childText(body, 'WindowSize') ?? DEFAULT_WINDOW);
  const collections = children(child(body, 'Collections'), 'Collection');
  const wait = childText(body, 'Wait');
  const heartbeat = childText(body, 'HeartbeatInterval');
  const waitSeconds = heartbeat !== undefined ? Number(heartbeat) : wait !== undefined ? Number(wait) * 60 : 0;
  if (waitSeconds) {
    const limit = heartbeatLimit(call);
    if (!Number.isSafeInteger(waitSeconds) || waitSeconds < 60 || waitSeconds > limit) {
      return { wbxml: el('AirSync', 'Sync', [el('AirSync', 'Status', '14'), el('AirSync', heartbeat !== undefined ? 'HeartbeatInterval' : 'Wait', String(heartbeat !== undefined ? limit : Math.floor(limit / 60)))]) };
    }
  }

  for (let round = 0; ; round++) {
    const answers: WbxmlElement[] = [];
    let anything = false;
    const folders: number[] = [];
    for (const c of collections) {
      const r = await syncCollection(call, c, requestWindow);
      answers.push(r.element);
      anything ||= r.changed;
      if (r.folderId) folders.push(r.folderId);
    }
    if (anything || !waitSeconds || round > 0) {
      return { wbxml: el('AirSync', 'Sync', [el('AirSync', 'Collections', answers)]) };
    }
    // nothing to say: hold the request until a change in one of its folders, or the wait's end
    call.session.touch();
    const wait = waitForChange(call.ctx.changes, call.user.id, folders, waitSeconds * 1000);
    const release = call.held.hold(call.user.id, call.device.deviceId, { supersede: async () => wait.cancel() });
    cancelOnAbort(wait, call.signal);
    const outcome = await wait.outcome;
    release();
    if (outcome.kind !== 'changed') return { wbxml: el('AirSync', 'Sync', [el('AirSync', 'Collections', answers)]) };
  }
}

async function syncCollection(call: EasCall, c: WbxmlElement, requestWindow: number): Promise<{ element: WbxmlElement; changed: boolean; folderId?: number }> {
  const collectionId = childText(c, 'CollectionId') ?? '';
  const clientKey = childText(c, 'SyncKey') ?? '';
  const answer = (status: number, extra: WbxmlElement[] = [], key = clientKey) => el('AirSync', 'Collection', [
    el('AirSync', 'SyncKey', key), el('AirSync', 'CollectionId', collectionId), el('AirSync', 'Status', String(status)), ...extra,
  ]);
  const folder = await folderOf(call.ctx.store, call.user.id, collectionId);
  if (!folder) return { element: answer(12), changed: true }; // the hierarchy changed: FolderSync first
  const name = stateName(collectionId);
  const stored = await loadState<CollectionState>(call, name);

  if (clientKey === '0') {
    const status = await call.ctx.store.folderStatus(call.user.id, folder.id);
    const state: CollectionState = {
      key: 1, base: await call.ctx.store.changeState(call.user.id), cursor: status.uidNext,
      pref: bodyPreferenceOf(child(c, 'Options')) ?? DEFAULT_BODY_PREFERENCE, replay: null,
    };
    await saveState(call, name, state);
    return { element: answer(1, [], '1'), changed: true, folderId: folder.id };
  }
  if (!stored || !/^\d{1,9}$/.test(clientKey)) return { element: answer(3, [], '0'), changed: true };
  const key = Number(clientKey);
  if (key === stored.key - 1 && stored.replay) return { element: stored.replay, changed: true, folderId: folder.id };
  if (key !== stored.key) return { element: answer(3, [], '0'), changed: true };

  const state = { ...stored };
  const pref = bodyPreferenceOf(child(c, 'Options'));
  if (pref) state.pref = pref;
  const responses = await applyClientCommands(call, folder, child(c, 'Commands'), state.pref);
  const getChanges = child(c, 'GetChanges');
  const wantChanges = !getChanges || text(getChanges) !== '0';
  const window = Math.min(MAX_WINDOW, Math.max(1, Number(childText(c, 'WindowSize') ?? requestWindow) || DEFAULT_WINDOW));
  let commands: WbxmlElement[] = [];
  let more = false;
  if (wantChanges) {
    try {
      ({ commands, more } = await serverChanges(call, folder, state, window));
    } catch (err) {
      if (err instanceof StoreError && err.kind === 'cannot-calculate-changes') return { element: answer(3, [], '0'), changed: true };
      throw err;
    }
  }
  if (!commands.length && !responses.length) {
    await saveState(call, name, { ...state, replay: stored.replay });
    return { element: answer(1), changed: false, folderId: folder.id };
  }
  state.key = key + 1;
  const element = answer(1, [
    ...(more ? [el('AirSync', 'MoreAvailable')] : []),
    ...(responses.length ? [el('AirSync', 'Responses', responses)] : []),
    ...(commands.length ? [el('AirSync', 'Commands', commands)] : []),
  ], String(state.key));
  state.replay = element;
  await saveState(call, name, state);
  return { element, changed: true, folderId: folder.id };
}

/** The message a ServerId names in this folder (ServerIds are the store's message ids). */
async function messageIn(call: EasCall, folder: Folder, serverId: string | undefined) {
  if (!serverId) return null;
  const m = await call.ctx.store.getMessage(call.user.id, serverId);
  return m && m.folderId === folder.id ? m : null;
}

async function applyClientCommands(call: EasCall, folder: Folder, commands: WbxmlElement | undefined, pref: BodyPreference): Promise<WbxmlElement[]> {
  const responses: WbxmlElement[] = [];
  const store = call.ctx.store;
  for (const cmd of children(commands)) {
    const serverId = childText(cmd, 'ServerId');
    const m = await messageIn(call, folder, serverId);
    if (cmd.tag === 'Add') {
      // new mail items from the phone (drafts) are not taken in yet: say so, per item
      responses.push(el('AirSync', 'Add', [el('AirSync', 'ClientId', childText(cmd, 'ClientId') ?? ''), el('AirSync', 'Status', '6')]));
      continue;
    }
    if (!m) {
      responses.push(el('AirSync', cmd.tag, [el('AirSync', 'ServerId', serverId ?? ''), el('AirSync', 'Status', '8')]));
      continue;
    }
    if (cmd.tag === 'Change') {
      const data = child(cmd, 'ApplicationData');
      const read = childText(data, 'Read', 'Email');
      if (read === '1' || read === '0') await store.storeFlags(call.user.id, folder.id, [m.uid], read === '1' ? 'add' : 'remove', ['\\Seen']);
      const flag = child(data, 'Flag', 'Email');
      if (flag) {
        const status = childText(flag, 'FlagStatus', 'Email');
        await store.storeFlags(call.user.id, folder.id, [m.uid], status === '2' ? 'add' : 'remove', ['\\Flagged']);
      }
    } else if (cmd.tag === 'Delete') {
      const trash = await store.getSpecialFolder(call.user.id, '\\Trash');
      if (folder.id === trash.id) await store.removeMessages(call.user.id, folder.id, [m.uid]);
      else await store.moveMessages(call.user.id, folder.id, [m.uid], trash.id);
    } else if (cmd.tag === 'Fetch') {
      const raw = await store.readBlob(m.blobHash);
      responses.push(el('AirSync', 'Fetch', [
        el('AirSync', 'ServerId', m.objectId), el('AirSync', 'Status', '1'),
        await applicationData({ objectId: m.objectId, raw, flags: m.flags, internalDate: m.internalDate }, pref),
      ]));
    }
  }
  return responses;
}

/** Adds, Changes and Deletes from the store since the state's base, at most `window` of them. */
async function serverChanges(call: EasCall, folder: Folder, state: CollectionState, window: number): Promise<{ commands: WbxmlElement[]; more: boolean }> {
  const store = call.ctx.store;
  const commands: WbxmlElement[] = [];
  if (state.cursor > 0) {
    const index = await store.listMessageIndex(call.user.id, folder.id);
    const below: number[] = [];
    for (let i = index.uids.length - 1; i >= 0 && below.length <= window; i--) if (index.uids[i]! < state.cursor) below.push(index.uids[i]!);
    const page = below.slice(0, window);
    const messages = await store.getMessages(call.user.id, folder.id, page, { raw: true, objectId: true, structure: true });
    messages.sort((a, b) => b.uid - a.uid);
    for (const m of messages) {
      const objectId = m.objectId!;
      commands.push(el('AirSync', 'Add', [el('AirSync', 'ServerId', objectId), await applicationData({ objectId, raw: m.raw!, flags: m.flags, internalDate: m.internalDate, structure: m.structure }, state.pref)]));
    }
    const more = below.length > window;
    state.cursor = more ? page[page.length - 1]! : 0;
    if (more || commands.length >= window) return { commands, more: more || (await hasChanges(call, folder, state.base)) };
    // first load done: what changed since it began follows in the room left
    window -= commands.length;
  }
  const ch = await store.changesSince(call.user.id, state.base, window, { folderId: folder.id });
  for (const id of ch.messages.created) {
    const m = await store.getMessage(call.user.id, id);
    if (!m || m.folderId !== folder.id) continue;
    const raw = await store.readBlob(m.blobHash);
    commands.push(el('AirSync', 'Add', [el('AirSync', 'ServerId', id), await applicationData({ objectId: id, raw, flags: m.flags, internalDate: m.internalDate }, state.pref)]));
  }
  for (const id of ch.messages.updated) {
    const m = await store.getMessage(call.user.id, id);
    if (!m || m.folderId !== folder.id) continue;
    commands.push(el('AirSync', 'Change', [el('AirSync', 'ServerId', id), el('AirSync', 'ApplicationData', [
      el('Email', 'Read', m.flags.includes('\\Seen') ? '1' : '0'), flagElement(m.flags),
    ])]));
  }
  for (const id of ch.messages.destroyed) commands.push(el('AirSync', 'Delete', [el('AirSync', 'ServerId', id)]));
  state.base = ch.newState;
  return { commands, more: ch.hasMore };
}

async function hasChanges(call: EasCall, folder: Folder, base: string): Promise<boolean> {
  const ch = await call.ctx.store.changesSince(call.user.id, base, 1, { folderId: folder.id });
  return ch.messages.created.length + ch.messages.updated.length + ch.messages.destroyed.length > 0;
}

/** How many changes a Sync from the device's state would bring now (GetItemEstimate, Ping). */
export async function pendingCount(call: EasCall, folder: Folder, collectionId: string, cap = 10_000): Promise<number | null> {
  const state = await loadState<CollectionState>(call, stateName(collectionId));
  if (!state) return null;
  let n = 0;
  if (state.cursor > 0) {
    const index = await call.ctx.store.listMessageIndex(call.user.id, folder.id);
    for (const uid of index.uids) if (uid < state.cursor) n++;
  }
  try {
    const ch = await call.ctx.store.changesSince(call.user.id, state.base, cap, { folderId: folder.id });
    n += ch.messages.created.length + ch.messages.updated.length + ch.messages.destroyed.length;
  } catch (err) {
    if (!(err instanceof StoreError && err.kind === 'cannot-calculate-changes')) throw err;
    n += 1;
  }
  return n;
}
