/**
 * Folders as EWS shows them: the store's folders under a virtual root (msgfolderroot), the
 * hierarchy from the store's "/" separator, distinguished ids from special uses.
 */
import { StoreError } from '../../store/errors.js';
import type { Folder, FolderCounts, SpecialUse } from '../../store/types.js';
import { EwsError, type EwsCall } from './call.js';
import { folderChangeKey, folderIdXml, ROOT_FOLDER_ID } from './ids.js';
import { child, children, esc, type XmlElement } from './xml.js';

/** DistinguishedFolderId values this server has; any other is ErrorFolderNotFound. */
const DISTINGUISHED: Record<string, SpecialUse | 'root' | 'outbox'> = {
  msgfolderroot: 'root', root: 'root', inbox: '\\Inbox', drafts: '\\Drafts', sentitems: '\\Sent',
  deleteditems: '\\Trash', junkemail: '\\Junk', outbox: 'outbox',
};
const OUTBOX_NAME = 'Outbox';

/** A folder as the client sees it; `folder` null is the root. */
export type EwsFolderRef = Folder | null;

export const displayName = (f: Folder): string => (f.name === 'INBOX' ? 'Inbox' : f.name.slice(f.name.lastIndexOf('/') + 1));
export const parentName = (f: Folder): string | null => (f.name.includes('/') ? f.name.slice(0, f.name.lastIndexOf('/')) : null);

/** The folder a FolderId / DistinguishedFolderId names (null: the root). ErrorFolderNotFound otherwise. */
export async function resolveFolder(call: EwsCall, el: XmlElement | undefined): Promise<EwsFolderRef> {
  if (!el) throw new EwsError('ErrorInvalidRequest', 'A folder id is missing');
  const id = el.attrs['Id'] ?? '';
  const { store } = call.ctx;
  const uid = call.user.id;
  if (el.name === 'DistinguishedFolderId') {
    const mailbox = child(el, 'Mailbox');
    const smtp = mailbox ? (child(mailbox, 'EmailAddress')?.text.trim() ?? '') : '';
    if (smtp && smtp.toLowerCase() !== call.user.address.toLowerCase()) {
      throw new EwsError('ErrorAccessDenied', `The mailbox ${smtp} is not yours`);
    }
    const d = DISTINGUISHED[id];
    if (!d) throw new EwsError('ErrorFolderNotFound', `The distinguished folder ${id} does not exist in this mailbox`);
    if (d === 'root') return null;
    if (d === 'outbox') {
      const existing = await store.getFolder(uid, OUTBOX_NAME);
      if (existing) return existing;
      try {
        return await store.createFolder(uid, OUTBOX_NAME);
      } catch (err) {
        if (err instanceof StoreError && err.kind === 'exists') return (await store.getFolder(uid, OUTBOX_NAME))!;
        throw err;
      }
    }
    return store.getSpecialFolder(uid, d);
  }
  if (el.name === 'FolderId') {
    if (id === ROOT_FOLDER_ID) return null;
    const folder = (await store.listFolders(uid)).find((f) => f.mailboxId === id);
    if (!folder) throw new EwsError('ErrorFolderNotFound', 'The specified folder could not be found in the store.');
    return folder;
  }
  throw new EwsError('ErrorInvalidRequest', `${el.name} is not a folder id`);
}

/** The folder ids of a container element (FolderIds, ParentFolderIds, ToFolderId, …), in order. */
export function folderIdElements(container: XmlElement | undefined): XmlElement[] {
  return container ? container.children.filter((c) => c.name === 'FolderId' || c.name === 'DistinguishedFolderId') : [];
}

export interface FolderShape {
  idOnly: boolean;
}
export function readFolderShape(op: XmlElement): FolderShape {
  const shape = child(op, 'FolderShape');
  const base = child(shape, 'BaseShape')?.text.trim() ?? 'Default';
  return { idOnly: base === 'IdOnly' && children(child(shape, 'AdditionalProperties'), 'FieldURI').length === 0 };
}

/** Everything folder rendering needs, read once per request. */
export interface FolderTree {
  folders: FolderCounts[];
  byName: Map<string, FolderCounts>;
}
export async function folderTree(call: EwsCall): Promise<FolderTree> {
  const folders = await call.ctx.store.listFolderCounts(call.user.id);
  return { folders, byName: new Map(folders.map((f) => [f.folder.name, f])) };
}

export function parentOf(tree: FolderTree, f: Folder): Folder | null {
  const p = parentName(f);
  return p === null ? null : (tree.byName.get(p)?.folder ?? null);
}

export function childrenOf(tree: FolderTree, f: Folder | null): FolderCounts[] {
  return tree.folders.filter((c) => {
    const p = parentName(c.folder);
    return f === null ? p === null || !tree.byName.has(p) : p === f.name;
  });
}

/** All folders below `f`, depth first. */
export function descendantsOf(tree: FolderTree, f: Folder | null): FolderCounts[] {
  const out: FolderCounts[] = [];
  for (const c of childrenOf(tree, f)) out.push(c, ...descendantsOf(tree, c.folder));
  return out;
}

export function folderXml(tree: FolderTree, f: Folder | null, shape: FolderShape): string {
  const id = folderIdXml(f);
  if (shape.idOnly) return `<t:Folder>${id}</t:Folder>`;
  const counts = f ? tree.byName.get(f.name) : undefined;
  const parent = f ? folderIdXml(parentOf(tree, f), 't:ParentFolderId') : '';
  const name = f ? displayName(f) : 'Top of Information Store';
  return `<t:Folder>${id}${parent}<t:FolderClass>IPF.Note</t:FolderClass><t:DisplayName>${esc(name)}</t:DisplayName>`
    + `<t:TotalCount>${counts?.messages ?? 0}</t:TotalCount><t:ChildFolderCount>${childrenOf(tree, f).length}</t:ChildFolderCount>`
    + `<t:UnreadCount>${counts?.unseen ?? 0}</t:UnreadCount></t:Folder>`;
}

export { folderChangeKey };
