/** Folder operations: GetFolder, FindFolder, SyncFolderHierarchy, Create/Delete/Update/Move/Copy/EmptyFolder. */
import type { Folder } from '../../../store/types.js';
import { EwsError, type EwsCall, type Operation } from '../call.js';
import {
  childrenOf, descendantsOf, displayName, folderIdElements, folderTree, folderXml, readFolderShape, resolveFolder,
  type EwsFolderRef, type FolderTree,
} from '../folders.js';
import { folderIdXml } from '../ids.js';
import { okMessage, perObject, responseMessages, failure } from '../responses.js';
import { child, childText, children, esc, xsBool, type XmlElement } from '../xml.js';
import { readChangeState, writeChangeState } from '../sync-state.js';

const requireFolder = (f: EwsFolderRef): Folder => {
  if (!f) throw new EwsError('ErrorAccessDenied', 'The root folder cannot be changed');
  return f;
};

export const getFolder: Operation = async (call, op) => {
  const shape = readFolderShape(op);
  const tree = await folderTree(call);
  return perObject('GetFolder', folderIdElements(child(op, 'FolderIds')), async (el) => {
    const f = await resolveFolder(call, el);
    const t = f && !tree.byName.has(f.name) ? await folderTree(call) : tree; // outbox made on demand
    return `<m:Folders>${folderXml(t, f, shape)}</m:Folders>`;
  }, 'ErrorFolderNotFound');
};

export const findFolder: Operation = async (call, op) => {
  const shape = readFolderShape(op);
  const deep = op.attrs['Traversal'] === 'Deep';
  const view = child(op, 'IndexedPageFolderView');
  const max = view ? Number(view.attrs['MaxEntriesReturned'] ?? Infinity) : Infinity;
  const offset = view ? Number(view.attrs['Offset'] ?? 0) : 0;
  const fromEnd = view?.attrs['BasePoint'] === 'End';
  const tree = await folderTree(call);
  return perObject('FindFolder', folderIdElements(child(op, 'ParentFolderIds')), async (el) => {
    const parent = await resolveFolder(call, el);
    const all = deep ? descendantsOf(tree, parent) : childrenOf(tree, parent);
    const start = fromEnd ? Math.max(0, all.length - offset - (Number.isFinite(max) ? max : all.length)) : offset;
    const page = all.slice(start, Number.isFinite(max) ? start + max : undefined);
    const last = start + page.length >= all.length;
    return `<m:RootFolder IndexedPagingOffset="${start + page.length}" TotalItemsInView="${all.length}" IncludesLastItemInRange="${last}">`
      + `<t:Folders>${page.map((c) => folderXml(tree, c.folder, shape)).join('')}</t:Folders></m:RootFolder>`;
  }, 'ErrorFolderNotFound');
};

/**
 * SyncFolderHierarchy: without a SyncState every folder is a Create; with one, the folder
 * changes since it (Store.changesSince). The SyncState is the store's account state.
 */
export const syncFolderHierarchy: Operation = async (call, op) => {
  const shape = readFolderShape(op);
  const { store } = call.ctx;
  try {
    const tree = await folderTree(call);
    const byId = new Map(tree.folders.map((c) => [c.folder.mailboxId, c.folder]));
    const given = childText(op, 'SyncState');
    const changes: string[] = [];
    let state: string;
    if (!given) {
      state = await store.changeState(call.user.id);
      for (const c of descendantsOf(tree, null)) changes.push(`<t:Create>${folderXml(tree, c.folder, shape)}</t:Create>`);
    } else {
      const since = readChangeState(call.user.id, given, 'hierarchy');
      const seen = new Set<string>();
      let from = since.state;
      for (;;) {
        const r = await store.changesSince(call.user.id, from, 5000);
        for (const [kind, ids] of [['Create', r.folders.created], ['Update', r.folders.updated], ['Delete', r.folders.destroyed]] as const) {
          for (const id of ids) {
            if (seen.has(id)) continue;
            seen.add(id);
            const f = byId.get(id);
            if (kind === 'Delete' || !f) changes.push(`<t:Delete><t:FolderId Id="${esc(id)}"/></t:Delete>`);
            else changes.push(`<t:${kind}>${folderXml(tree, f, shape)}</t:${kind}>`);
          }
        }
        from = r.newState;
        if (!r.hasMore) break;
      }
      state = from;
    }
    return responseMessages([okMessage('SyncFolderHierarchy',
      `<m:SyncState>${esc(writeChangeState(call.user.id, { kind: 'hierarchy', state }))}</m:SyncState><m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange><m:Changes>${changes.join('')}</m:Changes>`)]);
  } catch (err) {
    return responseMessages([failure('SyncFolderHierarchy', err, 'ErrorFolderNotFound')]);
  }
};

function joinName(parent: Folder | null, name: string): string {
  if (!name || name.includes('/')) throw new EwsError('ErrorInvalidRequest', `"${name}" is not a valid folder name here ("/" separates levels)`);
  return parent ? `${parent.name}/${name}` : name;
}

export const createFolder: Operation = async (call, op) => {
  const parent = await resolveFolder(call, folderIdElements(child(op, 'ParentFolderId'))[0]).catch((err) => err as Error);
  const specs = child(op, 'Folders')?.children ?? [];
  return perObject('CreateFolder', specs, async (spec) => {
    if (parent instanceof Error) throw parent;
    const name = childText(spec, 'DisplayName') ?? '';
    const f = await call.ctx.store.createFolder(call.user.id, joinName(parent, name));
    return `<m:Folders><t:Folder>${folderIdXml(f)}</t:Folder></m:Folders>`;
  }, 'ErrorFolderNotFound');
};

/** Deletes a folder and the folders below it, deepest first. */
async function deleteTree(call: EwsCall, tree: FolderTree, f: Folder): Promise<void> {
  for (const d of descendantsOf(tree, f).reverse()) await call.ctx.store.deleteFolder(call.user.id, d.folder.id);
  await call.ctx.store.deleteFolder(call.user.id, f.id);
}

async function moveFolderUnder(call: EwsCall, f: Folder, to: Folder | null): Promise<Folder> {
  if (f.specialUse) throw new EwsError('ErrorDeleteDistinguishedFolder', 'Distinguished folders cannot be moved or deleted');
  const newName = joinName(to, displayName(f));
  if (to && (to.name === f.name || to.name.startsWith(f.name + '/'))) throw new EwsError('ErrorMoveCopyFailed', 'A folder cannot be moved into itself');
  await call.ctx.store.renameFolder(call.user.id, f.id, newName);
  return (await call.ctx.store.getFolderById(call.user.id, f.id))!;
}

export const deleteFolder: Operation = async (call, op) => {
  const type = op.attrs['DeleteType'] ?? 'HardDelete';
  const tree = await folderTree(call);
  return perObject('DeleteFolder', folderIdElements(child(op, 'FolderIds')), async (el) => {
    const f = requireFolder(await resolveFolder(call, el));
    if (f.specialUse || f.name === 'Outbox') throw new EwsError('ErrorDeleteDistinguishedFolder', 'Distinguished folders cannot be deleted.');
    if (type === 'MoveToDeletedItems') await moveFolderUnder(call, f, await call.ctx.store.getSpecialFolder(call.user.id, '\\Trash'));
    else await deleteTree(call, tree, f);
    return '';
  }, 'ErrorFolderNotFound');
};

export const updateFolder: Operation = async (call, op) => {
  const changes = children(child(op, 'FolderChanges'), 'FolderChange');
  return perObject('UpdateFolder', changes, async (change) => {
    const idEl = change.children.find((c) => c.name === 'FolderId' || c.name === 'DistinguishedFolderId');
    let f = requireFolder(await resolveFolder(call, idEl));
    for (const u of child(change, 'Updates')?.children ?? []) {
      const uri = child(u, 'FieldURI')?.attrs['FieldURI'];
      if (uri !== 'folder:DisplayName') throw new EwsError('ErrorInvalidPropertyUpdateSentMessage', `Updating ${uri ?? 'this property'} is not supported`);
      if (u.name !== 'SetFolderField') throw new EwsError('ErrorInvalidPropertyDelete', 'The display name cannot be deleted');
      const name = childText(child(u, 'Folder'), 'DisplayName') ?? '';
      if (f.specialUse) throw new EwsError('ErrorAccessDenied', 'Distinguished folders cannot be renamed');
      const tree = await folderTree(call);
      const parent = tree.byName.get(f.name.slice(0, Math.max(0, f.name.lastIndexOf('/'))))?.folder ?? null;
      await call.ctx.store.renameFolder(call.user.id, f.id, joinName(f.name.includes('/') ? parent : null, name));
      f = (await call.ctx.store.getFolderById(call.user.id, f.id))!;
    }
    return `<m:Folders><t:Folder>${folderIdXml(f)}</t:Folder></m:Folders>`;
  }, 'ErrorFolderNotFound');
};

export const moveFolder: Operation = async (call, op) => {
  const to = await resolveFolder(call, folderIdElements(child(op, 'ToFolderId'))[0]).catch((err) => err as Error);
  return perObject('MoveFolder', folderIdElements(child(op, 'FolderIds')), async (el) => {
    if (to instanceof Error) throw to;
    const moved = await moveFolderUnder(call, requireFolder(await resolveFolder(call, el)), to);
    return `<m:Folders><t:Folder>${folderIdXml(moved)}</t:Folder></m:Folders>`;
  }, 'ErrorFolderNotFound');
};

/** CopyFolder: a new folder of the same name under the target, with copies of the messages (and of the folders below). */
export const copyFolder: Operation = async (call, op) => {
  const to = await resolveFolder(call, folderIdElements(child(op, 'ToFolderId'))[0]).catch((err) => err as Error);
  const { store } = call.ctx;
  const copyInto = async (tree: FolderTree, f: Folder, parent: Folder | null): Promise<Folder> => {
    const made = await store.createFolder(call.user.id, joinName(parent, displayName(f)));
    const index = await store.listMessageIndex(call.user.id, f.id);
    if (index.uids.length) await store.copyMessages(call.user.id, f.id, [...index.uids], made.id);
    for (const c of childrenOf(tree, f)) await copyInto(tree, c.folder, made);
    return made;
  };
  return perObject('CopyFolder', folderIdElements(child(op, 'FolderIds')), async (el) => {
    if (to instanceof Error) throw to;
    const f = requireFolder(await resolveFolder(call, el));
    const made = await copyInto(await folderTree(call), f, to);
    return `<m:Folders><t:Folder>${folderIdXml(made)}</t:Folder></m:Folders>`;
  }, 'ErrorFolderNotFound');
};

export const emptyFolder: Operation = async (call, op) => {
  const subFolders = xsBool(op.attrs['DeleteSubFolders']);
  const type = op.attrs['DeleteType'] ?? 'HardDelete';
  const { store } = call.ctx;
  return perObject('EmptyFolder', folderIdElements(child(op, 'FolderIds')), async (el) => {
    const f = requireFolder(await resolveFolder(call, el));
    const uids = [...(await store.listMessageIndex(call.user.id, f.id)).uids];
    const trash = await store.getSpecialFolder(call.user.id, '\\Trash');
    if (uids.length) {
      if (type === 'MoveToDeletedItems' && f.id !== trash.id) await store.moveMessages(call.user.id, f.id, uids, trash.id);
      else await store.removeMessages(call.user.id, f.id, uids);
    }
    if (subFolders) {
      const tree = await folderTree(call);
      for (const c of childrenOf(tree, f)) await deleteTree(call, tree, c.folder);
    }
    return '';
  }, 'ErrorFolderNotFound');
};
