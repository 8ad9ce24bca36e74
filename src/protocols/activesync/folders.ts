/**
 * The mailbox's folders as ActiveSync sees them (MS-ASCMD FolderSync): each folder's ServerId
 * (and CollectionId) is its store mailbox id (`F…`, kept across rename), its parent's the same
 * or "0" at the top, its type from its special use (MS-ASCMD 2.2.3.186.3: 2 Inbox, 3 Drafts,
 * 4 Deleted Items, 5 Sent Items, 12 any other mail folder).
 */
import type { Store } from '../../store/store.js';
import type { Folder, SpecialUse } from '../../store/types.js';

export interface EasFolder {
  serverId: string;
  parentId: string;
  displayName: string;
  type: number;
  folder: Folder;
}

const TYPES: Partial<Record<SpecialUse, number>> = { '\\Inbox': 2, '\\Drafts': 3, '\\Trash': 4, '\\Sent': 5 };
export const USER_MAIL_FOLDER = 12;

export async function easFolders(store: Store, userId: number): Promise<EasFolder[]> {
  const folders = await store.listFolders(userId);
  const byName = new Map(folders.map((f) => [f.name.toLowerCase(), f]));
  return folders.map((f) => {
    const cut = f.name.lastIndexOf('/');
    const parent = cut > 0 ? byName.get(f.name.slice(0, cut).toLowerCase()) : undefined;
    return {
      serverId: f.mailboxId, parentId: parent?.mailboxId ?? '0', displayName: cut > 0 ? f.name.slice(cut + 1) : f.name,
      type: (f.specialUse && TYPES[f.specialUse]) || USER_MAIL_FOLDER, folder: f,
    };
  });
}

/** The folder a CollectionId names, or null (unknown, or another user's). */
export async function folderOf(store: Store, userId: number, collectionId: string | undefined): Promise<Folder | null> {
  if (!collectionId) return null;
  const folders = await store.listFolders(userId);
  return folders.find((f) => f.mailboxId === collectionId) ?? null;
}
