/** Reading items: FindItem, GetItem, SyncFolderItems, GetAttachment. */
import type { Folder } from '../../../store/types.js';
import { parseMessage, type MessageStructure } from '../../../mime/structure.js';
import { decodeTransfer } from '../../../mime/transfer-encoding.js';
import { EwsError, type EwsCall, type Operation } from '../call.js';
import { folderIdElements, resolveFolder } from '../folders.js';
import { itemIdXml } from '../ids.js';
import { attachmentName, attachmentsOf, contentNeeds, itemNotFound, itemXml, loadItem, prefetchItems, readItemShape, renderContext, type ItemContent, type StoredItem } from '../items.js';
import { failure, okMessage, perObject, responseMessages } from '../responses.js';
import { compileRestriction, sortItems } from '../restriction.js';
import { readChangeState, writeChangeState, type ChangeStateRecord } from '../sync-state.js';
import { child, childText, children, esc } from '../xml.js';

/** Every message of a folder with its list facts (and its folder id, as loadItem gives it). */
export async function folderItems(call: EwsCall, folder: Folder): Promise<StoredItem[]> {
  const { items } = await call.ctx.store.listMessagePage(call.user.id, folder.id, 0, 1_000_000_000);
  return items.map((m) => ({ ...m, folderId: folder.id }));
}

export const findItem: Operation = async (call, op) => {
  const shape = readItemShape(op);
  const view = child(op, 'IndexedPageItemView');
  const max = Number(view?.attrs['MaxEntriesReturned'] ?? 1000);
  const offset = Number(view?.attrs['Offset'] ?? 0);
  const fromEnd = view?.attrs['BasePoint'] === 'End';
  const restriction = child(op, 'Restriction')?.children[0];
  const rc = renderContext(call);
  return perObject('FindItem', folderIdElements(child(op, 'ParentFolderIds')), async (el) => {
    const folder = await resolveFolder(call, el);
    if (!folder) return '<m:RootFolder IndexedPagingOffset="0" TotalItemsInView="0" IncludesLastItemInRange="true"><t:Items/></m:RootFolder>';
    return call.session.withObject('objtFolderView', async () => {
      let items = await folderItems(call, folder);
      if (restriction) {
        const keep = compileRestriction(restriction);
        items = items.filter(keep);
      }
      items = sortItems(items, child(op, 'SortOrder'));
      const start = fromEnd ? Math.max(0, items.length - offset - max) : offset;
      const page = items.slice(start, start + max);
      const rendered: string[] = [];
      for (const m of page) rendered.push(await itemXml(call, rc, m, shape));
      const last = start + page.length >= items.length;
      return `<m:RootFolder IndexedPagingOffset="${start + page.length}" TotalItemsInView="${items.length}" IncludesLastItemInRange="${last}"><t:Items>${rendered.join('')}</t:Items></m:RootFolder>`;
    });
  }, 'ErrorFolderNotFound');
};

export const getItem: Operation = async (call, op) => {
  const shape = readItemShape(op);
  const rc = renderContext(call);
  const ids = children(child(op, 'ItemIds'), 'ItemId').map((el) => el.attrs['Id']);
  const items = await prefetchItems(call, ids);
  return perObject('GetItem', items, async (m) =>
    call.session.withObject('objtMessage', async () => {
      if (!m) throw itemNotFound();
      return `<m:Items>${await itemXml(call, rc, m, shape)}</m:Items>`;
    }));
};

/**
 * SyncFolderItems: a first sync walks the folder by UID (MaxChangesReturned at a time) below
 * the UIDNEXT it started at, each page reading only its own rows after the last UID sent (the
 * SyncState's cursor); then it answers the changes since the state taken before the walk
 * (Store.changesSince for that folder): created and updated items in full (in the shape asked),
 * destroyed ones as Delete with their ItemId.
 */
export const syncFolderItems: Operation = async (call, op) => {
  const shape = readItemShape(op);
  const max = Math.max(1, Math.min(512, Number(childText(op, 'MaxChangesReturned') ?? 512) || 512));
  const ignore = new Set(children(child(op, 'Ignore'), 'ItemId').map((e) => e.attrs['Id'] ?? ''));
  const { store } = call.ctx;
  try {
    const folder = await resolveFolder(call, folderIdElements(child(op, 'SyncFolderId'))[0]);
    if (!folder) throw new EwsError('ErrorInvalidOperation', 'The root folder holds no items');
    const given = childText(op, 'SyncState');
    const rc = renderContext(call);
    const changes: string[] = [];
    let next: ChangeStateRecord;
    let last: boolean;
    const prev = given ? readChangeState(call.user.id, given, 'items') : null;
    if (prev && prev.folder !== folder.mailboxId) throw new EwsError('ErrorInvalidSyncStateData', 'The SyncState belongs to another folder');
    if (!prev || prev.walk) {
      // the first sync: this page's rows only, after the last UID sent (the cursor in the SyncState)
      const state = prev?.state ?? await store.changeState(call.user.id);
      const top = prev?.walk?.top ?? (await store.folderStatus(call.user.id, folder.id)).uidNext;
      const after = prev?.walk?.after ?? 0;
      const page = (await store.listMessagesAfter(call.user.id, folder.id, after, top, max + 1)).map((m) => ({ ...m, folderId: folder.id }));
      const walked = page.length <= max;
      if (!walked) page.length = max;
      // the walk's end: more follows if anything changed since the state it began at (the
      // client asks again, and the changes made during the walk come as changes)
      last = walked && (await store.changeState(call.user.id)) === state;
      const contents = await pageContents(call, folder, page, shape);
      for (const m of page) if (!ignore.has(m.objectId)) changes.push(`<t:Create>${await itemXml(call, rc, m, shape, contents.get(m.uid))}</t:Create>`);
      next = walked ? { kind: 'items', state, folder: folder.mailboxId } : { kind: 'items', state, folder: folder.mailboxId, walk: { after: page[page.length - 1]!.uid, top } };
    } else {
      const r = await store.changesSince(call.user.id, prev.state, max, { folderId: folder.id });
      for (const id of r.messages.destroyed) changes.push(`<t:Delete>${itemIdXml(id)}</t:Delete>`);
      for (const [kind, all] of [['Create', r.messages.created], ['Update', r.messages.updated]] as const) {
        const ids = all.filter((id) => !ignore.has(id));
        const items = await prefetchItems(call, ids);
        for (const [i, id] of ids.entries()) {
          const m = items[i];
          if (!m || m.folderId !== folder.id) changes.push(`<t:Delete>${itemIdXml(id)}</t:Delete>`);
          else changes.push(`<t:${kind}>${await itemXml(call, rc, m, shape)}</t:${kind}>`);
        }
      }
      last = !r.hasMore;
      next = { kind: 'items', state: r.newState, folder: folder.mailboxId };
    }
    return responseMessages([okMessage('SyncFolderItems',
      `<m:SyncState>${esc(writeChangeState(call.user.id, next))}</m:SyncState><m:IncludesLastItemInRange>${last}</m:IncludesLastItemInRange><m:Changes>${changes.join('')}</m:Changes>`)]);
  } catch (err) {
    return responseMessages([failure('SyncFolderItems', err, 'ErrorFolderNotFound')]);
  }
};

/** The bytes and kept structures of a page of items, in one store read, when the shape needs them. */
async function pageContents(call: EwsCall, folder: Folder, page: StoredItem[], shape: ReturnType<typeof readItemShape>): Promise<Map<number, ItemContent>> {
  const needs = contentNeeds(shape);
  const out = new Map<number, ItemContent>();
  if (!page.length || (!needs.raw && !needs.structure)) return out;
  const got = await call.ctx.store.getMessages(call.user.id, folder.id, page.map((m) => m.uid), needs);
  for (const g of got) out.set(g.uid, { raw: g.raw, structure: needs.structure ? g.structure ?? null : undefined });
  return out;
}

/** Attachment ids are `<ItemId>_<index>` (the index among the message's attachments, as GetItem lists them). */
export const getAttachment: Operation = async (call, op) => {
  return perObject('GetAttachment', children(child(op, 'AttachmentIds'), 'AttachmentId'), async (el) =>
    call.session.withObject('objtAttachment', async () => {
      const id = el.attrs['Id'] ?? '';
      const cut = id.lastIndexOf('_');
      const index = Number(id.slice(cut + 1));
      if (cut < 0 || !Number.isInteger(index)) throw new EwsError('ErrorInvalidIdMalformed', 'Id is malformed.');
      const m = await loadItem(call, id.slice(0, cut));
      const raw = await call.ctx.store.readBlob(m.blobHash);
      const kept = await call.ctx.store.readStructure(m.blobHash);
      const a = attachmentsOf(kept ? (JSON.parse(kept) as MessageStructure) : parseMessage(raw))[index];
      if (!a) throw new EwsError('ErrorItemNotFound', 'The attachment could not be found.');
      const body = raw.subarray(a.bodyStart, a.bodyEnd);
      const content = decodeTransfer(body, a.encoding) ?? body;
      return `<m:Attachments><t:FileAttachment><t:AttachmentId Id="${esc(id)}"/><t:Name>${esc(attachmentName(a, index))}</t:Name>`
        + `<t:ContentType>${esc(`${a.contentType.type}/${a.contentType.subtype}`)}</t:ContentType><t:Size>${content.length}</t:Size><t:IsInline>${a.disposition?.value === 'inline'}</t:IsInline>`
        + `<t:Content>${content.toString('base64')}</t:Content></t:FileAttachment></m:Attachments>`;
    }));
};
