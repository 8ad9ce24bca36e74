/** The operations this server answers, by the local name of the request element. */
import type { Operation } from '../call.js';
import type { ApiVersion } from '../soap.js';
import { convertId, resolveNames } from './directory.js';
import { copyFolder, createFolder, deleteFolder, emptyFolder, findFolder, getFolder, moveFolder, syncFolderHierarchy, updateFolder } from './folders.js';
import { getEvents, getStreamingEvents, subscribe, unsubscribe } from './notifications.js';
import { findItem, getAttachment, getItem, syncFolderItems } from './read-items.js';
import { copyItem, createAttachment, createItem, deleteItem, markAllItemsAsRead, moveItem, sendItem, updateItem } from './write-items.js';

export interface OperationEntry {
  run: Operation;
  /** The first API version (RequestServerVersion) that has it. */
  since: ApiVersion;
}

const op = (run: Operation, since: ApiVersion = 'Exchange2007'): OperationEntry => ({ run, since });

export const OPERATIONS: Record<string, OperationEntry> = {
  GetFolder: op(getFolder), FindFolder: op(findFolder), SyncFolderHierarchy: op(syncFolderHierarchy),
  CreateFolder: op(createFolder), DeleteFolder: op(deleteFolder), UpdateFolder: op(updateFolder),
  MoveFolder: op(moveFolder), CopyFolder: op(copyFolder), EmptyFolder: op(emptyFolder, 'Exchange2010'),
  FindItem: op(findItem), GetItem: op(getItem), SyncFolderItems: op(syncFolderItems), GetAttachment: op(getAttachment),
  CreateItem: op(createItem), SendItem: op(sendItem), UpdateItem: op(updateItem), DeleteItem: op(deleteItem),
  MoveItem: op(moveItem), CopyItem: op(copyItem), MarkAllItemsAsRead: op(markAllItemsAsRead, 'Exchange2010_SP1'),
  CreateAttachment: op(createAttachment),
  ResolveNames: op(resolveNames), ConvertId: op(convertId, 'Exchange2007_SP1'),
  Subscribe: op(subscribe), GetEvents: op(getEvents), Unsubscribe: op(unsubscribe),
  GetStreamingEvents: op(getStreamingEvents, 'Exchange2010_SP1'),
};
