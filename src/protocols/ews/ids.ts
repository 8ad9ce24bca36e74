/**
 * EWS ids on the store's stable opaque ids (src/store/object-ids.ts): an ItemId is the message
 * id (`M…`: kept by MoveItem, new for CopyItem, as EWS requires), a FolderId the mailbox id
 * (`F…`: kept by rename and move). ChangeKeys change on every change of the object: an item's
 * names its folder and MODSEQ (every flag change, move and copy gives a new one), a folder's
 * its name and HIGHESTMODSEQ.
 */
import { createHash } from 'node:crypto';
import type { Folder } from '../../store/types.js';
import { esc } from './xml.js';

/** The virtual root (msgfolderroot, root): never a mailbox id, whose numbers start at 1. */
export const ROOT_FOLDER_ID = 'F0';

export function itemChangeKey(folderId: number, modseq: number): string {
  return Buffer.from(`CK:${folderId}:${modseq}`).toString('base64');
}

export function folderChangeKey(folder: Folder | null): string {
  if (!folder) return 'AQAAAA==';
  return createHash('sha1').update(`${folder.name}\0${folder.highestModseq}\0${folder.uidValidity}`).digest('base64').slice(0, 12);
}

export const itemIdXml = (id: string, changeKey?: string, tag = 't:ItemId'): string =>
  `<${tag} Id="${esc(id)}"${changeKey ? ` ChangeKey="${esc(changeKey)}"` : ''}/>`;
export const folderIdXml = (folder: Folder | null, tag = 't:FolderId'): string =>
  `<${tag} Id="${esc(folder ? folder.mailboxId : ROOT_FOLDER_ID)}" ChangeKey="${esc(folderChangeKey(folder))}"/>`;
