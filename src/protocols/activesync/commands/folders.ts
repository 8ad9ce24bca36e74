/**
 * FolderSync, FolderCreate, FolderUpdate, FolderDelete (MS-ASCMD 2.2.1.5, 2.2.1.2–4). The
 * hierarchy's SyncKey and what the device was last told live in the device state `folders`;
 * a FolderSync answers the difference between that and the mailbox now.
 */
import { StoreError } from '../../../store/errors.js';
import { loadState, saveState, type EasAnswer, type EasCall } from '../call.js';
import { easFolders, folderOf, type EasFolder } from '../folders.js';
import { childText, el, type WbxmlElement } from '../wbxml/codec.js';

interface HierarchyState {
  key: number;
  /** ServerId → what the device knows of it. */
  known: Record<string, { parentId: string; displayName: string; type: number }>;
  /** The answer to key - 1, given again if that key comes back. */
  replay: WbxmlElement | null;
}

const folderElements = (f: EasFolder) => [
  el('FolderHierarchy', 'ServerId', f.serverId), el('FolderHierarchy', 'ParentId', f.parentId),
  el('FolderHierarchy', 'DisplayName', f.displayName), el('FolderHierarchy', 'Type', String(f.type)),
];

export async function folderSync(call: EasCall): Promise<EasAnswer> {
  const clientKey = childText(call.body ?? undefined, 'SyncKey') ?? '0';
  const status = (s: number) => ({ wbxml: el('FolderHierarchy', 'FolderSync', [el('FolderHierarchy', 'Status', String(s))]) });
  let state = await loadState<HierarchyState>(call, 'folders');
  if (clientKey === '0') state = { key: 0, known: {}, replay: null };
  else if (!state || !/^\d{1,9}$/.test(clientKey)) return status(9);
  else if (Number(clientKey) === state.key - 1 && state.replay) return { wbxml: state.replay };
  else if (Number(clientKey) !== state.key) return status(9);

  const now = await easFolders(call.ctx.store, call.user.id);
  const changes: WbxmlElement[] = [];
  const known: HierarchyState['known'] = {};
  for (const f of now) {
    const was = state.known[f.serverId];
    known[f.serverId] = { parentId: f.parentId, displayName: f.displayName, type: f.type };
    if (!was) changes.push(el('FolderHierarchy', 'Add', folderElements(f)));
    else if (was.parentId !== f.parentId || was.displayName !== f.displayName) changes.push(el('FolderHierarchy', 'Update', folderElements(f)));
  }
  for (const id of Object.keys(state.known)) if (!known[id]) changes.push(el('FolderHierarchy', 'Delete', [el('FolderHierarchy', 'ServerId', id)]));
  const key = changes.length || clientKey === '0' ? state.key + 1 : state.key;
  const answer = el('FolderHierarchy', 'FolderSync', [
    el('FolderHierarchy', 'Status', '1'), el('FolderHierarchy', 'SyncKey', String(key)),
    el('FolderHierarchy', 'Changes', [el('FolderHierarchy', 'Count', String(changes.length)), ...changes]),
  ]);
  await saveState(call, 'folders', { key, known, replay: key !== state.key ? answer : state.replay });
  return { wbxml: answer };
}

/** The hierarchy key moves with a change the device made itself (it is told the new key, not the change). */
async function bumpHierarchy(call: EasCall, clientKey: string | undefined): Promise<number | null> {
  const state = await loadState<HierarchyState>(call, 'folders');
  if (!state || clientKey !== String(state.key)) return null;
  const known: HierarchyState['known'] = {};
  for (const f of await easFolders(call.ctx.store, call.user.id)) known[f.serverId] = { parentId: f.parentId, displayName: f.displayName, type: f.type };
  // the device knows the hierarchy as it is now; the request's own change included
  await saveState(call, 'folders', { key: state.key + 1, known, replay: null });
  return state.key + 1;
}

function storeStatus(err: unknown): number {
  if (err instanceof StoreError) return err.kind === 'exists' ? 2 : err.kind === 'not-found' ? 4 : err.kind === 'invalid' ? 3 : 6;
  throw err;
}

export async function folderCreate(call: EasCall): Promise<EasAnswer> {
  const b = call.body ?? undefined;
  const out = (children: WbxmlElement[]) => ({ wbxml: el('FolderHierarchy', 'FolderCreate', children) });
  const name = childText(b, 'DisplayName') ?? '';
  const parentId = childText(b, 'ParentId') ?? '0';
  const parent = parentId === '0' ? null : await folderOf(call.ctx.store, call.user.id, parentId);
  if (parentId !== '0' && !parent) return out([el('FolderHierarchy', 'Status', '5')]);
  const state = await loadState<HierarchyState>(call, 'folders');
  if (!state || childText(b, 'SyncKey') !== String(state.key)) return out([el('FolderHierarchy', 'Status', '9')]);
  let created;
  try {
    if (name.includes('/')) return out([el('FolderHierarchy', 'Status', '3')]);
    created = await call.ctx.store.createFolder(call.user.id, parent ? `${parent.name}/${name}` : name);
  } catch (err) {
    return out([el('FolderHierarchy', 'Status', String(storeStatus(err)))]);
  }
  const key = await bumpHierarchy(call, String(state.key));
  return out([el('FolderHierarchy', 'Status', '1'), el('FolderHierarchy', 'SyncKey', String(key)), el('FolderHierarchy', 'ServerId', created.mailboxId)]);
}

export async function folderUpdate(call: EasCall): Promise<EasAnswer> {
  const b = call.body ?? undefined;
  const out = (status: number, key?: number | null) => ({ wbxml: el('FolderHierarchy', 'FolderUpdate', [el('FolderHierarchy', 'Status', String(status)), key ? el('FolderHierarchy', 'SyncKey', String(key)) : null]) });
  const folder = await folderOf(call.ctx.store, call.user.id, childText(b, 'ServerId'));
  if (!folder) return out(4);
  if (folder.specialUse) return out(2); // special folders keep their names (MS-ASCMD: status 2, a special folder)
  const parentId = childText(b, 'ParentId') ?? '0';
  const parent = parentId === '0' ? null : await folderOf(call.ctx.store, call.user.id, parentId);
  if (parentId !== '0' && !parent) return out(5);
  const name = childText(b, 'DisplayName') ?? '';
  const state = await loadState<HierarchyState>(call, 'folders');
  if (!state || childText(b, 'SyncKey') !== String(state.key)) return out(9);
  try {
    if (name.includes('/')) return out(3);
    await call.ctx.store.renameFolder(call.user.id, folder.id, parent ? `${parent.name}/${name}` : name);
  } catch (err) {
    return out(storeStatus(err));
  }
  return out(1, await bumpHierarchy(call, String(state.key)));
}

export async function folderDelete(call: EasCall): Promise<EasAnswer> {
  const b = call.body ?? undefined;
  const out = (status: number, key?: number | null) => ({ wbxml: el('FolderHierarchy', 'FolderDelete', [el('FolderHierarchy', 'Status', String(status)), key ? el('FolderHierarchy', 'SyncKey', String(key)) : null]) });
  const folder = await folderOf(call.ctx.store, call.user.id, childText(b, 'ServerId'));
  if (!folder) return out(4);
  if (folder.specialUse) return out(3);
  const state = await loadState<HierarchyState>(call, 'folders');
  if (!state || childText(b, 'SyncKey') !== String(state.key)) return out(9);
  try {
    await call.ctx.store.deleteFolder(call.user.id, folder.id);
  } catch (err) {
    return out(storeStatus(err));
  }
  return out(1, await bumpHierarchy(call, String(state.key)));
}
